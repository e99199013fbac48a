"""The receivers of quizzes' signals (quizzes/signals.py), connected in `apps.py`: they turn
attempts into tutorial marks through the services (a practice attempt has no mark)."""

from typing import Any

from academic_integration.services import (
    attempts_regraded_marks,
    mark_record_attempt,
    marks_record_attempts,
)
from quizzes.models import Quiz, QuizAttempt


def attempt_completed(
    sender: type[QuizAttempt], *, attempt: QuizAttempt, session_email: str | None, **kwargs: Any
) -> None:
    """Submit: fold the attempt into its mark (setting ``attempt.mark_version``); the delivery
    runs after commit."""
    if attempt.quiz.is_tutorial():
        mark_record_attempt(attempt=attempt, session_email=session_email)


def attempts_regraded(
    sender: type[Quiz], *, quiz: Quiz, attempts: list[tuple[int, int]], **kwargs: Any
) -> int:
    """Regrade: recompute the marks whose value changed, unsettle their attempts; returns how
    many marks changed."""
    return attempts_regraded_marks(quiz=quiz, attempts=attempts)


def attempts_completed(
    sender: type[QuizAttempt], *, attempts: list[QuizAttempt], **kwargs: Any
) -> int:
    """Attempts submitted together when their time was up: record their marks, due for the
    next resync run; returns how many."""
    return marks_record_attempts(attempts=attempts)
