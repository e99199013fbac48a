"""The tutorial marks as quizzes' pages see them (quizzes/marks.py): the `MarkSource`
`AcademicIntegrationConfig.ready` registers, and what a student is told about a mark's delivery."""

from decimal import Decimal

from django.db.models import OuterRef, Subquery
from django.db.models.expressions import BaseExpression
from django.utils import timezone
from django.utils.formats import date_format

from academic_integration.models import TutorialMark
from quizzes.marks import MarkSource, SyncMessage
from quizzes.models import Quiz, QuizAttempt
from quizzes.scoring import format_score


def _score(value: Decimal) -> str:
    return f"{format_score(value)} / 10"


def mark_message(
    *, mark: TutorialMark | None, attempt: QuizAttempt, score_shown: bool = True
) -> SyncMessage | None:
    """The result page's sentence about the Academic Analyzer; None for practice quizzes.
    With ``score_shown`` False (the quiz holds the score back) the same without any value."""
    if mark is None:
        return None
    newer = ""
    if not mark.is_delivered() and mark.delivered_value not in (None, mark.value):
        to = f" to {_score(mark.value)}" if score_shown else ""
        newer = f" Your mark has since changed{to}; the new value is delivered automatically."
    if attempt.marks_synced or (
        mark.status == mark.Status.DELIVERED
        and mark.delivered_version >= (attempt.mark_version or 0)
    ):
        value = mark.delivered_value if mark.delivered_value is not None else mark.value
        shown = f" ({_score(value)})" if score_shown else ""
        return SyncMessage(
            "success",
            f"Your tutorial {mark.tutorial_number} mark{shown} reached "
            f"the Academic Analyzer.{newer}",
        )
    if mark.status in (mark.Status.REJECTED, mark.Status.GIVEN_UP):
        return SyncMessage(
            "warning",
            "Your result is saved, but the Academic Analyzer did not accept the mark. Your "
            "teacher sees the problem on the sync page and will fix it; you need do nothing.",
        )
    held = (
        ""
        if mark.delivered_value is None or mark.delivered_value == mark.value
        else f" The Analyzer still holds your earlier mark, {_score(mark.delivered_value)}."
        if score_shown
        else " The Analyzer still holds your earlier mark."
    )
    shown = f" ({_score(mark.value)})" if score_shown else ""
    return SyncMessage(
        "info",
        f"Your result is saved. Your tutorial {mark.tutorial_number} mark"
        f"{shown} has not reached the Academic Analyzer yet; it will be "
        f"delivered automatically later{_when(mark)}. You need do nothing.{held}",
    )


def _when(mark: TutorialMark) -> str:
    """When the mark is tried next: its own next try while it backs off, else the next
    scheduled delivery run (the resync, which takes every pending mark)."""
    if mark.next_try_at is not None and mark.next_try_at > timezone.now():
        return f", next tried at {date_format(timezone.localtime(mark.next_try_at), 'H:i T')}"
    return ", by the next scheduled delivery run"


def analyzer_line(*, mark: TutorialMark | None, score_shown: bool = True) -> str | None:
    """Under an attempt list: the mark and what the Academic Analyzer holds of it (without
    any value when the quiz holds the score back: ``score_shown`` False)."""
    if mark is None:
        return None
    if not score_shown:
        slot = f"Your tutorial {mark.tutorial_number} mark"
        if mark.is_delivered():
            return f"{slot} reached the Academic Analyzer."
        if mark.delivered_value is not None:
            return f"{slot} has changed; the Academic Analyzer gets the new value automatically."
        return f"{slot} has not reached the Academic Analyzer yet; it is delivered automatically."
    slot = f"Your tutorial {mark.tutorial_number} mark is {_score(mark.value)}"
    if mark.is_delivered():
        return f"{slot}; the Academic Analyzer holds it."
    if mark.delivered_value is not None:
        return (
            f"{slot}; the Academic Analyzer still holds {_score(mark.delivered_value)} and gets "
            "the new value automatically."
        )
    return f"{slot}; it has not reached the Academic Analyzer yet and is delivered automatically."


class TutorialMarkSource(MarkSource[TutorialMark]):
    """Marks are `TutorialMark` rows, one per student, course and tutorial."""

    delivered = TutorialMark.Status.DELIVERED

    def slot_mark(self, *, student_id: int, quiz: Quiz) -> TutorialMark | None:
        if quiz.tutorial_number is None:  # a practice quiz: no slot, no mark
            return None
        return TutorialMark.objects.filter(
            student_id=student_id, course_id=quiz.course_id, tutorial_number=quiz.tutorial_number
        ).first()

    def slot_columns(self, *, course_id: str, tutorial_number: int) -> dict[str, BaseExpression]:
        mark = TutorialMark.objects.filter(
            student=OuterRef("pk"), course_id=course_id, tutorial_number=tutorial_number
        )
        return {
            "mark": Subquery(mark.values("value")[:1]),
            "status": Subquery(mark.values("status")[:1]),
        }

    result_message = staticmethod(mark_message)
    attempts_line = staticmethod(analyzer_line)
