"""Benchmark the file drop: reading usage files through the connector, and importing them.

Writes ``--rows`` usage rows (default 500,000) as CSV files and as Parquet files of
50,000 rows each, then times a full read of each through the connector (pages of 2,000,
as the engine asks) and a full import into a SQLite tenant (convert, upsert by key, link
companies, store the cursor with each page). Peak RSS shows that reads stream: memory
does not grow with the drop.

Targets: a day of usage for 10,000 accounts and 20 metrics (200,000 rows) reads in about
two seconds and imports in under twenty, well inside the import job's 15-minute interval.

    .venv/bin/python bench/filedrop.py               # full size
    .venv/bin/python bench/filedrop.py --rows 50000  # a quick run

The last line of output is one JSON object with the figures and their targets.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from tether.core.connectors import ReadRequest  # noqa: E402
from tether.core.manifests import validate_tenant_manifest  # noqa: E402
from tether.core.plugins import PluginHost  # noqa: E402
from tether.core.store import Company, Store  # noqa: E402
from tether.core.tenants import apply_manifest, load_context  # noqa: E402
from tether.plugins.filedrop.config import FileDropSettings  # noqa: E402
from tether.plugins.filedrop.connector import FileDropConnector  # noqa: E402
from tether.plugins.filedrop.importer import import_drop  # noqa: E402

FILE_ROWS = 50_000
ACCOUNTS = 5_000
METRICS = ("weekly_active_users", "logins", "api_calls", "seats_used")
TARGETS = {"csv_read_records_per_s": 100_000, "parquet_read_records_per_s": 100_000,
           "import_records_per_s": 10_000, "peak_rss_mb": 400}


def rows(count: int):
    start = dt.date(2024, 1, 1)
    for n in range(count):
        account, rest = divmod(n, len(METRICS) * 100)
        metric, day = divmod(rest, 100)
        yield {"account": f"acct-{account % ACCOUNTS:05d}", "metric": METRICS[metric],
               "date": (start + dt.timedelta(days=day + 100 * (account // ACCOUNTS))).isoformat(), "value": n % 997}


def write_drop(root: Path, count: int, file_format: str) -> None:
    folder = root / "usage"
    folder.mkdir(parents=True)
    batch: list[dict] = []
    number = 0

    def flush() -> None:
        nonlocal number, batch
        number += 1
        if file_format == "csv":
            with open(folder / f"usage-{number:04d}.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["account", "metric", "date", "value"])
                writer.writeheader()
                writer.writerows(batch)
        else:
            pq.write_table(pa.Table.from_pylist(batch), folder / f"usage-{number:04d}.parquet", row_group_size=10_000)
        batch = []

    for row in rows(count):
        batch.append(row)
        if len(batch) == FILE_ROWS:
            flush()
    if batch:
        flush()


def time_read(root: Path) -> tuple[int, float]:
    connector = FileDropConnector(FileDropSettings.from_config({"location": str(root), "settle_seconds": 0}))
    fields = ("_id", "_arrived", "_file", "_row", "account", "metric", "date", "value")
    started = time.perf_counter()
    read = sum(len(page.records) for page in connector.read(ReadRequest("usage", fields, page_size=2000)))
    return read, time.perf_counter() - started


def time_import(root: Path, work: Path) -> tuple[int, float]:
    host = PluginHost.from_entry_points()
    store = Store(f"sqlite:///{work / 'bench.sqlite3'}", migration_locations=host.migration_locations())
    store.upgrade()
    manifest = {"tenant": {"id": "bench", "name": "Bench"},
                "plugins": [{"name": "filedrop", "config": {"location": str(root), "settle_seconds": 0}}]}
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    tenant = load_context(store, host, "bench")
    with tenant.transaction() as session:
        session.add_all([Company(name=f"Company {n}", external_source="crm", external_id=f"acct-{n:05d}")
                         for n in range(ACCOUNTS)])
    started = time.perf_counter()
    [result] = [r for r in import_drop(tenant) if r.object_name == "usage"]
    seconds = time.perf_counter() - started
    assert result.status == "success", result.error
    store.dispose()
    return result.rows_stored, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="usage rows to write (default 500,000)")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for file_format in ("csv", "parquet"):
            drop = work / f"drop-{file_format}"
            write_drop(drop, args.rows, file_format)
            read, seconds = time_read(drop)
            assert read == args.rows, (read, args.rows)
            figures[f"{file_format}_read_records_per_s"] = round(read / seconds)
        stored, seconds = time_import(work / "drop-parquet", work)
        figures["import_records_per_s"] = round(stored / seconds)
        figures["import_seconds"] = round(seconds, 2)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for name, value in figures.items():
        target = TARGETS.get(name)
        if target is None:
            print(f"{name:32} {value:>12,}")
        else:
            better = value <= target if name.endswith("_mb") else value >= target
            print(f"{name:32} {value:>12,}   target {'<=' if name.endswith('_mb') else '>='} {target:,}"
                  f"   {'ok' if better else 'MISSED'}")
    print(json.dumps({"bench": "filedrop", "figures": figures, "targets": TARGETS}))


if __name__ == "__main__":
    main()
