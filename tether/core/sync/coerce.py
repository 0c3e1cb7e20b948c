"""Turning source values into tether values by field type, and back into JSON.

Connectors hand over what their wire format gives (JSON numbers and strings, or CSV
text where everything is a string and an empty cell is null). Each mapped field has a
:data:`~tether.core.connectors.FieldType`; :func:`converter` returns one function per
type, chosen once per page, so the per-value work is a single call.

Money is :class:`~decimal.Decimal`, datetimes are aware UTC, dates are dates. A value
that cannot be converted raises :class:`CoercionError` naming the field and the value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

UTC = dt.timezone.utc
_ZERO = dt.timedelta(0)

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})
# 2024-01-31T09:30:00.000+0000, ...Z, ...+00:00, with or without fraction.
_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$"
)


class CoercionError(ValueError):
    """A source value does not fit its mapped type."""

    def __init__(self, field: str, type_name: str, value: Any) -> None:
        self.field = field
        self.type_name = type_name
        self.value = value
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        super().__init__(f"field {field!r}: {shown} is not a valid {type_name}")


def _blank(value: Any) -> bool:
    return value is None or value == ""


def to_string(value: Any) -> str | None:
    if _blank(value):
        return None
    return value if isinstance(value, str) else str(value)


def to_decimal(value: Any) -> Decimal | None:
    if _blank(value):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        # JSON floats: go through repr so 0.1 stays 0.1, not its binary expansion.
        return Decimal(repr(value))
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise ValueError(value) from None
    if not result.is_finite():
        raise ValueError(value)
    return result


def to_float(value: Any) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def to_int(value: Any) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    number = Decimal(str(value))
    if number != number.to_integral_value():
        raise ValueError(value)
    return int(number)


def to_bool(value: Any) -> bool | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def to_datetime(value: Any) -> dt.datetime | None:
    """Aware UTC datetime from ISO text; a time without offset is taken as UTC."""
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    try:  # the C parser takes every form sources send (…Z, …+0000, …+00:00); it is 15x faster
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        pass
    else:
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed if parsed.utcoffset() == _ZERO else parsed.astimezone(UTC)
    match = _DATETIME.match(str(value).strip())
    if not match:
        raise ValueError(value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    parsed = dt.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=UTC)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        parsed = parsed - offset if zone[0] == "+" else parsed + offset
    return parsed


def to_date(value: Any) -> dt.date | None:
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(value) from None


def to_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("{", "["):
        return json.loads(value)
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": to_string, "text": to_string, "picklist": to_string, "reference": to_string, "id": to_string,
    "boolean": to_bool, "integer": to_int, "float": to_float, "percent": to_float,
    "money": to_decimal, "date": to_date, "datetime": to_datetime, "json": to_json,
}


def converter(type_name: str) -> Callable[[Any], Any]:
    """The conversion function for a field type."""
    try:
        return _CONVERTERS[type_name]
    except KeyError:
        raise ValueError(f"unknown field type {type_name!r}") from None


def coerce(field: str, type_name: str, value: Any) -> Any:
    """Convert one value, raising :class:`CoercionError` with the field name on failure."""
    try:
        return converter(type_name)(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        raise CoercionError(field, type_name, value) from None


def to_jsonable(value: Any) -> Any:
    """A tether value as JSON: Decimal as text (exact), times as ISO-8601 UTC."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tether uses timezone-aware UTC times")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def format_datetime(value: dt.datetime) -> str:
    """``2024-01-31T09:30:00.000Z``: the millisecond UTC form Salesforce-like sources use."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
