"""What the student is told about their mark, its delivery and the answer key, in plain words."""

from dataclasses import dataclass

from django.utils import dateformat, timezone

from quizzes.scoring import format_score


@dataclass(frozen=True)
class SyncMessage:
    level: str  # success / info / warning
    text: str


def _score(value) -> str:
    return f"{format_score(value)} / 10"


def mark_message(*, mark, attempt) -> SyncMessage | None:
    """The result page's sentence about the Academic Analyzer; None for practice quizzes.

    Says which value the Analyzer holds, and when the mark has changed since (a retake, a
    regrade), that the new value is on its way.
    """
    if mark is None:
        return None
    newer = (
        ""
        if mark.is_delivered() or mark.delivered_value is None or mark.value == mark.delivered_value
        else f" Your mark has since changed to {_score(mark.value)}; the new value is delivered "
        "automatically."
    )
    if attempt.marks_synced or (
        mark.status == mark.Status.DELIVERED
        and mark.delivered_version >= (attempt.mark_version or 0)
    ):
        value = mark.delivered_value if mark.delivered_value is not None else mark.value
        return SyncMessage(
            "success",
            f"Your tutorial {mark.tutorial_number} mark ({_score(value)}) reached "
            f"the Academic Analyzer.{newer}",
        )
    if mark.status in (mark.Status.REJECTED, mark.Status.GIVEN_UP):
        return SyncMessage(
            "warning",
            "Your result is saved, but the Academic Analyzer did not accept the mark. Your "
            "teacher sees the problem on the sync page and will fix it; you need do nothing.",
        )
    held = (
        f" The Analyzer still holds your earlier mark, {_score(mark.delivered_value)}."
        if mark.delivered_value is not None and mark.delivered_value != mark.value
        else ""
    )
    return SyncMessage(
        "info",
        f"Your result is saved. Your tutorial {mark.tutorial_number} mark "
        f"({_score(mark.value)}) has not reached the Academic Analyzer yet; it will be "
        f"delivered automatically later. You need do nothing.{held}",
    )


def counting_message(*, quiz, rows, attempt, mark) -> str | None:
    """Which attempt's score is the mark, by the quiz's grading method; None for practice.

    ``rows`` are the student's attempts as the views number them (`attempt_rows`).
    """
    if not quiz.is_tutorial():
        return None
    counts = next((r for r in rows if r["counts"]), None)
    if counts is None:
        return None
    method = "highest" if quiz.grading_method == quiz.GradingMethod.HIGHEST else "latest"
    value = mark.value if mark is not None else counts["attempt"].score
    slot = f"tutorial {quiz.tutorial_number} mark"
    if counts["attempt"].pk == attempt.pk:
        if quiz.max_attempts is not None and len(rows) >= quiz.max_attempts and len(rows) == 1:
            return f"This attempt counts: its score is your {slot} ({_score(value)})."
        if len(rows) == 1:
            later = (
                "a better retake would replace it"
                if method == "highest"
                else "a retake replaces it"
            )
            return (
                f"This attempt counts: its score is your {slot} ({_score(value)}). This quiz is "
                f"graded by your {method} score: {later}."
            )
        return (
            f"This attempt counts: this quiz is graded by your {method} score, so your {slot} "
            f"is {_score(value)}."
        )
    when = dateformat.format(timezone.localtime(counts["attempt"].completed_at), "j M Y H:i")
    return (
        f"This attempt does not change your mark. This quiz is graded by your {method} score: "
        f"attempt {counts['number']} ({when}) counts, so your {slot} is {_score(value)}."
    )


def key_hidden_message(*, quiz) -> str:
    """Why the correct answers are not shown, and when they will be."""
    review = quiz.review
    if review == quiz.Review.NEVER:
        return "Your teacher does not show the correct answers for this quiz."
    closes = (
        dateformat.format(timezone.localtime(quiz.submit_deadline()), "j M Y H:i")
        if quiz.closes_at
        else None
    )
    if review == quiz.Review.AFTER_CLOSE:
        if closes:
            return f"The correct answers are shown after the quiz closes ({closes})."
        return "The correct answers are shown after the quiz closes; it has no closing date yet."
    # after the last attempt
    if quiz.max_attempts is None and not closes:
        return (
            "The correct answers are not shown: this quiz has unlimited attempts and no "
            "closing date."
        )
    when = []
    if quiz.max_attempts is not None:
        when.append("when you have used all your attempts")
    if closes:
        when.append(f"after the quiz closes ({closes})")
    return f"The correct answers are shown {' or '.join(when)}."


def analyzer_line(*, mark) -> str | None:
    """Under an attempt list: the mark and what the Academic Analyzer holds of it."""
    if mark is None:
        return None
    slot = f"Your tutorial {mark.tutorial_number} mark is {_score(mark.value)}"
    if mark.is_delivered():
        return f"{slot}; the Academic Analyzer holds it."
    if mark.delivered_value is not None:
        return (
            f"{slot}; the Academic Analyzer still holds {_score(mark.delivered_value)} and gets "
            "the new value automatically."
        )
    return f"{slot}; it has not reached the Academic Analyzer yet and is delivered automatically."
