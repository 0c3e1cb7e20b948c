"""Exponential backoff with full jitter, for errors worth retrying."""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Callable


@dataclasses.dataclass
class Backoff:
    """``delay(n)`` for the n-th consecutive failure: uniform in [0, min(cap, base·2ⁿ)].

    Full jitter spreads retries of many workers hitting the same lock or outage, so they
    do not come back in step (the AWS architecture blog's "Exponential Backoff And Jitter").
    """

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 5
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = dataclasses.field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** attempt)))

    def wait(self, attempt: int) -> float:
        seconds = self.delay(attempt)
        self.sleep(seconds)
        return seconds
