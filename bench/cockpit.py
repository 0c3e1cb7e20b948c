"""Cockpit benchmark: the rules over 100,000 companies, and a CSM's list of 1,000 CTAs.

Builds a tenant with 100,000 companies (50 CSMs), 200,000 relationships, 50,000 open
renewals (forecasts below target or missing on a quarter, forecast calls on 40 %, a risk
model's likelihood on all) and activities in the last 48 days on 95 % of the companies, scores health
with the Scorecards plugin twice (so scores have previous scores), and configures one
rule per built-in condition: renewal risk flags, low likelihood, renewal due without a
call, health red, health drop and no activity (one of them with a three-task playbook).

Figures:

- ``rules_first_run_seconds``: the first run, which opens a CTA for every occurrence
  (tens of thousands, with their tasks and linked opportunities);
- ``rules_seconds``: a later run (every condition evaluated again over every company,
  nothing new to open) — the cost a tenant pays every hour;
- ``rules_change_run_seconds``: a run after 1 % of the companies turned red;
- ``list_1000_p50_ms`` / ``p95``: a CSM's Cockpit list of 1,000 open CTAs with company
  and relationship fields (the query, joins and assembly), and ``list_1000_api_p50_ms``
  the same page through the HTTP API (schema dump and JSON included).

CPU seconds are printed beside wall times: on a shared machine wall time includes
waiting for a core, CPU time does not.

    .venv/bin/python bench/cockpit.py                    # 100,000 companies on SQLite
    .venv/bin/python bench/cockpit.py --companies 10000  # a quick run
    .venv/bin/python bench/cockpit.py --database-url postgresql+psycopg://postgres@127.0.0.1/cockpit_bench

The last line of output is one JSON object with the figures and their targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update  # noqa: E402

from tether.core.api.tokens import issue_token  # noqa: E402
from tether.core.manifests import validate_tenant_manifest  # noqa: E402
from tether.core.plugins import PluginHost  # noqa: E402
from tether.core.renewals.models import ForecastCall, RiskModelVersion, RiskScore  # noqa: E402
from tether.core.runtime import Runtime  # noqa: E402
from tether.core.settings import Settings  # noqa: E402
from tether.core.store import Company, Opportunity, Relationship, RelationshipType, Store  # noqa: E402
from tether.core.tenants import apply_manifest, load_context  # noqa: E402
from tether.plugins.cockpit.config import settings_of  # noqa: E402
from tether.plugins.cockpit.listing import list_ctas  # noqa: E402
from tether.plugins.cockpit.models import Cta  # noqa: E402
from tether.plugins.cockpit.rule_runs import run_rules  # noqa: E402
from tether.plugins.scorecards.runner import run_scoring  # noqa: E402
from tether.plugins.timeline.models import ActivityRecord  # noqa: E402

TENANT = "bench"
UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
TARGETS = {"rules_seconds": {"max": 5.0}, "rules_first_run_seconds": {"max": 5.0},
           "rules_change_run_seconds": {"max": 5.0}, "list_1000_p50_ms": {"max": 50.0}}
LIST_USER = "list.csm@bench"
TIERS = ["Standard", "Premium", "Enterprise"]

SCORECARD = {
    "name": "Company health", "entity": "company", "default": True,
    "measures": [
        {"key": "field:arr", "weight": 2, "scoring": {"type": "linear", "worst": 0, "best": 200000}},
        {"key": "days_since_last_activity", "weight": 2,
         "scoring": {"type": "bands", "bands": [{"upto": 30, "score": 100}, {"upto": 90, "score": 50}, {"score": 0}]}},
    ],
}
PLAYBOOK = {"name": "Save the account", "type": "risk", "tasks": [
    {"name": "Call the sponsor", "due_in_days": 2}, {"name": "Usage review", "owner": "csm", "due_in_days": 7},
    {"name": "Recovery plan", "due_in_days": 14}]}
RULES = [
    {"name": "Renewal risk", "condition": "renewal_risk_flags",
     "params": {"flags": ["missing_forecast", "forecast_below_target", "close_after_due"]}},
    {"name": "Unlikely to renew", "condition": "renewal_low_likelihood", "params": {"below": 0.3}},
    {"name": "Call the renewal", "condition": "renewal_due_without_call", "params": {"days": 60}},
    {"name": "Red health", "condition": "health_red", "cta": {"priority": "high", "playbook": "Save the account"}},
    {"name": "Health drop", "condition": "health_drop", "params": {"points": 10}},
    {"name": "Quiet", "condition": "no_activity", "params": {"days": 45}, "cta": {"type": "activity"}},
]
LIST_FIELDS = ["company.arr", "company.segment", "relationship.type", "relationship.stage", "relationship.arr",
               "relationship.attributes.tier"]


def build(store: Store, host: PluginHost, companies: int, rng: random.Random):
    manifest = {
        "tenant": {"id": TENANT, "name": "Bench"},
        "plugins": [{"name": "cockpit", "config": {"rules": RULES, "playbooks": [PLAYBOOK], "list_fields": LIST_FIELDS}},
                    {"name": "scorecards", "config": {"scorecards": [SCORECARD], "history": "every_run"}},
                    {"name": "timeline"}],
        "relationship_types": [{"name": "Product", "fields": [{"name": "tier", "type": "picklist", "choices": TIERS}]}],
        "users": [{"username": LIST_USER, "role": "user"}],
    }
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    tenant = load_context(store, host, TENANT)
    relationships = companies * 2
    with store.engine.begin() as connection:
        type_id = connection.execute(select(RelationshipType.id).where(RelationshipType.tenant_id == TENANT)).scalar()
        old = NOW - dt.timedelta(days=400)
        connection.execute(insert(Company.__table__), [
            {"tenant_id": TENANT, "name": f"Company {i}", "csm": f"csm{i % 50:02d}@bench",
             "arr": rng.randrange(0, 250_000_00), "segment": rng.choice(["Enterprise", "SMB", "Mid-market"]),
             "attributes": {}, "is_deleted": False, "created_at": old, "updated_at": old}
            for i in range(companies)])
        first = connection.execute(select(Company.id).where(Company.tenant_id == TENANT).order_by(Company.id)).scalar()
        company_ids = list(range(first, first + companies))
        connection.execute(insert(Relationship.__table__), [
            {"tenant_id": TENANT, "company_id": company_ids[i % companies], "type_id": type_id, "name": f"Product {i}",
             "csm": f"csm{(i * 7) % 50:02d}@bench", "arr": rng.randrange(0, 80_000_00),
             "stage": rng.choice(["Onboarding", "Adopting", "Expanding"]), "attributes": {"tier": rng.choice(TIERS)},
             "is_deleted": False, "created_at": old, "updated_at": old}
            for i in range(relationships)])
        first_rel = connection.execute(select(Relationship.id).where(Relationship.tenant_id == TENANT)
                                       .order_by(Relationship.id)).scalar()
        renewals = companies // 2
        rows = []
        for i in range(renewals):
            due = TODAY + dt.timedelta(days=rng.randrange(-20, 365))
            target = rng.randrange(5_000_00, 100_000_00)
            forecast = rng.choice([None, int(target * 0.8)] + [target] * 6)
            rows.append({"tenant_id": TENANT, "name": f"Renewal {i}", "company_id": company_ids[(i * 2) % companies],
                         "relationship_id": first_rel + ((i * 2) % relationships), "booking_type": "renewal",
                         "is_closed": False, "is_won": False, "due_date": due, "close_date": due,
                         "target_amount": target, "forecast_amount": forecast, "is_deleted": False, "attributes": {},
                         "created_at": old, "updated_at": old})
        connection.execute(insert(Opportunity.__table__), rows)
        first_opp = connection.execute(select(Opportunity.id).where(Opportunity.tenant_id == TENANT)
                                       .order_by(Opportunity.id)).scalar()
        opportunity_ids = list(range(first_opp, first_opp + renewals))
        connection.execute(insert(ForecastCall.__table__), [
            {"tenant_id": TENANT, "opportunity_id": oid, "category": "commit", "called_by": "csm@bench",
             "called_at": NOW - dt.timedelta(days=rng.randrange(0, 60)), "is_current": True}
            for oid in opportunity_ids if rng.random() < 0.4])
        version = connection.execute(insert(RiskModelVersion.__table__).returning(RiskModelVersion.__table__.c.id), [
            {"tenant_id": TENANT, "version": 1, "trained_at": NOW, "status": "trained", "training_rows": 0,
             "positives": 0, "negatives": 0, "metrics": {}, "features": [], "coefficients": {}, "importance": [],
             "is_active": True}]).scalar()
        connection.execute(insert(RiskScore.__table__), [
            {"tenant_id": TENANT, "opportunity_id": oid, "model_version_id": version, "likelihood": rng.random(),
             "factors": [], "scored_at": NOW} for oid in opportunity_ids])
        connection.execute(insert(ActivityRecord.__table__), [
            {"tenant_id": TENANT, "type": "Call", "subject": "Check-in", "notes": "", "author": "csm@bench",
             "occurred_at": NOW - dt.timedelta(hours=rng.randrange(1, 24 * 48)), "internal_attendees": [],
             "external_attendees": [], "company_id": company_ids[i], "created_at": NOW, "updated_at": NOW}
            for i in range(companies) if i % 20])
    return tenant, company_ids, first_rel


def seed_list(store: Store, company_ids: list[int], first_rel: int, count: int, rng: random.Random) -> None:
    """A CSM's 1,000 open CTAs on relationships (as people open them: one by one over time)."""
    with store.engine.begin() as connection:
        connection.execute(insert(Cta.__table__), [
            {"tenant_id": TENANT, "company_id": company_ids[(i * 2) % len(company_ids)],
             "relationship_id": first_rel + ((i * 4) % (2 * len(company_ids))), "name": f"Follow-up {i}",
             "type": rng.choice(["risk", "opportunity", "lifecycle"]), "reason": "", "priority": "medium",
             "status": "open", "is_closed": False, "owner": LIST_USER,
             "due_date": TODAY + dt.timedelta(days=rng.randrange(-30, 90)), "source": "manual",
             "created_by": LIST_USER, "created_at": NOW, "updated_at": NOW}
            for i in range(count)])


