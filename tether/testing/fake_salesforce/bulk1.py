"""Bulk API 1.0 (``/services/async/<version>/job…``): jobs, batches, results, PK chunking.

Batches start ``Queued`` and finish when polled (after ``org.bulk_polls_before_complete``
polls in ``InProgress``), so clients exercise their polling loops without waiting.  A
query job created with ``Sforce-Enable-PKChunking`` splits each query batch by Id range
into chunk batches and marks the original ``NotProcessed``, as Salesforce does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from werkzeug.wrappers import Request, Response

from . import bulk_xml
from .bulk1_formats import json_chunks, parse_ingest, parse_job_document, parse_pk_header, wants_json, xml_ready
from .bulk_ingest import IngestResult, run_ingest
from .clock import format_ms, rest_datetime
from .csvio import render_rows
from .errors import BulkApiException, SalesforceError
from .http_util import streaming
from .rest_render import query_records
from .soql_eval import CompiledQuery, compile_query

OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete", "query", "queryAll")
MAX_BATCH_RECORDS = 10_000


@dataclass
class Batch:
    id: str
    job_id: str
    created_ms: int
    request: bytes
    state: str = "Queued"
    state_message: str | None = None
    modstamp_ms: int = 0
    polls: int = 0
    processed: int = 0
    failed: int = 0
    chunk: range | None = None
    results: list[IngestResult] = dataclass_field(default_factory=list)
    result_sets: dict[str, list[int]] = dataclass_field(default_factory=dict)
    compiled: CompiledQuery | None = None
    pk_parent: bool = False


@dataclass
class Job:
    id: str
    operation: str
    object_name: str
    content_type: str
    concurrency_mode: str
    created_by: str
    created_ms: int
    api_version: str
    external_id_field: str | None = None
    state: str = "Open"
    modstamp_ms: int = 0
    pk_chunk_size: int | None = None
    pk_start_row: str | None = None
    batches: dict[str, Batch] = dataclass_field(default_factory=dict)

    @property
    def is_query(self) -> bool:
        return self.operation in ("query", "queryAll")


class Bulk1Api:
    """Handlers and job state for Bulk API 1.0."""

    def __init__(self, org: Any) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}

    # -------------------------------------------------------------- envelopes
    def _job_fields(self, job: Job, as_json: bool) -> dict[str, Any]:
        counts = {state: 0 for state in ("Queued", "InProgress", "Completed", "Failed", "NotProcessed")}
        for batch in job.batches.values():
            counts[batch.state] += 1
        created = format_ms(job.created_ms)
        modstamp = format_ms(job.modstamp_ms or job.created_ms)
        fields = {
            "id": job.id, "operation": job.operation, "object": job.object_name, "createdById": job.created_by,
            "createdDate": rest_datetime(created) if as_json else created,
            "systemModstamp": rest_datetime(modstamp) if as_json else modstamp, "state": job.state,
            "externalIdFieldName": job.external_id_field, "concurrencyMode": job.concurrency_mode,
            "contentType": job.content_type, "numberBatchesQueued": counts["Queued"],
            "numberBatchesInProgress": counts["InProgress"], "numberBatchesCompleted": counts["Completed"],
            "numberBatchesFailed": counts["Failed"], "numberBatchesTotal": len(job.batches),
            "numberRecordsProcessed": sum(b.processed for b in job.batches.values()), "numberRetries": 0,
            "apiVersion": float(job.api_version), "numberRecordsFailed": sum(b.failed for b in job.batches.values()),
            "totalProcessingTime": 0, "apiActiveProcessingTime": 0, "apexProcessingTime": 0,
        }
        if as_json:
            return dict(sorted(fields.items()))
        return {k: v for k, v in fields.items() if v is not None}

    def _batch_fields(self, batch: Batch, as_json: bool) -> dict[str, Any]:
        created, modstamp = format_ms(batch.created_ms), format_ms(batch.modstamp_ms or batch.created_ms)
        fields = {"id": batch.id, "jobId": batch.job_id, "state": batch.state, "stateMessage": batch.state_message,
                  "createdDate": rest_datetime(created) if as_json else created,
                  "systemModstamp": rest_datetime(modstamp) if as_json else modstamp,
                  "numberRecordsProcessed": batch.processed, "numberRecordsFailed": batch.failed,
                  "totalProcessingTime": 0, "apiActiveProcessingTime": 0, "apexProcessingTime": 0}
        fields = {k: v for k, v in fields.items() if v is not None}
        return dict(sorted(fields.items())) if as_json else fields

    @staticmethod
    def _respond(request: Request, root: str, fields: dict[str, Any], status: int = 200) -> Response:
        if wants_json(request):
            return Response(json.dumps(fields).encode(), status=status, content_type=bulk_xml.JSON_CONTENT_TYPE)
        return Response(bulk_xml.info_xml(root, fields), status=status, content_type=bulk_xml.XML_CONTENT_TYPE)

    def _job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id[:15]) if job_id else None
        if job is None:
            raise BulkApiException("InvalidJob", f"Invalid job id: {job_id}")
        return job

    def _batch(self, job: Job, batch_id: str) -> Batch:
        batch = job.batches.get(batch_id[:15])
        if batch is None:
            raise BulkApiException("InvalidBatch", f"Unable to find batch for id: {batch_id}")
        return batch

    # -------------------------------------------------------------- jobs
    def create_job(self, request: Request, user_id: str, version: str) -> Response:
        spec = parse_job_document(request)
        operation = spec.get("operation") or ""
        if operation not in OPERATIONS:
            raise BulkApiException("InvalidJob", f"Invalid operation: {operation}")
        definition = self.org.schema.get(spec.get("object") or "")
        if definition is None:
            raise BulkApiException("InvalidJob", f"Unable to find object: {spec.get('object')}")
        content_type = (spec.get("contentType") or "XML").upper()
        if content_type not in ("CSV", "XML", "JSON"):
            raise BulkApiException("InvalidJob", f"Invalid content type: {content_type}")
        concurrency = str(spec.get("concurrencyMode", "Parallel"))
        concurrency = {"0": "Parallel", "1": "Serial"}.get(concurrency, concurrency)
        now = self.org.clock.now_ms()
        job = Job(self.org.ids.next_id("750"), operation, definition.name, content_type, concurrency, user_id, now,
                  version, external_id_field=spec.get("externalIdFieldName"))
        if operation == "upsert" and not job.external_id_field:
            raise BulkApiException("InvalidJob", "External ID was blank for upsert")
        pk_header = request.headers.get("Sforce-Enable-PKChunking")
        if pk_header and pk_header.strip().lower() != "false":
            if not job.is_query:
                raise BulkApiException("InvalidJob", "PK chunking is supported only for query jobs")
            job.pk_chunk_size, job.pk_start_row = parse_pk_header(pk_header)
        self.jobs[job.id[:15]] = job
        return self._respond(request, "jobInfo", self._job_fields(job, wants_json(request)), status=201)

    def get_job(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        return self._respond(request, "jobInfo", self._job_fields(job, wants_json(request)))

    def update_job(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        state = parse_job_document(request).get("state")
        if state not in ("Closed", "Aborted"):
            raise BulkApiException("InvalidJobState", f"Invalid state: {state}")
        if job.state != "Open" and state != "Aborted":
            raise BulkApiException("InvalidJobState", f"Job is not open: {job.state}")
        job.state = state
        job.modstamp_ms = self.org.clock.now_ms()
        if state == "Aborted":
            for batch in job.batches.values():
                if batch.state == "Queued":
                    batch.state, batch.state_message = "NotProcessed", "Job aborted"
        return self._respond(request, "jobInfo", self._job_fields(job, wants_json(request)))

    # -------------------------------------------------------------- batches
    def add_batch(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        if job.state != "Open":
            raise BulkApiException("InvalidJobState", f"Job is not open: {job.state}")
        now = self.org.clock.now_ms()
        batch = Batch(self.org.ids.next_id("751"), job.id, now, request.get_data())
        job.batches[batch.id[:15]] = batch
        self.org.limits.bulk_batches_used += 1
        if job.is_query and job.pk_chunk_size:
            self._chunk(job, batch)
        return self._respond(request, "batchInfo", self._batch_fields(batch, wants_json(request)), status=201)

    def _chunk(self, job: Job, parent: Batch) -> None:
        try:
            compiled = compile_query(parent.request.decode("utf-8"), self.org.store, self.org.clock)
        except SalesforceError as error:
            parent.state, parent.state_message = "Failed", f"InvalidBatch : Failed to process query: {error}"
            return
        query = compiled.query
        if query.order_by or query.limit is not None or query.offset is not None or compiled.aggregate:
            parent.state = "Failed"
            parent.state_message = "InvalidBatch : PK chunking works only with queries without ORDER BY, LIMIT or " \
                                   "OFFSET"
            return
        table = compiled.table
        ids = table.columns["Id"]
        first = 0
        if job.pk_start_row:
            start_id = job.pk_start_row
            first = next((row for row in range(len(ids)) if ids[row][:15] >= start_id[:15]), len(ids))
        soql = parent.request.decode("utf-8").strip()
        joiner = " AND " if query.where is not None else " WHERE "
        for low in range(first, len(table), job.pk_chunk_size):  # type: ignore[arg-type]
            high = min(low + job.pk_chunk_size, len(table))  # type: ignore[operator]
            bounds = f"Id >= '{ids[low][:15]}'" + (f" AND Id < '{ids[high][:15]}'" if high < len(table) else "")
            text = f"{soql}{joiner}{bounds}"
            chunk = Batch(self.org.ids.next_id("751"), job.id, self.org.clock.now_ms(), text.encode(),
                          chunk=range(low, high), compiled=compiled)
            job.batches[chunk.id[:15]] = chunk
            self.org.limits.bulk_batches_used += 1
        parent.pk_parent = True

    def list_batches(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        for batch in job.batches.values():
            self._advance(job, batch)
        as_json = wants_json(request)
        infos = [self._batch_fields(b, as_json) for b in job.batches.values()]
        if as_json:
            return Response(json.dumps({"batchInfo": infos}).encode(), content_type=bulk_xml.JSON_CONTENT_TYPE)
        return Response(bulk_xml.info_list_xml(infos), content_type=bulk_xml.XML_CONTENT_TYPE)

    def get_batch(self, request: Request, job_id: str, batch_id: str) -> Response:
        job = self._job(job_id)
        batch = self._batch(job, batch_id)
        self._advance(job, batch)
        return self._respond(request, "batchInfo", self._batch_fields(batch, wants_json(request)))

    def batch_request(self, request: Request, job_id: str, batch_id: str) -> Response:
        job = self._job(job_id)
        batch = self._batch(job, batch_id)
        content_type = {"CSV": "text/csv", "JSON": "application/json"}.get(job.content_type, "application/xml")
        return Response(batch.request, content_type=content_type)

    def _advance(self, job: Job, batch: Batch) -> None:
        """One status read: move a batch along Queued → InProgress → Completed/Failed/NotProcessed."""
        if batch.state not in ("Queued", "InProgress"):
            return
        if batch.pk_parent:
            batch.state, batch.state_message = "NotProcessed", None
            batch.modstamp_ms = self.org.clock.now_ms()
            return
        batch.polls += 1
        if batch.polls <= self.org.bulk_polls_before_complete:
            batch.state = "InProgress"
            return
        with self.org.lock:
            if job.is_query:
                self._run_query(job, batch)
            else:
                self._run_ingest(job, batch)
        batch.modstamp_ms = self.org.clock.now_ms()

    def _run_query(self, job: Job, batch: Batch) -> None:
        try:
            compiled = batch.compiled or compile_query(batch.request.decode("utf-8"), self.org.store, self.org.clock)
            if compiled.aggregate:
                raise BulkApiException("InvalidBatch", "Aggregate Relationships not supported in Bulk Query")
            if compiled.query.offset is not None:
                raise BulkApiException("InvalidBatch", "OFFSET is not supported in Bulk Query")
        except SalesforceError as error:
            batch.state = "Failed"
            batch.state_message = f"InvalidBatch : Failed to process query: {error.error_code}: {error.message}"
            return
        except BulkApiException as error:
            batch.state, batch.state_message = "Failed", f"{error.exception_code} : {error.message}"
            return
        batch.compiled = compiled
        rows = compiled.rows(job.operation == "queryAll", within=batch.chunk)
        per_file = max(1, self.org.bulk1_rows_per_result_file)
        for start in range(0, max(len(rows), 1), per_file):
            batch.result_sets[self.org.ids.next_id("752")] = rows[start:start + per_file]
        batch.processed = len(rows)
        batch.state = "Completed"

    def _run_ingest(self, job: Job, batch: Batch) -> None:
        try:
            records = parse_ingest(job.content_type, batch.request)
        except (ValueError, SalesforceError) as error:
            batch.state, batch.state_message = "Failed", f"InvalidBatch : {error}"
            return
        if len(records) > MAX_BATCH_RECORDS:
            batch.state = "Failed"
            batch.state_message = f"InvalidBatch : Records in batch exceed the limit of {MAX_BATCH_RECORDS}"
            return
        from_text = job.content_type != "JSON"
        batch.results = run_ingest(self.org, job.operation, job.object_name, job.external_id_field, records,
                                   job.created_by, from_text=from_text)
        batch.processed = len(batch.results)
        batch.failed = sum(1 for result in batch.results if not result.success)
        batch.state = "Completed"

    # -------------------------------------------------------------- results
    def batch_results(self, request: Request, job_id: str, batch_id: str) -> Response:
        job = self._job(job_id)
        batch = self._batch(job, batch_id)
        if batch.state != "Completed":
            raise BulkApiException("InvalidBatch", "Batch not completed")
        if job.is_query:
            if wants_json(request) or job.content_type == "JSON" and not request.content_type:
                return Response(json.dumps(list(batch.result_sets)).encode(), content_type=bulk_xml.JSON_CONTENT_TYPE)
            return Response(bulk_xml.result_list_xml(batch.result_sets), content_type=bulk_xml.XML_CONTENT_TYPE)
        if job.content_type == "JSON":
            body = [{"success": r.success, "created": r.created, "id": r.record_id,
                     "errors": [r.error.record_error()] if r.error else []} for r in batch.results]
            return Response(json.dumps(body).encode(), content_type=bulk_xml.JSON_CONTENT_TYPE)
        if job.content_type == "XML":
            return Response(bulk_xml.ingest_results_xml((r.record_id, r.success, r.created, r.error)
                                                        for r in batch.results), content_type=bulk_xml.XML_CONTENT_TYPE)
        from .csvio import render_table
        rows = [[r.record_id or "", "true" if r.success else "false", "true" if r.created else "false",
                 r.error.bulk_error_text() if r.error else ""] for r in batch.results]
        return Response(render_table(["Id", "Success", "Created", "Error"], rows), content_type="text/csv")

    def query_result(self, request: Request, job_id: str, batch_id: str, result_id: str) -> Response:
        job = self._job(job_id)
        batch = self._batch(job, batch_id)
        rows = batch.result_sets.get(result_id)
        if rows is None or batch.compiled is None:
            raise BulkApiException("InvalidBatch", f"Unable to find result for id: {result_id}")
        compiled = batch.compiled
        if job.content_type == "CSV":
            if not rows:
                return Response(b"Records not found for this query", content_type="text/csv")
            return streaming(render_rows(compiled, rows), "text/csv")
        if job.content_type == "JSON":
            return streaming(json_chunks(compiled, rows, job.api_version), bulk_xml.JSON_CONTENT_TYPE)
        records = query_records(compiled, rows, job.api_version)
        return Response(bulk_xml.query_results_xml(compiled.definition.name, xml_ready(records)),
                        content_type=bulk_xml.XML_CONTENT_TYPE)
