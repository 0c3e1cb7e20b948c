"""``tether demo``: everything tether does, end to end, on one machine with no Salesforce.

1. tether's fake Salesforce org starts on loopback over HTTPS, seeded with a realistic,
   reproducible book of business (account hierarchies, renewals, upsells, new business).
2. The demo tenant is applied from ``manifests/demo.yaml`` (its secrets and URLs come
   from ``TETHER_DEMO_*`` variables this command sets).
3. Accounts and opportunities sync in through the real connector (REST or Bulk), then
   their tasks, events and stage changes onto the timeline.
4. Health scores are computed, the renewal-risk model is trained, and the Renewal Center
   prints the forecast, GRR/NRR and the riskiest renewals with their top factors.
5. ``tether serve`` runs the web pages, the API, the webhooks and the job engine on
   http://127.0.0.1:8000, while the fake org keeps changing opportunities and sends them
   as Outbound Messages; a sign-in link is printed.
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .errors import ConfigurationError
from .manifests import load_tenant_manifest
from .runtime import Runtime
from .settings import Settings
from .tenants import apply_manifest, installations, load_context

DEMO_TENANT = "demo"
DEMO_USER = "csm@demo.example"
OUTBOUND_FIELDS = ["Id", "Name", "AccountId", "Amount", "CloseDate", "StageName", "Probability",
                   "ForecastCategoryName", "IsClosed", "IsWon", "Type", "OwnerId", "SystemModstamp"]


def demo_manifest_path() -> Path:
    """The demo tenant's manifest, from the source checkout tether runs from."""
    candidate = Path(__file__).resolve().parents[2] / "manifests" / "demo.yaml"
    if not candidate.is_file():
        raise ConfigurationError(
            f"the demo manifest is not at {candidate}",
            hint="run the demo from a source checkout of tether (make demo)",
        )
    return candidate


def run_demo(*, home: Path, console: Console, serve: bool = True, opportunities: int = 2000, port: int = 8000,
             seed: int = 42) -> Runtime:
    from tether.testing.fake_salesforce import FakeClock, FakeOrg, FakeOrgServer
    from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN

    home.mkdir(parents=True, exist_ok=True)
    for stale in home.glob("tether.sqlite3*"):  # each run starts a new fake org: start the store afresh too
        stale.unlink()
    settings = Settings.from_env({**os.environ, "TETHER_HOME": str(home),
                                  "TETHER_DATABASE_URL": f"sqlite:///{home / 'tether.sqlite3'}"})
    runtime = Runtime(settings)
    console.rule("[bold]tether demo")

    org_server = FakeOrgServer(FakeOrg(clock=FakeClock(realtime=True)), deliver_outbound_every=0.5 if serve else None)
    org_server.start()
    try:
        org = org_server.org
        with console.status("seeding the fake Salesforce org"):
            summary = org.seed(seed=seed, opportunities=opportunities)
        console.print(f"fake Salesforce org {org.org_id} at {org_server.instance_url}: "
                      f"{_describe_seed(summary, opportunities)}")

        webhook_secret = secrets.token_urlsafe(24)
        os.environ.update({
            "TETHER_DEMO_SF_INSTANCE_URL": org_server.instance_url,
            "TETHER_DEMO_SF_CA_BUNDLE": org_server.ca_bundle_path,
            "TETHER_DEMO_SF_ORG_ID": org.org_id,
            "TETHER_DEMO_SF_PASSWORD": DEFAULT_PASSWORD,
            "TETHER_DEMO_SF_TOKEN": DEFAULT_TOKEN,
            "TETHER_DEMO_WEBHOOK_SECRET": webhook_secret,
        })
        heads = runtime.store.upgrade()
        console.print(f"database: {runtime.store.safe_url} (schema at {len(heads)} branch heads)")
        result = apply_manifest(runtime.store, runtime.host, load_tenant_manifest(demo_manifest_path(), runtime.host))
        console.print(f"tenant {result.tenant_id!r} applied from manifests/demo.yaml ({len(result.changes)} changes)")
        _print_installed(runtime, console)

        tenant = load_context(runtime.store, runtime.host, DEMO_TENANT)
        _sync(tenant, console)
        _score_and_report(tenant, console)
        if serve:
            _serve(runtime, org_server, console, port=port, secret=webhook_secret)
    finally:
        org_server.stop()
    return runtime


def _describe_seed(summary: Any, opportunities: int) -> str:
    counts = getattr(summary, "counts", None)
    if isinstance(counts, dict) and counts:
        return ", ".join(f"{count:,} {name}" for name, count in counts.items())
    return f"{opportunities:,} opportunities with their accounts, tasks and events"


