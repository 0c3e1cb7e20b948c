"""Column types that keep money exact and times in UTC on every database."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import JSON, BigInteger, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

CENTS = Decimal("0.01")


class Money(TypeDecorator):
    """A Decimal amount stored as integer cents.

    SQLite has no exact decimal type; cents in a BIGINT are exact on both databases and
    SUM() over them stays exact, so aggregates in SQL need no float correction.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(str(value))
        return int((value.quantize(CENTS, rounding=ROUND_HALF_EVEN) * 100).to_integral_value())

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(CENTS)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime, stored naive-in-UTC so SQLite and PostgreSQL agree."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tether stores only timezone-aware UTC times")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite aggregates (MAX) hand back text
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.timezone.utc)


# JSONB on PostgreSQL (indexable, compact), plain JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
