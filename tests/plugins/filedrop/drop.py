"""A drop folder a test writes files into, with arrival times on tether's test clock.

Each file gets its modification time from ``tether_clock``; the clock is set an hour
ahead of the wall clock, so a file's arrival (the later of its modification and inode
change times) is exactly the clock time it was written at.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import os
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from tether.core.store.types import utcnow


class DropFolder:
    def __init__(self, root: Path, clock: Any) -> None:
        self.root = root
        self.clock = clock
        self.root.mkdir(parents=True, exist_ok=True)
        self.numbers = itertools.count(1)
        clock.set(utcnow() + dt.timedelta(hours=1))

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def folder(self, object_name: str) -> Path:
        path = self.root / object_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def stamp(self, path: Path, when: dt.datetime | None = None) -> Path:
        ns = int((when or self.clock.now()).timestamp() * 1_000_000) * 1000
        os.utime(path, ns=(ns, ns))
        return path

    def csv(self, object_name: str, rows: Sequence[dict[str, Any]], *, name: str | None = None,
            header: Sequence[str] | None = None, when: dt.datetime | None = None, delimiter: str = ",") -> Path:
        path = self.folder(object_name) / (name or f"drop-{next(self.numbers):04d}.csv")
        columns = list(header or (rows[0].keys() if rows else []))
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        return self.stamp(path, when)

    def parquet(self, object_name: str, rows: Sequence[dict[str, Any]], *, name: str | None = None,
                row_group_size: int | None = None, schema: pa.Schema | None = None,
                when: dt.datetime | None = None) -> Path:
        path = self.folder(object_name) / (name or f"drop-{next(self.numbers):04d}.parquet")
        table = pa.Table.from_pylist(list(rows), schema=schema)
        pq.write_table(table, path, row_group_size=row_group_size)
        return self.stamp(path, when)

    def write(self, file_format: str, object_name: str, rows: Sequence[dict[str, Any]], **kwargs: Any) -> Path:
        return (self.parquet if file_format == "parquet" else self.csv)(object_name, rows, **kwargs)


def usage(account: str, metric: str, day: str, value: float) -> dict[str, Any]:
    return {"account": account, "metric": metric, "date": day, "value": value}


def event(account: str, when: str, kind: str, subject: str, notes: str = "", user: str = "") -> dict[str, Any]:
    return {"account": account, "occurred_at": when, "type": kind, "subject": subject, "notes": notes, "user": user}
