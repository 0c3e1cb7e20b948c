"""A worker process for the crash and multi-worker tests: the probe plugin plus an engine.

    python worker_main.py embedded|procrastinate DATABASE_URL [CONCURRENCY]

Runs until killed (SIGKILL in the crash tests) or stopped (SIGTERM/SIGINT).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tether.core.plugins import PluginHost  # noqa: E402
from tether.core.runtime import Runtime  # noqa: E402
from tether.core.settings import Settings  # noqa: E402
from tests.core.jobs.support import JobsProbe  # noqa: E402


def main() -> None:
    engine_name, url = sys.argv[1], sys.argv[2]
    concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    logging.basicConfig(level=logging.WARNING, format=f"[worker %(process)d] %(levelname)s %(name)s: %(message)s")
    host = PluginHost.from_entry_points()
    host.register(JobsProbe())
    settings = Settings.from_env({"TETHER_HOME": "/tmp", "TETHER_DATABASE_URL": url, "TETHER_JOB_ENGINE": engine_name})
    runtime = Runtime(settings, host=host)
    if engine_name == "procrastinate":
        from tether.core.jobs.pg import ProcrastinateEngine

        engine = ProcrastinateEngine(runtime, tick_seconds=1, stall_seconds=3, heartbeat_seconds=1)
        print("ready", flush=True)
        engine.run_worker(concurrency=concurrency, keep_succeeded=True)  # the tests count every job
        return
    from tether.core.jobs.embedded import EmbeddedEngine

    engine = EmbeddedEngine(runtime, threads=concurrency, poll_seconds=0.2, stall_seconds=3, heartbeat_seconds=1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine.start(schedule=False)
    print("ready", flush=True)
    stop.wait()
    engine.stop()


if __name__ == "__main__":
    main()
