"""Where academic_integration hears about attempts: the receivers of quizzes' signals.

`quizzes` imports nothing from this app; it sends the signals of quizzes/signals.py inside
its transactions, and these receivers (connected in `AcademicIntegrationConfig.ready`) turn
them into tutorial marks. Practice quizzes have no mark: the receivers return at once.
"""

from academic_integration.services import mark_record_attempt, marks_recompute
from quizzes.models import Quiz, QuizAttempt
from quizzes.services import grouped_case


def attempt_completed(sender, *, attempt: QuizAttempt, session_email: str | None, **kwargs):
    """Submit: fold the attempt into its tutorial mark and set ``attempt.mark_version``; the
    delivery runs after commit (`mark_record_attempt`)."""
    if attempt.quiz.is_tutorial():
        mark_record_attempt(attempt=attempt, session_email=session_email)


def attempts_regraded(sender, *, quiz: Quiz, attempts: list[tuple[int, int]], **kwargs) -> int:
    """Regrade: recompute the marks whose value changed (new versions, due for delivery) and
    unsettle their attempts until that version is delivered. Returns how many marks changed."""
    if not quiz.is_tutorial():
        return 0
    students = sorted({student for _, student in attempts})
    versions = marks_recompute(
        slots=[(s, quiz.course_id, quiz.tutorial_number) for s in students],
        only_changed=True,
    )
    if versions:
        by_student = {slot[0]: version for slot, version in versions.items()}
        unsettle = {pk: by_student[s] for pk, s in attempts if s in by_student}
        QuizAttempt.objects.filter(pk__in=unsettle).update(
            mark_version=grouped_case("mark_version", unsettle), marks_synced=False
        )
    return len(versions)
