"""Benchmark the fake Salesforce org: is it ever the bottleneck of a sync benchmark?

Seeds a realistic org (accounts in hierarchies, opportunities with stage history, tasks,
events), serves it over loopback HTTPS and pulls every opportunity through Bulk API 2.0
(simple-salesforce) and a PK-chunked Bulk API 1.0 query (salesforce-bulk).

    .venv/bin/python bench/fake_org.py                     # 1,000,000 opportunities
    .venv/bin/python bench/fake_org.py --opportunities 50000

The last line of output is one JSON object with the figures and their targets.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tether.testing.fake_salesforce import FakeClock, FakeOrg, FakeOrgServer  # noqa: E402

FIELDS = ("Id, Name, AccountId, StageName, Amount, CloseDate, Type, Probability, ForecastCategoryName, IsClosed, "
          "IsWon, OwnerId, LastModifiedById, LastModifiedDate, SystemModstamp")
SOQL = f"SELECT {FIELDS} FROM Opportunity"
TARGETS = {"seed_seconds": {"max": 30.0}, "bulk2_query_records_per_s": {"min": 200_000},
           "bulk1_pk_chunked_query_records_per_s": {"min": 200_000}}


def seed(opportunities: int, seed_value: int) -> tuple[FakeOrg, dict, float, float]:
    org = FakeOrg(clock=FakeClock(realtime=True), seed=seed_value)
    started, started_cpu = time.perf_counter(), time.process_time()
    summary = org.seed(seed=seed_value, opportunities=opportunities)
    return org, summary.counts, time.perf_counter() - started, time.process_time() - started_cpu


def bulk2_query(server: FakeOrgServer, max_records: int) -> tuple[int, float]:
    sf = server.client()
    started = time.perf_counter()
    records = 0
    for page in sf.bulk2.Opportunity.query(SOQL, max_records=max_records, wait=0):
        records += page.count("\n") - 1
    return records, time.perf_counter() - started


def bulk1_pk_chunked_query(server: FakeOrgServer, chunk_size: int) -> tuple[int, float]:
    with server.trust_ca():
        bulk = server.bulk_client()
        started = time.perf_counter()
        job = bulk.create_query_job("Opportunity", contentType="CSV", pk_chunking=chunk_size)
        original = bulk.query(job, SOQL)
        bulk.close_job(job)
        records = 0
        for batch in bulk.get_batch_list(job):
            if batch["id"] == original:
                continue  # the original batch of a PK-chunked query is NotProcessed by design
            bulk.wait_for_batch(job, batch["id"], sleep_interval=0.01)
            for result_id in bulk.get_query_batch_result_ids(batch["id"], job):
                raw = bulk.get_query_batch_results(batch["id"], result_id, job, raw=True)
                lines = 0
                while chunk := raw.read(1 << 20):
                    lines += chunk.count(b"\n")
                records += lines - 1
        return records, time.perf_counter() - started


def rest_query(server: FakeOrgServer, limit: int) -> tuple[int, float]:
    sf = server.client()
    started = time.perf_counter()
    records = sum(1 for _ in sf.query_all_iter(f"{SOQL} LIMIT {limit}"))
    return records, time.perf_counter() - started


def check(name: str, value: float) -> str:
    target = TARGETS.get(name)
    if not target:
        return ""
    if "max" in target:
        return f"(target <= {target['max']:,}: {'ok' if value <= target['max'] else 'MISSED'})"
    return f"(target >= {target['min']:,}: {'ok' if value >= target['min'] else 'MISSED'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-records", type=int, default=100_000, help="Bulk 2.0 page size (maxRecords)")
    parser.add_argument("--chunk-size", type=int, default=250_000, help="Bulk 1.0 PK chunk size")
    parser.add_argument("--rest-records", type=int, default=20_000, help="records to page through REST query")
    args = parser.parse_args()

    org, counts, seed_seconds, seed_cpu_seconds = seed(args.opportunities, args.seed)
    print(f"seeded {', '.join(f'{n:,} {name}' for name, n in counts.items())}")
    # CPU time shows the headroom when other processes compete for the cores (wall time is the target).
    figures: dict[str, float] = {"seed_seconds": round(seed_seconds, 2), "seed_cpu_seconds": round(seed_cpu_seconds, 2)}
    with FakeOrgServer(org, deliver_outbound_every=None) as server:
        records, seconds = bulk2_query(server, args.max_records)
        assert records == counts["Opportunity"], (records, counts)
        figures["bulk2_query_seconds"] = round(seconds, 2)
        figures["bulk2_query_records_per_s"] = round(records / seconds)
        records, seconds = bulk1_pk_chunked_query(server, args.chunk_size)
        assert records == counts["Opportunity"], (records, counts)
        figures["bulk1_pk_chunked_query_seconds"] = round(seconds, 2)
        figures["bulk1_pk_chunked_query_records_per_s"] = round(records / seconds)
        records, seconds = rest_query(server, min(args.rest_records, counts["Opportunity"]))
        figures["rest_query_records_per_s"] = round(records / seconds)
    figures["opportunities_count"] = counts["Opportunity"]
    figures["seeded_records_count"] = sum(counts.values())
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:>14,}  {check(name, value)}")
    print(json.dumps({"bench": "fake_org", "figures": figures,
                      "targets": {name: target for name, target in TARGETS.items()}}))


if __name__ == "__main__":
    main()
