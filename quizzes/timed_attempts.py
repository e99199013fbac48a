"""Answers saved as the student goes, and attempts whose time is up submitted with them.

The deadline is quizzes/time_limits.py's; the submit of one attempt (also of one whose time
is up) is `attempt_submit`'s. Decisions: docs/decisions/0023-time-limits.md.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from quizzes.models import Question, QuizAttempt
from quizzes.scoring import round_points, score_answers
from quizzes.selectors import attempts_rules
from quizzes.services import (
    QuizNotOpen,
    _question_keys,
    _validate_answers,
    answers_insert,
    closed_message,
    draft_fitting,
    draft_make,
    grouped_case,
    unreadable_numbers,
)
from quizzes.signals import attempts_completed
from quizzes.time_limits import attempt_deadline, deadline_of, is_overdue

logger = logging.getLogger(__name__)


class TimeUp(PermissionDenied):
    """The attempt's time is up: nothing more is saved; its saved answers are what counts."""

    def __init__(self, attempt: QuizAttempt, deadline: datetime):
        self.attempt = attempt
        self.deadline = deadline
        super().__init__("The time for this attempt is up.")


class AlreadySubmitted(PermissionDenied):
    """The attempt was submitted (by the student, or when its time was up)."""

    def __init__(self, attempt: QuizAttempt):
        self.attempt = attempt
        super().__init__("This attempt was already submitted.")


@dataclass(frozen=True)
class SaveResult:
    attempt: QuizAttempt
    saved_at: datetime
    #: Numeric answers that are not numbers were not saved: question id -> message.
    errors: dict[int, str] = field(default_factory=dict)
    questions: list = field(default_factory=list)


def attempt_save_answers(
    *, attempt_id: int, student, answers: Mapping[int, set[int]], responses: Mapping[int, str]
) -> SaveResult:
    """Save an attempt's answers in progress, without submitting: they replace those saved
    before, and are what is scored if the time runs out.

    Raises QuizAttempt.DoesNotExist as `attempt_submit` does, AlreadySubmitted, TimeUp past
    the deadline and its network grace (nothing is saved), QuizNotOpen for an untimed attempt
    past the closing time's grace, InvalidSubmission for answers that do not fit the quiz.
    A numeric answer that is not a number is not saved (``errors`` says which).
    """
    from quizzes.selectors import quiz_rules_for, student_quiz_q

    attempt = (
        QuizAttempt.objects.select_related("quiz")
        .filter(student_quiz_q(student=student, prefix="quiz__"))
        .get(pk=attempt_id, student=student, quiz__is_published=True)
    )
    if attempt.completed_at is not None:
        raise AlreadySubmitted(attempt)
    now = timezone.now()
    deadline = deadline_of(attempt)
    if deadline is not None and is_overdue(deadline=deadline, now=now):
        raise TimeUp(attempt, deadline)
    rules = attempt.quiz.rules()
    if not rules.accepts_submissions(now):  # the student's own closing, if later (rules.py)
        rules = quiz_rules_for(quiz=attempt.quiz, student=student)
    if not rules.accepts_submissions(now):
        raise QuizNotOpen(closed_message(attempt.quiz, rules))
    questions = list(Question.objects.filter(quiz=attempt.quiz).prefetch_related("choices"))
    _validate_answers(questions=questions, answers=answers, responses=responses)
    errors = unreadable_numbers(questions=questions, responses=responses)
    kept = {q: text for q, text in responses.items() if q not in errors}
    draft = draft_make(answers=answers, responses=kept)
    # Only while in progress: a submit that got there first (it locks the row) wins.
    saved = QuizAttempt.objects.filter(pk=attempt.pk, completed_at__isnull=True).update(
        draft=draft, draft_saved_at=now
    )
    if not saved:
        raise AlreadySubmitted(attempt)
    attempt.draft, attempt.draft_saved_at = draft, now
    logger.info(
        "answers saved attempt=%s student=%s quiz=%s answered=%s unreadable=%s",
        attempt.pk,
        student.username,
        attempt.quiz_id,
        len(draft["answers"]) + len(draft["responses"]),
        len(errors),
    )
    return SaveResult(attempt, now, errors, questions)


