"""Current state of records by id: one ``queryAll`` per 200 ids.

Webhook processing calls this for notifications that do not carry every mapped field
(an Outbound Message with only ``Id`` for a deleted record, or a rule that sends fewer
fields). ``queryAll`` returns deleted records still in the recycle bin with ``IsDeleted``
true; ids it does not return at all were purged.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from tether.core.errors import PermanentConnectorError

from .rest import clean_record, soql_select

IDS_PER_QUERY = 200
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def fetch_records(call: Callable[..., Any], sf: Any, object_name: str, ids: Sequence[str],
                  fields: Sequence[str]) -> list[dict[str, Any]]:
    """Records of ``ids`` (deleted ones flagged ``IsDeleted``); purged ids are absent."""
    wanted = list(dict.fromkeys(ids))
    bad = [i for i in wanted if not _ID.match(i or "")]
    if bad:
        raise PermanentConnectorError(f"{object_name}: {bad[0]!r} is not a Salesforce id",
                                      hint="the notification carried a malformed Id")
    selected = tuple(dict.fromkeys(("Id", "IsDeleted", *fields)))
    records: list[dict[str, Any]] = []
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start:start + IDS_PER_QUERY]
        where = "Id IN (" + ", ".join(f"'{i}'" for i in chunk) + ")"
        soql = soql_select(object_name, selected, where, order=False)
        result = call(sf.query, soql, include_deleted=True, doing=f"reading {len(chunk)} {object_name} records by id")
        while True:
            records.extend(clean_record(r) for r in result.get("records", []))
            if result.get("done", True):
                break
            result = call(sf.query_more, result["nextRecordsUrl"], identifier_is_url=True, include_deleted=True,
                          doing=f"paging through {object_name} records by id")
    return records
