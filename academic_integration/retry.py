"""What a delivery's outcome does to a mark: pure functions shared by every caller.

Inline sync, the resync command and the admin action all decide a mark's next status here, so
"retrying", "rejected" and "given_up" mean the same thing everywhere.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.models import TutorialMark

Status = TutorialMark.Status


@dataclass(frozen=True)
class MarkUpdate:
    """The fields a finished try writes onto the mark it was for."""

    status: str
    reason: str
    last_error: str
    tries: int
    next_try_at: datetime | None


def retry_delay(*, tries: int, retry_after: float | None = None, rng=random) -> timedelta:
    """Exponential backoff with equal jitter, at least Retry-After, at most the configured cap."""
    base = settings.ACADEMIC_ANALYZER_RETRY_BASE_SECONDS
    cap = settings.ACADEMIC_ANALYZER_RETRY_MAX_DELAY_SECONDS
    ceiling = min(cap, base * 2 ** max(tries - 1, 0))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after:
        delay = max(delay, min(retry_after, cap))
    return timedelta(seconds=delay)


def is_past_cap(*, tries: int, due_since: datetime | None, now: datetime) -> bool:
    """True once a mark has failed too often or for too long to keep retrying on its own."""
    if tries >= settings.ACADEMIC_ANALYZER_MAX_TRIES:
        return True
    max_age = timedelta(hours=settings.ACADEMIC_ANALYZER_MAX_AGE_HOURS)
    return due_since is not None and now - due_since >= max_age


def plan_outcome(
    *, tries: int, due_since: datetime | None, error: SyncError | None, now: datetime, rng=random
) -> MarkUpdate:
    """Decide a mark's next state from the result of one delivery try."""
    if error is None:
        return MarkUpdate(Status.DELIVERED, "", "", 0, None)
    text = str(error)[:500]
    if isinstance(error, SyncRejectedError):
        return MarkUpdate(Status.REJECTED, error.reason, text, tries + 1, None)
    if isinstance(error, SyncConfigurationError):
        # Not the mark's fault: it stays due and goes once configuration is fixed.
        return MarkUpdate(Status.PENDING, error.reason, text, tries, None)
    tries += 1
    if is_past_cap(tries=tries, due_since=due_since, now=now):
        return MarkUpdate(Status.GIVEN_UP, error.reason, text, tries, None)
    retry_after = error.retry_after if isinstance(error, SyncTemporaryError) else None
    delay = retry_delay(tries=tries, retry_after=retry_after, rng=rng)
    return MarkUpdate(Status.RETRYING, error.reason, text, tries, now + delay)
