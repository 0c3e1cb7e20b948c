"""Bulk API 1.0 request parsing and result rendering helpers (job documents, PK chunking
header, ingest data in CSV/JSON/XML, JSON and XML query results)."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from defusedxml import ElementTree
from werkzeug.wrappers import Request

from .csvio import parse_records, row_values
from .errors import BulkApiException
from .rest_render import query_records
from .soql_eval import CompiledQuery

PK_DEFAULT_CHUNK, PK_MAX_CHUNK = 100_000, 250_000


def wants_json(request: Request) -> bool:
    """Bulk 1.0 answers in the request's format: JSON if its Content-Type says so, else XML."""
    return "json" in (request.content_type or "").lower()


def json_chunks(compiled: CompiledQuery, rows: list[int], version: str, size: int = 5000) -> Iterator[bytes]:
    yield b"["
    for start in range(0, len(rows), size):
        records = query_records(compiled, rows[start:start + size], version, bulk=True)
        text = json.dumps(records, separators=(",", ":"))[1:-1]
        yield (("," if start else "") + text).encode()
    yield b"]"


def xml_ready(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from .values import text_value

    def convert(record: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in record.items():
            if key == "attributes":
                continue
            if isinstance(value, dict):
                out[key] = {"__type__": value["attributes"]["type"], **convert(value)}
            else:
                out[key] = None if value is None else text_value("", value)
        return out
    return [convert(record) for record in records]


def parse_job_document(request: Request) -> dict[str, Any]:
    raw = request.get_data()
    if wants_json(request):
        try:
            document = json.loads(raw or b"{}")
        except ValueError:
            raise BulkApiException("InvalidJob", "Unable to parse job") from None
        return {k: v for k, v in document.items()}
    try:
        root = ElementTree.fromstring(raw)
    except Exception:  # noqa: BLE001 - any parse failure is the client's
        raise BulkApiException("InvalidJob", "Unable to parse job") from None
    return {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in root}


def parse_pk_header(value: str) -> tuple[int, str | None]:
    size, start = PK_DEFAULT_CHUNK, None
    for part in re.split(r"[;\s]+", value.strip()):
        key, _, setting = part.partition("=")
        if key.lower() == "chunksize" and setting:
            size = int(setting)
        elif key.lower() == "startrow" and setting:
            start = setting
    if not 1 <= size <= PK_MAX_CHUNK:
        raise BulkApiException("InvalidJob", f"Chunk size {size} is out of range (1..{PK_MAX_CHUNK})")
    return size, start


def parse_ingest(content_type: str, data: bytes) -> list[dict[str, Any]]:
    if content_type == "CSV":
        header, rows = parse_records(data)
        return [row_values(header, row) for row in rows]
    if content_type == "JSON":
        parsed = json.loads(data or b"[]")
        if not isinstance(parsed, list):
            raise ValueError("JSON batch must be an array of records")
        return parsed
    root = ElementTree.fromstring(data)
    records = []
    for element in root:
        record = {}
        for child in element:
            nil = child.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
            record[child.tag.rsplit("}", 1)[-1]] = None if nil else (child.text or "")
        records.append(record)
    return records
