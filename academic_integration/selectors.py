"""Reads for the admin: marks scoped to a teacher, changelist annotations, sync health.

Each takes the user and applies the one rule of quizzes.selectors: a teacher sees what belongs
to the courses they teach (and their own practice quizzes); superusers see everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db.models import (
    Count,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    mark_next_step,
    reason_next_step,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from quizzes.models import Quiz, QuizAttempt
from quizzes.selectors import quiz_owner_q, quizzes_owned, taught_course_ids

Status = TutorialMark.Status

UNDELIVERED = (Status.PENDING, Status.RETRYING, Status.REJECTED, Status.GIVEN_UP)
DUE = (Status.PENDING, Status.RETRYING)
FAILED = (Status.REJECTED, Status.GIVEN_UP)
#: How far back the health page looks for configuration problems in the try history.
RECENT_PROBLEMS_WINDOW = timedelta(hours=24)


def marks_visible(*, user: User) -> QuerySet[TutorialMark]:
    """Marks the user may see: all for superusers, else those of the courses they teach."""
    marks = TutorialMark.objects.all()
    return marks if user.is_superuser else marks.filter(course_id__in=taught_course_ids(user=user))


quizzes_visible = quizzes_owned  # the one rule, written in quizzes.selectors


def distinct(queryset: QuerySet[Any], field: str) -> list[str]:
    """The distinct values of ``field`` in ``queryset``, sorted: a filter's options."""
    return list(queryset.order_by(field).values_list(field, flat=True).distinct())


# --- changelist annotations ------------------------------------------------------------------


def attempts_with_mark(queryset: QuerySet[QuizAttempt]) -> QuerySet[QuizAttempt]:
    """Annotate attempts with their tutorial mark's id, status, reason and last try time.

    Correlated subqueries keep it one query however many rows the page shows.
    """
    mark = TutorialMark.objects.filter(
        student_id=OuterRef("student_id"),
        course_id=OuterRef("quiz__course_id"),
        tutorial_number=OuterRef("quiz__tutorial_number"),
    )
    return queryset.annotate(
        mark_id=Subquery(mark.values("pk")[:1]),
        mark_status=Subquery(mark.values("status")[:1]),
        mark_reason=Subquery(mark.values("reason")[:1]),
        mark_last_tried_at=Subquery(mark.values("last_tried_at")[:1]),
    )


