"""Outbound Message receiver under its production server (``tether serve``) on loopback.

The receiver runs as ``tether serve`` runs it with ``TETHER_WEB_WORKERS=N``: N web
processes (waitress, ``--threads`` each) on one ``SO_REUSEPORT`` port. Several client
processes post 10-notification messages (each notification new) and time each ACK; then
the same clients hit a trivial Flask endpoint on the same server, so the ratio shows
what the receiver's own work costs.

    python bench/webhook.py [--messages 6000] [--clients 4] [--workers N] [--threads 8] [--database-url URL]

``--workers`` defaults to the number of CPUs. The clients share the machine with the
server: on a small or busy machine they take CPU from it, which both paths pay alike.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"messages_per_s": 1000.0, "p99_ms": 50.0, "ratio_receiver_to_trivial": 0.25}
SECRET = "bench-webhook-secret-0123456789"
ORG = "00D7F00000107XsUAI"


def message(client: int, index: int, per_message: int = 10) -> bytes:
    notifications = []
    for n in range(per_message):
        serial = f"{client:02d}{index:07d}{n:02d}"
        notifications.append(
            f"<Notification><Id>04l{serial}AAA</Id>"
            f'<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>006{serial}QAQ</sf:Id><sf:AccountId>0017F000007ydJmQAI</sf:AccountId>"
            f"<sf:Amount>{1000 + n}.0</sf:Amount><sf:CloseDate>2027-03-31</sf:CloseDate>"
            f"<sf:Name>Renewal {serial}</sf:Name><sf:StageName>Negotiation/Review</sf:StageName>"
            f"<sf:SystemModstamp>2026-11-20T09:15:02.000Z</sf:SystemModstamp></sObject></Notification>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG}</OrganizationId>'
        "<ActionId>04k7F0000008V3hQAE</ActionId><SessionId xsi:nil=\"true\"/>"
        "<EnterpriseUrl>https://ap5.salesforce.com/services/Soap/c/59.0/00D7F00000107Xs</EnterpriseUrl>"
        "<PartnerUrl>https://ap5.salesforce.com/services/Soap/u/59.0/00D7F00000107Xs</PartnerUrl>"
        + "".join(notifications) + "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def client_worker(args: tuple[str, int, int, bool, multiprocessing.Queue]) -> None:
    import requests

    base, client, count, trivial, results = args
    session = requests.Session()
    url = f"{base}/bench/trivial" if trivial else f"{base}/webhooks/bench/salesforce/outbound-message?token={SECRET}"
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
    latencies = []
    failures = 0
    for index in range(count):
        body = message(client, index)
        started = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=30)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200 or (not trivial and b"<Ack>true</Ack>" not in response.content):
            failures += 1
    results.put((latencies, failures))


def drive(base: str, clients: int, per_client: int, trivial: bool) -> tuple[float, list[float], int]:
    results: multiprocessing.Queue = multiprocessing.Queue()
    offset = 50 if trivial else 0
    processes = [multiprocessing.Process(target=client_worker, args=((base, offset + c, per_client, trivial, results),))
                 for c in range(clients)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    collected = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    latencies = [latency for part, _ in collected for latency in part]
    failures = sum(f for _, f in collected)
    return elapsed, latencies, failures


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_app(runtime):
    """The app ``tether serve`` runs, plus a trivial endpoint to compare with."""
    from tether.webhooks import create_app

    app = create_app(runtime)
    app.add_url_rule("/bench/trivial", "bench_trivial", lambda: "ok", methods=["POST"])
    return app


def wait_until_up(base: str, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def server_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of the server's web processes (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="web processes")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    from tether.core.manifests import validate_tenant_manifest
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.tenants import apply_manifest
    from tether.webhooks.multiprocess import WorkerPool

    home = Path(tempfile.mkdtemp(prefix="tether-bench-webhook-"))
    env = {**os.environ, "TETHER_HOME": str(home), "BENCH_OM_SECRET": SECRET}
    if args.database_url:
        env["TETHER_DATABASE_URL"] = args.database_url
    os.environ["BENCH_OM_SECRET"] = SECRET
    runtime = Runtime(Settings.from_env(env))
    runtime.store.upgrade()
    apply_manifest(runtime.store, runtime.host, validate_tenant_manifest({
        "tenant": {"id": "bench", "name": "Bench"},
        "plugins": [{"name": "salesforce", "config": {
            "instance_url": "https://bench.my.salesforce.com", "organization_id": ORG,
            "webhook_secret": {"$env": "BENCH_OM_SECRET"}}}],
    }, runtime.host, source="bench"))
    # The web processes are spawned: they read the same settings from the environment and
    # import this file (as ``webhook``) for the app with the trivial endpoint beside it.
    os.environ.update({k: v for k, v in env.items() if k.startswith(("TETHER_", "BENCH_"))})
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                             os.environ.get("PYTHONPATH")]))
    port = free_port()
    pool = WorkerPool(host="127.0.0.1", port=port, threads=args.threads, workers=args.workers,
                      app_factory="webhook:bench_app").start()
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base)
    per_client = max(1, args.messages // args.clients)

    drive(base, args.clients, 20, trivial=True)  # warm up both paths and the pool
    cpu_before = server_cpu(pool.pids)
    receiver_s, receiver_lat, receiver_fail = drive(base, args.clients, per_client, trivial=False)
    cpu_receiver = server_cpu(pool.pids) - cpu_before
    cpu_before = server_cpu(pool.pids)
    trivial_s, trivial_lat, _ = drive(base, args.clients, per_client, trivial=True)
    cpu_trivial = server_cpu(pool.pids) - cpu_before
    pool.stop()

    sent = per_client * args.clients
    with runtime.store.tenant_session("bench") as session:
        from sqlalchemy import func, select

        from tether.core.store import InboxMessage

        stored = session.scalar(select(func.count()).select_from(InboxMessage))
    figures = {
        "workers": args.workers,
        "messages_per_s": round(sent / receiver_s, 1),
        "notifications_per_s": round(sent * 10 / receiver_s, 1),
        "p50_ms": round(statistics.median(receiver_lat) * 1000, 2),
        "p99_ms": round(percentile(receiver_lat, 0.99) * 1000, 2),
        # CPU the server processes spent: what a busy, shared machine does not distort.
        "server_cpu_ms_per_message": round(cpu_receiver / sent * 1000, 3),
        "messages_per_cpu_s": round(sent / cpu_receiver, 1) if cpu_receiver else None,
        "trivial_server_cpu_ms_per_request": round(cpu_trivial / sent * 1000, 3),
        "ratio_cpu_trivial_to_receiver": round(cpu_trivial / cpu_receiver, 3) if cpu_receiver else None,
        "trivial_messages_per_s": round(sent / trivial_s, 1),
        "ratio_receiver_to_trivial": round(trivial_s / receiver_s, 3),
        "failed_messages": receiver_fail,
        "notifications_stored": stored,
    }
    print(f"server: tether serve, {args.workers} web process(es) × {args.threads} waitress threads; "
          f"{args.clients} client processes; {sent} messages × 10 notifications; database: {runtime.store.dialect}")
    print(f"receiver: {figures['messages_per_s']} messages/s   target ≥ {TARGETS['messages_per_s']}")
    print(f"ACK latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms   target p99 ≤ {TARGETS['p99_ms']} ms")
    print(f"trivial endpoint: {figures['trivial_messages_per_s']} requests/s; ratio {figures['ratio_receiver_to_trivial']}   "
          f"target ≥ {TARGETS['ratio_receiver_to_trivial']}")
    print(f"server CPU per message: {figures['server_cpu_ms_per_message']} ms "
          f"({figures['messages_per_cpu_s']} messages per CPU second); trivial endpoint "
          f"{figures['trivial_server_cpu_ms_per_request']} ms; CPU ratio {figures['ratio_cpu_trivial_to_receiver']}")
    print(f"failed: {receiver_fail}; notifications stored: {stored} of {sent * 10}")
    print(json.dumps({"bench": "webhook", "figures": figures, "targets": TARGETS}))
    if receiver_fail or stored != sent * 10:
        sys.exit(1)


if __name__ == "__main__":
    main()
