"""A small thread-safe rate limiter: requests spaced evenly, shared by all worker threads."""

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Let callers through at most ``rate`` times a second, evenly spaced (no bursts), across
    threads. ``rate`` None (or 0) means no limit."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        self.interval = 1 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until this caller's turn; return how long it waited, in seconds."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
