"""Bulk API 2.0 (``/services/data/vXX.X/jobs/{query,ingest}``).

Query jobs: created ``UploadComplete``, move to ``InProgress`` then ``JobComplete`` as they
are polled; results are CSV pages selected with ``maxRecords`` and an opaque
``Sforce-Locator`` (base64 of the offset, ``null`` on the last page) plus
``Sforce-NumberOfRecords``.  Ingest jobs: ``Open`` → upload CSV → ``UploadComplete`` →
``InProgress`` → ``JobComplete``, with successful/failed/unprocessed result CSVs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from werkzeug.wrappers import Response

from .bulk_ingest import IngestResult, run_ingest
from .clock import format_ms, rest_datetime
from .csvio import DELIMITERS, LINE_ENDINGS, parse_records, render_rows, render_table, row_values
from .errors import SalesforceError
from .http_util import Call, json_response, no_content, read_json, streaming
from .soql_eval import CompiledQuery, compile_query

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class Job2:
    id: str
    kind: str  # query | ingest
    operation: str
    object_name: str
    created_by: str
    created_ms: int
    api_version: str
    column_delimiter: str = "COMMA"
    line_ending: str = "LF"
    state: str = "Open"
    modstamp_ms: int = 0
    polls: int = 0
    external_id_field: str | None = None
    compiled: CompiledQuery | None = None
    rows: list[int] | None = None
    uploads: list[bytes] = dataclass_field(default_factory=list)
    header: list[str] = dataclass_field(default_factory=list)
    records: list[list[str]] = dataclass_field(default_factory=list)
    results: list[IngestResult] = dataclass_field(default_factory=list)
    error_message: str | None = None


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str) -> int:
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        raise SalesforceError("INVALIDLOCATOR", f"Invalid locator: {locator}", include_fields=False) from None


class Bulk2Api:
    """Handlers and job state for Bulk API 2.0."""

    def __init__(self, org: Any) -> None:
        self.org = org
        self.jobs: dict[str, Job2] = {}

    # -------------------------------------------------------------- shared
    def _job(self, kind: str, job_id: str) -> Job2:
        job = self.jobs.get(job_id[:15])
        if job is None or job.kind != kind:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        return job

    def _info(self, job: Job2, detailed: bool) -> dict[str, Any]:
        created = rest_datetime(format_ms(job.created_ms))
        info: dict[str, Any] = {
            "id": job.id, "operation": job.operation, "object": job.object_name, "createdById": job.created_by,
            "createdDate": created, "systemModstamp": rest_datetime(format_ms(job.modstamp_ms or job.created_ms)),
            "state": job.state, "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(job.api_version), "lineEnding": job.line_ending, "columnDelimiter": job.column_delimiter,
        }
        if job.kind == "ingest":
            if job.external_id_field:
                info["externalIdFieldName"] = job.external_id_field
            info["contentUrl"] = f"services/data/v{job.api_version}/jobs/ingest/{job.id}/batches"
        if detailed:
            if job.kind == "query":
                info.update(jobType="V2Query", numberRecordsProcessed=len(job.rows or []), retries=0,
                            totalProcessingTime=0, isPkChunkingSupported=True)
            else:
                failed = sum(1 for r in job.results if not r.success)
                info.update(jobType="V2Ingest", numberRecordsProcessed=len(job.results), numberRecordsFailed=failed,
                            retries=0, totalProcessingTime=0, apiActiveProcessingTime=0, apexProcessingTime=0)
            if job.error_message:
                info["errorMessage"] = job.error_message
        return info

    def _advance(self, job: Job2) -> None:
        if job.state not in ("UploadComplete", "InProgress"):
            return
        job.polls += 1
        if job.polls <= self.org.bulk_polls_before_complete:
            job.state = "InProgress"
            return
        job.modstamp_ms = self.org.clock.now_ms()
        if job.kind == "query":
            job.rows = job.compiled.rows(job.operation == "queryAll")  # type: ignore[union-attr]
        else:
            self._process_ingest(job)
            if job.state == "Failed":
                return
        job.state = "JobComplete"

    def list_jobs(self, call: Call, kind: str) -> Response:
        records = [self._info(job, False) for job in self.jobs.values() if job.kind == kind]
        return json_response({"done": True, "records": records, "nextRecordsUrl": None})

    def get_job(self, call: Call, kind: str, job_id: str) -> Response:
        job = self._job(kind, job_id)
        self._advance(job)
        return json_response(self._info(job, True))

    def patch_job(self, call: Call, kind: str, job_id: str) -> Response:
        job = self._job(kind, job_id)
        state = (read_json(call.request) or {}).get("state")
        if state == "Aborted":
            if job.state in ("JobComplete", "Failed", "Aborted"):
                raise SalesforceError("INVALIDJOBSTATE", f"Job is already {job.state}", include_fields=False)
            job.state = "Aborted"
        elif state == "UploadComplete" and kind == "ingest":
            if job.state != "Open":
                raise SalesforceError("INVALIDJOBSTATE", f"Job is not Open: {job.state}", include_fields=False)
            job.state = "UploadComplete"
        else:
            raise SalesforceError("INVALIDJOBSTATE", f"Invalid state transition to {state}", include_fields=False)
        job.modstamp_ms = self.org.clock.now_ms()
        return json_response(self._info(job, False))

    def delete_job(self, call: Call, kind: str, job_id: str) -> Response:
        job = self._job(kind, job_id)
        if job.state in ("Open", "UploadComplete", "InProgress"):
            raise SalesforceError("INVALIDJOBSTATE", "Job must be Aborted or completed before deletion",
                                  include_fields=False)
        del self.jobs[job.id[:15]]
        return no_content()

    def _common(self, call: Call, body: dict[str, Any]) -> tuple[str, str]:
        delimiter = str(body.get("columnDelimiter") or "COMMA").upper()
        line_ending = str(body.get("lineEnding") or "LF").upper()
        if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
            raise SalesforceError("INVALIDJOB", "Invalid columnDelimiter or lineEnding", include_fields=False)
        return delimiter, line_ending

    # -------------------------------------------------------------- query jobs
    def create_query(self, call: Call) -> Response:
        body = read_json(call.request)
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            raise SalesforceError("INVALIDJOB", f"Invalid operation: {operation}", include_fields=False)
        delimiter, line_ending = self._common(call, body)
        compiled = compile_query(body.get("query") or "", self.org.store, self.org.clock)
        if compiled.aggregate or compiled.query.offset is not None:
            raise SalesforceError("API_ERROR", "Aggregate functions and OFFSET are not supported by Bulk API 2.0 "
                                  "queries", include_fields=False)
        job = Job2(self.org.ids.next_id("750"), "query", operation, compiled.definition.name, call.user_id,
                   self.org.clock.now_ms(), call.version, delimiter, line_ending, state="UploadComplete",
                   compiled=compiled)
        self.jobs[job.id[:15]] = job
        self.org.limits.bulk2_query_jobs_used += 1
        return json_response(self._info(job, False))

    def query_results(self, call: Call, job_id: str) -> Response:
        job = self._job("query", job_id)
        self._advance(job)
        if job.state != "JobComplete":
            raise SalesforceError("INVALIDJOBSTATE", f"Job {job.id} is not complete: {job.state}",
                                  include_fields=False, status=400)
        rows = job.rows or []
        offset = _decode_locator(call.request.args["locator"]) if call.request.args.get("locator") else 0
        max_records = call.request.args.get("maxRecords")
        limit = int(max_records) if max_records and max_records.isdigit() and int(max_records) > 0 else len(rows)
        page = rows[offset:offset + limit]
        end = offset + len(page)
        headers = {"Sforce-Locator": _encode_locator(end) if end < len(rows) else "null",
                   "Sforce-NumberOfRecords": str(len(page))}
        chunks = render_rows(job.compiled, page, delimiter=DELIMITERS[job.column_delimiter],
                             line_ending=LINE_ENDINGS[job.line_ending])
        if len(page) <= 50_000:
            body = b"".join(chunks)
            return Response(body, headers=headers, content_type="text/csv")
        return streaming(chunks, "text/csv", headers=headers)

    # -------------------------------------------------------------- ingest jobs
    def create_ingest(self, call: Call) -> Response:
        body = read_json(call.request)
        operation = body.get("operation")
        if operation not in INGEST_OPERATIONS:
            raise SalesforceError("INVALIDJOB", f"Invalid operation: {operation}", include_fields=False)
        definition = self.org.schema.get(body.get("object") or "")
        if definition is None:
            raise SalesforceError("INVALIDJOB", f"Unable to find object: {body.get('object')}", include_fields=False)
        if operation == "upsert" and not body.get("externalIdFieldName"):
            raise SalesforceError("INVALIDJOB", "External ID was blank for upsert", include_fields=False)
        delimiter, line_ending = self._common(call, body)
        job = Job2(self.org.ids.next_id("750"), "ingest", operation, definition.name, call.user_id,
                   self.org.clock.now_ms(), call.version, delimiter, line_ending,
                   external_id_field=body.get("externalIdFieldName"))
        self.jobs[job.id[:15]] = job
        return json_response(self._info(job, False))

    def upload(self, call: Call, job_id: str) -> Response:
        job = self._job("ingest", job_id)
        if job.state != "Open":
            raise SalesforceError("INVALIDJOBSTATE", f"Job is not Open: {job.state}", include_fields=False)
        job.uploads.append(call.request.get_data())
        return Response(status=201)

    def _parse_uploads(self, job: Job2) -> bool:
        if job.header or not job.uploads:
            return True
        delimiter = DELIMITERS[job.column_delimiter]
        for data in job.uploads:
            header, rows = parse_records(data, delimiter=delimiter)
            if job.header and header != job.header:
                job.error_message = "InvalidBatch : all uploads must share one header"
                return False
            job.header = header
            job.records += rows
        return True

    def _process_ingest(self, job: Job2) -> None:
        if not self._parse_uploads(job):
            job.state = "Failed"
            return
        if job.operation in ("delete", "hardDelete") and [h.lower() for h in job.header] != ["id"]:
            job.state, job.error_message = "Failed", "InvalidBatch : The 'delete' batch must contain only 'Id'"
            return
        records = [row_values(job.header, row) for row in job.records]
        job.results = run_ingest(self.org, job.operation, job.object_name, job.external_id_field, records,
                                 job.created_by, from_text=True)

    def ingest_results(self, call: Call, job_id: str, results_type: str) -> Response:
        job = self._job("ingest", job_id)
        self._advance(job)
        kind = results_type.lower()
        delimiter, line_ending = DELIMITERS[job.column_delimiter], LINE_ENDINGS[job.line_ending]
        self._parse_uploads(job)
        if kind == "successfulresults":
            rows = [[r.record_id or "", "true" if r.created else "false", *_original(job, r)]
                    for r in job.results if r.success]
            body = render_table(["sf__Id", "sf__Created", *job.header], rows, delimiter=delimiter,
                                line_ending=line_ending)
        elif kind == "failedresults":
            rows = [[r.record_id or "", r.error.bulk_error_text() if r.error else "", *_original(job, r)]
                    for r in job.results if not r.success]
            body = render_table(["sf__Id", "sf__Error", *job.header], rows, delimiter=delimiter,
                                line_ending=line_ending)
        elif kind == "unprocessedrecords":
            rows = [] if job.results or job.state == "JobComplete" else job.records
            body = render_table(job.header, rows, delimiter=delimiter, line_ending=line_ending) if job.header else b""
        else:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        return Response(body, content_type="text/csv")


def _original(job: Job2, result: IngestResult) -> list[str]:
    source = result.source
    return [("#N/A" if source.get(name, "") is None else str(source.get(name, ""))) for name in job.header]
