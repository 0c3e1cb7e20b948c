"""The Salesforce connector: the engine's :class:`~tether.core.connectors.Connector` over
simple-salesforce (REST) and salesforce-bulk (Bulk API 1.0).

Reads count first, then use REST ``queryAll`` below ``bulk_threshold`` records and a Bulk
query job above it (PK chunked past ``pk_chunk_size``). Windows and cursors are in
:mod:`.cursor`; how far the org's changes are settled comes from the replication API
(``getUpdated``'s ``latestDateCovered``, minute resolution).

Every API call goes through :meth:`SalesforceConnector.call`: a 401
``INVALID_SESSION_ID`` logs in again once (all auth flows but ``session``); other errors
are classified for the engine (:mod:`.errors`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from salesforce_bulk import SalesforceBulk
from simple_salesforce import Salesforce

from tether.core.connectors import Catalog, Page, ReadRequest, WriteOperation, WriteResult
from tether.core.errors import PermanentConnectorError, QuotaExceeded
from tether.core.sync.coerce import to_datetime
from tether.core.sync.mappings import cached_mappings

from .auth import Authenticator, SalesforceSession, login_key
from .bulk import ROUTED, BulkReader
from .config import SalesforceSettings
from .cursor import BulkResume, Position, Window, make_window, parse_cursor
from .describe import object_schema
from .errors import SessionExpired, classify
from .http import ApiMeter, make_session
from .kept import Kept
from .mapping import CONNECTOR
from .rest import clean_record, read_rest, soql_select
from .stages import STAGE_FIELDS, Stage, fill_from_stages, parse_stages
from .writes import write_collections

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

log = logging.getLogger(__name__)

MINUTE = dt.timedelta(minutes=1)
# A field an admin adds in Salesforce is seen by runs within this long; applying a
# manifest always describes afresh.
CATALOG_SECONDS = 600
CATALOGS: Kept[Catalog] = Kept(max_age_seconds=CATALOG_SECONDS)
STAGES: Kept[dict[str, Stage]] = Kept(max_age_seconds=CATALOG_SECONDS)
# Errors that say the org's schema is not what the kept catalog says: the next run describes again.
SCHEMA_CHANGED = frozenset({"INVALID_FIELD", "INVALID_TYPE", "NOT_FOUND"})


class SalesforceConnector:
    name = CONNECTOR

    def __init__(self, settings: SalesforceSettings, *, objects: Sequence[str] = ("Account", "Opportunity"),
                 sleep: Callable[[float], None] = time.sleep, fresh_catalog: bool = False) -> None:
        self.settings = settings
        self.fresh_catalog = fresh_catalog
        self._kept_key = login_key(settings)  # what is kept between runs is kept per login
        self.objects = tuple(dict.fromkeys(objects))
        self.sleep = sleep
        self.meter = ApiMeter()
        self.http = make_session(ca_bundle=settings.ca_bundle, timeout=settings.http_timeout_seconds, meter=self.meter)
        self.auth = Authenticator(settings, self.http)
        self.quota_share_per_run = settings.quota_share_per_run
        self.quota_share_total = settings.quota_share_total
        # The pusher hands over larger batches whole, for the Bulk API.
        self.bulk_write_threshold = settings.write_bulk_threshold
        self._session: SalesforceSession | None = None
        self._sf: Salesforce | None = None
        self._bulk: SalesforceBulk | None = None
        self._catalog: Catalog | None = None
        self._stages: dict[str, Stage] | None = None
        self._planned: dict[tuple[str, str | None, bool], tuple[Window, int]] = {}

    @classmethod
    def for_tenant(cls, tenant: "TenantContext") -> "SalesforceConnector":
        settings = SalesforceSettings.from_config(tenant.resolved_config("salesforce"),
                                                  where=f"tenant {tenant.id}: plugins.salesforce.config")
        objects = [m.object_name for m in cached_mappings(tenant).for_connector(CONNECTOR)]
        return cls(settings, objects=objects)

    # -- session ------------------------------------------------------------------------------

    @property
    def api_calls_made(self) -> int:
        return self.meter.calls

    def _connect(self) -> Salesforce:
        if self._sf is None:
            self._session = self.auth.login()
            self._sf = Salesforce(instance_url=self._session.instance_url, session_id=self._session.session_id,
                                  version=self.settings.api_version, session=self.http,
                                  parse_float=Decimal, object_pairs_hook=dict)
            self._bulk = None
        return self._sf

    def _bulk_client(self) -> SalesforceBulk:
        self._connect()
        if self._bulk is None:
            assert self._session is not None
            self._bulk = SalesforceBulk(sessionId=self._session.session_id, host=self._session.instance_url,
                                        API_version=self.settings.api_version)
        return self._bulk

    def _relogin(self) -> None:
        self._sf = None
        self._connect()
        if self._bulk is not None and self._session is not None:
            self._bulk.sessionId = self._session.session_id

    def call(self, fn: Callable[..., Any], *args: Any, doing: str, **kwargs: Any) -> Any:
        """Run one API call; log in again once if the session expired."""
        self._connect()
        self._check_quota(doing)
        for attempt in (1, 2):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                error = classify(exc, doing=doing)
                if isinstance(error, SessionExpired):
                    if attempt == 1 and self.auth.can_refresh:
                        log.info("salesforce session expired while %s; logging in again", doing)
                        self._relogin()
                        fn = _rebind(fn, self)
                        continue
                    raise PermanentConnectorError(
                        f"{error.message}: the Salesforce session expired and could not be renewed",
                        code=error.code, status=error.status,
                        hint="give a fresh session_id, or use password, jwt or refresh_token auth") from None
                if getattr(error, "code", None) in SCHEMA_CHANGED:
                    CATALOGS.forget((self._kept_key, self.objects))
                raise error from None
        raise AssertionError("unreachable")

    def _check_quota(self, doing: str) -> None:
        """Refuse a call that would take the org past the total quota share (usage is known
        from the previous response's Sforce-Limit-Info)."""
        usage = self.meter.usage()
        if usage is None:
            return
        used, limit = usage
        if limit > 0 and used + 1 > self.quota_share_total * limit:
            raise QuotaExceeded(
                f"salesforce: {used} of {limit} daily API calls are used; {doing} would pass "
                f"{self.quota_share_total:.0%} of the limit", code="QUOTA_GUARD_TOTAL",
                hint="the next run continues where this one stopped, once the quota allows")

    # -- catalog ------------------------------------------------------------------------------

    def discover(self) -> Catalog:
        """The mapped objects' schemas, described once per ``CATALOG_SECONDS`` per org and
        objects in this process (a run every minute would otherwise describe every minute,
        and each describe counts against the org's API limit); ``fresh_catalog`` always asks."""
        if self._catalog is None:
            key = (self._kept_key, self.objects)
            kept = None if self.fresh_catalog else CATALOGS.get(key)
            if kept is not None:
                self._catalog = kept
                return kept
            self._connect()
            schemas = []
            for name in self.objects:
                describe = self.call(lambda n=name: getattr(self._sf, n).describe(), doing=f"describing {name}")
                schemas.append(object_schema(describe))
            self._catalog = Catalog(tuple(schemas))
            CATALOGS.put(key, self._catalog)
        return self._catalog

    def stages(self) -> dict[str, Stage]:
        """OpportunityStage by name, kept like the catalog (stage settings change in Setup, rarely)."""
        if self._stages is None:
            key = (self._kept_key, "OpportunityStage")
            self._stages = STAGES.get(key)
            if self._stages is None:
                self._connect()
                soql = soql_select("OpportunityStage", STAGE_FIELDS, None, order=False)
                result = self.call(lambda: self._sf.query_all(soql), doing="reading opportunity stages")
                self._stages = parse_stages(clean_record(r) for r in result.get("records", []))
                STAGES.put(key, self._stages)
        return self._stages

    # -- reading ------------------------------------------------------------------------------

    def server_now(self, object_name: str) -> tuple[dt.datetime, dt.timedelta]:
        """How far the org's changes are complete, from Salesforce's replication API.

        ``getUpdated``'s ``latestDateCovered`` is the org's own answer to "up to when is
        every change committed" (it stays behind transactions still in flight), at minute
        resolution. It is asked over a short window so the call stays cheap. The HTTP
        ``Date`` header is not used: it says when the answer was sent, not what is settled.
        """
        client_now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
        result = self.call(lambda: getattr(self._sf, object_name).updated(client_now - MINUTE, client_now + 5 * MINUTE),
                           doing=f"reading the org's clock (getUpdated {object_name})")
        covered = to_datetime(result.get("latestDateCovered"))
        if covered is None:
            raise PermanentConnectorError(f"getUpdated for {object_name} returned no latestDateCovered")
        return covered, MINUTE

    def _plan(self, request: ReadRequest) -> tuple[Window, int]:
        key = (request.object_name, request.cursor, request.include_deleted)
        planned = self._planned.pop(key, None)
        if planned is not None:
            return planned
        position = parse_cursor(request.cursor)
        assert isinstance(position, Position)
        now, resolution = self.server_now(request.object_name)
        window = make_window(position, now, resolution, dt.timedelta(seconds=self.settings.lookback_seconds))
        if window.empty:
            return window, 0
        soql = f"SELECT COUNT() FROM {request.object_name} WHERE {window.where()}"
        result = self.call(self._sf.query, soql, include_deleted=request.include_deleted,  # type: ignore[union-attr]
                           doing=f"counting {request.object_name}")
        return window, int(result.get("totalSize", 0))

    def count(self, request: ReadRequest) -> int | None:
        position = parse_cursor(request.cursor)
        if isinstance(position, BulkResume):
            return None  # a Bulk job in progress: its size is known only as it is read
        window, total = self._plan(request)
        self._planned[(request.object_name, request.cursor, request.include_deleted)] = (window, total)
        return total

    def read(self, request: ReadRequest) -> Iterator[Page]:
        fields = tuple(dict.fromkeys((*request.fields, "IsDeleted"))) if request.include_deleted else request.fields
        position = parse_cursor(request.cursor)
        if isinstance(position, BulkResume):
            pages = self._resume_bulk(request, fields, position)
        else:
            window, total = self._plan(request)
            if window.empty:
                yield Page(records=[], cursor=request.cursor)
                return
            if total == 0:
                # The window ends at the org's settled time, so nothing can still arrive in it:
                # the watermark moves on without a query (an idle run costs two calls).
                yield Page(records=[], cursor=window.watermark.encode())
                return
            if total >= max(self.settings.bulk_threshold, 1):
                pages = self._bulk_pages(request, fields, window, total)
            else:
                pages = read_rest(self.call, self._sf, request.object_name, fields, window,
                                  include_deleted=request.include_deleted, page_size=request.page_size)
        stages = self.stages() if request.object_name.lower() == "opportunity" else None
        for page in pages:
            if stages:
                fill_from_stages(page.records, stages)
            yield page

    def _reader(self, request: ReadRequest, fields: tuple[str, ...], chunked: bool) -> BulkReader:
        return BulkReader(self._bulk_client(), self.http, self.call, object_name=request.object_name, fields=fields,
                          page_size=request.page_size, pk_chunk_size=self.settings.pk_chunk_size if chunked else None,
                          poll_seconds=self.settings.bulk_poll_seconds,
                          timeout_seconds=self.settings.bulk_timeout_seconds, sleep=self.sleep)

    def _bulk_pages(self, request: ReadRequest, fields: tuple[str, ...], window: Window, total: int) -> Iterator[Page]:
        chunked = total > self.settings.pk_chunk_size
        reader = self._reader(request, fields, chunked)
        resume = reader.start(window, include_deleted=request.include_deleted)
        # Record the job before reading, so a run stopped while it waits resumes this job.
        yield Page(records=[], cursor=resume.encode(), api_calls=0)
        yield from reader.pages(resume)

    def _resume_bulk(self, request: ReadRequest, fields: tuple[str, ...], resume: BulkResume) -> Iterator[Page]:
        bulk = self._bulk_client()
        try:
            state = self._bulk_call(bulk.job_state, resume.job_id, doing=f"checking Bulk job {resume.job_id}")
        except PermanentConnectorError:
            state = None
        if state not in ("Open", "Closed", "InProgress", "Completed"):
            log.warning("Bulk job %s is gone (%s); re-reading %s from the start of its window",
                        resume.job_id, state, request.object_name)
            restart = ReadRequest(request.object_name, request.fields, resume.start.encode(),
                                  request.include_deleted, request.page_size)
            yield from self.read(restart)
            return
        infos = self._bulk_call(bulk.get_batch_list, resume.job_id, doing="listing Bulk batches")
        chunked = isinstance(infos, list) and len(infos) > 1
        yield from self._reader(request, fields, chunked).pages(resume)

    def _bulk_call(self, fn: Callable[..., Any], *args: Any, doing: str) -> Any:
        def bound(*a: Any) -> Any:
            with ROUTED.bound(self.http):
                return fn(*a)
        return self.call(bound, *args, doing=doing)

    # -- writing ------------------------------------------------------------------------------

    def write(self, operations: Sequence[WriteOperation]) -> list[WriteResult]:
        """sObject Collections (200 records a call); the Bulk API above ``write_bulk_threshold``."""
        if len(operations) > self.settings.write_bulk_threshold:
            from .bulk_writes import write_bulk

            return write_bulk(self, operations)
        return write_collections(self, operations)

    def fetch(self, object_name: str, ids: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
        """Records by id, deleted ones flagged (one query per 200 ids)."""
        from .fetch import fetch_records

        sf = self._connect()
        records = fetch_records(self.call, sf, object_name, ids, fields)
        if records and object_name.lower() == "opportunity":
            fill_from_stages(records, self.stages())
        return records

    # -- the rest -----------------------------------------------------------------------------

    def api_usage(self) -> tuple[int, int] | None:
        return self.meter.usage()

    def close(self) -> None:
        self.http.close()


def _rebind(fn: Callable[..., Any], connector: SalesforceConnector) -> Callable[..., Any]:
    """A bound method of the old client, re-bound to the new one after a new login."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, Salesforce) and connector._sf is not None:
        return getattr(connector._sf, fn.__name__)
    return fn
