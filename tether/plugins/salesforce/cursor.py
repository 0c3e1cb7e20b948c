"""The Salesforce connector's cursors and read windows, by ``SystemModstamp``.

A read covers the half-open window ``[start, end)``. ``end`` is just past the org's
current time when the run began (``server_now``); ``start`` is where the last run left
off. The cursor stored after a complete run is a *watermark* ``server_now - lookback``:
every record stamped before it was visible when the run queried (a transaction commits
at most ``lookback`` after its stamp), so the next run starts there and re-reads only
the last ``lookback`` of changes, which the engine's stamp rule recognises as unchanged.

Cursor strings (at most 100 characters, opaque to the engine):

- ``2024-05-01T10:00:00.000Z``: a watermark; read ``SystemModstamp >= it``.
- ``2024-05-01T10:00:00.000Z|0068d000001AbCdAAK``: a keyset position inside a run;
  read records after (stamp, Id). Used only while the position is older than the run's
  watermark, so a resumed run skips nothing that might still be committing.
- ``bulk|<job>|<batch>|<row>|<start or ->|<watermark>``: inside a Bulk job; a resumed run
  continues the same job at that batch and row (re-reading at most that batch).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tether.core.errors import PermanentConnectorError
from tether.core.sync.coerce import format_datetime, to_datetime

STAMP = "SystemModstamp"


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a read starts: nothing (from the beginning), a watermark, or a keyset."""

    stamp: dt.datetime | None = None
    after_id: str | None = None

    @property
    def is_start(self) -> bool:
        return self.stamp is None

    def soql(self) -> str | None:
        """The WHERE condition selecting records at or after this position."""
        if self.stamp is None:
            return None
        literal = format_datetime(self.stamp)
        if self.after_id is None:
            return f"{STAMP} >= {literal}"
        return f"({STAMP} > {literal} OR ({STAMP} = {literal} AND Id > '{self.after_id}'))"

    def encode(self) -> str | None:
        if self.stamp is None:
            return None
        literal = format_datetime(self.stamp)
        return literal if self.after_id is None else f"{literal}|{self.after_id}"

    def _key(self) -> tuple:
        # A watermark at T means "all before T"; a keyset (T, id) also covers T up to id.
        return (self.stamp, 0 if self.after_id is None else 1, self.after_id or "")

    def at_least(self, other: "Position") -> "Position":
        """The later of two positions (a cursor never moves back)."""
        if other.stamp is None:
            return self
        if self.stamp is None or other._key() > self._key():
            return other
        return self


@dataclasses.dataclass(frozen=True)
class BulkResume:
    job_id: str
    batch: int
    row: int
    start: Position
    watermark: dt.datetime

    def encode(self) -> str:
        start = self.start.encode() or "-"
        if "|" in start:  # a keyset start: the job's SOQL already holds it, keep the stamp only
            start = start.split("|", 1)[0]
        return f"bulk|{self.job_id}|{self.batch}|{self.row}|{start}|{format_datetime(self.watermark)}"


def parse_cursor(value: str | None) -> Position | BulkResume:
    if not value:
        return Position()
    try:
        if value.startswith("bulk|"):
            _, job_id, batch, row, start, watermark = value.split("|")
            return BulkResume(job_id, int(batch), int(row),
                              Position() if start == "-" else Position(to_datetime(start)), to_datetime(watermark))
        stamp, _, after_id = value.partition("|")
        return Position(to_datetime(stamp), after_id or None)
    except (ValueError, TypeError):
        raise PermanentConnectorError(
            f"salesforce cursor {value!r} is not one this connector writes",
            hint="run `tether sync TENANT --object NAME --full` to reload the object from scratch") from None


@dataclasses.dataclass(frozen=True)
class Window:
    """One run's read: from ``start`` up to (not including) ``end``; ``watermark`` is
    the cursor once everything in it is applied."""

    start: Position
    end: dt.datetime
    watermark: Position

    def where(self) -> str:
        parts = [p for p in (self.start.soql(), f"{STAMP} < {format_datetime(self.end)}") if p]
        return " AND ".join(parts)

    @property
    def empty(self) -> bool:
        return self.start.stamp is not None and self.start.stamp >= self.end

    def page_cursor(self, last_stamp: dt.datetime | None, last_id: str) -> str | None:
        """The cursor after a page ending at (last_stamp, last_id)."""
        if last_stamp is not None and last_stamp < self.watermark.stamp:
            return Position(last_stamp, last_id).at_least(self.start).encode()
        return self.watermark.at_least(self.start).encode()


def make_window(start: Position, server_now: dt.datetime, resolution: dt.timedelta,
                lookback: dt.timedelta) -> Window:
    """The window for a run from ``start`` when the org's clock read ``server_now``,
    known to within ``resolution`` (the true time is before ``server_now + resolution``)."""
    watermark = Position(server_now - lookback).at_least(start)
    return Window(start, server_now + resolution, watermark)
