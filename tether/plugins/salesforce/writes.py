"""Writing through sObject Collections: up to 200 records per call, one result per record.

Creates (no Salesforce id yet) upsert by the operation's external-id field (``PATCH
composite/sobjects/<Object>/<Field>``), so a create retried after a lost answer finds the
record it made, or POST ``composite/sobjects`` when no such field is mapped; updates
PATCH it with each record's ``Id``; deletes call ``DELETE composite/sobjects?ids=``. ``allOrNone`` is off,
so one bad record does not fail its neighbours. Lock errors come back as transient
(the pusher retries them with backoff); validation errors as permanent, with
Salesforce's message and fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from tether.core.connectors import WriteOperation, WriteResult

from .errors import TRANSIENT_CODES

if TYPE_CHECKING:
    from .connector import SalesforceConnector

COLLECTION_SIZE = 200


def write_collections(connector: "SalesforceConnector", operations: Sequence[WriteOperation]) -> list[WriteResult]:
    results: list[WriteResult | None] = [None] * len(operations)
    groups: dict[tuple[str, str], list[int]] = {}
    for index, op in enumerate(operations):
        if op.operation == "delete":
            kind = "delete"
        elif op.external_id:
            kind = "update"
        else:
            kind = f"upsert:{op.external_id_field}" if op.external_id_field else "create"
        groups.setdefault((op.object_name, kind), []).append(index)
    for (object_name, kind), indexes in groups.items():
        for start in range(0, len(indexes), COLLECTION_SIZE):
            chunk = indexes[start:start + COLLECTION_SIZE]
            answers = _send(connector, object_name, kind, [operations[i] for i in chunk])
            for index, answer in zip(chunk, answers):
                results[index] = _result(operations[index], answer, created=kind != "update" and kind != "delete")
    return [r for r in results if r is not None]


def _send(connector: "SalesforceConnector", object_name: str, kind: str, ops: list[WriteOperation]) -> list[Any]:
    sf = connector._connect()
    doing = f"{kind} of {len(ops)} {object_name} records"
    if kind == "delete":
        ids = ",".join(op.external_id or "" for op in ops)
        answer = connector.call(lambda: connector._sf.restful(  # type: ignore[union-attr]
            "composite/sobjects", params={"ids": ids, "allOrNone": "false"}, method="DELETE"), doing=doing)
    else:
        records = []
        for op in ops:
            record = {"attributes": {"type": object_name}, **op.values}
            if kind == "update":
                record["Id"] = op.external_id
            records.append(record)
        method = "POST" if kind == "create" else "PATCH"
        path = f"composite/sobjects/{object_name}/{kind.split(':', 1)[1]}" if kind.startswith("upsert:") else \
            "composite/sobjects"
        answer = connector.call(lambda: connector._sf.restful(  # type: ignore[union-attr]
            path, method=method, json={"allOrNone": False, "records": records}), doing=doing)
    del sf
    return list(answer or [])


def _result(op: WriteOperation, answer: dict[str, Any], *, created: bool) -> WriteResult:
    if answer.get("success"):
        return WriteResult(local_id=op.local_id, success=True, external_id=answer.get("id") or op.external_id,
                           created=bool(answer.get("created", created)))
    errors = answer.get("errors") or [{}]
    first = errors[0]
    code = first.get("statusCode") or first.get("errorCode")
    message = first.get("message", "")
    if first.get("fields"):
        message = f"{message} (fields: {', '.join(first['fields'])})"
    return WriteResult(local_id=op.local_id, success=False, external_id=op.external_id,
                       error_kind="transient" if code in TRANSIENT_CODES else "permanent",
                       error_code=code, error_message=message)
