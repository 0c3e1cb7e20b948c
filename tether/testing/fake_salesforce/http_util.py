"""Response builders and request parsing shared by the REST, Collections and Bulk handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from werkzeug.wrappers import Request, Response

from .errors import SalesforceError

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass
class Call:
    """What a handler knows about the request: who, which API version, the raw request."""

    request: Request
    user_id: str
    version: str

    @property
    def version_float(self) -> float:
        try:
            return float(self.version)
        except ValueError:
            return 0.0


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response the way Salesforce formats them (UTF-8, no ASCII escaping)."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), status=status,
                    headers=dict(headers or {}), content_type=JSON_TYPE)


def rest_error(error: SalesforceError) -> Response:
    """A REST error array (or the 300 multiple-choices URL list)."""
    from .errors import MultipleMatches
    if isinstance(error, MultipleMatches):
        return json_response(error.urls, status=300)
    return json_response(error.rest_body(), status=error.status)


def no_content() -> Response:
    return Response(status=204)


def streaming(chunks: Iterable[bytes], content_type: str, status: int = 200,
              headers: Mapping[str, str] | None = None, length: int | None = None) -> Response:
    """A streamed body (chunked unless ``length`` is known)."""
    response = Response(chunks, status=status, headers=dict(headers or {}), content_type=content_type,
                        direct_passthrough=True)
    if length is not None:
        response.headers["Content-Length"] = str(length)
    return response


def read_json(request: Request) -> Any:
    """The request body as JSON, or Salesforce's JSON_PARSER_ERROR."""
    raw = request.get_data()
    if not raw.strip():
        raise SalesforceError("JSON_PARSER_ERROR", "The HTTP entity body is required, but this request has no "
                              "entity body.", include_fields=False)
    try:
        return json.loads(raw)
    except ValueError as exc:
        snippet = raw[:1].decode(errors="replace")
        raise SalesforceError("JSON_PARSER_ERROR", f"Unexpected character ('{snippet}' (code {ord(snippet or ' ')})):"
                              f" {exc}", include_fields=False) from None


def bool_param(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes")
