"""The job engines' settings, from ``TETHER_JOB_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os

from ..errors import ConfigurationError
from ..settings import Settings


@dataclasses.dataclass(frozen=True)
class EngineOptions:
    threads: int = 4              # TETHER_JOB_THREADS: embedded worker threads
    poll_seconds: float = 1.0     # TETHER_JOB_POLL_SECONDS: embedded, for jobs queued by other processes
    tick_seconds: int = 5         # TETHER_JOB_TICK_SECONDS: procrastinate schedule tick
    heartbeat_seconds: float = 5.0  # TETHER_JOB_HEARTBEAT_SECONDS
    stall_seconds: float = 30.0   # TETHER_JOB_STALL_SECONDS: a silent worker's jobs are retried after this
    max_attempts: int = 5         # TETHER_JOB_MAX_ATTEMPTS


_NAMES = {"threads": "TETHER_JOB_THREADS", "poll_seconds": "TETHER_JOB_POLL_SECONDS",
          "tick_seconds": "TETHER_JOB_TICK_SECONDS", "heartbeat_seconds": "TETHER_JOB_HEARTBEAT_SECONDS",
          "stall_seconds": "TETHER_JOB_STALL_SECONDS", "max_attempts": "TETHER_JOB_MAX_ATTEMPTS"}


def engine_options(settings: Settings | None = None) -> EngineOptions:
    env = dict(settings.extra) if settings is not None else {k: v for k, v in os.environ.items() if k.startswith("TETHER_")}
    values = {}
    for field in dataclasses.fields(EngineOptions):
        name = _NAMES[field.name]
        if name not in env:
            continue
        kind = int if field.type in ("int", int) else float
        try:
            value = kind(env[name])
        except ValueError:
            raise ConfigurationError(f"{name}={env[name]!r} is not a {'whole ' if kind is int else ''}number",
                                     hint=f"set it like {name}={field.default}") from None
        if value <= 0:
            raise ConfigurationError(f"{name} must be positive, got {env[name]!r}")
        values[field.name] = value
    return EngineOptions(**values)
