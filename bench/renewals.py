"""Renewal Center benchmark: figures, export, training and scoring at a million opportunities.

    python bench/renewals.py                          # 1,000,000 opportunities on SQLite
    python bench/renewals.py --opportunities 100000   # a quick run
    python bench/renewals.py --database-url postgresql+psycopg://postgres@127.0.0.1/tether_bench

Prints each figure beside its target, then one line of JSON. The book is synthetic and
seeded: every opportunity is a renewal (due over four years before "today" and one after),
customers have a renewal propensity the model can learn from their history, and 5 % of
open renewals carry a rep's forecast call. Figures measured:

- forecast and GRR/NRR (both families) for every quarter with data, from one rollup;
- a streamed CSV export of the drill-down behind "renewals due" over all years, through the
  HTTP API in a child process (rows/s and that process's peak RSS; a smaller export is
  measured too, to show memory does not grow with rows);
- training on the newest 100,000 closed renewals, and scoring 100,000 open ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TODAY = dt.date(2025, 7, 1)
TENANT = "bench"
TARGETS = {"figures_all_quarters_seconds": 1.0, "train_100k_seconds": 30.0, "score_100k_seconds": 2.0}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def runtime_for(url: str):
    from tether.core.plugins import PluginHost
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.store import Store

    host = PluginHost.from_entry_points()
    store = Store(url, migration_locations=host.migration_locations())
    return Runtime(Settings.from_env({"TETHER_HOME": tempfile.gettempdir()}), host=host, store=store)


# -- the book ----------------------------------------------------------------------------


def make_tenant(runtime) -> None:
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest

    manifest = {"tenant": {"id": TENANT, "name": "Bench"}, "users": [{"username": "analyst", "role": "viewer_analytics"},
                                                                      {"username": "admin", "role": "admin"}]}
    apply_manifest(runtime.store, runtime.host, validate_tenant_manifest(manifest, runtime.host, source="bench"))


def generate(runtime, n: int, n_open: int, seed: int = 1) -> dict:
    """Insert ``n`` renewals (``n_open`` of them open) for ~n/10 customers, fast (raw DBAPI)."""
    rng = np.random.default_rng(seed)
    customers = max(n // 10, 10)
    # Two kinds of customer: loyal ones and shaky ones; their history shows which is which.
    propensity = np.where(rng.random(customers) < 0.7, 0.95, 0.55)
    company = rng.integers(0, customers, n)
    is_open = np.zeros(n, dtype=bool)
    is_open[rng.choice(n, n_open, replace=False)] = True
    due_offset = np.where(is_open, rng.integers(0, 365, n), -rng.integers(1, 4 * 365, n))
    target = (np.exp(rng.normal(10.5, 0.9, n)) * 100).astype(np.int64)          # cents
    won = (~is_open) & (rng.random(n) < propensity[company])
    lost = (~is_open) & ~won
    change = rng.normal(0.03, 0.12, n)
    final = np.where(won, (target * (1 + change)).astype(np.int64), np.where(lost, 0, -1))
    forecast = np.where(is_open, (target * (1 + rng.normal(0, 0.1, n))).astype(np.int64), np.maximum(final, 0))
    forecast_missing = is_open & (rng.random(n) < 0.1)
    probability = np.where(is_open, rng.integers(10, 91, n), np.where(won, 100, 0))
    open_categories = np.array(["Pipeline", "BestCase", "Forecast"])
    category = np.where(is_open, open_categories[rng.integers(0, 3, n)], np.where(won, "Closed", "Omitted"))
    close_offset = np.where(is_open, -rng.integers(0, 20, n), np.where(won, -rng.integers(0, 30, n), rng.integers(0, 30, n)))
    booking = np.where(is_open, "renewal", np.where(lost, "churn", np.where(final > target, "renewal_upsell",
                                                                             np.where(final < target, "renewal_downsell", "renewal"))))
    owners = rng.integers(0, 50, n)
    dates = {offset: (TODAY + dt.timedelta(days=int(offset))) for offset in np.unique(np.concatenate([due_offset, due_offset + close_offset]))}
    store = runtime.store
    postgres = store.dialect == "postgresql"
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    started = time.perf_counter()
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        company_rows = [(TENANT, f"Customer {i}", "{}", False, now, now) for i in range(customers)]
        company_sql = ("INSERT INTO companies (tenant_id, name, attributes, is_deleted, created_at, updated_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s)" if postgres else
                       "INSERT INTO companies (tenant_id, name, attributes, is_deleted, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)")
        cursor.executemany(company_sql, company_rows)
        raw.commit()
        cursor.execute("SELECT min(id) FROM companies WHERE tenant_id = " + ("%s" if postgres else "?"), (TENANT,))
        first_company = cursor.fetchone()[0]
        columns = ("tenant_id", "name", "company_id", "booking_type", "target_amount", "forecast_amount", "final_amount",
                   "due_date", "close_date", "probability", "forecast_category", "is_closed", "is_won", "owner_name",
                   "csm", "attributes", "is_deleted", "created_at", "updated_at")

        def rows(start: int, stop: int):
            for i in range(start, stop):
                due = dates[int(due_offset[i])]
                yield (TENANT, f"Renewal {i}", int(first_company + company[i]), str(booking[i]), int(target[i]),
                       None if forecast_missing[i] else int(forecast[i]), None if is_open[i] else int(final[i]),
                       due, dates[int(due_offset[i] + close_offset[i])], float(probability[i]), str(category[i]),
                       not bool(is_open[i]), bool(won[i]), f"owner{owners[i]}", f"csm{owners[i] % 30}", "{}", False,
                       now, now)

        batch = 50_000
        if postgres:
            with cursor.copy(f"COPY opportunities ({', '.join(columns)}) FROM STDIN") as copy:
                for values in rows(0, n):
                    copy.write_row(values)
        else:
            sql = f"INSERT INTO opportunities ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for start in range(0, n, batch):
                cursor.executemany(sql, [tuple(v.isoformat(" ") if isinstance(v, dt.datetime) else
                                               v.isoformat() if isinstance(v, dt.date) else v for v in row)
                                         for row in rows(start, min(n, start + batch))])
        raw.commit()
        # Reps called 5 % of the open renewals.
        marker = "%s" if postgres else "?"
        cursor.execute(f"SELECT id FROM opportunities WHERE tenant_id = {marker} AND is_closed = {marker}",
                       (TENANT, False))
        open_ids = [row[0] for row in cursor.fetchall()]
        called = rng.choice(open_ids, max(1, len(open_ids) // 20), replace=False)
        call_rows = [(TENANT, int(i), "commit", None, "bench call", "ana", now, True) for i in called]
        cursor.executemany("INSERT INTO renewal_forecast_calls (tenant_id, opportunity_id, category, amount, comment, "
                           f"called_by, called_at, is_current) VALUES ({', '.join([marker] * 8)})",
                           [tuple(v.isoformat(" ") if isinstance(v, dt.datetime) and not postgres else v for v in r)
                            for r in call_rows])
        raw.commit()
        if postgres:
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return {"opportunities": n, "open": int(is_open.sum()), "customers": customers, "calls": len(call_rows),
            "load_seconds": round(time.perf_counter() - started, 1)}


# -- measurements ------------------------------------------------------------------------


def measure_figures(runtime) -> dict:
    from tether.core.renewals import analytics
    from tether.core.renewals.analytics import Selection

    tenant = runtime.context(TENANT)
    selection = Selection.parse(period="all", grain="quarter")
    timings = []
    result = None
    for _ in range(3):
        started = time.perf_counter()
        result = analytics.figures(tenant, selection, today=TODAY)
        timings.append(time.perf_counter() - started)
    quarters = len(result["forecast"])
    sample = next(p for p in result["metrics"] if p["period"]["label"] == "FY2025-Q1")
    return {"figures_all_quarters_seconds": round(min(timings), 3), "figures_first_run_seconds": round(timings[0], 3),
            "quarters": quarters,
            "sample_grr": sample["families"]["renewal_cohort"]["rates"]["grr"]["value"],
            "sample_arr_nrr": sample["families"]["arr_cohort"]["rates"]["arr_nrr"]["value"]}


def export_child(url: str, period: str) -> None:
    """Run in a child process: stream the export through the HTTP API and report."""
    from tether.core.api.tokens import issue_token
    from tether.webhooks.app import create_app

    runtime = runtime_for(url)
    client = create_app(runtime).test_client()
    token = issue_token(runtime.store, TENANT, "admin")
    before = current_rss_mb()
    started = time.perf_counter()
    response = client.get(f"/api/v1/tenants/{TENANT}/renewals/drilldown.csv",
                          query_string={"measure": "renewals_due", "period": period},
                          headers={"Authorization": f"Bearer {token}"}, buffered=False)
    assert response.status_code == 200, response.status_code
    lines = 0
    size = 0
    streaming = []       # the process's RSS while rows flow: flat when the export streams
    for index, chunk in enumerate(response.iter_encoded()):
        lines += chunk.count(b"\n")
        size += len(chunk)
        if index % 50 == 0:
            streaming.append(current_rss_mb())
    response.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"rows": lines - 1, "bytes": size, "seconds": seconds, "rss_before_mb": before,
                      "rss_first_chunk_mb": streaming[0] if streaming else before,
                      "rss_growth_while_streaming_mb": (max(streaming) - streaming[0]) if streaming else 0.0,
                      "peak_rss_mb": rss_mb()}))


def measure_export(url: str, period: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--export-child", url, period], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return json.loads(output)


def measure_model(runtime, train_rows: int) -> dict:
    from tether.core.renewals.config import update_config
    from tether.core.renewals.scoring import score_open_renewals, train_model

    tenant = runtime.context(TENANT)
    update_config(tenant, {"max_training_rows": train_rows}, by="bench")
    started, cpu = time.perf_counter(), time.process_time()
    version = train_model(tenant, today=TODAY)
    trained, trained_cpu = time.perf_counter() - started, time.process_time() - cpu
    # The first scoring after training writes every score into an empty table; a second one
    # replaces them all (what the scheduled retraining job does from then on).
    timings = []
    for _ in range(2):
        started, cpu = time.perf_counter(), time.process_time()
        scored = score_open_renewals(tenant, today=TODAY)
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
    metrics = version["metrics"]
    return {"train_100k_seconds": round(trained, 2), "train_cpu_seconds": round(trained_cpu, 2),
            "score_100k_seconds": round(timings[0][0], 2), "score_cpu_seconds": round(timings[0][1], 2),
            "rescore_100k_seconds": round(timings[1][0], 2), "rescore_cpu_seconds": round(timings[1][1], 2),
            "training_rows": version["training_rows"], "scored": scored["scored"],
            "roc_auc": metrics.get("roc_auc"), "brier": metrics.get("brier"),
            "baseline_brier": metrics.get("baseline", {}).get("brier"),
            "top_feature": version["importance"][0]["feature"] if version["importance"] else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=None, help="open renewals (default: a tenth, at most 100,000)")
    parser.add_argument("--train", type=int, default=100_000, help="closed renewals to train on")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--export-child", nargs=2, metavar=("URL", "PERIOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return

    import logging

    logging.basicConfig(level=logging.WARNING)
    n = args.opportunities
    n_open = args.open if args.open is not None else min(100_000, n // 10)
    folder = None
    url = args.database_url
    if url is None:
        folder = tempfile.mkdtemp(prefix="tether-bench-renewals-")
        url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
    try:
        runtime = runtime_for(url)
        runtime.store.upgrade()
        make_tenant(runtime)
        book = generate(runtime, n, n_open)
        print(f"book: {book['opportunities']:,} renewals ({book['open']:,} open) for {book['customers']:,} customers, "
              f"{book['calls']:,} forecast calls, loaded in {book['load_seconds']} s on {runtime.store.dialect}")
        figures = measure_figures(runtime)
        print(f"forecast + GRR/NRR (both families), {figures['quarters']} quarters: "
              f"{figures['figures_all_quarters_seconds']} s (target ≤ 1 s; first run {figures['figures_first_run_seconds']} s)")
        everything = measure_export(url, "FY2021..FY2026")
        one_year = measure_export(url, "FY2024")
        rows_per_s = everything["rows"] / everything["seconds"]
        print(f"CSV export, all years: {everything['rows']:,} rows in {everything['seconds']:.1f} s = "
              f"{rows_per_s:,.0f} rows/s; peak RSS {everything['peak_rss_mb']:.0f} MB, of which "
              f"{everything['rss_growth_while_streaming_mb']:.1f} MB grew while rows streamed "
              f"(one year, {one_year['rows']:,} rows: peak {one_year['peak_rss_mb']:.0f} MB)")
        model = measure_model(runtime, args.train)
        print(f"training on {model['training_rows']:,} closed renewals: {model['train_100k_seconds']} s "
              f"({model['train_cpu_seconds']} s CPU; target ≤ 30 s); "
              f"holdout ROC AUC {model['roc_auc']}, Brier {model['brier']} vs baseline {model['baseline_brier']}")
        print(f"scoring {model['scored']:,} open renewals: {model['score_100k_seconds']} s "
              f"({model['score_cpu_seconds']} s CPU; target ≤ 2 s); scoring them again (replacing every score): "
              f"{model['rescore_100k_seconds']} s ({model['rescore_cpu_seconds']} s CPU)")
        print(json.dumps({
            "bench": "renewals",
            "figures": {
                "opportunities": n,
                "figures_all_quarters_seconds": figures["figures_all_quarters_seconds"],
                "export_rows": everything["rows"],
                "export_records_per_s": round(rows_per_s),
                "export_peak_rss_mb": round(everything["peak_rss_mb"], 1),
                "export_small_peak_rss_mb": round(one_year["peak_rss_mb"], 1),
                "export_rss_growth_while_streaming_mb": round(everything["rss_growth_while_streaming_mb"], 1),
                "train_100k_seconds": model["train_100k_seconds"],
                "train_cpu_seconds": model["train_cpu_seconds"],
                "score_100k_seconds": model["score_100k_seconds"],
                "score_cpu_seconds": model["score_cpu_seconds"],
                "rescore_100k_seconds": model["rescore_100k_seconds"],
                "rescore_cpu_seconds": model["rescore_cpu_seconds"],
                "ratio_model_brier_to_baseline": round(model["brier"] / model["baseline_brier"], 3)
                if model["brier"] and model["baseline_brier"] else None,
            },
            "targets": TARGETS,
        }))
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