def _print_installed(runtime: Runtime, console: Console) -> None:
    table = Table("plugin", "version", "enabled", "hooks", title=f"plugins of tenant {DEMO_TENANT!r}")
    for row in installations(runtime.store, DEMO_TENANT):
        manifest = runtime.host.manifest(row.plugin_name)
        table.add_row(row.plugin_name, row.version, "yes" if row.enabled else "no",
                      str(len(manifest.hooks)) if manifest else "-")
    console.print(table)


def _sync(tenant, console: Console) -> None:
    from .sync.engine import sync_tenant

    started = time.perf_counter()
    with console.status("syncing Accounts, Opportunities and their activity from Salesforce"):
        results = sync_tenant(tenant)
    # Accounts and opportunities, then what the Timeline plugin applies (tasks, events, stage changes).
    for title, group in (("initial sync", [r for r in results if r.entity in ("company", "opportunity")]),
                         ("activity synced to the timeline", [r for r in results
                                                              if r.entity not in ("company", "opportunity")])):
        if not group:
            continue
        table = Table("object", "mode", "status", "read", "applied", "API calls", title=title)
        for r in group:
            table.add_row(r.object_name, r.mode, r.status, f"{r.records_read:,}", f"{r.records_applied:,}",
                          str(r.api_calls))
        console.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        raise ConfigurationError("the demo sync did not succeed: " + "; ".join(f"{r.object_name}: {r.error}" for r in failed))
    console.print(f"synced in {time.perf_counter() - started:.1f} s")
    _print_activity(tenant, console)


def _print_activity(tenant, console: Console) -> None:
    """How many companies the Company 360 can show "days since last activity" for."""
    if not tenant.is_enabled("timeline"):
        return
    from sqlalchemy import select

    from tether.plugins.timeline.measures import days_since_last_activity

    from .store import Company

    with tenant.session() as session:
        ids = list(session.scalars(select(Company.id).where(Company.is_deleted.is_(False))))
    days = days_since_last_activity(tenant, "company", ids)
    if len(days):
        values = sorted(days[i] for i in days)
        console.print(f"days since last activity known for {len(values):,} of {len(ids):,} companies "
                      f"(median {values[len(values) // 2]:.0f} days)")


def _score_and_report(tenant, console: Console) -> None:
    from tether.plugins.scorecards.runner import run_scoring

    from .renewals.report import print_renewal_center

    with console.status("scoring health"):
        report = run_scoring(tenant, trigger="on_demand")
    plural = {"company": "companies", "relationship": "relationships"}
    scored = ", ".join(f"{count:,} {plural.get(kind, kind)}" for kind, count in report.scored.items())
    console.print(f"health scores: {scored or 'nothing'} scored in {report.seconds:.2f} s")
    print_renewal_center(tenant, console, train=True)


def _serve(runtime: Runtime, org_server, console: Console, *, port: int, secret: str) -> None:
    from tether.core.jobs.serve import Server
    from tether.web import issue_signin_link

    try:
        server = Server(runtime, host="127.0.0.1", port=port, threads=8, jobs=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}",
                                 hint="stop what uses the port or pass --port") from exc
    host, bound_port = server.address
    base = f"http://{host}:{bound_port}"
    org = org_server.org
    org.add_outbound_rule("tether demo", "Opportunity", OUTBOUND_FIELDS,
                          f"{base}/webhooks/{DEMO_TENANT}/salesforce/outbound-message?token={secret}",
                          integration_user_id=org.integration_user_id)
    stop = threading.Event()
    changer = threading.Thread(target=_keep_changing, args=(org, stop), name="fake-org-activity", daemon=True)
    changer.start()
    console.rule("[bold]serving")
    console.print(f"web pages, API and webhooks on {base} (Ctrl-C to stop)")
    console.print(f"sign in as {DEMO_USER}: {issue_signin_link(runtime.store, DEMO_TENANT, DEMO_USER, base_url=base)}",
                  soft_wrap=True, highlight=False)
    console.print("the fake org changes an opportunity every few seconds and sends it as an Outbound Message")
    try:
        server.run()
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stop.set()
        server.close()


def _keep_changing(org, stop: threading.Event) -> None:
    """Act as sales reps in Salesforce: move stages and amounts of open opportunities."""
    rng = random.Random(7)
    open_ids = [row["Id"] for row in org.query("SELECT Id FROM Opportunity WHERE IsClosed = false LIMIT 500")]
    stages = ["Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review"]
    while open_ids and not stop.wait(3.0):
        record_id = rng.choice(open_ids)
        try:
            current = org.get(record_id)
            amount = float(current.get("Amount") or 10000) * rng.choice([0.9, 1.05, 1.1])
            org.update("Opportunity", record_id, {"StageName": rng.choice(stages), "Amount": round(amount, 2)},
                       as_user=org.admin_user_id)
        except Exception:  # a record closed or deleted meanwhile: pick another next time
            open_ids.remove(record_id)
