"""The file drop connector keeps the whole connector contract, with CSV and with Parquet files."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import Any, Iterator, Sequence

import pytest

from tether.testing.contract import ConnectorContract

from .drop import DropFolder, usage

DAY = "2024-06-01"


class FileDropContract(ConnectorContract):
    plugin = connector = "filedrop"
    object_name = "usage"
    settle_seconds = 60
    file_format = "csv"

    @pytest.fixture
    def source(self, tmp_path, tether_clock) -> DropFolder:
        drop = DropFolder(tmp_path / "drop", tether_clock)
        drop.folder("usage")
        return drop

    def plugin_config(self, drop: DropFolder) -> dict[str, Any]:
        return {"location": drop.url, "settle_seconds": 30}

    def add_records(self, drop: DropFolder, count: int) -> list[str]:
        start = sum(1 for _ in drop.folder("usage").iterdir()) * 1000
        accounts = [f"acct-{start + n}" for n in range(count)]
        drop.write(self.file_format, "usage", [usage(a, "active_users", DAY, n) for n, a in enumerate(accounts)])
        return [f"{a}|active_users|{DAY}" for a in accounts]

    def change_records(self, drop: DropFolder, ids: Sequence[str]) -> None:
        rows = [usage(key.split("|")[0], "active_users", DAY, 999) for key in ids]
        drop.write(self.file_format, "usage", rows, name=f"correction-{drop.clock.now():%H%M%S%f}.{self.suffix}")

    @property
    def suffix(self) -> str:
        return "parquet" if self.file_format == "parquet" else "csv"

    def advance(self, drop: DropFolder, seconds: float) -> None:
        drop.clock.advance(seconds)

    @contextlib.contextmanager
    def fault(self, drop: DropFolder, kind: str) -> Iterator[None]:
        folder = drop.folder("usage")
        if kind == "transient":
            # A file listed and gone before it is read (here: a link to nothing).
            path = folder / "vanishing.csv"
            os.symlink(folder / "no-such-file.csv", path)
        else:
            path = folder / f"broken.{self.suffix}"
            path.write_bytes(b"account,metric,date,value\nacct-1,logins,2024-06-01\n" if self.suffix == "csv"
                             else b"PAR1 this is not parquet PAR1")
            drop.stamp(path, drop.clock.now() - dt.timedelta(hours=2))
        try:
            yield
        finally:
            path.unlink()


class TestFileDropCsv(FileDropContract):
    file_format = "csv"


class TestFileDropParquet(FileDropContract):
    file_format = "parquet"