def attempts_submit_overdue(*, student=None, quiz=None, now: datetime | None = None) -> int:
    """Submit every timed attempt whose time is up (of one student, or one quiz, if given)
    with the answers saved by its deadline. Returns how many were submitted.

    Their marks are recorded by the receivers of `attempts_completed` and delivered by the
    next resync run. Attempts being submitted right now are skipped (their submit does it).
    One query when none is overdue; queries do not grow with the number of attempts.
    """
    now = now or timezone.now()
    in_progress = QuizAttempt.objects.filter(
        completed_at__isnull=True, quiz__time_limit_minutes__isnull=False
    )
    if student is not None:
        in_progress = in_progress.filter(student=student)
    if quiz is not None:
        in_progress = in_progress.filter(quiz=quiz)
    # Read without a lock first: pages call this on every visit, and mostly nothing is due.
    overdue = _overdue(in_progress.select_related("quiz").only(*_DEADLINE_FIELDS), now=now)
    if not overdue:
        return 0
    return _overdue_submit(ids=[a.pk for a in overdue], now=now)


#: What `_overdue` reads: an attempt's deadline depends on these only.
_DEADLINE_FIELDS = (
    "id",
    "student_id",
    "started_at",
    "quiz__time_limit_minutes",
    "quiz__closes_at",
    "quiz__max_attempts",  # a student's rules are built from it (quizzes/rules.py)
)


def _overdue(attempts, *, now: datetime) -> list[QuizAttempt]:
    attempts = list(attempts)
    rules = attempts_rules(attempts)
    return [
        a
        for a in attempts
        if is_overdue(
            deadline=attempt_deadline(started_at=a.started_at, rules=rules[a.pk]), now=now
        )
    ]


@transaction.atomic
def _overdue_submit(*, ids: list[int], now: datetime) -> int:
    # Locked and read again: a submit may have come first (skip_locked: it is under way).
    locked = QuizAttempt.objects.select_for_update(of=("self",), skip_locked=True).filter(
        pk__in=ids, completed_at__isnull=True
    )
    overdue = _overdue(locked.select_related("quiz", "student").order_by("pk"), now=now)
    if not overdue:
        return 0
    questions: dict[int, list[Question]] = {}
    for question in Question.objects.filter(
        quiz_id__in={a.quiz_id for a in overdue}
    ).prefetch_related("choices"):
        questions.setdefault(question.quiz_id, []).append(question)
    scored = []
    for attempt in overdue:
        quiz_questions = questions.get(attempt.quiz_id, [])
        answers, responses = draft_fitting(questions=quiz_questions, draft=attempt.draft)
        score = score_answers(
            questions=_question_keys(quiz_questions), answers=answers, responses=responses
        )
        scored.append((attempt, score))
        attempt.completed_at = now
        attempt.earned_points = round_points(score.earned)
        attempt.total_points = score.total
        attempt.score = score.scaled
        attempt.submitted_automatically = True
    answers_insert(scored)
    QuizAttempt.objects.filter(pk__in=[a.pk for a in overdue]).update(
        completed_at=now,
        submitted_automatically=True,
        earned_points=grouped_case("earned_points", {a.pk: a.earned_points for a in overdue}),
        total_points=grouped_case("total_points", {a.pk: a.total_points for a in overdue}),
        score=grouped_case("score", {a.pk: a.score for a in overdue}),
    )
    replies = attempts_completed.send(sender=QuizAttempt, attempts=overdue)
    for attempt in overdue:
        logger.info(
            "attempt completed attempt=%s student=%s quiz=%s score=%s points=%s/%s "
            "automatically=True saved_at=%s",
            attempt.pk,
            attempt.student.username,
            attempt.quiz_id,
            attempt.score,
            attempt.earned_points,
            attempt.total_points,
            attempt.draft_saved_at.isoformat() if attempt.draft_saved_at else "-",
        )
    logger.info(
        "overdue attempts submitted count=%s marks=%s",
        len(overdue),
        sum(int(reply or 0) for _, reply in replies),  # an int or None each (signals.py)
    )
    return len(overdue)
