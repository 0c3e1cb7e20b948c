"""Outbound Message receiver under its production server (``tether serve``) on loopback.

The receiver runs as ``tether serve`` runs it with ``TETHER_WEB_WORKERS=N``: N web
processes (waitress, ``--threads`` each) on one ``SO_REUSEPORT`` port. Several client
processes post 10-notification messages (each notification new) and time each ACK; then
the same clients hit a trivial Flask endpoint on the same server, so the ratio shows
what the receiver's own work costs.

    python bench/webhook.py [--messages 6000] [--clients 4] [--rounds 3] [--workers N] [--threads 8] [--database-url URL]

``--workers`` defaults to the number of CPUs. The clients share the machine with the
server, so they are lean: one keep-alive raw socket each, to a web process of its own in
turn (see ``connect_to``), and every request built before the clock starts (about 0.05 ms CPU per request; ``requests`` took 0.8-0.9 ms). Each ACK
must be status 200 with exactly the documented ACK body. Wall figures depend on what
else the machine runs; the CPU seconds of the server processes and of the clients are
printed beside them (the database server's own CPU, on PostgreSQL, is not counted).
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
CLIENT_IDS = 12  # message ids carry the client number in two digits
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


RECEIVER_PATH = f"/webhooks/bench/salesforce/outbound-message?token={SECRET}"
TRIVIAL_PATH = "/bench/trivial"


def request_bytes(port: int, path: str, body: bytes) -> bytes:
    """One complete HTTP/1.1 request, built before the clock starts."""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class Connection:
    """A keep-alive connection on a raw socket: the client's own cost stays a small
    share of a 2-CPU box, where it competes with the server it measures."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def exchange(self, request: bytes) -> tuple[bytes, bytes]:
        """Send one request; return (status line, body) of its response."""
        self.sock.sendall(request)
        data = self.pending
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        head = data[:end]
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ConnectionError("a response without Content-Length")
        start = end + 4
        while len(data) < start + length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
        self.pending = data[start + length:]
        return head.split(b"\r\n", 1)[0], data[start:start + length]

    def close(self) -> None:
        self.sock.close()


def connect_to(port: int, worker_pid: int, attempts: int = 200) -> Connection:
    """A keep-alive connection served by web process ``worker_pid``. The kernel hands each
    new connection to one of the processes listening with ``SO_REUSEPORT`` by a hash of
    its addresses, for good: left to chance, 4 clients on 2 processes land 3:1 or 4:0 more
    often than 2:2, and the figures come out bimodal. So connect until it is the one."""
    probe = f"GET /bench/worker HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for _ in range(attempts):
        connection = Connection(port)
        _, body = connection.exchange(probe)
        if int(body) == worker_pid:
            return connection
        connection.close()
    raise SystemExit(f"no connection reached web process {worker_pid} in {attempts} attempts")


def client_worker(port: int, client: int, count: int, worker_pid: int, trivial: bool, ready, results) -> None:
    from tether.plugins.salesforce.outbound_messages import ACK_BODY

    expected = b"ok" if trivial else ACK_BODY.encode()
    path = TRIVIAL_PATH if trivial else RECEIVER_PATH
    requests = [request_bytes(port, path, message(client, index)) for index in range(count)]
    connection = connect_to(port, worker_pid)
    latencies = []
    failures = 0
    ready.wait()
    cpu = os.times()
    for request in requests:
        started = time.perf_counter()
        status, body = connection.exchange(request)
        latencies.append(time.perf_counter() - started)
        # The real ACK, not just a 200: a Fault or an error page is a failure.
        if not status.startswith(b"HTTP/1.1 200 ") or body != expected:
            failures += 1
    after = os.times()
    connection.close()
    results.put((latencies, failures, (after.user - cpu.user) + (after.system - cpu.system)))


