"""Write-back throughput: 10,000 changed opportunities pushed to the fake org over HTTPS.

The fake org runs in its own process on loopback (seeded with ``--opportunities``); a
tenant loads them (initial sync, not measured), changes the amount of every one locally
through ``capture_local_change`` (timed apart), then ``push_outbox`` sends them. Printed
beside their targets:

- API calls used by the push (target: the minimum, one sObject Collections call per 200
  records, 50 for 10,000);
- records/s end to end (from the first read of the outbox to the last recorded result,
  the fake org's own work included), and records per CPU second of the pushing process;
- the same push through the Bulk API (a second tenant whose ``write_bulk_threshold`` is
  below the batch): its API calls and records/s.

Quick run: ``python bench/push.py --opportunities 2000``. The last line of output is JSON:
``{"bench": "push", "figures": {...}, "targets": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path


def serve(opportunities: int) -> None:
    """Child process: seed the org, serve it over HTTPS, wait for stdin to close."""
    from tether.testing.fake_salesforce import FakeClock, FakeOrg
    from tether.testing.fake_salesforce.server import FakeOrgServer

    org = FakeOrg(clock=FakeClock(realtime=True), api_limit=1_000_000)
    org.seed(seed=3, opportunities=opportunities, accounts=max(1, opportunities // 8), contacts_per_account=0,
             tasks_per_opportunity=0, events_per_opportunity=0, stage_history=False)
    org.clock.advance(minutes=15)
    server = FakeOrgServer(org, deliver_outbound_every=None).start()
    print(json.dumps({"instance_url": server.instance_url, "ca_bundle": server.ca_bundle_path}), flush=True)
    sys.stdin.read()
    server.stop()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_tenant(store, host, org: dict, tenant_id: str, **config):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest, load_context
    from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

    os.environ["BENCH_SF_PASSWORD"] = DEFAULT_PASSWORD
    os.environ["BENCH_SF_TOKEN"] = DEFAULT_TOKEN
    settings = {"instance_url": org["instance_url"], "login_url": org["instance_url"], "ca_bundle": org["ca_bundle"],
                "username": INTEGRATION_USERNAME, "password": {"$env": "BENCH_SF_PASSWORD"},
                "security_token": {"$env": "BENCH_SF_TOKEN"}, "bulk_poll_seconds": 0.1, **config}
    manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                "plugins": [{"name": "salesforce", "config": settings}]}
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    return load_context(store, host, tenant_id)


def load_and_change(tenant, cents: int) -> tuple[int, float]:
    """Initial sync of the opportunities, then a local change of every amount."""
    from sqlalchemy import select

    from tether.core.store.models import Opportunity
    from tether.core.sync.engine import sync_tenant
    from tether.core.sync.outbox import capture_local_change

    results = sync_tenant(tenant, objects=["Opportunity"])
    if any(r.status != "success" for r in results):
        raise SystemExit(f"the initial sync failed: {[r.error for r in results]}")
    with tenant.session() as session:
        ids = list(session.scalars(select(Opportunity.id).where(Opportunity.is_deleted.is_(False))))
    started = time.perf_counter()
    for start in range(0, len(ids), 1000):
        with tenant.transaction() as session:
            for row in session.scalars(select(Opportunity).where(Opportunity.id.in_(ids[start:start + 1000]))):
                row.amount = (row.amount or Decimal(0)) + Decimal(cents) / 100
                capture_local_change(tenant, session, entity="opportunity", local_id=row.id,
                                     changes={"amount": row.amount})
    return len(ids), time.perf_counter() - started


def push(tenant) -> dict:
    from tether.core.sync.push import push_outbox

    started, cpu = time.perf_counter(), cpu_seconds()
    result = push_outbox(tenant)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if result.status != "success" or result.failed:
        raise SystemExit(f"the push did not succeed: {result}")
    return {"records": result.records_applied, "api_calls": result.api_calls, "seconds": seconds,
            "records_per_s": result.records_applied / seconds, "records_per_cpu_s": result.records_applied / cpu}


def run(args: argparse.Namespace, kind: str) -> tuple[dict, int, float]:
    """One org (its own process), one tenant: load, change every amount, push."""
    from tether.core.plugins import PluginHost
    from tether.core.store import Store

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(args.opportunities)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    org = json.loads(child.stdout.readline() or "null")
    if not org:
        raise SystemExit("the fake org did not start")
    folder = Path(tempfile.mkdtemp(prefix=f"tether-bench-push-{kind}-"))
    url = args.database_url or f"sqlite:///{folder / 'tether.sqlite3'}"
    host = PluginHost.from_entry_points()
    store = Store(url, migration_locations=host.migration_locations())
    store.upgrade()
    try:
        # Bulk: the threshold below the batch, so the same push goes through the Bulk API.
        config = {"write_bulk_threshold": max(0, args.opportunities - 1)} if kind == "bulk" else {}
        tenant = make_tenant(store, host, org, kind, **config)
        changed, capture_seconds = load_and_change(tenant, 25)
        return push(tenant), changed, capture_seconds
    finally:
        child.stdin.close()
        child.wait(timeout=60)
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opportunities", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--no-bulk", action="store_true", help="skip the Bulk API run")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    collections, changed, capture_seconds = run(args, "collections")
    bulk = None if args.no_bulk else run(args, "bulk")[0]

    minimum = math.ceil(changed / 200)
    print(f"changed opportunities:          {changed:,} (captured at {changed / capture_seconds:,.0f} changes/s)")
    print(f"API calls (Collections):        {collections['api_calls']:,}   target {minimum:,} (the minimum)")
    print(f"records/s end to end:           {collections['records_per_s']:,.0f}   "
          f"({collections['seconds']:.2f} s; {collections['records_per_cpu_s']:,.0f} records per CPU second)")
    if bulk:
        print(f"API calls (Bulk API 1.0):       {bulk['api_calls']:,}")
        print(f"records/s end to end (Bulk):    {bulk['records_per_s']:,.0f}   ({bulk['seconds']:.2f} s)")
    figures = {"records": changed, "api_calls": collections["api_calls"],
               "records_per_s": round(collections["records_per_s"], 1),
               "records_per_cpu_s": round(collections["records_per_cpu_s"], 1),
               "seconds": round(collections["seconds"], 3), "capture_per_s": round(changed / capture_seconds, 1)}
    if bulk:
        figures.update(bulk_api_calls=bulk["api_calls"], bulk_records_per_s=round(bulk["records_per_s"], 1))
    print(json.dumps({"bench": "push", "figures": figures, "targets": {"api_calls": minimum}}))


if __name__ == "__main__":
    main()
