"""What the connector keeps in the process between runs: sessions and described schemas.

A tenant on a one-minute schedule gets a new connector every minute; without these it
would log in and describe its objects every minute, which costs logins (limited per user
and hour) and API calls (limited per org and day) for answers that rarely change.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    """A bounded, thread-safe map that forgets the least recently used entries and, with
    ``max_age_seconds``, entries older than that."""

    def __init__(self, *, max_entries: int = 4096, max_age_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self._entries: collections.OrderedDict[Hashable, tuple[float, T]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            stored_at, value = found
            if self.max_age_seconds is not None and self.clock() - stored_at > self.max_age_seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._entries[key] = (self.clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
