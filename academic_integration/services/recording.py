"""Recording: folding attempts into marks, at submit (inside its transaction, where the mark
is also claimed for the delivery after commit) and when attempts are regraded or deleted.
Each change is a new version of the mark, due for delivery."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial, reduce
from operator import or_
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from academic_integration.client import is_configured
from academic_integration.models import DUE_AFRESH, MarkDeliveryLog, TutorialMark
from academic_integration.services.delivery import claim_owner, mark_deliver_inline
from quizzes.expressions import grouped_case
from quizzes.models import Quiz, QuizAttempt
from quizzes.scoring import grade_attempts

logger = logging.getLogger(__name__)

Status = TutorialMark.Status


def slot_q(*, student_id: int, course_id: str, tutorial_number: int) -> Q:
    """The completed attempts of a student's tutorial slot, across the slot's quizzes."""
    return Q(
        student_id=student_id,
        quiz__quiz_type=Quiz.QuizType.TUTORIAL,
        quiz__course_id=course_id,
        quiz__tutorial_number=tutorial_number,
        completed_at__isnull=False,
    )


def mark_record_attempt(*, attempt: QuizAttempt, session_email: str | None = None) -> int:
    """Fold a just-completed tutorial attempt into its mark and schedule the delivery.

    Must run inside the submit transaction: the mark row is locked, regraded and given a new
    version; ``attempt.mark_version`` is set (the caller saves it). Unless another process
    holds the mark, the same write claims it for the inline delivery after commit. Returns
    the mark id.
    """
    quiz = attempt.quiz
    now, score = attempt.completed_at, attempt.score
    if now is None or score is None:
        raise ValueError(f"attempt {attempt.pk} is not completed: it has no mark to record")
    slot: dict[str, Any] = dict(
        student_id=attempt.student_id,
        course_id=quiz.course_id,
        tutorial_number=quiz.tutorial_number,
    )
    mark = TutorialMark.objects.select_for_update().filter(**slot).first()
    others = (
        QuizAttempt.objects.filter(slot_q(**slot))
        .exclude(pk=attempt.pk)
        .values_list("completed_at", "score")
    )
    scores = cast("list[tuple[datetime, Decimal]]", list(others))  # completed: both are set
    scores.append((now, score))
    value = grade_attempts(method=quiz.grading_method, scores=scores)
    assert value is not None  # there is at least this attempt's score
    claim = _inline_claim(mark=mark, now=now)

    if mark is None:
        try:
            with transaction.atomic():
                mark = TutorialMark.objects.create(
                    **slot, quiz=quiz, value=value, due_since=now, **claim
                )
            attempt.mark_version = mark.version
        except IntegrityError:  # a concurrent first submit created it: bump that one
            mark = TutorialMark.objects.select_for_update().get(**slot)
            claim = _inline_claim(mark=mark, now=now)
    if attempt.mark_version is None:
        fields: dict[str, Any] = dict(value=value, quiz=quiz, **DUE_AFRESH, **claim)
        if mark.status == Status.DELIVERED or mark.due_since is None:
            fields["due_since"] = now
        TutorialMark.objects.filter(pk=mark.pk).update(version=F("version") + 1, **fields)
        # Exact: we hold the row lock. The instance now mirrors the row for the delivery.
        for name, field_value in fields.items():
            setattr(mark, name, field_value)
        mark.version += 1
        attempt.mark_version = mark.version
    mark.student = attempt.student
    transaction.on_commit(
        partial(
            mark_deliver_inline,
            mark_id=mark.pk,
            attempt_id=attempt.pk,
            session_email=session_email,
            claimed=mark if claim else None,
        )
    )
    return mark.pk


def _slot(attempt: QuizAttempt) -> tuple[int, str, int]:
    """A tutorial attempt's (student id, course id, tutorial) slot."""
    quiz = attempt.quiz
    # A tutorial quiz has both (the constraint quiz_tutorial_has_course_and_slot).
    assert quiz.course_id is not None and quiz.tutorial_number is not None
    return attempt.student_id, quiz.course_id, quiz.tutorial_number


def marks_record_attempts(*, attempts: Sequence[QuizAttempt]) -> int:
    """Fold attempts completed together (timed attempts submitted by
    ``attempts_submit_overdue``) into their tutorial marks: a new version each, due for the
    next resync, and each attempt its ``mark_version``. Inside the batch's transaction;
    queries do not grow with the attempts. Returns how many marks were recorded."""
    tutorial = [a for a in attempts if a.quiz.is_tutorial()]
    if not tutorial:
        return 0
    # All completed by the batch's submit: the filter only tells the types so.
    now = max(a.completed_at for a in tutorial if a.completed_at is not None)
    slots = {_slot(a): a.quiz for a in tutorial}
    # A slot's first attempt: its mark does not exist yet (version 0, bumped to 1 below; a
    # concurrent submit that created it first wins, and is bumped as any other).
    TutorialMark.objects.bulk_create(
        [
            TutorialMark(
                student_id=s, course_id=c, tutorial_number=t, quiz=quiz, value=0, version=0
            )
            for (s, c, t), quiz in slots.items()
        ],
        ignore_conflicts=True,
    )
    in_slots = reduce(or_, (Q(student_id=s, course_id=c, tutorial_number=t) for s, c, t in slots))
    # As `mark_record_attempt`: a value newly due is due from now.
    TutorialMark.objects.filter(in_slots).filter(
        Q(status=Status.DELIVERED) | Q(due_since__isnull=True)
    ).update(due_since=now)
    versions = marks_recompute(slots=list(slots))
    QuizAttempt.objects.filter(pk__in=[a.pk for a in tutorial]).update(
        mark_version=grouped_case("mark_version", {a.pk: versions[_slot(a)] for a in tutorial})
    )
    logger.info("marks recorded for attempts submitted together count=%s", len(versions))
    return len(versions)


