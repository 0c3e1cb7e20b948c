"""What `tether demo` and `tether renewals ...` print."""

from __future__ import annotations

import json

from click.testing import CliRunner
from rich.console import Console

from tether.core.cli import build_cli
from tether.core.renewals.jobs import RETRAIN_JOB, renewal_jobs, retrain
from tether.core.renewals.report import print_renewal_center
from tether.core.runtime import Runtime
from tether.core.settings import Settings

from .book import TODAY
from .plugins import PlantedFeatures, tenant_with
from .test_risk import _synthetic_book


def _console() -> Console:
    return Console(record=True, width=220, color_system=None)


def test_report_without_enough_history_shows_rules_only(book):
    console = _console()
    printed = print_renewal_center(book, console, today=TODAY)
    text = console.export_text()
    assert "FY2025-Q1" in text and "FY2025-Q2" in text
    assert "237,000" in text                       # the Q1 renewal forecast
    assert "43.8%" in text and "53.1%" in text     # renewal-cohort GRR and NRR of Q1
    assert "88.5%" in text and "97.4%" in text     # ARR-cohort GRR and NRR of Q1
    assert "too little renewal history" in text
    assert len(printed["risk"]["items"]) == 4     # R4, R5, R6 and R7 are open this and next quarter
    assert "Missing forecast" in text


def test_report_with_a_model_lists_the_five_riskiest_with_factors(tether_store):
    plugin = PlantedFeatures()
    tenant = tenant_with(tether_store, plugin)
    _synthetic_book(tenant, plugin, closed=300, open_=30)
    console = _console()
    printed = print_renewal_center(tenant, console, today=TODAY)
    text = console.export_text()
    assert "risk model v1 trained on 300 closed renewals" in text
    items = printed["risk"]["items"]
    assert len(items) == 5
    assert [i["likelihood"] for i in items] == sorted(i["likelihood"] for i in items)
    assert all(item["factors"] for item in items)
    assert "product engagement" in text or "support escalations" in text
    assert " pts " in text


def test_the_report_reads_in_an_80_column_terminal(book):
    console = Console(record=True, width=80, color_system=None)
    print_renewal_center(book, console, today=TODAY)
    text = console.export_text()
    assert "…" not in text                          # no figure or label cut short
    assert "237,000" in text and "FY2025-Q1" in text


def test_retraining_is_a_scheduled_job(book):
    [spec] = renewal_jobs(book)
    assert spec.name == RETRAIN_JOB and spec.cron == "0 3 * * 0" and spec.lock_key == f"{RETRAIN_JOB}:acme"
    assert spec.run is retrain
    result = spec.run(book)
    assert result["status"] == "insufficient_data" and result["version"] == 1


def test_cli_commands(book, tether_store, plugin_host, tmp_path):
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store)
    cli = build_cli(runtime)
    runner = CliRunner()
    result = runner.invoke(cli, ["renewals", "forecast", "acme", "--period", "FY2025-Q1", "--after", "0", "--json"],
                           obj=runtime)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["periods"][0]["figures"]["renewal_forecast"] == "237000.00"
    result = runner.invoke(cli, ["renewals", "metrics", "acme", "--period", "FY2025-Q1"], obj=runtime)
    assert result.exit_code == 0 and "43.8%" in result.output
    result = runner.invoke(cli, ["renewals", "train", "acme"], obj=runtime)
    assert result.exit_code == 0 and "insufficient_data" in result.output
    result = runner.invoke(cli, ["renewals", "forecast", "acme", "--period", "whenever"], obj=runtime)
    assert result.exit_code == 1 and "period 'whenever' is not understood" in result.output
    assert "Traceback" not in result.output