def turn_red(tenant, company_ids: list[int], share: float, rng: random.Random) -> int:
    """Some companies lose their ARR and their activity goes stale: rescore them."""
    chosen = rng.sample(company_ids, max(1, int(len(company_ids) * share)))
    with tenant.transaction() as session:
        for start in range(0, len(chosen), 900):
            part = chosen[start:start + 900]
            session.execute(update(Company).where(Company.id.in_(part)).values(arr=0))
            session.execute(update(ActivityRecord).where(ActivityRecord.company_id.in_(part))
                            .values(occurred_at=NOW - dt.timedelta(days=200)))
    run_scoring(tenant, trigger="on_demand")
    return len(chosen)


def check(name: str, value: float) -> str:
    target = TARGETS.get(name)
    if not target:
        return ""
    return f"(target <= {target['max']}: {'ok' if value <= target['max'] else 'MISSED'})"


def timed(fn, *args, **kwargs):
    clock, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - clock, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--list-size", type=int, default=1000)
    parser.add_argument("--database-url", default=None, help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    host = PluginHost.from_entry_points()
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.sqlite3"
        store = Store(url, migration_locations=host.migration_locations())
        store.upgrade()
        started = time.perf_counter()
        tenant, company_ids, first_rel = build(store, host, args.companies, rng)
        run_scoring(tenant, trigger="on_demand")
        turn_red(tenant, company_ids, 0.05, rng)  # a second run: scores get previous scores, some fall
        print(f"built {args.companies:,} companies, {2 * args.companies:,} relationships, "
              f"{args.companies // 2:,} renewals, scored twice in {time.perf_counter() - started:.1f}s")

        first, first_s, first_cpu = timed(run_rules, tenant)
        for item in first["rules"]:
            print(f"  {item['rule']:<18} {item['status']:<8} occurrences {item['occurrences']:>7,}  "
                  f"opened {item['opened']:>7,}  {item['seconds']:.2f}s" + (f"  {item['error']}" if item["error"] else ""))
        print(f"first run: opened {first['opened']:,} CTAs in {first_s:.2f}s ({first_cpu:.2f}s CPU)")
        steady = []
        for _ in range(2):
            report, seconds, cpu = timed(run_rules, tenant)
            assert report["opened"] == 0 and report["failed"] == 0, report
            steady.append((seconds, cpu))
        print(f"steady runs: {', '.join(f'{s:.2f}s ({c:.2f}s CPU)' for s, c in steady)}, nothing new opened")
        changed = turn_red(tenant, company_ids, 0.01, rng)
        change, change_s, change_cpu = timed(run_rules, tenant)
        print(f"after {changed:,} companies turned red: opened {change['opened']:,} in {change_s:.2f}s "
              f"({change_cpu:.2f}s CPU)")

        seed_list(store, company_ids, first_rel, args.list_size, rng)
        settings = settings_of(tenant)
        query = {"owner": "me", "status": ["open"], "limit": args.list_size, "sort": "due_date"}
        page = list_ctas(tenant, settings, query, username=LIST_USER)
        assert len(page["items"]) == args.list_size and page["items"][0]["fields"]["relationship.type"] == "Product"
        samples, cpu_samples = [], []
        for _ in range(30):
            _, seconds, cpu = timed(list_ctas, tenant, settings, query, username=LIST_USER)
            samples.append(seconds * 1000)
            cpu_samples.append(cpu * 1000)
        runtime = Runtime(Settings.from_env({"TETHER_HOME": folder}), host=host, store=store)
        from tether.webhooks.app import create_app

        http = create_app(runtime).test_client()
        token = issue_token(store, TENANT, LIST_USER)
        api_samples = []
        for _ in range(15):
            clock = time.perf_counter()
            response = http.get(f"/api/v1/tenants/{TENANT}/cockpit/ctas?limit={args.list_size}",
                                headers={"Authorization": f"Bearer {token}"})
            api_samples.append((time.perf_counter() - clock) * 1000)
            assert response.status_code == 200 and len(response.get_json()["items"]) == args.list_size
        with tenant.session() as session:
            total = session.query(Cta).count()
        store.dispose()

    figures = {
        "companies_count": args.companies,
        "ctas_opened_count": first["opened"] + change["opened"],
        "ctas_total_count": total,
        "rules_first_run_seconds": round(first_s, 3),
        "rules_seconds": round(min(s for s, _ in steady), 3),
        "rules_cpu_seconds": round(min(c for _, c in steady), 3),
        "rules_first_run_cpu_seconds": round(first_cpu, 3),
        "rules_change_run_seconds": round(change_s, 3),
        "list_1000_p50_ms": round(statistics.median(samples), 2),
        "list_1000_p95_ms": round(sorted(samples)[int(len(samples) * 0.95) - 1], 2),
        "list_1000_cpu_p50_ms": round(statistics.median(cpu_samples), 2),
        "list_1000_api_p50_ms": round(statistics.median(api_samples), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:>12,}  {check(name, value)}")
    print(json.dumps({"bench": "cockpit", "figures": figures, "targets": TARGETS}))


if __name__ == "__main__":
    main()
