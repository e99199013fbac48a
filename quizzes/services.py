"""Writes for quizzes and attempts. Views, admin and commands call these."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from quizzes.models import AttemptAnswer, Course, Question, Quiz, QuizAttempt
from quizzes.scoring import QuestionKey, score_answers

logger = logging.getLogger(__name__)


class AttemptLimitReached(PermissionDenied):
    """The student has used every attempt the quiz allows."""


class InvalidSubmission(ValidationError):
    """A submitted form that does not match the quiz (tampered or stale)."""


class NotCourseTeacher(PermissionDenied):
    """The user does not teach the course they tried to put a quiz into."""


def course_teacher_check(*, user, course_id: str) -> None:
    """Raise NotCourseTeacher unless the user teaches the course (superusers teach all)."""
    if user.is_superuser:
        return
    if not Course.teachers.through.objects.filter(course_id=course_id, user_id=user.pk).exists():
        raise NotCourseTeacher(
            f"{user.get_username()} is not a teacher of course {course_id}: only its teachers "
            "may put quizzes into its tutorial slots."
        )


def slot_holder(*, course_id: str, tutorial_number: int, exclude_pk: int | None = None):
    """The quiz that holds a tutorial slot, or None when another quiz may be published there.

    A slot is held by its published quiz, and for good by the quiz whose attempts it has even
    when unpublished: a mark is computed from the attempts of one quiz only, so another quiz
    (that the students did not take in this slot) can never lower a delivered mark.
    """
    in_slot = Quiz.objects.filter(
        quiz_type=Quiz.QuizType.TUTORIAL, course_id=course_id, tutorial_number=tutorial_number
    ).exclude(pk=exclude_pk)
    return (
        in_slot.filter(Q(is_published=True) | Q(attempts__completed_at__isnull=False))
        .order_by("-is_published", "pk")
        .first()
    )


def attempt_get_or_start(*, student, quiz: Quiz) -> QuizAttempt:
    """Return the student's attempt in progress on the quiz, starting one if allowed.

    Raises AttemptLimitReached when no attempts are left. Two tabs share one attempt.
    """
    attempt = QuizAttempt.objects.filter(
        student=student, quiz=quiz, completed_at__isnull=True
    ).first()
    if attempt is not None:
        return attempt
    if quiz.max_attempts is not None:
        used = QuizAttempt.objects.filter(student=student, quiz=quiz).count()
        if used >= quiz.max_attempts:
            raise AttemptLimitReached("You have used all attempts for this quiz.")
    try:
        with transaction.atomic():
            return QuizAttempt.objects.create(student=student, quiz=quiz)
    except IntegrityError:
        # Another tab started it a moment ago.
        return QuizAttempt.objects.get(student=student, quiz=quiz, completed_at__isnull=True)


def _question_keys(questions) -> list[QuestionKey]:
    return [
        QuestionKey(
            id=q.pk,
            points=q.points,
            correct_choice_ids=frozenset(c.pk for c in q.choices.all() if c.is_correct),
        )
        for q in questions
    ]


def _validate_answers(*, questions, answers: Mapping[int, set[int]]) -> None:
    by_id = {q.pk: q for q in questions}
    unknown = set(answers) - set(by_id)
    if unknown:
        raise InvalidSubmission("The form names questions that are not in this quiz.")
    for question_id, selected in answers.items():
        question = by_id[question_id]
        valid = {c.pk for c in question.choices.all()}
        if not selected <= valid:
            raise InvalidSubmission("The form picks a choice that belongs to another question.")
        if not question.multiple and len(selected) > 1:
            raise InvalidSubmission("A single-answer question got more than one choice.")


@dataclass(frozen=True)
class SubmitResult:
    attempt: QuizAttempt
    already_submitted: bool


@transaction.atomic
def attempt_submit(
    *,
    attempt_id: int,
    student,
    answers: Mapping[int, set[int]],
    session_email: str | None = None,
) -> SubmitResult:
    """Score and complete an attempt once; a repeated submit changes nothing.

    Raises QuizAttempt.DoesNotExist for someone else's attempt, an unpublished quiz or one of a
    course the student is not (or no longer) enrolled in, and
    InvalidSubmission for
    answers that do not fit the quiz. A tutorial attempt updates the student's mark in the
    same transaction and schedules its delivery for after commit.
    """
    # Imported here: selectors import this module's models only, not the other way round.
    from quizzes.selectors import student_quiz_q

    attempt = (
        QuizAttempt.objects.select_for_update(of=("self",))
        .select_related("quiz", "quiz__created_by")
        .filter(student_quiz_q(student=student, prefix="quiz__"))
        .get(pk=attempt_id, student=student, quiz__is_published=True)
    )
    if attempt.completed_at is not None:
        return SubmitResult(attempt, already_submitted=True)
    attempt.student = student  # already loaded by the caller: no query for it

    questions = list(Question.objects.filter(quiz=attempt.quiz).prefetch_related("choices"))
    _validate_answers(questions=questions, answers=answers)
    score = score_answers(questions=_question_keys(questions), answers=answers)

    answer_rows = AttemptAnswer.objects.bulk_create(
        AttemptAnswer(
            attempt=attempt,
            question_id=q.question_id,
            is_correct=q.is_correct,
            points_awarded=q.points_awarded,
        )
        for q in score.questions
    )
    Through = AttemptAnswer.selected_choices.through
    Through.objects.bulk_create(
        Through(attemptanswer_id=row.pk, choice_id=choice_id)
        for row, q in zip(answer_rows, score.questions, strict=True)
        for choice_id in q.selected
    )
    attempt.completed_at = timezone.now()
    attempt.earned_points = score.earned
    attempt.total_points = score.total
    attempt.score = score.scaled

    if attempt.quiz.is_tutorial():
        # Imported here: academic_integration builds on quizzes, not the other way round.
        from academic_integration.services import mark_record_attempt

        mark_record_attempt(attempt=attempt, session_email=session_email)  # sets mark_version
    attempt.save(
        update_fields=["completed_at", "earned_points", "total_points", "score", "mark_version"]
    )
    logger.info(
        "attempt completed attempt=%s student=%s quiz=%s score=%s points=%s/%s",
        attempt.pk,
        student.username,
        attempt.quiz_id,
        score.scaled,
        score.earned,
        score.total,
    )
    return SubmitResult(attempt, already_submitted=False)
