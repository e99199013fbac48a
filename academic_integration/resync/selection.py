"""Which marks a resync run takes: its options, the due marks, the ones backing off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Max, Min, Q, QuerySet
from django.utils import timezone

from academic_integration.client import POOL_MAXSIZE
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync.summary import BackingOff, ProblemGroup, iso

Status = TutorialMark.Status

#: Marks claimed and written back together: a batch costs five queries, whatever its size.
#: The lease (ACADEMIC_ANALYZER_CLAIM_SECONDS) must stay far longer than a batch takes.
BATCH_SIZE = 200


@dataclass
class ResyncOptions:
    """What a run delivers and how. ``mark_ids`` (the admin) takes those marks in any status."""

    course_id: str | None = None
    quiz_id: int | None = None
    student: str | None = None  # roll number
    since: datetime | None = None  # only marks due since then
    limit: int | None = None
    batch_size: int = BATCH_SIZE
    workers: int = 1
    max_rate: float | None = None  # requests/second across all workers
    include_failed: bool = False
    ignore_backoff: bool = False  # --now: also retrying marks whose next try has not come
    dry_run: bool = False
    mark_ids: Sequence[int] | None = None
    trigger: str = MarkDeliveryLog.Trigger.RESYNC
    deadline_seconds: float | None = None  # no new batch (or request) after this long
    # Marks of one course and tutorial per add-tutN-mark request; 0: one POST per mark.
    # None: ACADEMIC_ANALYZER_BULK_SIZE. A request never holds more than a batch.
    bulk_size: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.bulk_size is not None and self.bulk_size < 0:
            raise ValueError("bulk_size must not be negative")
        if not 1 <= self.workers <= POOL_MAXSIZE:
            raise ValueError(f"workers must be from 1 to {POOL_MAXSIZE}")
        if self.max_rate is not None and self.max_rate <= 0:
            raise ValueError("max_rate must be positive")
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")
        if self.trigger not in MarkDeliveryLog.Trigger.values:
            raise ValueError(f"unknown trigger {self.trigger!r}")


def marks_due(
    options: ResyncOptions, *, now: datetime, owner: str | None = None
) -> QuerySet[TutorialMark]:
    """The marks a run with ``options`` delivers now: due, and unclaimed (or ``owner``'s).

    Due is pending, or retrying whose next try has come (plus rejected and given up with
    ``include_failed``); with ``mark_ids``, those marks unless their current value is delivered
    (or, without ``include_failed``, they are rejected).
    """
    if options.mark_ids is not None:
        marks = TutorialMark.objects.filter(pk__in=list(options.mark_ids)).exclude(
            status=Status.DELIVERED, delivered_version=F("version")
        )
        if not options.include_failed:
            # The Analyzer would say no again until someone fixes the cause: "Retry after
            # fixing" puts them back. A given-up mark failed only temporarily: asking for it
            # by hand is the human "ask again".
            marks = marks.exclude(status=Status.REJECTED)
    else:
        marks = TutorialMark.objects.due(
            now=now, ignore_backoff=options.ignore_backoff, include_failed=options.include_failed
        )
    return marks.unclaimed(now=now, owner=owner).filter(**mark_filters(options))


#: The order a run takes due marks in: slot by slot, so a course's marks for one tutorial are
#: claimed together and fit one add-tutN-mark request. ``marks_after`` is its keyset cursor.
CLAIM_ORDER = ("course_id", "tutorial_number", "pk")


def marks_after(cursor: tuple[Any, ...] | None) -> Q:
    """Marks after ``cursor`` (the ``CLAIM_ORDER`` values of the last mark taken) in that
    order; every mark when None."""
    if cursor is None:
        return Q()
    after = Q()
    for i, name in enumerate(CLAIM_ORDER):
        same = dict(zip(CLAIM_ORDER[:i], cursor[:i], strict=True))
        after |= Q(**same, **{f"{name}__gt": cursor[i]})
    return after


def mark_filters(options: ResyncOptions) -> dict[str, Any]:
    """The run's filters (course, quiz, student, since) as queryset keyword arguments."""
    filters = {
        "course_id": options.course_id,
        "quiz_id": options.quiz_id,
        "student__username": options.student,
        "due_since__gte": options.since,
    }
    return {k: v for k, v in filters.items() if v is not None}


def marks_backing_off(options: ResyncOptions, *, now: datetime) -> list[BackingOff]:
    """Retrying marks (within the run's filters) whose next try has not come, by reason:
    what a run without ``--now`` leaves for later. One query."""
    rows = (
        TutorialMark.objects.filter(
            status=Status.RETRYING, next_try_at__gt=now, **mark_filters(options)
        )
        .values("reason")
        .annotate(marks=Count("pk"), first=Min("next_try_at"), last=Max("next_try_at"))
        .order_by("first", "reason")
    )
    return [BackingOff(r["reason"], r["marks"], r["first"], r["last"]) for r in rows]


def marks_waiting(options: ResyncOptions) -> list[ProblemGroup]:
    """Marks (within the run's filters) that no run delivers until a person acts: rejected
    and given up, by status, reason and course, whenever they failed. One query."""
    groups: dict[tuple[str, str], ProblemGroup] = {}
    rows = (
        TutorialMark.objects.filter(
            status__in=[Status.REJECTED, Status.GIVEN_UP], **mark_filters(options)
        )
        .order_by()
        .values_list("status", "reason", "course_id", "student__username")
    )
    for status, reason, course_id, student in rows:
        groups.setdefault((status, reason), ProblemGroup(status, reason)).add(course_id, student)
    return [groups[key] for key in sorted(groups)]


def resync_due_count(options: ResyncOptions) -> int:
    """How many marks a run with ``options`` would take now (for a progress bar)."""
    count = marks_due(options, now=timezone.now()).count()
    return count if options.limit is None else min(count, options.limit)


def filters_text(options: ResyncOptions) -> str:
    filters = {
        "course": options.course_id,
        "quiz": options.quiz_id,
        "student": options.student,
        "since": iso(options.since),
        "limit": options.limit,
        "include_failed": options.include_failed or None,
        "now": options.ignore_backoff or None,
        "mark_ids": len(options.mark_ids) if options.mark_ids is not None else None,
    }
    return ",".join(f"{k}={v}" for k, v in filters.items() if v is not None) or "-"
