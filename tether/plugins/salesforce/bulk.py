"""Reading through the Bulk API 1.0 with salesforce-bulk: CSV results streamed in pages.

Large objects use PK chunking (``Sforce-Enable-PKChunking``): Salesforce splits the query
into batches by Id range and the original batch becomes ``NotProcessed``, so the batch
list is walked (chunks in creation order) instead of waiting on the original batch.
Results are streamed from the HTTP response through ``csv.reader`` and cut into pages,
so memory stays flat whatever the object's size. Each page's cursor names the job,
batch and row, so a resumed run continues the same job and re-reads at most one batch.

salesforce-bulk calls ``requests.get``/``post`` at module level; :data:`ROUTED` stands in
for that module and sends each call through the connector's own session (TLS trust,
timeouts, API call counting), bound per thread for the duration of one call.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import threading
import time
from typing import Any, Callable, Iterator

import requests
import salesforce_bulk.salesforce_bulk as _bulk_module
from salesforce_bulk import SalesforceBulk

from tether.core.connectors import Page
from tether.core.errors import PermanentConnectorError, TransientConnectorError

from .cursor import BulkResume, Position, Window
from .rest import soql_select

csv.field_size_limit(32 * 1024 * 1024)  # long text areas


class _RoutedRequests:
    """The ``requests`` salesforce-bulk sees: calls go through the session bound to this thread."""

    exceptions = requests.exceptions

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def bound(self, session: requests.Session) -> Iterator[None]:
        previous = getattr(self._local, "session", None)
        self._local.session = session
        try:
            yield
        finally:
            self._local.session = previous

    def _target(self) -> Any:
        return getattr(self._local, "session", None) or requests

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._target().get(url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._target().post(url, **kwargs)


ROUTED = _RoutedRequests()
_bulk_module.requests = ROUTED  # type: ignore[assignment]

DONE_STATES = ("Completed",)
FAILED_STATES = ("Failed",)


class BulkReader:
    """One object's Bulk query, from job creation (or resumption) to the last row."""

    def __init__(self, bulk: SalesforceBulk, http: requests.Session, call: Callable[..., Any], *,
                 object_name: str, fields: tuple[str, ...], page_size: int, pk_chunk_size: int | None,
                 poll_seconds: float, timeout_seconds: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.bulk = bulk
        self.http = http
        self.call = call
        self.object_name = object_name
        self.fields = fields
        self.page_size = page_size
        self.pk_chunk_size = pk_chunk_size
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep

    def _api(self, fn: Callable[..., Any], *args: Any, doing: str, **kwargs: Any) -> Any:
        def bound_call(*a: Any, **k: Any) -> Any:
            with ROUTED.bound(self.http):
                return fn(*a, **k)
        return self.call(bound_call, *args, doing=doing, **kwargs)

    # -- starting ---------------------------------------------------------------------------

    def start(self, window: Window, *, include_deleted: bool) -> BulkResume:
        """Create the job and its query batch; returns the position of its first row."""
        soql = soql_select(self.object_name, self.fields, window.where(), order=False)
        create = self.bulk.create_queryall_job if include_deleted else self.bulk.create_query_job
        options: dict[str, Any] = {"contentType": "CSV"}
        if self.pk_chunk_size:
            options["pk_chunking"] = self.pk_chunk_size
        job_id = self._api(create, self.object_name, doing=f"creating a Bulk job for {self.object_name}", **options)
        self._api(self.bulk.query, job_id, soql, doing=f"adding the Bulk query batch for {self.object_name}")
        self._api(self.bulk.close_job, job_id, doing="closing the Bulk job")
        return BulkResume(job_id, 0, 0, window.start, window.watermark.stamp)

    # -- reading ----------------------------------------------------------------------------

    def pages(self, resume: BulkResume) -> Iterator[Page]:
        batches = self._batches(resume.job_id)
        for index in range(resume.batch, len(batches)):
            batch_id = batches[index]
            self._wait(resume.job_id, batch_id)
            skip = resume.row if index == resume.batch else 0
            yield from self._batch_pages(resume, index, batch_id, skip)
        # The job is done: the watermark of the run that created it becomes the cursor.
        yield Page(records=[], cursor=_watermark(resume), api_calls=0)

    def _batches(self, job_id: str) -> list[str]:
        """The job's data batches in creation order, once PK chunking has created them all."""
        waited = 0.0
        while True:
            infos = self._api(self.bulk.get_batch_list, job_id, doing="listing Bulk batches")
            if isinstance(infos, dict):
                infos = [infos]
            states = [(info.get("id"), info.get("state"), info.get("stateMessage")) for info in infos]
            failed = [s for s in states if s[1] in FAILED_STATES]
            if failed:
                raise _batch_failed(job_id, failed[0])
            # With PK chunking the original batch turns NotProcessed once every chunk exists
            # (or Completed when Salesforce chose not to chunk).
            if not self.pk_chunk_size or not states or states[0][1] in ("NotProcessed", "Completed"):
                return [batch_id for batch_id, state, _ in states if state != "NotProcessed"]
            waited = self._pause(waited, job_id)

    def _wait(self, job_id: str, batch_id: str) -> None:
        waited = 0.0
        while True:
            info = self._api(self.bulk.batch_status, batch_id, job_id, reload=True, doing="polling a Bulk batch")
            state = info.get("state")
            if state in DONE_STATES:
                return
            if state in FAILED_STATES or state == "NotProcessed":
                raise _batch_failed(job_id, (batch_id, state, info.get("stateMessage")))
            waited = self._pause(waited, job_id)

    def _pause(self, waited: float, job_id: str) -> float:
        if waited >= self.timeout_seconds:
            raise TransientConnectorError(
                f"Bulk job {job_id} for {self.object_name} did not finish in {self.timeout_seconds:.0f}s",
                code="BULK_TIMEOUT", hint="raise bulk_timeout_seconds, or run again to resume the same job")
        self.sleep(self.poll_seconds)
        return waited + self.poll_seconds

    def _download(self, job_id: str, batch_id: str, result_id: str) -> requests.Response:
        # Streamed by us: salesforce-bulk's own result reader goes through the body one byte at a time.
        url = f"{self.bulk.endpoint}/job/{job_id}/batch/{batch_id}/result/{result_id}"
        response = self.http.get(url, headers=self.bulk.headers(), stream=True)
        self.bulk.check_status(response)
        return response

    def _batch_pages(self, resume: BulkResume, index: int, batch_id: str, skip: int) -> Iterator[Page]:
        result_ids = self._api(self.bulk.get_query_batch_result_ids, batch_id, resume.job_id,
                               doing="listing Bulk results")
        row_number = 0
        for result_id in result_ids or []:
            response = self._api(self._download, resume.job_id, batch_id, result_id, doing="downloading Bulk results")
            calls = 1
            reader = csv.reader(_lines(response.iter_content(chunk_size=1 << 20)))
            header = next(reader, None)
            if header is None:
                continue
            records: list[dict[str, Any]] = []
            deleted: list[str] = []
            for row in reader:
                row_number += 1
                if row_number <= skip:
                    continue
                # CSV has no null: an empty cell is one (every cell is a str, so ``or`` is exact).
                record = dict(zip(header, [value or None for value in row]))
                if record.get("IsDeleted") == "true":
                    deleted.append(record["Id"])
                records.append(record)
                if len(records) >= self.page_size:
                    yield Page(records=records, cursor=_position(resume, index, row_number), deleted_ids=deleted,
                               api_calls=calls)
                    records, deleted, calls = [], [], 0
            if records:
                yield Page(records=records, cursor=_position(resume, index, row_number), deleted_ids=deleted,
                           api_calls=calls)
        # The batch is done: the next run (if this one stops now) starts at the next batch.
        yield Page(records=[], cursor=_position(resume, index + 1, 0), api_calls=0)


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Text lines (with their newline, as csv.reader needs inside quoted fields) of a byte stream."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for chunk in chunks:
        text = pending + decoder.decode(chunk)
        lines = text.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _position(resume: BulkResume, batch: int, row: int) -> str:
    return BulkResume(resume.job_id, batch, row, resume.start, resume.watermark).encode()


def _watermark(resume: BulkResume) -> str:
    return Position(resume.watermark).at_least(resume.start).encode() or ""


def _batch_failed(job_id: str, state: tuple[Any, Any, Any]) -> Exception:
    batch_id, status, message = state
    text = f"Salesforce Bulk batch {batch_id} of job {job_id} {status}: {message or 'no message'}"
    if message and any(code in message for code in ("UNABLE_TO_LOCK_ROW", "QUERY_TIMEOUT", "TooManyLockFailure",
                                                    "SERVER_UNAVAILABLE")):
        return TransientConnectorError(text, code="BULK_BATCH")
    return PermanentConnectorError(text, code="BULK_BATCH", hint="fix the cause Salesforce names, then run again")

