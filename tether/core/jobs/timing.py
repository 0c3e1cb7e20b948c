"""When a schedule fires: durations, APScheduler triggers, and a stable spread.

Both engines use the same APScheduler 3 triggers, so "every 5m" and "0 2 * * *" mean
the same thing whichever engine runs them. An interval schedule fires at a fixed offset
inside its interval, derived from its key: a thousand tenants on a one-minute schedule
fire spread over the minute, not all at second zero, and each at the same offset after
every restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..errors import JobError

UTC = dt.timezone.utc
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Interval schedules count from here (plus their offset); any fixed instant would do.
_EPOCH = dt.datetime(2020, 1, 1, tzinfo=UTC)


def parse_duration(value: str | int) -> int:
    """``"5m"`` → 300; whole seconds pass through."""
    if isinstance(value, int):
        seconds = value
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise JobError(f"{value!r} is not a duration", hint="write it as 30s, 5m, 2h or 1d")
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise JobError(f"a schedule interval must be positive, got {value!r}")
    return seconds


def format_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stable_fraction(key: str) -> float:
    """A number in [0, 1) that depends only on ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def make_trigger(*, every_seconds: int | None, cron: str | None, spread_key: str,
                 timezone: str = "UTC") -> BaseTrigger:
    """The trigger for a schedule; interval schedules get their stable offset."""
    if cron:
        try:
            return CronTrigger.from_crontab(cron, timezone=_zone(timezone))
        except ValueError as exc:
            raise JobError(f"{cron!r} is not a 5-field cron expression: {exc}",
                           hint='write it as "minute hour day month weekday", e.g. "0 2 * * *"') from exc
    if not every_seconds:
        raise JobError("a schedule needs 'every' or 'cron'")
    offset = dt.timedelta(seconds=round(stable_fraction(spread_key) * every_seconds, 3))
    return IntervalTrigger(seconds=every_seconds, start_date=_EPOCH + offset, timezone=UTC)


def describe(every_seconds: int | None, cron: str | None) -> str:
    return f"cron {cron}" if cron else f"every {format_duration(every_seconds or 0)}"


def next_fire(trigger: BaseTrigger, after: dt.datetime) -> dt.datetime | None:
    """The first fire time strictly after ``after``."""
    candidate = trigger.get_next_fire_time(None, after)
    while candidate is not None and candidate <= after:
        candidate = trigger.get_next_fire_time(candidate, candidate + dt.timedelta(microseconds=1))
    return candidate.astimezone(UTC) if candidate else None


def latest_fire(trigger: BaseTrigger, due: dt.datetime, now: dt.datetime) -> tuple[dt.datetime, int]:
    """Coalesce the fire times from ``due`` up to ``now`` into the latest one.

    Returns that fire time and how many fire times it stands for (after downtime, a
    schedule runs once, not once per missed tick).
    """
    latest, count = due, 1
    while True:
        following = trigger.get_next_fire_time(latest, latest + dt.timedelta(microseconds=1))
        if following is None or following > now:
            return latest.astimezone(UTC), count
        latest, count = following, count + 1
        if isinstance(trigger, IntervalTrigger) and count > 2:  # skip ahead by arithmetic
            step = trigger.interval
            skipped = (now - latest) // step
            latest, count = latest + skipped * step, count + skipped


def default_nightly_cron(spread_key: str, *, first_hour: int = 2, hours: int = 3) -> str:
    """A nightly cron spread over ``hours`` hours from ``first_hour`` by key."""
    minute_of_window = int(stable_fraction(spread_key) * hours * 60)
    return f"{minute_of_window % 60} {first_hour + minute_of_window // 60} * * *"


def _zone(name: str):
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise JobError(f"unknown time zone {name!r} for a cron schedule",
                       hint="set the tenant's settings.timezone to an IANA name such as Europe/Paris") from exc
