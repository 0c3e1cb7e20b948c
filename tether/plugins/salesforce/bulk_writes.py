"""Writing large pushes through the Bulk API 1.0 (salesforce-bulk), JSON batches of 10,000.

Used above ``write_bulk_threshold`` records: a handful of calls per 10,000 records
instead of fifty. Each record still gets its own result (Bulk processes records one by
one), matched back by position; lock errors come back transient, the rest permanent
with Salesforce's message, exactly as through sObject Collections.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Sequence

from salesforce_bulk.salesforce_bulk import BulkBatchFailed

from tether.core.connectors import WriteOperation, WriteResult
from tether.core.errors import TransientConnectorError

from .errors import TRANSIENT_CODES

if TYPE_CHECKING:
    from .connector import SalesforceConnector

BATCH_SIZE = 10_000
OPERATIONS = {"create": "insert", "update": "update", "delete": "delete"}


def write_bulk(connector: "SalesforceConnector", operations: Sequence[WriteOperation]) -> list[WriteResult]:
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
        answers = _run_job(connector, object_name, kind, [operations[i] for i in indexes])
        for index, answer in zip(indexes, answers):
            results[index] = answer
    return [r for r in results if r is not None]


def _record(op: WriteOperation, kind: str) -> dict[str, Any]:
    if kind == "delete":
        return {"Id": op.external_id}
    record = {k: (float(v) if isinstance(v, Decimal) else v) for k, v in op.values.items()}
    if kind == "update":
        record["Id"] = op.external_id
    return record


def _run_job(connector: "SalesforceConnector", object_name: str, kind: str,
             ops: list[WriteOperation]) -> list[WriteResult]:
    bulk = connector._bulk_client()
    operation = "upsert" if kind.startswith("upsert:") else OPERATIONS[kind]
    external = kind.split(":", 1)[1] if kind.startswith("upsert:") else None
    doing = f"Bulk {operation} of {len(ops)} {object_name} records"
    job = connector._bulk_call(lambda: bulk.create_job(object_name, operation, contentType="JSON",
                                                       external_id_name=external), doing=doing)
    batches = []
    try:
        for start in range(0, len(ops), BATCH_SIZE):
            chunk = ops[start:start + BATCH_SIZE]
            data = json.dumps([_record(op, kind) for op in chunk])
            batches.append((connector._bulk_call(lambda d=data: bulk.post_batch(job, d), doing=doing), chunk))
    finally:
        connector._bulk_call(lambda: bulk.close_job(job), doing=f"closing Bulk job {job}")
    results: list[WriteResult] = []
    settings = connector.settings
    for batch, chunk in batches:
        deadline = time.monotonic() + settings.bulk_timeout_seconds
        while True:
            done = connector._bulk_call(lambda b=batch: _batch_done(bulk, job, b), doing=f"waiting for {doing}")
            if done is True or isinstance(done, BulkBatchFailed):
                break
            if time.monotonic() > deadline:
                raise TransientConnectorError(f"{doing}: batch {batch} did not finish in "
                                              f"{settings.bulk_timeout_seconds:.0f} s", code="BULK_TIMEOUT")
            connector.sleep(settings.bulk_poll_seconds)
        if isinstance(done, BulkBatchFailed):  # the whole batch was refused: each record says so
            message = done.state_message or "the Bulk batch failed"
            results += [WriteResult(local_id=op.local_id, success=False, external_id=op.external_id,
                                    error_kind="permanent", error_code="BULK_BATCH_FAILED", error_message=message)
                        for op in chunk]
            continue
        rows = connector._bulk_call(lambda b=batch: bulk.get_batch_results(b, job), doing=f"reading results of {doing}")
        for op, row in zip(chunk, rows):
            results.append(_result(op, row, kind))
    return results


def _batch_done(bulk: Any, job: str, batch: str) -> bool | BulkBatchFailed:
    try:
        return bulk.is_batch_done(batch, job)
    except BulkBatchFailed as exc:  # a failed batch is an answer, not an error of the call
        return exc


def _result(op: WriteOperation, row: Any, kind: str) -> WriteResult:
    success = row.success if isinstance(row.success, bool) else str(row.success).lower() == "true"
    if success:
        created = row.created if isinstance(row.created, bool) else str(row.created).lower() == "true"
        return WriteResult(local_id=op.local_id, success=True, external_id=row.id or op.external_id,
                           created=created and kind != "update")
    errors = row.error or []
    first = errors[0] if isinstance(errors, list) and errors else {}
    if isinstance(first, dict):
        code, message = first.get("statusCode"), first.get("message", "")
        if first.get("fields"):
            message = f"{message} (fields: {', '.join(first['fields'])})"
    else:  # CSV results carry "CODE:message" text
        code, _, message = str(errors).partition(":")
    return WriteResult(local_id=op.local_id, success=False, external_id=op.external_id,
                       error_kind="transient" if code in TRANSIENT_CODES else "permanent",
                       error_code=code, error_message=message.strip())
