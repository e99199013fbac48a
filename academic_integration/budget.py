"""How long a student's submit may wait for the Analyzer: the inline budget.

The budget is the 95th percentile of this process's last
``ACADEMIC_ANALYZER_INLINE_BUDGET_SAMPLES`` answer times, times ``..._FACTOR``, within
``..._FLOOR_MS`` and ``..._CAP_MS``; the cap before any answer; never more than the client's
total timeout. A background probe's answer time, shared with every process for
``..._MEMORY_SECONDS`` (``sync_state.answer_time_share``, read by the inline gate), counts too,
so an Analyzer that turned slow is not cut off again by processes whose own history is fast.
Answer times are kept per process: recording one is a deque append, never a query; a process
that has just started waits the cap, the safe side.
"""

from __future__ import annotations

import threading
from collections import deque

from django.conf import settings


class AnswerTimes:
    """The last few answer times (ms) of this process, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: deque[int] = deque(maxlen=1)

    def record(self, duration_ms: int) -> None:
        size = max(1, int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_SAMPLES))
        with self._lock:
            if self._times.maxlen != size:
                self._times = deque(self._times, maxlen=size)
            self._times.append(max(0, int(duration_ms)))

    def p95(self) -> int | None:
        """The 95th percentile (nearest rank) of the recorded times; None before any."""
        with self._lock:
            times = sorted(self._times)
        if not times:
            return None
        return times[min(len(times) - 1, -(-95 * len(times) // 100) - 1)]

    def clear(self) -> None:
        with self._lock:
            self._times.clear()


answer_times = AnswerTimes()


def inline_budget_ms(*, shared_ms: int | None = None) -> int:
    """The budget of the next inline send, in ms: the recent p95 (or ``shared_ms``, a probe's
    answer time, if larger) times the factor, within the floor and the cap; the cap when
    nothing has been observed yet. Never more than the client's total timeout."""
    floor = int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_FLOOR_MS)
    cap = max(floor, int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_CAP_MS))
    seen = [t for t in (answer_times.p95(), shared_ms) if t is not None]
    budget = cap
    if seen:
        factor = float(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_FACTOR)
        budget = min(cap, max(floor, round(max(seen) * factor)))
    return min(budget, round(_total_timeout_s() * 1000))


def _total_timeout_s() -> float:
    total = getattr(settings, "ACADEMIC_ANALYZER_TOTAL_TIMEOUT", None)
    if total:
        return float(total)
    return float(settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT or 2.0) + float(
        settings.ACADEMIC_ANALYZER_READ_TIMEOUT or 5.0
    )