def drive(port: int, clients: int, per_client: int, trivial: bool, pids: list[int], offset: int = 0
          ) -> tuple[float, list[float], int, float]:
    """(elapsed s, latencies, failures, client CPU s); the clock runs from the moment all
    clients have their requests built and their connections open, spread evenly over
    the web processes ``pids``."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    ready = context.Barrier(clients + 1)
    processes = [context.Process(target=client_worker, args=(port, offset + c, per_client, pids[c % len(pids)],
                                                                trivial, ready, results))
                 for c in range(clients)]
    for process in processes:
        process.start()
    ready.wait()
    started = time.perf_counter()
    collected = [results.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    latencies = [latency for part, _, _ in collected for latency in part]
    failures = sum(f for _, f, _ in collected)
    client_cpu = sum(c for _, _, c in collected)
    return elapsed, latencies, failures, client_cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_app(runtime):
    """The app ``tether serve`` runs, plus a trivial endpoint to compare with."""
    from tether.webhooks import create_app

    app = create_app(runtime)
    app.add_url_rule("/bench/trivial", "bench_trivial", lambda: "ok", methods=["POST"])
    app.add_url_rule("/bench/worker", "bench_worker", lambda: str(os.getpid()))
    return app


def wait_until_up(port: int, pids: list[int], timeout: float = 60.0) -> None:
    """Until every web process answers: a connection made while one is still starting
    would stay with the others for the whole run (SO_REUSEPORT only spreads connections
    over the sockets listening when they are made)."""
    import http.client

    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while time.monotonic() < deadline:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/bench/worker")
            response = connection.getresponse()
            if response.status == 200:
                seen.add(int(response.read()))
                if seen >= set(pids):
                    return
                continue
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    raise SystemExit(f"the server did not start: {len(seen)} of {len(pids)} web processes answered")


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
    parser.add_argument("--rounds", type=int, default=3, help="receiver and trivial runs, alternating")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="web processes")
    parser.add_argument("--database-url", default=None,
                        help="default: a fresh SQLite file; a PostgreSQL server URL gets a database of its own")
    args = parser.parse_args()

    from tether.core.manifests import validate_tenant_manifest
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.tenants import apply_manifest
    from tether.webhooks.multiprocess import WorkerPool

    home = Path(tempfile.mkdtemp(prefix="tether-bench-webhook-"))
    env = {**os.environ, "TETHER_HOME": str(home), "BENCH_OM_SECRET": SECRET}
    drop_database = None
    if args.database_url:
        if args.database_url.startswith("postgres"):  # a database of its own: every notification new
            from tether.testing.databases import scratch_postgres_database

            env["TETHER_DATABASE_URL"], drop_database = scratch_postgres_database(args.database_url,
                                                                                  "tether_bench_webhook")
        else:
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
    wait_until_up(port, pool.pids)
    per_client = max(1, args.messages // args.clients)
    if args.clients > CLIENT_IDS or args.rounds * 2 * args.clients > 100:
        raise SystemExit(f"at most {CLIENT_IDS} clients and 100 client runs (clients × rounds × 2)")

    drive(port, args.clients, 20, trivial=True, pids=pool.pids, offset=99 - args.clients)  # warm up
    # Receiver and trivial runs alternate, so a machine that speeds up or slows down
    # between them (a shared one does, by a third within minutes) weighs on both alike;
    # each pair gives a ratio and the figures are medians over the rounds.
    rounds = []
    for number in range(args.rounds):
        measured = {}
        for trivial in (False, True):
            cpu_before = server_cpu(pool.pids)
            elapsed, latencies, failed, client_cpu = drive(
                port, args.clients, per_client, trivial=trivial, pids=pool.pids,
                offset=(2 * number + trivial) * args.clients)
            measured[trivial] = {"seconds": elapsed, "latencies": latencies, "failed": failed,
                                 "client_cpu": client_cpu, "server_cpu": server_cpu(pool.pids) - cpu_before}
        rounds.append(measured)
    pool.stop()

    sent = per_client * args.clients
    with runtime.store.tenant_session("bench") as session:
        from sqlalchemy import func, select

        from tether.core.store import InboxMessage

        stored = session.scalar(select(func.count()).select_from(InboxMessage))
    runtime.close()
    if drop_database is not None:
        drop_database()
    receiver = [r[False] for r in rounds]
    trivial_runs = [r[True] for r in rounds]
    receiver_lat = [latency for run in receiver for latency in run["latencies"]]
    trivial_lat = [latency for run in trivial_runs for latency in run["latencies"]]
    receiver_fail = sum(run["failed"] for run in receiver)
    trivial_fail = sum(run["failed"] for run in trivial_runs)
    cpu_receiver = statistics.median(run["server_cpu"] for run in receiver)
    cpu_trivial = statistics.median(run["server_cpu"] for run in trivial_runs)
    receiver_s = statistics.median(run["seconds"] for run in receiver)
    trivial_s = statistics.median(run["seconds"] for run in trivial_runs)
    figures = {
        "workers": args.workers,
        "rounds": args.rounds,
        "messages_per_s": round(sent / receiver_s, 1),
        "notifications_per_s": round(sent * 10 / receiver_s, 1),
        "p50_ms": round(statistics.median(receiver_lat) * 1000, 2),
        "p99_ms": round(percentile(receiver_lat, 0.99) * 1000, 2),
        # CPU the server processes spent: what a busy, shared machine does not distort.
        "server_cpu_ms_per_message": round(cpu_receiver / sent * 1000, 3),
        "messages_per_cpu_s": round(sent / cpu_receiver, 1) if cpu_receiver else None,
        "trivial_server_cpu_ms_per_request": round(cpu_trivial / sent * 1000, 3),
        "ratio_cpu_trivial_to_receiver": round(statistics.median(
            t["server_cpu"] / r["server_cpu"] for r, t in zip(receiver, trivial_runs) if r["server_cpu"]), 3),
        "trivial_messages_per_s": round(sent / trivial_s, 1),
        "ratio_receiver_to_trivial": round(statistics.median(
            t["seconds"] / r["seconds"] for r, t in zip(receiver, trivial_runs)), 3),
        "trivial_p99_ms": round(percentile(trivial_lat, 0.99) * 1000, 2),
        "receiver_wall_seconds": round(receiver_s, 3),
        "receiver_server_cpu_seconds": round(cpu_receiver, 3),
        "receiver_client_cpu_seconds": round(statistics.median(run["client_cpu"] for run in receiver), 3),
        "trivial_wall_seconds": round(trivial_s, 3),
        "trivial_server_cpu_seconds": round(cpu_trivial, 3),
        "trivial_client_cpu_seconds": round(statistics.median(run["client_cpu"] for run in trivial_runs), 3),
        "failed_messages": receiver_fail,
        "failed_trivial_requests": trivial_fail,
        "notifications_stored": stored,
    }
    by_round = ", ".join(f"{t['seconds'] / r['seconds']:.3f}" for r, t in zip(receiver, trivial_runs))
    print(f"server: tether serve, {args.workers} web process(es) × {args.threads} waitress threads; "
          f"{args.clients} client processes; {args.rounds} rounds of {sent} messages × 10 notifications, each "
          f"followed by as many trivial requests; medians over the rounds; database: {runtime.store.dialect}")
    print(f"receiver: {figures['messages_per_s']} messages/s   target ≥ {TARGETS['messages_per_s']}")
    print(f"ACK latency p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms   target p99 ≤ {TARGETS['p99_ms']} ms")
    print(f"trivial endpoint: {figures['trivial_messages_per_s']} requests/s; ratio {figures['ratio_receiver_to_trivial']}   "
          f"target ≥ {TARGETS['ratio_receiver_to_trivial']} (by round: {by_round})")
    print(f"server CPU per message: {figures['server_cpu_ms_per_message']} ms "
          f"({figures['messages_per_cpu_s']} messages per CPU second); trivial endpoint "
          f"{figures['trivial_server_cpu_ms_per_request']} ms; CPU ratio {figures['ratio_cpu_trivial_to_receiver']}")
    print(f"CPU seconds (medians), receiver run ({figures['receiver_wall_seconds']} s wall): server "
          f"{figures['receiver_server_cpu_seconds']}, clients {figures['receiver_client_cpu_seconds']}; trivial run "
          f"({figures['trivial_wall_seconds']} s wall): server {figures['trivial_server_cpu_seconds']}, clients "
          f"{figures['trivial_client_cpu_seconds']}")
    print(f"failed: {receiver_fail} (trivial: {trivial_fail}); notifications stored: {stored} of "
          f"{sent * 10 * args.rounds}")
    print(json.dumps({"bench": "webhook", "figures": figures, "targets": TARGETS}))
    if receiver_fail or trivial_fail or stored != sent * 10 * args.rounds:
        sys.exit(1)


if __name__ == "__main__":
    main()