def _mark_count(statuses: Iterable[str]) -> Coalesce:
    counted = (
        TutorialMark.objects.filter(quiz=OuterRef("pk"), status__in=statuses)
        .order_by()
        .values("quiz")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def quizzes_with_sync_counts(queryset: QuerySet[Quiz]) -> QuerySet[Quiz]:
    """Annotate quizzes with delivered / due / failed mark counts (subqueries: one query).

    A mark counts for the quiz whose attempt last changed it (``TutorialMark.quiz``).
    """
    return queryset.annotate(
        marks_delivered=_mark_count([Status.DELIVERED]),
        marks_due=_mark_count(DUE),
        marks_failed=_mark_count(FAILED),
    )


def marks_held_counts(*, ids: Iterable[int]) -> dict[str, int]:
    """Selected marks a resync will not send: rejected, and already delivered. One query."""
    return TutorialMark.objects.filter(pk__in=ids).aggregate(
        rejected=Count("pk", filter=Q(status=Status.REJECTED)),
        already_delivered=Count(
            "pk", filter=Q(status=Status.DELIVERED, delivered_version=F("version"))
        ),
    )


# --- mark detail -------------------------------------------------------------------------------


def mark_attempts(*, mark: TutorialMark, user: User) -> QuerySet[QuizAttempt]:
    """The completed attempts behind a mark (its student's attempts on its slot), newest first."""
    attempts = QuizAttempt.objects.filter(
        student_id=mark.student_id,
        quiz__course_id=mark.course_id,
        quiz__tutorial_number=mark.tutorial_number,
        completed_at__isnull=False,
    )
    if not user.is_superuser:
        attempts = attempts.filter(quiz_owner_q(user=user, prefix="quiz__"))
    return attempts.select_related("quiz").order_by("-completed_at", "-pk")


# --- sync health -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonRow:
    """Undelivered marks sharing a reason and a course, with the next step to take."""

    reason: str
    status: str
    course_id: str
    marks: int
    students: int
    next_step: str


@dataclass(frozen=True)
class ConfigProblem:
    reason: str
    next_step: str
    last_seen: datetime
    resolved: bool  # a delivery succeeded after it was last seen


@dataclass(frozen=True)
class SyncHealth:
    status_counts: dict[str, int]
    total: int
    reasons: list[ReasonRow]
    oldest_undelivered: TutorialMark | None
    oldest_age: timedelta | None
    last_delivered_at: datetime | None
    last_delivered_age: timedelta | None
    config_problems: list[ConfigProblem]


def sync_health(*, user: User, now: datetime) -> SyncHealth:
    """Everything the health page shows about the user's marks, in five queries."""
    marks = marks_visible(user=user)
    counts = dict.fromkeys(Status.values, 0)
    for row in marks.order_by().values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    oldest = (
        marks.filter(status__in=UNDELIVERED)
        .select_related("student", "quiz")
        .order_by(F("due_since").asc(nulls_last=True), "pk")
        .first()
    )
    since = oldest and (oldest.due_since or oldest.created_at)
    last_delivered_at = marks.aggregate(last=Max("delivered_at"))["last"]
    return SyncHealth(
        status_counts=counts,
        total=sum(counts.values()),
        reasons=reason_rows(user=user),
        oldest_undelivered=oldest,
        oldest_age=(now - since) if since else None,
        last_delivered_at=last_delivered_at,
        last_delivered_age=(now - last_delivered_at) if last_delivered_at else None,
        config_problems=config_problems(now=now),
    )


def reason_rows(*, user: User) -> list[ReasonRow]:
    """Undelivered marks grouped by reason and course, each with its next step (one query)."""
    rows = (
        marks_visible(user=user)
        .filter(status__in=UNDELIVERED)
        .exclude(reason="")
        .order_by()
        .values("reason", "status", "course_id")
        .annotate(
            n=Count("pk"),
            students=Count("student", distinct=True),
            one_student=Min("student__username"),
            one_email=Min("teacher_email"),
            emails=Count("teacher_email", distinct=True),
        )
        .order_by("reason", "status", "course_id")
    )
    return [
        ReasonRow(
            reason=row["reason"],
            status=row["status"],
            course_id=row["course_id"],
            marks=row["n"],
            students=row["students"],
            next_step=mark_next_step(
                row["reason"],
                status=row["status"],
                course_id=row["course_id"],
                student_id=row["one_student"] if row["students"] == 1 else None,
                teacher_email=row["one_email"] if row["emails"] == 1 else None,
            ),
        )
        for row in rows
    ]


def config_problems(*, now: datetime) -> list[ConfigProblem]:
    """Configuration problems (token, URL) seen by deliveries in the last 24 hours.

    Not scoped to a teacher: a rejected token or a wrong URL concerns every quiz. Only the
    reason and when it was last seen are shown, never whose marks were tried.
    """
    recent = MarkDeliveryLog.objects.filter(tried_at__gte=now - RECENT_PROBLEMS_WINDOW)
    codes = sorted(CONFIGURATION_REASONS)
    seen = recent.aggregate(
        last_ok=Max("tried_at", filter=Q(outcome=Status.DELIVERED)),
        **{code: Max("tried_at", filter=Q(reason=code)) for code in codes},
    )
    last_ok = seen.pop("last_ok")
    problems = [
        ConfigProblem(
            reason=code,
            next_step=reason_next_step(code),
            last_seen=last,
            resolved=bool(last_ok and last_ok > last),
        )
        for code, last in seen.items()
        if last is not None
    ]
    return sorted(problems, key=lambda problem: problem.last_seen, reverse=True)


def quiz_course_for_check(*, user: User) -> str | None:
    """A course id to ask the Analyzer about when testing the connection (harmless read)."""
    return (
        quizzes_visible(user=user)
        .filter(quiz_type=Quiz.QuizType.TUTORIAL)
        .exclude(course=None)
        .order_by("-pk")
        .values_list("course_id", flat=True)
        .first()
    )
