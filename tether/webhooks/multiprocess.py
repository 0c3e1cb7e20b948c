"""``tether serve --workers N``: the web app in N processes on one port (Linux).

One Python process serves a few hundred Outbound Messages a second: parsing and storing
them is CPU work the GIL keeps on one core. With ``--workers N`` each of N processes
runs the same app under waitress on its own socket bound with ``SO_REUSEPORT``, and the
kernel spreads connections across them; no extra dependency and no fork of a threaded
process (workers are spawned fresh). The process that starts them runs the job engine
(embedded: scheduler and job threads; procrastinate: nothing, ``tether worker`` runs
jobs) and restarts a worker that dies.

A stored notification wakes its inbox job through the job queue in the database (the
embedded engine polls it every ``TETHER_JOB_POLL_SECONDS``, default 1 s), since the
engine lives in another process than the request.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ..core.errors import ConfigurationError

if TYPE_CHECKING:
    from ..core.runtime import Runtime

log = logging.getLogger(__name__)

RESTART_PAUSE_SECONDS = 1.0
# Measured with bench/webhook.py: the slowest inbox writes (p99 9 ms -> 5-6 ms) and ACKs.
SWITCH_INTERVAL_SECONDS = 0.0002


def reuseport_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening socket other processes can bind the same address to."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigurationError("--workers needs SO_REUSEPORT, which this platform lacks",
                                 hint="run one process (--workers 1), or several behind a load balancer")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}",
                                 hint="choose another --port, or stop what is using it") from None
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def _load_factory(path: str | None) -> Callable[[Any], Any]:
    if not path:
        from . import create_app

        return create_app
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def run_worker(host: str, port: int, threads: int, app_factory: str | None = None) -> None:
    """One web process: the app under waitress on its own ``SO_REUSEPORT`` socket."""
    from waitress import create_server

    from ..core import metrics
    from ..core.jobs import engine_for
    from ..core.runtime import Runtime

    # A request thread coming back from the database (GIL released) while another thread
    # parses waits for the GIL until that thread's switch interval ends (5 ms by default),
    # and on SQLite it holds the write lock the other web processes queue for meanwhile.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    runtime = Runtime()
    sock = reuseport_socket(host, port)
    metrics.bind_store(runtime.store)
    # Stored notifications wake the inbox job through the queue the job engine reads.
    runtime.inbox_listeners.append(engine_for(runtime)._on_inbox)
    app = _load_factory(app_factory)(runtime)
    server = create_server(app, sockets=[sock], threads=threads, ident="tether")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit)
    try:
        server.run()
    finally:
        server.close()
        writer = app.extensions.get("tether.inbox_group_commit")
        if writer is not None:  # inbox wake-ups still owed (see tether.core.inbox), before the store closes
            writer.flush()
        runtime.close()


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


class WorkerPool:
    """N web processes on one port, restarted when one dies; ``stop()`` ends them all."""

    def __init__(self, *, host: str, port: int, threads: int, workers: int, app_factory: str | None = None) -> None:
        if workers < 1:
            raise ConfigurationError(f"--workers must be 1 or more, not {workers}")
        reuseport_socket(host, port).close()  # fail here, with one clear message, if the port is taken
        self.host, self.port, self.threads, self.size = host, port, threads, workers
        self.app_factory = app_factory
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[Any] = []
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def _spawn(self) -> Any:
        process = self._context.Process(target=run_worker, name="tether-web",
                                        args=(self.host, self.port, self.threads, self.app_factory))
        process.start()
        return process

    def start(self) -> "WorkerPool":
        self._processes = [self._spawn() for _ in range(self.size)]
        self._watcher = threading.Thread(target=self._watch, name="tether-web-watch", daemon=True)
        self._watcher.start()
        log.info("tether web: %d worker processes on %s:%s", self.size, self.host, self.port)
        return self

    def _watch(self) -> None:
        while not self._stopping.wait(RESTART_PAUSE_SECONDS):
            for index, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    log.error("web worker %s exited with %s; starting another", process.pid, process.exitcode)
                    self._processes[index] = self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]


def serve_workers(runtime: "Runtime", *, host: str, port: int, threads: int, workers: int, jobs: bool = True,
                  app_factory: str | None = None) -> None:
    """Run the pool and, here, the job engine; block until SIGINT/SIGTERM."""
    from ..core import metrics
    from ..core.jobs import open_engine, use_engine

    runtime.store.check_current()
    metrics.bind_store(runtime.store)
    pool = WorkerPool(host=host, port=port, threads=threads, workers=workers, app_factory=app_factory)
    engine = None
    if jobs and runtime.settings.job_engine == "embedded":
        engine = open_engine(runtime)
        use_engine(runtime, engine)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    pool.start()
    if engine is not None:
        engine.start()
    log.info("tether serving on http://%s:%s with %d web processes (pid %s); jobs: %s", host, port, workers,
             os.getpid(), "here" if engine is not None else "in `tether worker`")
    try:
        stop.wait()
    finally:
        pool.stop()
        if engine is not None:
            engine.close()
