"""The results of the delivery flow, one per stage, and the policy between them: a send gives
a ``SendTry`` per mark; ``plan_outcome`` turns it into a ``MarkUpdate`` (so "retrying",
"rejected" and "given_up" mean the same for every caller); the write-back gives a
``DeliveryOutcome`` per mark (``WriteBack`` for a batch). A delivery that sent nothing gives
a ``DeliveryOutcome`` too, whose status may be a ``NotSent``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Protocol

from django.conf import settings

from academic_integration.exceptions import (
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.models import TutorialMark

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
    reason: str = ""
    last_error: str = ""
    tries: int = 0
    next_try_at: datetime | None = None
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
                next_try_at=late,
                reached=True,
                unsettled_until=late,
            )
        return MarkUpdate(status=Status.DELIVERED, reached=True)
    failed = partial(MarkUpdate, reason=error.reason, last_error=str(error)[:500])
    if isinstance(error, SyncRejectedError):
        return failed(status=Status.REJECTED, tries=tries + 1, unsettled_until=late)
    if isinstance(error, SyncConfigurationError):
        # Not the mark's fault: it stays due and goes once configuration is fixed.
        return failed(status=Status.PENDING, tries=tries, unsettled_until=late)
    failing_since = failing_since or now
    if error.reason == Reason.TIMEOUT:
        window = timedelta(seconds=settings.ACADEMIC_ANALYZER_LATE_WRITE_SECONDS)
        late = max(late or now, now + window)
    if inline:
        # Due now: a delivery before ``late`` is confirmed afterwards, as for any value.
        next_try = now
    else:
        tries += 1
        if is_past_cap(tries=tries, failing_since=failing_since, now=now):
            return failed(status=Status.GIVEN_UP, tries=tries, unsettled_until=late)
        retry_after = error.retry_after if isinstance(error, SyncTemporaryError) else None
        next_try = now + retry_delay(tries=tries, retry_after=retry_after, rng=rng)
        if late:
            next_try = max(next_try, late)
    return failed(
        status=Status.RETRYING,
        tries=tries,
        next_try_at=next_try,
        failing_since=failing_since,
        unsettled_until=late,
    )


class NotSent(StrEnum):
    """The statuses of an outcome that is not a mark status: nothing was sent for the mark.

    Never stored; the mark keeps its own status. Members are strings (``NotSent.BUSY ==
    "busy"``), as they appear in outcomes, resync summaries and logs.
    """

    BUSY = "busy"  # another process holds the mark's claim (reason claimed_elsewhere)
    SKIPPED = "skipped"  # a resync left it due: stopped, or past its lease, before sending
    WOULD_SEND = "would_send"  # a dry run would send it now


@dataclass
class SendTry:
    """One try of a mark's current value: what was sent and what came of it."""

    mark: TutorialMark
    version: int
    value: Decimal
    email: str = ""
    source: str = ""
    error: SyncError | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    requested: bool = False  # the POST went out (whatever came of it)
    bulk_items: int = 0  # the POST was an add-tutN-mark request of this many marks (0: its own)

    @classmethod
    def failed(cls, *, mark: TutorialMark, error: SyncError) -> SendTry:
        """A try of ``mark`` that ended with ``error`` before its own request went out."""
        return cls(
            mark=mark,
            version=mark.version,
            value=mark.value,
            error=error,
            http_status=error.status_code,
            duration_ms=error.duration_ms,
        )


@dataclass(frozen=True)
class DeliveryOutcome:
    """What the delivery flow did with one mark: inline, admin or resync alike.

    ``status`` is the mark's status afterwards, or a ``NotSent`` member; ``sent`` is False
    when no request went out. ``reached``: the Analyzer stored the value sent;
    ``superseded``: it did, but a retake's newer value is due now.
    """

    mark_id: int
    status: str
    reason: str = ""
    sent: bool = False
    reached: bool = False
    version: int | None = None
    value: Decimal | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    bulk_items: int = 0  # sent in an add-tutN-mark request of this many marks (0: its own)
    student: str = ""
    course_id: str = ""
    tutorial_number: int = 0
    superseded: bool = False
    next_try_at: datetime | None = None

    @classmethod
    def of(cls, mark: TutorialMark, *, status: str, reason: str = "") -> DeliveryOutcome:
        """The outcome for ``mark`` when no try was written back (skipped, would send)."""
        return cls(
            mark_id=mark.pk,
            status=status,
            reason=reason,
            version=mark.version,
            value=mark.value,
            student=mark.student.username,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
        )

    @classmethod
    def from_try(
        cls, sent: SendTry, update: MarkUpdate, *, superseded: bool = False
    ) -> DeliveryOutcome:
        """The outcome of a try written back, with ``update`` its planned effect on the mark."""
        mark = sent.mark
        return cls(
            mark_id=mark.pk,
            status=update.status,
            reason=update.reason,
            sent=sent.requested,
            reached=update.reached,
            version=sent.version,
            value=sent.value,
            http_status=sent.http_status,
            duration_ms=sent.duration_ms,
            bulk_items=sent.bulk_items,
            student=mark.student.username,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
            superseded=superseded,
            next_try_at=update.next_try_at,
        )


@dataclass(frozen=True)
class WriteBack:
    """What one write-back did: an outcome per try (by mark id), and how many attempts it
    settled in all (one UPDATE for the batch: not counted per mark)."""

    outcomes: dict[int, DeliveryOutcome]
    attempts_settled: int
