"""Inbound sync throughput: the fake org over HTTPS on loopback → tether's store.

Loads ``--accounts`` accounts and ``--opportunities`` opportunities (default 100,000 and
1,000,000) with ``tether.core.sync`` and the Salesforce connector (Bulk API 1.0 with PK
chunking above the bulk threshold) and prints, beside their targets:

- records/s end to end on SQLite (from login to the last commit), and records per CPU
  second of the syncing process (which a busy, shared machine does not distort);
- API calls used;
- peak RSS of the syncing process (the fake org runs in its own process);
- the ratio to a raw ``sqlite3.executemany`` upsert of the same rows, measured in the
  same run into an empty database with the same schema, indexes and connection settings
  (foreign keys enforced, the sync's page cache), in transactions of ``--page-size`` rows;
- the same raw upsert in the form tether's writer uses (multi-row statements with
  ``RETURNING``): the fastest this machine writes these rows into this schema, a ceiling
  for any sync into it;
- records/s on PostgreSQL (``--postgres-url`` or ``TETHER_TEST_POSTGRES_URL``), and per CPU
  second of the syncing process.

Quick run: ``python bench/sync_inbound.py --accounts 10000 --opportunities 100000``.
The last line of output is JSON: ``{"bench": "sync_inbound", "figures": {...}, "targets": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

TARGETS = {"records_per_s": 40_000, "peak_rss_mb": 400, "ratio_to_raw_sqlite": 0.25}
TENANT = "bench"


# -- the fake org, in its own process -----------------------------------------------------------


def serve(accounts: int, opportunities: int) -> None:
    """Child process: seed the org, serve it, print where, wait for stdin to close."""
    from tether.testing.fake_salesforce import FakeClock, FakeOrg
    from tether.testing.fake_salesforce.server import FakeOrgServer

    org = FakeOrg(clock=FakeClock(realtime=True), api_limit=1_000_000)
    summary = org.seed(seed=1, opportunities=opportunities, accounts=accounts, contacts_per_account=0,
                       tasks_per_opportunity=0, events_per_opportunity=0, stage_history=False)
    org.clock.advance(minutes=15)  # every change has settled (beyond the sync's lookback)
    server = FakeOrgServer(org, deliver_outbound_every=None).start()
    print(json.dumps({"instance_url": server.instance_url, "ca_bundle": server.ca_bundle_path,
                      "seconds": summary.seconds, "counts": summary.counts}), flush=True)
    sys.stdin.read()
    server.stop()


def start_org(accounts: int, opportunities: int) -> tuple[subprocess.Popen, dict]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(accounts), str(opportunities)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        raise SystemExit("the fake org did not start")
    return child, json.loads(line)


# -- syncing ------------------------------------------------------------------------------------


def make_tenant(store, host, org: dict):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest, load_context
    from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

    os.environ["BENCH_SF_PASSWORD"] = DEFAULT_PASSWORD
    os.environ["BENCH_SF_TOKEN"] = DEFAULT_TOKEN
    config = {"instance_url": org["instance_url"], "login_url": org["instance_url"], "ca_bundle": org["ca_bundle"],
              "username": INTEGRATION_USERNAME, "password": {"$env": "BENCH_SF_PASSWORD"},
              "security_token": {"$env": "BENCH_SF_TOKEN"}, "bulk_poll_seconds": 0.2}
    manifest = {"tenant": {"id": TENANT, "name": "Bench"}, "plugins": [{"name": "salesforce", "config": config}]}
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    return load_context(store, host, TENANT)


def run_sync(url: str, org: dict, page_size: int) -> dict:
    from tether.core.plugins import PluginHost
    from tether.core.store import Store
    from tether.core.sync.engine import SyncOptions, sync_tenant

    host = PluginHost.from_entry_points()
    store = Store(url, migration_locations=host.migration_locations())
    store.upgrade()
    tenant = make_tenant(store, host, org)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    results = sync_tenant(tenant, options=SyncOptions(page_size=page_size))
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    store.dispose()
    failed = [r for r in results if r.status != "success"]
    if failed:
        raise SystemExit(f"sync did not succeed: {failed}")
    records = sum(r.records_applied for r in results)
    return {"records": records, "seconds": seconds, "records_per_s": records / seconds, "cpu_seconds": cpu,
            "api_calls": sum(r.api_calls for r in results),
            "objects": {r.object_name: r.records_applied for r in results}}


def _cpu_seconds() -> float:
    """CPU time of this process (all its threads): the figure a busy shared machine does not move."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the raw baseline ---------------------------------------------------------------------------


