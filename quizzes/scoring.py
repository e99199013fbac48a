"""Scoring: pure functions, no database."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SCALE = Decimal(10)
TWO_PLACES = Decimal("0.01")


def scale_score(*, earned: int, total: int) -> Decimal:
    """Return earned/total on a 0–10 scale, rounded half-up to 2 decimals (0 when total is 0)."""
    if total <= 0:
        return Decimal("0.00")
    return (Decimal(earned) * SCALE / Decimal(total)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class QuestionKey:
    """What scoring needs to know about one question."""

    id: int
    points: int
    correct_choice_ids: frozenset[int]


@dataclass(frozen=True)
class ScoredQuestion:
    question_id: int
    selected: frozenset[int]
    is_correct: bool
    points_awarded: int


@dataclass(frozen=True)
class Score:
    earned: int
    total: int
    scaled: Decimal
    questions: tuple[ScoredQuestion, ...]


def score_answers(
    *, questions: Iterable[QuestionKey], answers: Mapping[int, Iterable[int]]
) -> Score:
    """Score answers (question id -> selected choice ids).

    A question earns its points only when the selection is exactly its correct choices, so a
    multiple-answer question is all or nothing. Unanswered questions earn nothing.
    """
    questions = list(questions)
    scored = []
    for question in questions:
        selected = frozenset(answers.get(question.id, ()))
        correct = bool(selected) and selected == question.correct_choice_ids
        scored.append(
            ScoredQuestion(question.id, selected, correct, question.points if correct else 0)
        )
    earned = sum(q.points_awarded for q in scored)
    total = sum(q.points for q in questions)
    return Score(earned, total, scale_score(earned=earned, total=total), tuple(scored))


def grade_attempts(*, method: str, scores: Iterable[tuple[object, Decimal]]) -> Decimal | None:
    """The mark over completed attempts given as (completed_at, score): highest or latest."""
    scores = list(scores)
    if not scores:
        return None
    if method == "latest":
        return max(scores, key=lambda pair: pair[0])[1]
    return max(score for _, score in scores)


def counting_attempt(*, method: str, attempts):
    """The attempt whose score is the mark: the latest, or the highest (the first to reach
    it on a tie). ``attempts`` have ``completed_at`` and ``score``; None when there are none."""
    attempts = [a for a in attempts if a.completed_at is not None and a.score is not None]
    if not attempts:
        return None
    if method == "latest":
        return max(attempts, key=lambda a: a.completed_at)
    return min(attempts, key=lambda a: (-a.score, a.completed_at))


def format_score(score: Decimal) -> str:
    """A 0–10 score as people write it: 7.50 → "7.5", 10.00 → "10", 3.33 → "3.33"."""
    return f"{Decimal(score).quantize(TWO_PLACES).normalize():f}"
