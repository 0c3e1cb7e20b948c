"""API request limits: a rolling 24-hour counter, ``Sforce-Limit-Info`` and ``/limits``."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from .clock import FakeClock
from .errors import SalesforceError

DAY_MS = 86_400_000
DEFAULT_DAILY_API_REQUESTS = 15_000


class ApiLimits:
    """Counts API calls over the last 24 hours of org time and refuses calls past the limit."""

    def __init__(self, clock: FakeClock, daily_api_requests: int = DEFAULT_DAILY_API_REQUESTS) -> None:
        self.clock = clock
        self.daily_api_requests = daily_api_requests
        self.bulk_batches_used = 0
        self.bulk2_query_jobs_used = 0
        self._calls: deque[int] = deque()
        self._extra_used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Calls counted in the rolling 24-hour window (plus any forced usage)."""
        with self._lock:
            self._prune()
            return len(self._calls) + self._extra_used

    @property
    def remaining(self) -> int:
        return max(0, self.daily_api_requests - self.used)

    def _prune(self) -> None:
        horizon = self.clock.now_ms() - DAY_MS
        while self._calls and self._calls[0] <= horizon:
            self._calls.popleft()

    def consume(self) -> None:
        """Count one API call, or raise REQUEST_LIMIT_EXCEEDED when the day's budget is spent."""
        with self._lock:
            self._prune()
            if len(self._calls) + self._extra_used >= self.daily_api_requests:
                raise SalesforceError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", include_fields=False)
            self._calls.append(self.clock.now_ms())

    def exhaust(self) -> None:
        """Spend the rest of the day's budget, as if other clients had."""
        with self._lock:
            self._prune()
            self._extra_used = max(0, self.daily_api_requests - len(self._calls))

    def set_used(self, count: int) -> None:
        """Force the usage figure (e.g. to test near-limit back-off); cleared by :meth:`reset`."""
        with self._lock:
            self._prune()
            self._extra_used = max(0, count - len(self._calls))

    def reset(self) -> None:
        """Forget all counted calls."""
        with self._lock:
            self._calls.clear()
            self._extra_used = 0

    def header(self) -> str:
        """``Sforce-Limit-Info`` value."""
        return f"api-usage={self.used}/{self.daily_api_requests}"

    def body(self) -> dict[str, Any]:
        """``GET /limits`` (the entries integrations read; the real resource lists many more)."""
        def pair(maximum: int, used: int) -> dict[str, int]:
            return {"Max": maximum, "Remaining": max(0, maximum - used)}
        return {
            "ConcurrentAsyncGetReportInstances": pair(200, 0),
            "DailyApiRequests": pair(self.daily_api_requests, self.used),
            "DailyAsyncApexExecutions": pair(250_000, 0),
            "DailyBulkApiBatches": pair(15_000, self.bulk_batches_used),
            "DailyBulkV2QueryFileStorageMB": pair(976_562, 0),
            "DailyBulkV2QueryJobs": pair(10_000, self.bulk2_query_jobs_used),
            "DailyWorkflowEmails": pair(2_000, 0),
            "DataStorageMB": pair(1_024, 0),
            "FileStorageMB": pair(1_024, 0),
            "HourlyODataCallout": pair(10_000, 0),
            "SingleEmail": pair(5_000, 0),
        }
