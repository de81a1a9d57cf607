"""Bounded retries: exponential backoff with jitter, inside the time the invocation has left."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Deadline:
    """A point in monotonic time after which no new attempt may start."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    @classmethod
    def none(cls) -> Deadline:
        return cls(float("inf"))

    def remaining(self) -> float:
        return self.at - self.clock()


@dataclass(slots=True)
class RetryPolicy:
    """How often and how long to retry transient failures.

    Delays follow "equal jitter": half the exponential step plus a random share of the
    other half, so a fleet of functions throttled together spreads out.
    """

    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 5.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def delay(self, retry_number: int) -> float:
        step = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return float(step / 2 + self.rng.uniform(0, step / 2))

    def wait_before(self, retry_number: int, deadline: Deadline, reserve: float = 0.0) -> bool:
        """Sleep before retry ``retry_number`` (1-based); False when no retry fits any more."""
        if retry_number >= self.max_attempts:
            return False
        pause = self.delay(retry_number)
        if deadline.remaining() - reserve < pause:
            return False
        self.sleep(pause)
        return True