#: Added to the timeouts for the inline delivery's lease: the DB writes after the request.
INLINE_LEASE_MARGIN_SECONDS = 10


def _inline_claim(*, mark: TutorialMark | None, now: datetime) -> dict[str, Any]:
    """The claim fields for the inline delivery, or {} when sync is off or someone holds it."""
    if not is_configured():
        return {}
    if mark is not None and mark.claim_expires_at and mark.claim_expires_at > now:
        return {}  # being delivered elsewhere: that delivery, or resync, sends the new value
    # Just long enough for one request: if this process dies before delivering, resync
    # finds the mark due again within seconds (and fences a delivery that overran it).
    lease = settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT + settings.ACADEMIC_ANALYZER_READ_TIMEOUT
    return {
        "claimed_by": claim_owner(MarkDeliveryLog.Trigger.INLINE),
        "claim_expires_at": now + timedelta(seconds=lease + INLINE_LEASE_MARGIN_SECONDS),
    }


@transaction.atomic
def attempts_delete(*, attempts: QuerySet[QuizAttempt]) -> int:
    """Delete attempts (superusers, in admin) and recompute the marks they fed
    (``marks_recompute``). Returns how many marks were recomputed."""
    tutorial = attempts.filter(completed_at__isnull=False, quiz__quiz_type=Quiz.QuizType.TUTORIAL)
    slots = tutorial.values_list("student_id", "quiz__course_id", "quiz__tutorial_number")
    gone = cast("list[tuple[int, str, int]]", list(slots.distinct()))  # tutorials: all set
    attempts.delete()
    if not gone:
        return 0
    values = marks_recompute(slots=gone)
    logger.info("attempts deleted; marks recomputed count=%s", len(values))
    return len(values)


def attempts_regraded_marks(*, quiz: Quiz, attempts: Sequence[tuple[int, int]]) -> int:
    """After a regrade of ``quiz`` rescored ``attempts`` ((attempt id, student id) pairs):
    the marks whose value changed get a new version and their attempts are unsettled.
    Returns how many marks changed. Inside the regrade's transaction."""
    course_id, number = quiz.course_id, quiz.tutorial_number
    if not quiz.is_tutorial() or course_id is None or number is None:
        return 0
    students = sorted({student for _, student in attempts})
    versions = marks_recompute(slots=[(s, course_id, number) for s in students], only_changed=True)
    if versions:
        by_student = {slot[0]: version for slot, version in versions.items()}
        unsettle = {pk: by_student[s] for pk, s in attempts if s in by_student}
        QuizAttempt.objects.filter(pk__in=unsettle).update(
            mark_version=grouped_case("mark_version", unsettle), marks_synced=False
        )
    return len(versions)


def marks_recompute(
    *, slots: Sequence[tuple[int, str, int]], only_changed: bool = False
) -> dict[tuple[int, str, int], int]:
    """Regrade the marks of (student id, course id, tutorial) slots from their completed
    attempts: each gets the grade as a new version, due for delivery.

    Must run in a transaction (the marks are locked). A mark with no completed attempts left
    keeps its value (the Analyzer cannot clear a mark); with ``only_changed``, one whose value
    stays the same is left alone. Returns {slot: new version}. Three queries (two when
    nothing changes), however many slots.
    """
    if not slots:
        return {}
    where = reduce(or_, (slot_q(student_id=s, course_id=c, tutorial_number=t) for s, c, t in slots))
    left: defaultdict[tuple[int, str, int], list[tuple[datetime, Decimal]]] = defaultdict(list)
    rows = QuizAttempt.objects.filter(where).values_list(
        "student_id", "quiz__course_id", "quiz__tutorial_number", "completed_at", "score"
    )
    for student_id, course_id, number, completed_at, score in rows:
        # Completed tutorial attempts: the slot, the time and the score are all set.
        left[(student_id, course_id, number)].append((completed_at, score))  # type: ignore[index,arg-type]
    locked = TutorialMark.objects.select_for_update(of=("self",)).select_related("quiz")
    marks = [
        m
        for m in locked.filter(
            reduce(or_, (Q(student_id=s, course_id=c, tutorial_number=t) for s, c, t in slots))
        )
        if left[(m.student_id, m.course_id, m.tutorial_number)]
    ]
    values = {
        m.pk: grade_attempts(
            method=m.quiz.grading_method,
            scores=left[(m.student_id, m.course_id, m.tutorial_number)],
        )
        for m in marks
    }
    if only_changed:
        values = {m.pk: values[m.pk] for m in marks if values[m.pk] != m.value}
    if values:
        TutorialMark.objects.filter(pk__in=values).update(
            value=grouped_case("value", values, TutorialMark, every_row=True),
            version=F("version") + 1,
            **DUE_AFRESH,
        )
    # Exact: we hold the rows' locks.
    return {
        (m.student_id, m.course_id, m.tutorial_number): m.version + 1
        for m in marks
        if m.pk in values
    }
