"""What the student is told about their mark's delivery, in plain words."""

from dataclasses import dataclass

from quizzes.scoring import format_score


@dataclass(frozen=True)
class SyncMessage:
    level: str  # success / info / warning
    text: str


def mark_message(*, mark, attempt) -> SyncMessage | None:
    """The result page's sentence about the Academic Analyzer; None for practice quizzes."""
    if mark is None:
        return None
    if attempt.marks_synced or (
        mark.status == "delivered" and mark.delivered_version >= (attempt.mark_version or 0)
    ):
        value = mark.delivered_value if mark.delivered_value is not None else mark.value
        return SyncMessage(
            "success",
            f"Your tutorial {mark.tutorial_number} mark ({format_score(value)} / 10) reached "
            "the Academic Analyzer.",
        )
    if mark.status in ("rejected", "given_up"):
        return SyncMessage(
            "warning",
            "Your result is saved, but the Academic Analyzer did not accept the mark. Your "
            "teacher sees the problem on the sync page and will fix it; you need do nothing.",
        )
    return SyncMessage(
        "info",
        "Your result is saved. The mark has not reached the Academic Analyzer yet; it will be "
        "delivered automatically later. You need do nothing.",
    )
