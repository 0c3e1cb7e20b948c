"""Reading through REST ``queryAll``: pages of up to 2,000 records in (SystemModstamp, Id) order."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from tether.core.connectors import Page
from tether.core.sync.coerce import to_datetime

from .cursor import STAMP, Window


def soql_select(object_name: str, fields: tuple[str, ...], where: str | None, *, order: bool) -> str:
    soql = f"SELECT {', '.join(fields)} FROM {object_name}"
    if where:
        soql += f" WHERE {where}"
    if order:
        soql += f" ORDER BY {STAMP}, Id"
    return soql


def clean_record(record: dict[str, Any]) -> dict[str, Any]:
    """A REST record without ``attributes``; relationship fields (``Owner.Name``) flattened."""
    record.pop("attributes", None)
    for key, value in list(record.items()):
        if isinstance(value, dict):
            value.pop("attributes", None)
            for sub_key, sub_value in value.items():
                record[f"{key}.{sub_key}"] = sub_value
            del record[key]
    return record


def read_rest(call: Callable[..., Any], sf: Any, object_name: str, fields: tuple[str, ...], window: Window,
              *, include_deleted: bool, page_size: int = 2000) -> Iterator[Page]:
    """Pages of the window; ``call(fn, *args, doing=...)`` runs each API call (with session
    refresh). The last page (possibly empty) carries the run's watermark."""
    soql = soql_select(object_name, fields, window.where(), order=True)
    # Salesforce honours batch sizes from 200 to 2,000 (and may return fewer).
    headers = {"Sforce-Query-Options": f"batchSize={min(max(page_size, 200), 2000)}"}
    result = call(sf.query, soql, include_deleted=include_deleted, headers=headers, doing=f"querying {object_name}")
    while True:
        records = [clean_record(r) for r in result.get("records", [])]
        deleted = [r["Id"] for r in records if r.get("IsDeleted") is True]
        done = bool(result.get("done", True))
        if records:
            last = records[-1]
            cursor = window.watermark.encode() if done else window.page_cursor(to_datetime(last.get(STAMP)), last["Id"])
        else:
            cursor = window.watermark.encode()
        yield Page(records=records, cursor=cursor, deleted_ids=deleted, api_calls=1)
        if done:
            return
        result = call(sf.query_more, result["nextRecordsUrl"], identifier_is_url=True,
                      include_deleted=include_deleted, headers=headers, doing=f"paging through {object_name}")
