"""The inline circuit breaker, shared by every web worker through Django's cache.

pybreaker does the state machine; this module only gives it a storage backed by Django's
cache, so a breaker opened by one worker process is seen open by the others. Production needs
a cache shared by all workers (the default file cache on one host, Redis across hosts).
"""

import threading
from datetime import datetime

import pybreaker
from django.conf import settings
from django.core.cache import cache

KEY_PREFIX = "analyzer-sync:breaker:"
_local = threading.local()


class DjangoCacheBreakerStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker storage in Django's default cache; keys never expire on their own."""

    def __init__(self, name: str = "analyzer") -> None:
        super().__init__(name)
        self._prefix = f"{KEY_PREFIX}{name}:"

    def _get(self, key, default=None):
        return cache.get(self._prefix + key, default)

    def _set(self, key, value) -> None:
        cache.set(self._prefix + key, value, timeout=None)

    def _incr(self, key) -> None:
        try:
            cache.incr(self._prefix + key)
        except ValueError:
            cache.set(self._prefix + key, 1, timeout=None)

    @property
    def state(self) -> str:
        return self._get("state", pybreaker.STATE_CLOSED)

    @state.setter
    def state(self, state: str) -> None:
        self._set("state", state)

    def increment_counter(self) -> None:
        self._incr("counter")

    def reset_counter(self) -> None:
        self._set("counter", 0)

    def increment_success_counter(self) -> None:
        self._incr("success_counter")

    def reset_success_counter(self) -> None:
        self._set("success_counter", 0)

    @property
    def counter(self) -> int:
        return int(self._get("counter", 0))

    @property
    def success_counter(self) -> int:
        return int(self._get("success_counter", 0))

    @property
    def opened_at(self) -> datetime | None:
        return self._get("opened_at")

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._set("opened_at", value)


def get_breaker() -> pybreaker.CircuitBreaker:
    """This thread's breaker. One per thread because pybreaker holds a lock across each call;
    the state itself lives in the shared cache, so all threads and processes agree on it."""
    from academic_integration.exceptions import SyncRejectedError

    fail_max = settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX
    reset_timeout = settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS
    breaker = getattr(_local, "breaker", None)
    if breaker is None or (breaker.fail_max, breaker.reset_timeout) != (fail_max, reset_timeout):
        breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            # The Analyzer answering "no" is a healthy Analyzer.
            exclude=[SyncRejectedError],
            state_storage=DjangoCacheBreakerStorage(),
            throw_new_error_on_trip=False,
        )
        _local.breaker = breaker
    return breaker


def breaker_is_open() -> bool:
    """True while calls would be skipped (open and still cooling off)."""
    breaker = get_breaker()
    if breaker.current_state != pybreaker.STATE_OPEN:
        return False
    opened_at = breaker._state_storage.opened_at
    if opened_at is None:
        return False
    from django.utils import timezone

    return (timezone.now() - opened_at).total_seconds() < breaker.reset_timeout


def breaker_state() -> dict:
    """State for the health page: open or not, consecutive failures, when it opened."""
    breaker = get_breaker()
    return {
        "state": breaker.current_state,
        "is_open": breaker_is_open(),
        "failures": breaker.fail_counter,
        "opened_at": breaker._state_storage.opened_at,
    }
