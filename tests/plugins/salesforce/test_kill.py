"""A sync process killed with SIGKILL mid-run loses nothing and re-reads at most one page or batch."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tether.core.store.models import JobRun, Opportunity
from tether.core.sync.engine import sync_object
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN

from .fake_org_setup import fake_org_server, fast_options, sf_config  # noqa: F401

CHILD = Path(__file__).with_name("sync_child.py")
TOTAL = 1500
PAGE = 200


@pytest.fixture
def server_tenant(fake_org_server, make_tenant, monkeypatch):
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)
    org = fake_org_server.org
    account = org.insert("Account", {"Name": "Kill Nine Corp"})
    for index in range(TOTAL):
        org.insert("Opportunity", {"Name": f"Deal {index}", "AccountId": account, "StageName": "Prospecting",
                                   "CloseDate": "2025-01-01"})
    org.clock.advance(minutes=10)  # the data has settled: cursors inside the run are exact positions

    def make(**config):
        url = fake_org_server.instance_url
        return make_tenant("acme", plugins={"salesforce": sf_config(
            url, login_url=url, ca_bundle=fake_org_server.ca_bundle_path, **config)})
    return make


def _count(tenant) -> int:
    with tenant.session() as session:
        return session.scalar(select(func.count()).select_from(Opportunity))


def _run_and_kill(tenant, pages_before_kill: int) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, str(CHILD), tenant.store.url, tenant.id, "Opportunity", str(PAGE)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = 0
    try:
        for line in child.stdout:
            if line.startswith("page") and "read=0 " not in line:
                seen += 1
                if seen >= pages_before_kill:
                    os.kill(child.pid, signal.SIGKILL)
                    break
            elif line.startswith("done"):
                pytest.fail(f"the sync finished before it could be killed: {line}")
    finally:
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()


@pytest.mark.parametrize("seed", [7, 11])
def test_killed_rest_sync_resumes_within_one_page(fake_org_server, server_tenant, seed):
    tenant = server_tenant()
    # Each queryMore takes a moment, so the kill lands while the child is mid-run.
    fake_org_server.org.faults.slow(0.05, path=r"/query/[^/]+$")
    _run_and_kill(tenant, random.Random(seed).randint(1, 5))
    applied_before = _count(tenant)
    assert 0 < applied_before < TOTAL
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=PAGE))
    assert result.status == "success"
    assert result.records_read <= TOTAL - applied_before + PAGE
    assert _count(tenant) == TOTAL
    with tenant.session() as session:
        killed = session.scalar(select(JobRun).where(JobRun.object_name == "Opportunity").order_by(JobRun.id))
    assert killed.status == "failed" and killed.error.startswith("interrupted")
    assert killed.records_applied == applied_before  # its counters moved with each committed page


def test_killed_bulk_sync_resumes_the_same_job_within_one_batch(fake_org_server, server_tenant):
    tenant = server_tenant(bulk_threshold=100, pk_chunk_size=400)
    fake_org_server.org.faults.slow(0.05, path=r"/result/[^/]+$")
    _run_and_kill(tenant, 3)
    applied_before = _count(tenant)
    jobs = len(fake_org_server.org.bulk1.jobs)
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=PAGE))
    assert result.status == "success"
    assert len(fake_org_server.org.bulk1.jobs) == jobs  # the same job, continued
    assert result.records_read <= TOTAL - applied_before + 400
    assert _count(tenant) == TOTAL
