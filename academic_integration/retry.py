"""What a delivery's outcome does to a mark: pure functions shared by every caller.

Inline sync, the resync command and the admin action all decide a mark's next status here, so
"retrying", "rejected" and "given_up" mean the same thing everywhere.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings

from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.models import TutorialMark
from academic_integration.reasons import Reason

Status = TutorialMark.Status


class Uniform(Protocol):
    """Where the jitter comes from: the ``random`` module, or a test's stand-in."""

    def uniform(self, a: float, b: float, /) -> float: ...


@dataclass(frozen=True, kw_only=True)
class MarkUpdate:
    """The fields a finished try writes onto the mark it was for.

    ``reached``: the Analyzer stored the value sent (even if the mark is not delivered yet,
    see ``confirming``). ``unsettled_until``: an earlier request that timed out may still be
    applied by the Analyzer until then.
    """

    status: str
    reason: str
    last_error: str
    tries: int
    next_try_at: datetime | None
    reached: bool = False
    failing_since: datetime | None = None
    unsettled_until: datetime | None = None


def retry_delay(
    *, tries: int, retry_after: float | None = None, rng: Uniform = random
) -> timedelta:
    """Exponential backoff with equal jitter, at least Retry-After, at most the configured cap."""
    base = settings.ACADEMIC_ANALYZER_RETRY_BASE_SECONDS
    cap = settings.ACADEMIC_ANALYZER_RETRY_MAX_DELAY_SECONDS
    ceiling = min(cap, base * 2 ** max(tries - 1, 0))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after:
        delay = max(delay, min(retry_after, cap))
    return timedelta(seconds=delay)


def is_past_cap(*, tries: int, failing_since: datetime | None, now: datetime) -> bool:
    """True once a mark has failed too often or for too long to keep retrying on its own."""
    if tries >= settings.ACADEMIC_ANALYZER_MAX_TRIES:
        return True
    max_age = timedelta(hours=settings.ACADEMIC_ANALYZER_MAX_AGE_HOURS)
    return failing_since is not None and now - failing_since >= max_age


def plan_outcome(
    *,
    tries: int,
    error: SyncError | None,
    now: datetime,
    failing_since: datetime | None = None,
    unsettled_until: datetime | None = None,
    inline: bool = False,
    rng: Uniform = random,
) -> MarkUpdate:
    """Decide a mark's next state from the result of one delivery try.

    The age cap counts from the first temporary failure of the current value, so a mark that
    waited while sync was off is not given up on its first failure. A timed-out request may
    still be applied late; until that can no longer happen, a delivery of a newer value is
    re-sent once more afterwards (``confirming``) so the late one cannot leave a stale value.

    ``inline``: the try was the one right after submit. Its temporary failure leaves the mark
    due for the next resync at once and does not count as a try: backoff and the tries cap
    count the resync's own tries, so an outage's marks go with the first run after it.
    """
    late = unsettled_until if unsettled_until and unsettled_until > now else None
    if error is None:
        if late:
            # Stored, but sent once more after ``late``, when a late write can no longer land.
            return MarkUpdate(
                status=Status.RETRYING,
                reason=Reason.CONFIRMING,
                last_error="",
                tries=0,
                next_try_at=late,
                reached=True,
                unsettled_until=late,
            )
        return MarkUpdate(
            status=Status.DELIVERED,
            reason="",
            last_error="",
            tries=0,
            next_try_at=None,
            reached=True,
        )
    text = str(error)[:500]
    if isinstance(error, SyncRejectedError):
        return MarkUpdate(
            status=Status.REJECTED,
            reason=error.reason,
            last_error=text,
            tries=tries + 1,
            next_try_at=None,
            unsettled_until=late,
        )
    if isinstance(error, SyncConfigurationError):
        # Not the mark's fault: it stays due and goes once configuration is fixed.
        return MarkUpdate(
            status=Status.PENDING,
            reason=error.reason,
            last_error=text,
            tries=tries,
            next_try_at=None,
            unsettled_until=late,
        )
    failing_since = failing_since or now
    if error.reason == Reason.TIMEOUT:
        window = timedelta(seconds=settings.ACADEMIC_ANALYZER_LATE_WRITE_SECONDS)
        late = max(late or now, now + window)
    if inline:
        # Due now: a delivery before ``late`` is confirmed afterwards, as for any value.
        return MarkUpdate(
            status=Status.RETRYING,
            reason=error.reason,
            last_error=text,
            tries=tries,
            next_try_at=now,
            failing_since=failing_since,
            unsettled_until=late,
        )
    tries += 1
    if is_past_cap(tries=tries, failing_since=failing_since, now=now):
        return MarkUpdate(
            status=Status.GIVEN_UP,
            reason=error.reason,
            last_error=text,
            tries=tries,
            next_try_at=None,
            unsettled_until=late,
        )
    retry_after = error.retry_after if isinstance(error, SyncTemporaryError) else None
    next_try = now + retry_delay(tries=tries, retry_after=retry_after, rng=rng)
    if late:
        next_try = max(next_try, late)
    return MarkUpdate(
        status=Status.RETRYING,
        reason=error.reason,
        last_error=text,
        tries=tries,
        next_try_at=next_try,
        failing_since=failing_since,
        unsettled_until=late,
    )
