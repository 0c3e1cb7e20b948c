"""``FakeOrg``: one stateful fake Salesforce org — data, schema, auth, limits, faults,
Bulk jobs and Outbound Messages — independent of how it is served."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping

from .auth import AuthService, ConnectedApp, UserCredentials
from .bulk1 import Bulk1Api
from .bulk2 import Bulk2Api
from .clock import FakeClock
from .collections import CollectionsApi
from .faults import FaultPlan
from .ids import IdFactory
from .limits import DEFAULT_DAILY_API_REQUESTS, ApiLimits
from .outbound import OutboundMessenger, OutboundRule
from .query_api import QueryApi
from .rest import RestApi
from .schema import FieldDef, ObjectDef
from .soql_eval import compile_query
from .standard_objects import OPPORTUNITY_STAGES, standard_schema
from .store import RecordStore

DEFAULT_INSTANCE_URL = "https://tether-fake.my.salesforce.com"
DEFAULT_API_VERSION = "59.0"
ADMIN_USERNAME = "admin@fake-org.tether.test"
INTEGRATION_USERNAME = "integration@fake-org.tether.test"
DEFAULT_PASSWORD = "fake-org-password"
DEFAULT_TOKEN = "FAKEORGSECURITYTOKEN"
CONSUMER_KEY = "3MVG9tether.fake.org.consumer.key.for.tests.only"
CONSUMER_SECRET = "TETHERFAKEORGCONSUMERSECRET0001"


class FakeOrg:
    """A fake Salesforce org.  Serve it with :func:`fake_org_responses` or :class:`FakeOrgServer`.

    ``schema`` is a schema document (dict, or path to a JSON/YAML file) declaring custom
    objects and fields; ``api_limit`` is the daily API request budget.
    """

    def __init__(self, *, clock: FakeClock | None = None, schema: Mapping[str, Any] | str | Path | None = None,
                 api_limit: int = DEFAULT_DAILY_API_REQUESTS, seed: int = 0, name: str = "Tether Fake Org",
                 instance_url: str = DEFAULT_INSTANCE_URL, session_timeout_seconds: int = 7200,
                 pod: str = "8d") -> None:
        self.lock = threading.RLock()
        self.name = name
        self.clock = clock or FakeClock()
        self.ids = IdFactory(pod, seed)
        self.org_id = self.ids.next_id("00D")
        self.instance_url = instance_url.rstrip("/")
        self.schema = standard_schema()
        if schema is not None:
            self.load_schema(schema)
        self.store = RecordStore(self.schema, self.ids, self.clock)
        self.limits = ApiLimits(self.clock, api_limit)
        self.auth = AuthService(self.org_id, self.clock, session_timeout_seconds)
        self.faults = FaultPlan(self)
        self.store.write_checks.append(self.faults.check_write)
        self.outbound = OutboundMessenger(self, seed=seed)
        self.store.listeners.append(self.outbound.on_change)
        self.rest = RestApi(self)
        self.queries = QueryApi(self)
        self.collections = CollectionsApi(self)
        self.bulk1 = Bulk1Api(self)
        self.bulk2 = Bulk2Api(self)
        # How many status polls a Bulk batch/job spends InProgress before completing.
        self.bulk_polls_before_complete = 0
        self.bulk1_rows_per_result_file = 1_000_000
        self.recycle_bin_purged_ms = self.clock.now_ms()
        self._bootstrap()

    # -------------------------------------------------------------- setup
    def _bootstrap(self) -> None:
        self.admin_user_id = self.ids.next_id("005")
        self.store.insert_setup_record("Organization", {"Id": self.org_id, "Name": self.name, "IsSandbox": False,
                                                        "InstanceName": "FAKE1", "OrganizationType": "Enterprise Edition",
                                                        "TimeZoneSidKey": "GMT"}, user_id=self.admin_user_id)
        self.add_user(ADMIN_USERNAME, first_name="Ada", last_name="Admin", password=DEFAULT_PASSWORD,
                      security_token=DEFAULT_TOKEN, user_id=self.admin_user_id)
        self.integration_user_id = self.add_user(INTEGRATION_USERNAME, first_name="Sync", last_name="Integration",
                                                 password=DEFAULT_PASSWORD, security_token=DEFAULT_TOKEN)
        self.set_opportunity_stages(OPPORTUNITY_STAGES)
        self.connected_app = self.add_connected_app("tether", consumer_key=CONSUMER_KEY,
                                                    consumer_secret=CONSUMER_SECRET)

    def load_schema(self, schema: Mapping[str, Any] | str | Path) -> None:
        """Declare custom objects/fields from a dict or a JSON/YAML file (see docs/fake-org.md)."""
        if not isinstance(schema, Mapping):
            text = Path(schema).read_text()
            if str(schema).endswith((".yaml", ".yml")):
                import yaml
                schema = yaml.safe_load(text)
            else:
                schema = json.loads(text)
        with self.lock:
            self.schema.load(schema)  # type: ignore[arg-type]

    def add_custom_object(self, name: str, fields: Iterable[Mapping[str, Any] | FieldDef] = (), **kwargs: Any
                          ) -> ObjectDef:
        """Declare a custom object (``Name__c``)."""
        with self.lock:
            return self.schema.add_custom_object(name, fields=fields, **kwargs)

    def add_custom_field(self, object_name: str, name: str, field_type: str = "string", **kwargs: Any) -> FieldDef:
        """Declare a custom field, e.g. ``add_custom_field("Opportunity", "Ext_Id__c", external_id=True)``."""
        with self.lock:
            return self.schema.add_custom_field(object_name, FieldDef(name, field_type, **kwargs))

    def delete_custom_field(self, object_name: str, name: str) -> None:
        """Delete a custom field, as an admin does in Setup: queries naming it get INVALID_FIELD."""
        definition = self.schema.get(object_name)
        if definition is None or definition.field(name) is None or not definition.field(name).custom:
            raise KeyError(f"{object_name} has no custom field {name}")
        with self.lock:
            definition.remove_field(name)

    def add_user(self, username: str, *, last_name: str, first_name: str | None = None, email: str | None = None,
                 password: str = DEFAULT_PASSWORD, security_token: str = DEFAULT_TOKEN, user_id: str | None = None,
                 alias: str | None = None) -> str:
        """Create a User record with login credentials; returns its id."""
        with self.lock:
            user_id = user_id or self.ids.next_id("005")
            self.store.insert_setup_record("User", {
                "Id": user_id, "Username": username, "FirstName": first_name, "LastName": last_name,
                "Email": email or username, "Alias": alias or (last_name[:8] or "user"), "IsActive": True,
            }, user_id=self.admin_user_id)
            name = " ".join(p for p in (first_name, last_name) if p)
            self.auth.add_user(UserCredentials(user_id, username, password, security_token, name, email or username))
            return user_id

    def add_connected_app(self, name: str, *, consumer_key: str | None = None, consumer_secret: str | None = None,
                          certificate_pem: bytes | str | None = None, run_as_user_id: str | None = None
                          ) -> ConnectedApp:
        """Register a connected app (certificate for JWT bearer, run-as user for client credentials)."""
        import secrets
        pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
        app = ConnectedApp(name, consumer_key or "3MVG9" + secrets.token_urlsafe(60)[:80],
                           consumer_secret or secrets.token_hex(32).upper(), pem, run_as_user_id)
        with self.lock:
            return self.auth.add_connected_app(app)

    def add_record_type(self, sobject: str, name: str, developer_name: str | None = None) -> str:
        """Create a RecordType for an object; returns its id."""
        with self.lock:
            return self.store.insert_setup_record("RecordType", {
                "Name": name, "DeveloperName": developer_name or name.replace(" ", "_"), "SobjectType": sobject,
                "IsActive": True}, user_id=self.admin_user_id)

    def set_opportunity_stages(self, stages: list[Mapping[str, Any]]) -> None:
        """Replace the OpportunityStage table: dicts with ApiName, DefaultProbability,
        ForecastCategoryName, IsClosed, IsWon."""
        with self.lock:
            self.store.set_stages(stages, self.admin_user_id)

    def add_outbound_rule(self, name: str, sobject: str, fields: list[str], endpoint_url: str, **kwargs: Any
                          ) -> OutboundRule:
        """Add an Outbound Message rule; see :class:`OutboundRule` for options (criteria, trigger,
        include_session_id, integration_user_id, max_notifications)."""
        with self.lock:
            return self.outbound.add_rule(OutboundRule(name, sobject, list(fields), endpoint_url, **kwargs))

    # -------------------------------------------------------------- sessions and clients
    def login(self, user_id: str | None = None) -> str:
        """A fresh session id for a user (admin by default)."""
        return self.auth.issue_session(user_id or self.admin_user_id)

    @property
    def instance_host(self) -> str:
        return self.instance_url.split("://", 1)[1]

    def client(self, *, version: str = DEFAULT_API_VERSION, session: Any = None, user_id: str | None = None,
               **kwargs: Any) -> Any:
        """A ``simple_salesforce.Salesforce`` bound to this org's instance URL with a fresh session."""
        from simple_salesforce import Salesforce
        return Salesforce(instance_url=self.instance_url, session_id=self.login(user_id), version=version,
                          session=session, **kwargs)

    def bulk_client(self, *, version: str = DEFAULT_API_VERSION, user_id: str | None = None) -> Any:
        """A ``salesforce_bulk.SalesforceBulk`` bound to this org."""
        from salesforce_bulk import SalesforceBulk
        return SalesforceBulk(sessionId=self.login(user_id), host=self.instance_url, API_version=version)

    def app(self, instance_url: str | None = None, *, in_process: bool = True) -> Any:
        """The WSGI app serving this org at ``instance_url``."""
        from .wsgi import FakeOrgApp
        return FakeOrgApp(self, instance_url or self.instance_url, in_process=in_process)

    # -------------------------------------------------------------- data helpers (act as a UI user would)
    def insert(self, sobject: str, values: Mapping[str, Any], *, as_user: str | None = None) -> str:
        """Create a record with full API validation; fires Outbound Message rules."""
        with self.lock, self.store.transaction():
            return self.store.create(sobject, values, user_id=as_user or self.admin_user_id)

    def update(self, sobject: str, record_id: str, values: Mapping[str, Any], *, as_user: str | None = None) -> None:
        """Update a record as a user would (LastModifiedDate and SystemModstamp move)."""
        with self.lock, self.store.transaction():
            self.store.update(sobject, record_id, values, user_id=as_user or self.admin_user_id)

    def touch(self, record_id: str) -> None:
        """Simulate automation (a trigger or roll-up): only SystemModstamp moves."""
        with self.lock, self.store.transaction():
            self.store.update(None, record_id, {}, user_id=self.admin_user_id, system=True)

    def delete(self, record_id: str, *, as_user: str | None = None) -> None:
        """Move a record (and its cascade) to the recycle bin."""
        with self.lock, self.store.transaction():
            self.store.delete(None, record_id, user_id=as_user or self.admin_user_id)

    def undelete(self, record_id: str) -> None:
        with self.lock:
            self.store.undelete(record_id, user_id=self.admin_user_id)

    def empty_recycle_bin(self, older_than_days: float | None = None) -> int:
        """Purge the recycle bin (records deleted more than ``older_than_days`` ago, or all)."""
        with self.lock:
            cutoff = None if older_than_days is None else self.clock.now_ms() - int(older_than_days * 86_400_000)
            self.recycle_bin_purged_ms = self.clock.now_ms()
            return self.store.empty_recycle_bin(cutoff)

    def get(self, record_id: str) -> dict[str, Any]:
        """Stored values of a record (canonical field names; datetimes as ``…000Z`` strings)."""
        with self.lock:
            located = self.store.locate(record_id)
            if located is None:
                raise KeyError(record_id)
            table, row = located
            return table.record(row)

    def query(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Run SOQL directly (no API call counted); rows as flat dicts keyed by field path."""
        with self.lock:
            compiled = compile_query(soql, self.store, self.clock)
            rows = compiled.rows(include_deleted)
            if compiled.count_only:
                return [{"COUNT()": len(rows)}]
            return [{path.label: path.get(row) for path in compiled.paths} for row in rows]

    def count(self, sobject: str, *, include_deleted: bool = False) -> int:
        with self.lock:
            return len(self.store.table(sobject).live_rows(include_deleted))

    def seed(self, **kwargs: Any) -> Any:
        """Fill the org with realistic data; see :func:`tether.testing.fake_salesforce.seed.generate`."""
        from .seed import generate
        return generate(self, **kwargs)
