"""Seed files: a JSON or YAML document describing an org for demos and tests.

::

    schema:                      # custom objects / fields (same shape as FakeOrg(schema=...))
      objects:
        Opportunity: {fields: [{name: Renewal_Key__c, type: string, externalId: true}]}
    users:
      - {ref: alice, username: alice@acme.test, first_name: Alice, last_name: Liddell}
    generate: {opportunities: 200, seed: 7}     # optional: run the generator first
    records:                     # inserted in order through the API's validation
      Account:
        - {"@ref": acme, Name: Acme}
        - {"@ref": acme-eu, Name: Acme EU, ParentId: "@acme"}
      Opportunity:
        - {Name: Acme renewal, AccountId: "@acme", StageName: Prospecting, CloseDate: 2024-07-01, OwnerId: "@alice"}
    outbound_rules:
      - {name: opp-sync, object: Opportunity, fields: [Name, StageName], endpoint_url: "http://127.0.0.1:5000/om",
         criteria: "Amount > 0", integration_user: integration}

``"@name"`` values refer to an earlier ``@ref`` (or ``admin`` / ``integration``); write ``"@@x"``
for a literal ``"@x"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from .org import FakeOrg


def read_seed_file(path: str | Path) -> dict[str, Any]:
    """Parse a seed file (``.yaml``/``.yml`` as YAML, anything else as JSON)."""
    text = Path(path).read_text()
    if str(path).endswith((".yaml", ".yml")):
        import yaml
        return yaml.safe_load(text) or {}
    return json.loads(text)


def apply_seed(org: FakeOrg, document: Mapping[str, Any]) -> dict[str, str]:
    """Load a seed document into ``org``; returns the ``@ref`` → id map."""
    refs: dict[str, str] = {"admin": org.admin_user_id, "integration": org.integration_user_id}

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@"):
            if value.startswith("@@"):
                return value[1:]
            if value[1:] not in refs:
                raise KeyError(f"unknown reference {value}")
            return refs[value[1:]]
        if hasattr(value, "isoformat"):  # YAML turns bare dates into date objects
            return value.isoformat()
        return value

    if document.get("schema"):
        org.load_schema(document["schema"])
    if document.get("opportunity_stages"):
        org.set_opportunity_stages(document["opportunity_stages"])
    for user in document.get("users") or []:
        spec = dict(user)
        ref = spec.pop("ref", None)
        user_id = org.add_user(spec.pop("username"), last_name=spec.pop("last_name"), **spec)
        if ref:
            refs[ref] = user_id
    if document.get("generate"):
        org.seed(**document["generate"])
    for object_name, records in (document.get("records") or {}).items():
        for record in records or []:
            values = {key: resolve(value) for key, value in record.items() if key != "@ref"}
            as_user = values.pop("@as", None)
            record_id = org.insert(object_name, values, as_user=as_user)
            if record.get("@ref"):
                refs[record["@ref"]] = record_id
    for rule in document.get("outbound_rules") or []:
        spec = dict(rule)
        integration = spec.pop("integration_user", None)
        if integration:
            spec["integration_user_id"] = resolve("@" + integration if not integration.startswith("@") else integration)
        org.add_outbound_rule(spec.pop("name"), spec.pop("object"), spec.pop("fields"), spec.pop("endpoint_url"),
                              **spec)
    return refs
