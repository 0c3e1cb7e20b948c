"""Field values: coercing API input to stored form, and rendering stored values per wire format.

Stored forms: text/picklist/id → ``str``; boolean → ``bool``; currency/double/percent →
``float``; int → ``int``; date → ``"YYYY-MM-DD"``; datetime → ``"YYYY-MM-DDTHH:MM:SS.mmmZ"``;
null → ``None``.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from .clock import canonical_datetime, rest_datetime
from .errors import SalesforceError
from .ids import is_valid_id, to18

TEXT_TYPES = frozenset({"string", "textarea", "picklist", "multipicklist", "email", "phone", "url", "combobox",
                        "encryptedstring"})
NUMBER_TYPES = frozenset({"currency", "double", "percent"})
ID_TYPES = frozenset({"id", "reference"})
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def coerce(field: Any, value: Any, *, from_text: bool = False) -> Any:
    """Validate and convert one input value for ``field`` (a FieldDef) to its stored form.

    ``from_text`` is for CSV input, where every value is a string.  Raises SalesforceError
    with the code Salesforce uses for a value of the wrong shape.
    """
    if value is None:
        return None
    kind = field.type
    if kind in TEXT_TYPES:
        if isinstance(value, (dict, list)):
            raise _parser_error(field, value, "String")
        text = value if isinstance(value, str) else _number_text(value) if isinstance(value, (int, float)) else str(value)
        if text == "":
            return None
        if field.length and len(text) > field.length:
            raise SalesforceError("STRING_TOO_LONG", f"{field.label}: data value too large: {text[:40]} (max length={field.length})",
                                  [field.name])
        return text
    if kind in ID_TYPES:
        if not isinstance(value, str):
            raise _parser_error(field, value, "id")
        if value == "":
            return None
        if not is_valid_id(value):
            raise SalesforceError("MALFORMED_ID", f"{field.label}: id value of incorrect type: {value}", [field.name])
        return to18(value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", ""):
            return value.lower() in ("true", "1")
        raise _parser_error(field, value, "boolean")
    if kind in NUMBER_TYPES or kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _parser_error(field, value, "double" if kind != "int" else "int")
        if isinstance(value, str):
            if value.strip() == "":
                return None
            if not _NUMBER_RE.match(value.strip()):
                if from_text:
                    raise SalesforceError("INVALID_TYPE_ON_FIELD_IN_RECORD",
                                          f"{field.label}: value not of required type: {value}", [field.name])
                raise _parser_error(field, value, "double" if kind != "int" else "int")
            value = float(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise _parser_error(field, value, "double")
        if kind == "int":
            return int(value)
        number = float(value)
        if kind == "percent" or field.scale is not None:
            number = _round_half_up(number, field.scale if field.scale is not None else 2)
        return number
    if kind == "date":
        if not isinstance(value, str):
            raise _parser_error(field, value, "date")
        text = value.strip()
        if _DATE_RE.match(text):
            return text
        try:
            return canonical_datetime(text)[:10]
        except ValueError:
            raise _date_error(field, value) from None
    if kind == "datetime":
        if not isinstance(value, str):
            raise _parser_error(field, value, "datetime")
        try:
            return canonical_datetime(value)
        except ValueError:
            raise _date_error(field, value) from None
    return value


def _round_half_up(number: float, scale: int) -> float:
    """Salesforce rounds half away from zero (Java's HALF_UP), not half-to-even like ``round``."""
    quantum = Decimal(1).scaleb(-scale)
    return float(Decimal(repr(number)).quantize(quantum, rounding=ROUND_HALF_UP))


def _number_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _parser_error(field: Any, value: Any, java_type: str) -> SalesforceError:
    shown = "VALUE_STRING" if isinstance(value, str) else "START_OBJECT" if isinstance(value, dict) else \
        "START_ARRAY" if isinstance(value, list) else "VALUE_TRUE" if value is True else \
        "VALUE_FALSE" if value is False else "VALUE_NUMBER_INT"
    return SalesforceError(
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {java_type} from {shown} value {value} or request may be missing a required field",
        include_fields=False,
    )


def _date_error(field: Any, value: Any) -> SalesforceError:
    return SalesforceError("INVALID_TYPE_ON_FIELD_IN_RECORD", f"{field.label}: value not of required type: {value}",
                           [field.name])


# --------------------------------------------------------------------------- rendering

def format_number(value: float | int) -> str:
    """Salesforce's text form of a number: ``120000.0`` for currency/double, ``3`` for int."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return f"{value:.1f}"
        return repr(value)
    return str(value)


def text_value(field_type: str, value: Any) -> str:
    """A stored value as CSV / SOAP text (``""`` for null)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return format_number(value)
    return value


def json_value(field_type: str, value: Any) -> Any:
    """A stored value as REST JSON."""
    if value is None:
        return None
    if field_type == "datetime":
        return rest_datetime(value)
    if field_type in NUMBER_TYPES:
        return float(value)
    return value


def bulk_json_value(field_type: str, value: Any) -> Any:
    """A stored value as Bulk API 1.0 JSON, which sends datetimes (and dates) as epoch ms."""
    if value is None:
        return None
    if field_type in ("datetime", "date"):
        from .clock import parse_datetime_ms
        return parse_datetime_ms(value)
    if field_type in NUMBER_TYPES:
        return float(value)
    return value


def column_renderer(field_type: str) -> Callable[[tuple | list], list[str]]:
    """Vectorised CSV renderer: stored values of one column → text with ``"`` doubled.

    The caller wraps every value in quotes, so this only escapes and formats.
    """
    if field_type in ID_TYPES or field_type in ("date", "datetime"):
        return lambda values: ["" if v is None else v for v in values]
    if field_type == "boolean":
        lookup = {True: "true", False: "false", None: ""}.__getitem__
        return lambda values: list(map(lookup, values))
    if field_type in NUMBER_TYPES or field_type == "int":
        return lambda values: ["" if v is None else format_number(v) for v in values]

    def render_text(values: tuple | list) -> list[str]:
        texts = ["" if v is None else v for v in values]
        if '"' in "\x00".join(texts):
            texts = [text.replace('"', '""') for text in texts]
        return texts
    return render_text
