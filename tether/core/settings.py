"""Process-wide settings, read from ``TETHER_*`` environment variables.

Everything tenant-specific lives in tenant manifests; this holds only where tether keeps
its data and how the process runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    log_level: str = "INFO"
    webhook_max_body_bytes: int = 1024 * 1024
    job_engine: str = "embedded"
    context_ttl_seconds: float = 2.0  # embedded (APScheduler, one process) | procrastinate (PostgreSQL)
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        home = Path(env.get("TETHER_HOME") or Path.cwd() / ".tether").expanduser()
        url = env.get("TETHER_DATABASE_URL") or f"sqlite:///{home / 'tether.sqlite3'}"
        try:
            max_body = int(env.get("TETHER_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024))
        except ValueError as exc:
            raise ConfigurationError(
                f"TETHER_WEBHOOK_MAX_BODY_BYTES={env['TETHER_WEBHOOK_MAX_BODY_BYTES']!r} is not a whole number",
                hint="set it to a byte count such as 1048576",
            ) from exc
        engine = env.get("TETHER_JOB_ENGINE", "embedded")
        if engine not in ("embedded", "procrastinate"):
            raise ConfigurationError(
                f"TETHER_JOB_ENGINE={engine!r} is not a job engine",
                hint="use 'embedded' (default) or 'procrastinate' (PostgreSQL only)",
            )
        return cls(
            home=home,
            database_url=normalise_database_url(url),
            log_level=env.get("TETHER_LOG_LEVEL", "INFO").upper(),
            webhook_max_body_bytes=max_body,
            job_engine=engine,
            context_ttl_seconds=_float(env, "TETHER_CONTEXT_TTL_SECONDS", 2.0),
            extra={k: v for k, v in env.items() if k.startswith("TETHER_")},
        )


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as exc:
        raise ConfigurationError(f"{name}={env[name]!r} is not a number", hint=f"set it to seconds, e.g. {default}") from exc


def normalise_database_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
