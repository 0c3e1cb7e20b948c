"""``tether serve`` and ``tether worker``: the processes that run tether.

``serve`` is one process: the Flask app (API, webhooks, ``/healthz``, ``/readyz``,
``/metrics``) under waitress, plus, with the embedded engine, the scheduler and the
worker threads. With the PostgreSQL engine it only serves: webhooks enqueue, and
``tether worker`` processes (any number, anywhere) run the jobs.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..errors import ConfigurationError
from . import use_engine
from .config import engine_options

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)


class Server:
    """The web app under waitress with the job engine beside it; ``run()`` blocks."""

    def __init__(self, runtime: "Runtime", *, host: str = "127.0.0.1", port: int = 8000, threads: int = 8,
                 jobs: bool = True) -> None:
        from waitress import create_server

        from tether.webhooks import create_app

        self.runtime = runtime
        runtime.store.check_current()
        self.engine: Any = None
        if runtime.settings.job_engine == "embedded":
            if jobs:
                from .embedded import EmbeddedEngine

                options = engine_options(runtime.settings)
                self.engine = EmbeddedEngine(runtime, threads=options.threads, poll_seconds=options.poll_seconds,
                                             heartbeat_seconds=options.heartbeat_seconds,
                                             stall_seconds=options.stall_seconds, max_attempts=options.max_attempts)
        else:
            from .pg import ProcrastinateEngine

            self.engine = ProcrastinateEngine(runtime)
        if self.engine is not None:
            use_engine(runtime, self.engine)
        metrics.bind_store(runtime.store)
        self.app = create_app(runtime)
        self.server = create_server(self.app, host=host, port=port, threads=threads, ident="tether")
        self._stopped = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.effective_host, self.server.effective_port

    def run(self) -> None:
        engine = self.engine
        if engine is not None and hasattr(engine, "start"):
            engine.start()
        elif engine is not None:
            # Webhooks only enqueue; the workers also drain the inbox when they start.
            listeners = self.runtime.inbox_listeners
            listeners.append(engine._on_inbox)
        host, port = self.address
        log.info("tether serving on http://%s:%s (job engine: %s%s)", host, port, self.runtime.settings.job_engine,
                 "" if engine is not None and hasattr(engine, "start") else ", jobs run in `tether worker`")
        try:
            self.server.run()
        finally:
            self.close()

    def close(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            self.server.close()
        finally:
            if self.engine is not None:
                self.engine.close()


def serve(runtime: "Runtime", *, host: str, port: int, threads: int, jobs: bool = True,
          workers: int | None = None) -> None:
    # Several web processes on one port (TETHER_WEB_WORKERS, Linux): see tether.webhooks.multiprocess.
    workers = workers if workers is not None else int(os.environ.get("TETHER_WEB_WORKERS") or 1)
    if workers > 1:
        from tether.webhooks.multiprocess import serve_workers

        serve_workers(runtime, host=host, port=port, threads=threads, workers=workers, jobs=jobs)
        return
    server = Server(runtime, host=host, port=port, threads=threads, jobs=jobs)
    _stop_on_signals()
    server.run()


def work(runtime: "Runtime", *, concurrency: int, metrics_port: int | None = None) -> None:
    """Run jobs in this process until stopped.

    With procrastinate: a worker (any number, anywhere). With the embedded engine: worker
    threads claiming from the same ``job_queue`` as ``tether serve``, for more CPU on the
    same database; the scheduler stays in ``tether serve`` (APScheduler's job store has
    exactly one owner).
    """
    runtime.store.check_current()
    metrics.bind_store(runtime.store)
    if metrics_port:
        metrics.start_http_server(metrics_port)
    if runtime.settings.job_engine == "procrastinate":
        from .pg import ProcrastinateEngine

        options = engine_options(runtime.settings)
        engine = ProcrastinateEngine(runtime, tick_seconds=options.tick_seconds, stall_seconds=options.stall_seconds,
                                     heartbeat_seconds=options.heartbeat_seconds, max_attempts=options.max_attempts)
        use_engine(runtime, engine)
        engine.enqueue_inbox_drains()
        engine.run_worker(concurrency=concurrency)  # procrastinate stops gracefully on SIGINT/SIGTERM
        return
    from .embedded import EmbeddedEngine

    options = engine_options(runtime.settings)
    engine = EmbeddedEngine(runtime, threads=concurrency, poll_seconds=options.poll_seconds,
                            heartbeat_seconds=options.heartbeat_seconds, stall_seconds=options.stall_seconds,
                            max_attempts=options.max_attempts)
    use_engine(runtime, engine)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    engine.start(schedule=False)
    log.info("embedded job workers running (%d threads; schedules fire in `tether serve`); stop with Ctrl-C",
             concurrency)
    try:
        stop.wait()
    finally:
        engine.stop()


def _stop_on_signals() -> None:
    def _exit(signum, frame):
        raise SystemExit(0)

    try:
        signal.signal(signal.SIGTERM, _exit)
    except ValueError as exc:  # not the main thread
        raise ConfigurationError("tether serve must run in the main thread") from exc
