"""The API quota guard: stop a run before it spends too much of the source's daily quota.

Two shares of the daily limit (defaults from tap-salesforce: 25 % per run, 80 % in
total). The guard is checked before each next page is fetched (also by a thread reading ahead):
it stops when another page (estimated from the largest page so far) would cross either
share, so a run ends *before* the line, with status ``throttled``.
"""

from __future__ import annotations

import dataclasses

from ..errors import QuotaExceeded

DEFAULT_PER_RUN = 0.25
DEFAULT_TOTAL = 0.80


@dataclasses.dataclass
class QuotaGuard:
    per_run: float = DEFAULT_PER_RUN
    total: float = DEFAULT_TOTAL
    used_by_run: int = 0
    largest_step: int = 1

    def spent(self, calls: int) -> None:
        self.used_by_run += calls
        self.largest_step = max(self.largest_step, calls)

    def check(self, usage: tuple[int, int] | None, *, connector: str, run_calls: int | None = None) -> None:
        """Raise :class:`QuotaExceeded` if the next step would cross a share; ``run_calls``
        is the run's usage when the caller counts it more recently than :meth:`spent`."""
        if usage is None:
            return
        used, limit = usage
        if limit <= 0:
            return
        next_step = self.largest_step
        by_run = self.used_by_run if run_calls is None else max(run_calls, self.used_by_run)
        if by_run + next_step > self.per_run * limit:
            raise QuotaExceeded(
                f"{connector}: this run used {by_run} API calls; another page would pass "
                f"{self.per_run:.0%} of the daily limit of {limit}",
                code="QUOTA_GUARD_RUN", hint="the next run continues where this one stopped")
        if used + next_step > self.total * limit:
            raise QuotaExceeded(
                f"{connector}: {used} of {limit} daily API calls are used; another page would pass "
                f"{self.total:.0%} of the limit",
                code="QUOTA_GUARD_TOTAL", hint="the next run continues where this one stopped, once the quota allows")
