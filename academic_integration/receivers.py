"""Where academic_integration hears about attempts: the receivers of quizzes' signals.

`quizzes` imports nothing from this app; it sends the signals of quizzes/signals.py inside
its transactions, and these receivers (connected in `AcademicIntegrationConfig.ready`) turn
them into tutorial marks by calling the services (a practice attempt has no mark).
"""

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
    """Submit: fold the attempt into its tutorial mark and set ``attempt.mark_version``; the
    delivery runs after commit (`mark_record_attempt`)."""
    if attempt.quiz.is_tutorial():
        mark_record_attempt(attempt=attempt, session_email=session_email)


def attempts_regraded(
    sender: type[Quiz], *, quiz: Quiz, attempts: list[tuple[int, int]], **kwargs: Any
) -> int:
    """Regrade: recompute the marks whose value changed and unsettle their attempts
    (`attempts_regraded_marks`). Returns how many marks changed."""
    return attempts_regraded_marks(quiz=quiz, attempts=attempts)


def attempts_completed(
    sender: type[QuizAttempt], *, attempts: list[QuizAttempt], **kwargs: Any
) -> int:
    """Attempts submitted together when their time was up: record their marks, due for the
    next resync run (`marks_record_attempts`). Returns how many marks were recorded."""
    return marks_record_attempts(attempts=attempts)
