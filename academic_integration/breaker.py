"""The inline circuit breaker, shared by every web worker through Django's cache.

Several consecutive temporary failures open it for a cooling-off period, during which
submissions skip the call. After it, exactly one caller gets the trial (an atomic
`cache.add`); the others keep skipping until that trial succeeds (closed) or fails (open
again). A rejected token or an address that is not the Analyzer opens it too, and is also
remembered per configuration (see `config_rejection_*`), so inline calls with a configuration
known to be rejected do not go out again until a delivery proves it works.

The state is a few cache keys, so a breaker opened by one process is open for all of them.
Production needs a cache shared by all workers whose `add` and `incr` are atomic: Redis
across hosts; the default file cache shares state between the processes of one host.

Why not pybreaker (tried first): with shared storage, each of its per-process state objects
resets the shared failure counter when it notices a change made elsewhere, and its half-open
state lets every process through at once, so a hanging Analyzer got a herd of requests
every cooling-off period.
"""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncError,
    SyncTemporaryError,
)

_PREFIX = "analyzer-sync:breaker:"
_FAILURES = _PREFIX + "failures"
_OPEN_UNTIL = _PREFIX + "open-until"
_OPENED_AT = _PREFIX + "opened-at"
_TRIAL = _PREFIX + "trial"
_REJECTED_CONFIG = "analyzer-sync:config-rejected:"


def _trial_seconds() -> float:
    """How long one trial may take: a trial holder that died frees it after this."""
    return settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT + settings.ACADEMIC_ANALYZER_READ_TIMEOUT + 1


def breaker_allows() -> bool:
    """True when an inline call may go out now: closed, or this caller won the trial."""
    open_until = cache.get(_OPEN_UNTIL)
    if open_until is None:
        return True
    if time.time() < open_until:
        return False
    return cache.add(_TRIAL, 1, timeout=_trial_seconds())


def breaker_record(error: SyncError | None) -> None:
    """Feed one inline call's result: success closes, a temporary failure counts toward
    opening (a failed trial reopens at once), a configuration problem opens it.

    A rejection the Analyzer answered is a healthy Analyzer; one decided without a request
    (no teacher email) says nothing and only frees the trial.
    """
    if error is None or (error.status_code is not None and not _is_failure(error)):
        breaker_close()
    elif isinstance(error, SyncConfigurationError):
        breaker_open()
    elif isinstance(error, SyncTemporaryError):
        failures = _incr(_FAILURES)
        if failures >= settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX or cache.get(_OPEN_UNTIL):
            breaker_open()
    else:
        cache.delete(_TRIAL)


def _is_failure(error: SyncError) -> bool:
    return isinstance(error, SyncTemporaryError | SyncConfigurationError)


def _incr(key: str) -> int:
    if cache.add(key, 1, timeout=None):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=None)
        return 1


def breaker_open() -> None:
    """Open for the configured cooling-off period (also used by tests and the drill)."""
    now = time.time()
    reset = settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS
    # Kept well past the cooling-off so "opened, cooled, awaiting a trial" is remembered.
    cache.set_many({_OPEN_UNTIL: now + reset, _OPENED_AT: now}, timeout=max(reset * 20, 600))
    cache.delete_many([_TRIAL, _FAILURES])


def breaker_close() -> None:
    """Closed: calls go out again. Cheap when already closed (one read)."""
    if cache.get_many([_OPEN_UNTIL, _FAILURES, _TRIAL]):
        cache.delete_many([_OPEN_UNTIL, _OPENED_AT, _FAILURES, _TRIAL])


def breaker_is_open() -> bool:
    """True while calls are skipped for cooling off."""
    open_until = cache.get(_OPEN_UNTIL)
    return open_until is not None and time.time() < open_until


def breaker_state() -> dict:
    """For the health page: closed / open / half-open, failures, when it opened."""
    values = cache.get_many([_OPEN_UNTIL, _OPENED_AT, _FAILURES])
    open_until = values.get(_OPEN_UNTIL)
    state = "closed"
    if open_until is not None:
        state = "open" if time.time() < open_until else "half-open"
    opened_at = values.get(_OPENED_AT)
    return {
        "state": state,
        "is_open": state == "open",
        "failures": int(values.get(_FAILURES) or 0),
        "opened_at": _as_datetime(opened_at),
    }


def _as_datetime(timestamp):
    if timestamp is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, tz=UTC)


# --- configuration known to be rejected ------------------------------------------------------


def _config_key() -> str:
    """Names the current URL and token without storing either (a hash)."""
    url = settings.ACADEMIC_ANALYZER_URL or ""
    token = settings.ACADEMIC_ANALYZER_TOKEN or ""
    digest = hashlib.sha256(f"{url}\n{token}".encode()).hexdigest()[:24]
    return _REJECTED_CONFIG + digest


def config_rejection_remember(reason: str) -> None:
    """The Analyzer rejected this configuration (token, or not the Analyzer at all)."""
    cache.set(_config_key(), reason, timeout=None)


def config_rejection_reason() -> str | None:
    """Why the current configuration is known to be rejected, or None."""
    return cache.get(_config_key())


def config_rejection_forget() -> None:
    """A call with the current configuration worked (or someone fixed it): forget."""
    cache.delete(_config_key())
