"""``tether jobs``, ``tether status``, ``/metrics`` and ``tether serve`` as operators use them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from tether.core.cli import build_cli
from tether.webhooks import create_app

from .support import SOURCES
from .test_embedded import wait_for


@pytest.fixture
def tether_cli(jobs_runtime):
    cli = build_cli(jobs_runtime)
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), obj=jobs_runtime, catch_exceptions=False,
                             env={"COLUMNS": "250"})
    return run


def test_jobs_list_pause_resume(jobs_tenant, tether_cli):
    jobs_tenant("acme", schedules=[{"job": "sync", "object": "Org", "every": "1m"},
                                   {"job": "no_such_job", "every": "1h"}])
    listed = tether_cli("jobs", "list", "--tenant", "acme")
    assert listed.exit_code == 0, listed.output
    lines = {line.split("│")[2].strip() + " " + line.split("│")[3].strip(): line
             for line in listed.output.splitlines() if line.count("│") > 6}
    assert "every 1m" in lines["sync Org"] and "manifest" in lines["sync Org"] and "active" in lines["sync Org"]
    assert "plugin:probe" in lines["probe -"] and "never" in lines["probe -"]
    assert "schedules[1]: no job named 'no_such_job'" in listed.output
    assert "queue (embedded): 0 waiting, 0 running" in listed.output

    paused = tether_cli("jobs", "pause", "acme", "sync")
    assert "acme: sync paused (1 schedule changed)" in paused.output
    assert "paused" in [line for line in tether_cli("jobs", "list", "--tenant", "acme").output.splitlines()
                        if "│ sync " in line][0]
    assert "already resumed" not in tether_cli("jobs", "resume", "acme").output


def test_jobs_run_here_reports_the_outcome(jobs_tenant, tether_cli):
    jobs_tenant("acme")
    SOURCES["acme"].put("0011", Name="Globex")
    ok = tether_cli("jobs", "run", "acme", "sync", "--object", "org", "--here")
    assert ok.exit_code == 0, ok.output
    assert "acme: sync Org: queued" in ok.output and "acme: sync Org: success" in ok.output
    assert "applied 1" in ok.output
    probe = tether_cli("jobs", "run", "acme", "probe", "--here")
    assert "acme: probe: success" in probe.output


@pytest.mark.parametrize("args, message", [
    (("jobs", "run", "acme", "broken", "--here"), "acme: broken failed: INVALID_FIELD: No such column 'Foo__c'"),
    (("jobs", "run", "acme", "sync"), "job 'sync' runs per object: name one with --object"),
    (("jobs", "run", "acme", "sync", "--object", "Contact"), "tenant 'acme' does not sync 'Contact'"),
    (("jobs", "run", "acme", "probe", "--object", "Org"), "job 'probe' does not run per object"),
    (("jobs", "run", "acme", "nightly_magic"), "tenant 'acme' has no job named 'nightly_magic'"),
    (("jobs", "run", "acme", "probe", "--arg", "oops"), "--arg 'oops' is not KEY=VALUE"),
    (("jobs", "pause", "acme", "nothing"), "tenant 'acme' has no schedule for nothing"),
    (("jobs", "list", "--tenant", "nope"), "unknown tenant 'nope'"),
])
def test_job_command_mistakes_say_what_to_do(jobs_tenant, tether_cli, args, message):
    jobs_tenant("acme")
    result = tether_cli(*args)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_status_shows_last_sync_lag_failures_and_queues(jobs_tenant, tether_cli, tether_store):
    jobs_tenant("acme")
    jobs_tenant("beta")
    SOURCES["acme"].put("0011", Name="Globex")
    tether_cli("jobs", "run", "acme", "sync", "--object", "Org", "--here")
    tether_cli("jobs", "run", "acme", "broken", "--here")
    shown = tether_cli("status", "acme")
    assert shown.exit_code == 0, shown.output
    [org] = [line for line in shown.output.splitlines() if "│ Org" in line]
    assert "mem" in org and "success" in org
    assert "broken" in shown.output and "INVALID_FIELD" in shown.output
    assert "inbox: 0 waiting" in shown.output

    report = json.loads(tether_cli("status", "--json").output)
    by_tenant = {r["tenant"]: r for r in report}
    acme = by_tenant["acme"]
    assert acme["objects"][0]["object"] == "Org" and acme["objects"][0]["lag_seconds"] < 600
    assert acme["api_calls_24h"] >= 2
    assert [f["job"] for f in acme["failures_24h"]] == ["broken"]
    assert by_tenant["beta"]["objects"] == [] and by_tenant["beta"]["failures_24h"] == []
    overview = tether_cli("status")
    assert "acme" in overview.output and "beta" in overview.output


def test_metrics_health_and_readiness(jobs_tenant, jobs_runtime, tether_cli):
    jobs_tenant("acme")
    tether_cli("jobs", "run", "acme", "probe", "--here")
    tether_cli("jobs", "run", "acme", "probe", "--no-wait")  # left waiting
    client = create_app(jobs_runtime).test_client()
    assert client.get("/healthz").get_json() == {"status": "alive"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'tether_job_runs_total{job="probe",status="success"}' in text
    assert 'tether_job_queue_depth{engine="embedded",state="todo"} 1.0' in text
    assert "tether_inbox_depth 0.0" in text and "tether_outbox_depth 0.0" in text
    assert "tether_job_start_delay_seconds_bucket" in text and "tether_store_up 1.0" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_tether_serve_runs_web_and_jobs_and_stops_cleanly(tmp_path):
    env = {**os.environ, "TETHER_HOME": str(tmp_path)}
    env.pop("TETHER_DATABASE_URL", None)
    env.pop("TETHER_JOB_ENGINE", None)
    subprocess.run([sys.executable, "-m", "tether", "init"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tether", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _serving(base), timeout=60, interval=0.2)
        assert _get(base + "/readyz") == (200, '{"status":"ready"}\n')
        status, text = _get(base + "/metrics")
        assert status == 200 and "tether_job_runs_total" in text
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert "embedded job engine started" in output


def _serving(base: str) -> bool:
    try:
        return _get(base + "/healthz")[0] == 200
    except OSError:
        time.sleep(0.1)
        return False
