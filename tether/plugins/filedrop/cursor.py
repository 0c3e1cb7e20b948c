"""The file drop's cursors: where a read stands in the arrival order of files.

A position is ``(arrival, tiebreak, row)``: the file that arrived at ``arrival`` (in
microseconds, UTC) whose name hashes to ``tiebreak``, up to and including data row
``row``. A read returns the rows after it: later rows of that file, then every file
that arrived later. Encoded as ``2024-06-03T09:00:00.123456Z|<tiebreak>|<row>`` (at most
60 characters). A bare time ``2024-06-03T09:00:00Z`` means "files that arrived at or
after it", so a cursor far in the future reads nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from tether.core.errors import PermanentConnectorError
from tether.core.sync.coerce import to_datetime

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MICROSECOND = dt.timedelta(microseconds=1)


def iso_of(arrived_us: int) -> str:
    return (EPOCH + arrived_us * MICROSECOND).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def micros_of(value: dt.datetime) -> int:
    return (value - EPOCH) // MICROSECOND


@dataclasses.dataclass(frozen=True, order=True)
class Position:
    arrived_us: int
    tiebreak: str = ""
    row: int = 0

    def encode(self) -> str:
        return f"{iso_of(self.arrived_us)}|{self.tiebreak}|{self.row}"

    def start_row(self, key: tuple[int, str]) -> int | None:
        """The first row to read of the file with ``key``; None when the file is behind the position."""
        if key < (self.arrived_us, self.tiebreak):
            return None
        return self.row + 1 if key == (self.arrived_us, self.tiebreak) else 1


def parse_cursor(value: str | None) -> Position | None:
    if not value:
        return None
    try:
        stamp, _, rest = value.partition("|")
        arrived = to_datetime(stamp)
        if arrived is None:
            raise ValueError(value)
        if not rest:
            return Position(micros_of(arrived))
        tiebreak, _, row = rest.partition("|")
        return Position(micros_of(arrived), tiebreak, int(row))
    except (ValueError, TypeError):
        raise PermanentConnectorError(
            f"filedrop cursor {value!r} is not one this connector writes",
            hint="reload the object with `tether sync TENANT --connector filedrop --object NAME --full`") from None
