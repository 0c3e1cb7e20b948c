"""Bulk API 1.0 envelopes: jobInfo, batchInfo, result lists and errors, in XML or JSON.

The async API answers in the format of the request's Content-Type (XML unless JSON), with
numbers as JSON numbers and every element in the dataload namespace for XML.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping
from xml.sax.saxutils import escape

ASYNC_NS = "http://www.force.com/2009/06/asyncapi/dataload"
XML_CONTENT_TYPE = "application/xml"
JSON_CONTENT_TYPE = "application/json"


def _element(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:.1f}"
    else:
        text = escape(str(value))
    return f" <{name}>{text}</{name}>\n"


def info_xml(root: str, fields: Mapping[str, Any]) -> bytes:
    """``<jobInfo>`` / ``<batchInfo>`` document."""
    body = "".join(_element(name, value) for name, value in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}\n   xmlns="{ASYNC_NS}">\n{body}</{root}>'.encode()


def info_list_xml(items: Iterable[Mapping[str, Any]]) -> bytes:
    """``<batchInfoList>`` document."""
    inner = "".join(
        " <batchInfo>\n" + "".join(" " + _element(n, v) for n, v in item.items()) + " </batchInfo>\n"
        for item in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><batchInfoList\n   xmlns="{ASYNC_NS}">\n{inner}</batchInfoList>'.encode()


def result_list_xml(result_ids: Iterable[str]) -> bytes:
    """``<result-list>`` of a query batch."""
    inner = "".join(f"<result>{rid}</result>" for rid in result_ids)
    return f'<?xml version="1.0" encoding="UTF-8"?><result-list xmlns="{ASYNC_NS}">{inner}</result-list>'.encode()


def error_xml(code: str, message: str) -> bytes:
    """``<error><exceptionCode/><exceptionMessage/></error>``."""
    return (f'<?xml version="1.0" encoding="UTF-8"?><error\n   xmlns="{ASYNC_NS}">\n'
            f" <exceptionCode>{escape(code)}</exceptionCode>\n"
            f" <exceptionMessage>{escape(message)}</exceptionMessage>\n</error>").encode()


def error_json(code: str, message: str) -> bytes:
    return json.dumps({"exceptionCode": code, "exceptionMessage": message}).encode()


def ingest_results_xml(results: Iterable[tuple[str | None, bool, bool, Any]]) -> bytes:
    """``<results>`` of an ingest batch (id, success, created, error)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><results xmlns="{ASYNC_NS}">']
    for record_id, success, created, error in results:
        parts.append("<result>")
        parts.append(f"<id>{record_id}</id>" if record_id else '<id xsi:nil="true" '
                     'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>')
        if error is not None:
            fields = "".join(f"<fields>{escape(f)}</fields>" for f in error.fields)
            parts.append(f"<errors>{fields}<message>{escape(error.message)}</message>"
                         f"<statusCode>{error.error_code}</statusCode></errors>")
        parts.append(f"<success>{'true' if success else 'false'}</success>"
                     f"<created>{'true' if created else 'false'}</created></result>")
    parts.append("</results>")
    return "".join(parts).encode()


def query_results_xml(object_name: str, records: Iterable[Mapping[str, Any]]) -> bytes:
    """``<queryResult>`` of a query batch with an XML job."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{ASYNC_NS}" '
             'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">']
    for record in records:
        parts.append(f'<records xsi:type="sObject"><type>{object_name}</type>')
        parts.append(_xml_fields(record))
        parts.append("</records>")
    parts.append("</queryResult>")
    return "".join(parts).encode()


def _xml_fields(record: Mapping[str, Any]) -> str:
    out = []
    for name, value in record.items():
        if isinstance(value, dict):
            out.append(f'<{name} xsi:type="sObject"><type>{value.get("__type__", name)}</type>'
                       f'{_xml_fields({k: v for k, v in value.items() if k != "__type__"})}</{name}>')
        elif value is None:
            out.append(f'<{name} xsi:nil="true"/>')
        else:
            out.append(f"<{name}>{escape(value)}</{name}>")
    return "".join(out)