def raw_upsert(synced_db: Path, empty_db: Path, batch: int, *, multirow: bool = False) -> dict:
    """Upserts of exactly the rows the sync wrote, into an empty migrated copy: executemany,
    or (``multirow``) as many rows per statement as the writer sends, with ``RETURNING``."""
    from tether.core.store.engine import _sqlite_pragmas
    from tether.core.sync.engine import SQLITE_SYNC_CACHE_KIB
    from tether.core.sync.upsert import MAX_PARAMETERS, MAX_ROWS_PER_STATEMENT, MultiRowStatements

    source = sqlite3.connect(synced_db)
    target = sqlite3.connect(empty_db, isolation_level=None)
    # The settings tether's own connection writes with (WAL, synchronous, foreign keys on:
    # enforcing them is most of an upsert's cost on this schema) and the sync's page cache.
    _sqlite_pragmas(target, None)
    target.execute(f"PRAGMA cache_size = -{SQLITE_SYNC_CACHE_KIB}")
    plan = []
    for table in ("companies", "opportunities"):
        columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})") if row[1] != "id"]
        rows = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns
                            if c not in ("tenant_id", "external_source", "external_id", "created_at"))
        head, row_marks = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ", f"({', '.join('?' * len(columns))})"
        conflict = (f" ON CONFLICT (tenant_id, external_source, external_id) DO UPDATE SET {updates} "
                    f"WHERE excluded.source_modstamp > {table}.source_modstamp")
        per_statement = min(MAX_ROWS_PER_STATEMENT, MAX_PARAMETERS["sqlite"] // len(columns))
        plan.append((head + row_marks + conflict,
                     MultiRowStatements(head, row_marks, conflict + " RETURNING id, external_id", per_statement), rows))
    source.close()
    rows_total = sum(len(rows) for _, _, rows in plan)
    started = time.perf_counter()
    for statement, statements, rows in plan:
        for start in range(0, len(rows), batch):
            page = rows[start:start + batch]
            target.execute("BEGIN")
            if multirow:
                for text, params in statements.chunks(page):
                    target.execute(text, params).fetchall()
            else:
                target.executemany(statement, page)
            target.execute("COMMIT")
    seconds = time.perf_counter() - started
    target.close()
    return {"records": rows_total, "seconds": seconds, "records_per_s": rows_total / seconds}


def empty_migrated_db(folder: Path) -> Path:
    from tether.core.plugins import PluginHost
    from tether.core.store import Store

    path = folder / "empty.sqlite3"
    store = Store(f"sqlite:///{path}", migration_locations=PluginHost.from_entry_points().migration_locations())
    store.upgrade()
    with store.engine.begin() as connection:  # the raw upsert needs the tenant row its foreign key points to
        connection.exec_driver_sql("INSERT INTO tenants (id, name, settings, mappings, schedules, created_at, "
                                   "updated_at) VALUES (?, 'Bench', '{}', '[]', '[]', '2024-01-01', '2024-01-01')",
                                   (TENANT,))
    store.dispose()
    return path


# -- PostgreSQL ---------------------------------------------------------------------------------


def postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    from tether.testing.databases import scratch_postgres_database

    return scratch_postgres_database(server_url, "tether_bench")


# -- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--opportunities", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=10_000, help="records applied per transaction")
    parser.add_argument("--postgres-url", default=os.environ.get("TETHER_TEST_POSTGRES_URL"),
                        help="PostgreSQL server to measure on too (a database is created and dropped)")
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return

    org_process, org = start_org(args.accounts, args.opportunities)
    print(f"fake org: {org['counts'].get('Account', 0):,} accounts, {org['counts'].get('Opportunity', 0):,} "
          f"opportunities seeded in {org['seconds']:.1f}s, serving at {org['instance_url']}")
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-"))
    try:
        synced = folder / "synced.sqlite3"
        sqlite_run = run_sync(f"sqlite:///{synced}", org, args.page_size)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        empty = empty_migrated_db(folder)
        shutil.copy(empty, folder / "empty-multirow.sqlite3")
        raw = raw_upsert(synced, empty, args.page_size)
        raw_multirow = raw_upsert(synced, folder / "empty-multirow.sqlite3", args.page_size, multirow=True)
        postgres_run = None
        if args.postgres_url:
            url, drop = postgres_database(args.postgres_url)
            try:
                postgres_run = run_sync(url, org, args.page_size)
            finally:
                drop()
    finally:
        org_process.stdin.close()
        org_process.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)

    ratio = sqlite_run["records_per_s"] / raw["records_per_s"]
    figures = {
        "records": sqlite_run["records"],
        "sqlite_seconds": round(sqlite_run["seconds"], 2),
        "records_per_s": round(sqlite_run["records_per_s"]),
        "api_calls": sqlite_run["api_calls"],
        "records_per_cpu_s": round(sqlite_run["records"] / sqlite_run["cpu_seconds"]),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "raw_sqlite_records_per_s": round(raw["records_per_s"]),
        "ratio_to_raw_sqlite": round(ratio, 3),
        "raw_sqlite_multirow_records_per_s": round(raw_multirow["records_per_s"]),
    }
    if postgres_run:
        figures["postgres_records_per_s"] = round(postgres_run["records_per_s"])
        figures["postgres_seconds"] = round(postgres_run["seconds"], 2)
        figures["postgres_records_per_cpu_s"] = round(postgres_run["records"] / postgres_run["cpu_seconds"])
    print(f"records synced            {sqlite_run['records']:>12,}  ({sqlite_run['objects']})")
    print(f"SQLite end to end         {figures['records_per_s']:>12,} records/s   target >= {TARGETS['records_per_s']:,}"
          f"   ({sqlite_run['seconds']:.1f}s)")
    print(f"API calls used            {figures['api_calls']:>12,}")
    print(f"records per CPU second    {figures['records_per_cpu_s']:>12,}               (the syncing process's own CPU "
          f"time, {sqlite_run['cpu_seconds']:.1f}s)")
    print(f"peak RSS                  {figures['peak_rss_mb']:>12,.1f} MB          target <= {TARGETS['peak_rss_mb']}")
    print(f"raw executemany upsert    {figures['raw_sqlite_records_per_s']:>12,} records/s")
    print(f"ratio to raw              {figures['ratio_to_raw_sqlite']:>12.3f}             target >= "
          f"{TARGETS['ratio_to_raw_sqlite']}")
    print(f"raw multi-row upsert      {figures['raw_sqlite_multirow_records_per_s']:>12,} records/s   (the writer's "
          f"form: the most this machine writes into this schema, a ceiling for end to end)")
    if postgres_run:
        print(f"PostgreSQL end to end     {figures['postgres_records_per_s']:>12,} records/s   "
              f"({postgres_run['seconds']:.1f}s; {figures['postgres_records_per_cpu_s']:,} records per CPU second, "
              f"{postgres_run['cpu_seconds']:.1f}s, the server's own CPU not counted)")
    else:
        print("PostgreSQL                (not measured: pass --postgres-url or set TETHER_TEST_POSTGRES_URL)")
    print(json.dumps({"bench": "sync_inbound", "figures": figures, "targets": TARGETS}))


if __name__ == "__main__":
    main()
