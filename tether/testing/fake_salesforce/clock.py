"""A clock the test controls, and the timestamp formats Salesforce uses on the wire.

All org time is epoch milliseconds in UTC.  Stored datetimes are the canonical string
``YYYY-MM-DDTHH:MM:SS.mmmZ``: fixed width, so string order is time order, and it is already
the Bulk API / Outbound Message wire form.  REST JSON uses ``+0000`` instead of ``Z``.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DATETIME_INPUT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_DATE_INPUT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FakeClock:
    """Org time in epoch milliseconds.

    Frozen by default: time moves only when the test calls :meth:`advance` or :meth:`set`,
    so many writes can share one ``SystemModstamp``.  ``realtime=True`` follows the wall
    clock (plus any advance), which the loopback server uses so retries come due by
    themselves.  ``step_ms`` makes every :meth:`tick` move time forward, for tests that want
    distinct stamps without advancing by hand.
    """

    def __init__(self, start: datetime | str | None = None, *, realtime: bool = False, step_ms: int = 0) -> None:
        if start is None:
            start_ms = int(time.time() * 1000)
        elif isinstance(start, str):
            start_ms = parse_datetime_ms(start)
        else:
            start_ms = datetime_to_ms(start)
        self.realtime = realtime
        self.step_ms = step_ms
        self._offset_ms = start_ms - (self._wall_ms() if realtime else 0)
        self._frozen_depth = 0
        self._frozen_at: int | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _wall_ms() -> int:
        return int(time.time() * 1000)

    def now_ms(self) -> int:
        """Current org time without moving it."""
        if self._frozen_at is not None:
            return self._frozen_at
        return self._offset_ms + (self._wall_ms() if self.realtime else 0)

    def tick(self) -> int:
        """The timestamp for a write: current time, then step forward by ``step_ms``."""
        with self._lock:
            current = self.now_ms()
            if self.step_ms and self._frozen_at is None:
                self._offset_ms += self.step_ms
            return current

    def now(self) -> datetime:
        """Current org time as an aware UTC datetime."""
        return ms_to_datetime(self.now_ms())

    def today(self) -> date:
        """The org's current date (orgs in this fake live in UTC)."""
        return self.now().date()

    def advance(self, seconds: float = 0, *, ms: int = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> int:
        """Move time forward; returns the new time in ms."""
        delta = ms + int(round((seconds + minutes * 60 + hours * 3600 + days * 86400) * 1000))
        with self._lock:
            self._offset_ms += delta
            if self._frozen_at is not None:
                self._frozen_at += delta
        return self.now_ms()

    def set(self, when: datetime | str) -> None:
        """Jump to an absolute time (may go backwards; tests own the consequences)."""
        target = parse_datetime_ms(when) if isinstance(when, str) else datetime_to_ms(when)
        with self._lock:
            self._offset_ms += target - self.now_ms()
            if self._frozen_at is not None:
                self._frozen_at = target

    @contextlib.contextmanager
    def frozen(self) -> Iterator[int]:
        """Stop time (also for a realtime or stepping clock) inside the block."""
        with self._lock:
            if self._frozen_depth == 0:
                self._frozen_at = self.now_ms()
            self._frozen_depth += 1
        try:
            yield self._frozen_at  # type: ignore[misc]
        finally:
            with self._lock:
                self._frozen_depth -= 1
                if self._frozen_depth == 0:
                    frozen_at = self._frozen_at
                    self._frozen_at = None
                    self._offset_ms = frozen_at - (self._wall_ms() if self.realtime else 0)  # type: ignore[operator]


# --------------------------------------------------------------------------- conversions

def datetime_to_ms(value: datetime) -> int:
    """Epoch ms of a datetime; naive datetimes are taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_datetime(ms: int) -> datetime:
    """Aware UTC datetime of epoch ms."""
    return _EPOCH + timedelta(milliseconds=ms)


_second_cache: dict[int, str] = {}


def format_ms(ms: int) -> str:
    """Canonical stored form ``2024-01-31T09:30:00.000Z``; cached per second for bulk seeding."""
    second, millis = divmod(ms, 1000)
    prefix = _second_cache.get(second)
    if prefix is None:
        prefix = (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S")
        if len(_second_cache) > 200_000:
            _second_cache.clear()
        _second_cache[second] = prefix
    return f"{prefix}.{millis:03d}Z"


def parse_datetime_ms(text: str) -> int:
    """Epoch ms of an ISO-8601 datetime as Salesforce accepts it (Z, ±hh:mm, ±hhmm, date-only)."""
    text = text.strip()
    if _DATE_INPUT.match(text):
        return datetime_to_ms(datetime.strptime(text, "%Y-%m-%d"))
    match = _DATETIME_INPUT.match(text)
    if not match:
        raise ValueError(f"not a datetime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    base = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=timezone.utc)
    ms = datetime_to_ms(base) + (int((fraction or "0")[:3].ljust(3, "0")))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
    return ms


def canonical_datetime(text: str) -> str:
    """Any accepted datetime input normalised to the stored form."""
    return format_ms(parse_datetime_ms(text))


def rest_datetime(stored: str) -> str:
    """Stored ``...000Z`` → REST JSON ``...000+0000``."""
    return stored[:-1] + "+0000"


def date_of_ms(ms: int) -> str:
    """``YYYY-MM-DD`` of epoch ms (UTC)."""
    return format_ms(ms)[:10]
