"""Scoring: pure functions, no database."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

SCALE = Decimal(10)
TWO_PLACES = Decimal("0.01")

# Question kinds and multiple-answer schemes, as stored on Question (kind, scoring).
CHOICE, TRUE_FALSE, NUMERIC, SHORT_ANSWER = "choice", "true_false", "numeric", "short_answer"
ALL_OR_NOTHING, PARTIAL = "all_or_nothing", "partial"

#: The longest typed answer kept: a numeric or short answer is a word or a number.
MAX_RESPONSE_CHARS = 200


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def round_points(value) -> Decimal:
    """Points as stored and shown: exact fractions rounded half-up to 2 decimals."""
    return _decimal(Fraction(value)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)


def scale_score(*, earned, total) -> Decimal:
    """Return earned/total on a 0–10 scale, rounded half-up to 2 decimals (0 when total is 0).

    ``earned`` may be a Fraction (partial credit): the score is rounded once, from the exact
    value, never from points already rounded.
    """
    if total <= 0:
        return Decimal("0.00")
    return round_points(Fraction(earned) * 10 / Fraction(total))


# A sign, digits and one decimal separator; nothing else (no thousands separators, no 1e3).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")


def parse_number(text: str) -> Decimal:
    """A student's numeric answer: surrounding spaces are ignored, a comma is read as the
    decimal point ("3,5" is 3.5), a Unicode minus as a minus. Raises ValueError, with a
    message for the student, for anything else (thousands separators, units, words)."""
    cleaned = text.strip().replace("\u2212", "-")
    if not _NUMBER.fullmatch(cleaned) or len(cleaned) > 30:
        raise ValueError(
            f"“{text.strip()[:40]}” is not a number: write digits with one decimal point or "
            "comma, e.g. 3.5 or -0,25 (no thousands separators or units)."
        )
    try:
        return Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # the pattern already refuses this; kept as a safety net
        raise ValueError(f"“{text.strip()[:40]}” is not a number.") from None


def normalize_text(text: str, *, ignore_case: bool) -> str:
    """A short answer as compared: trimmed, inner spaces kept, casefolded on request."""
    text = text.strip()
    return text.casefold() if ignore_case else text


@dataclass(frozen=True)
class QuestionKey:
    """What scoring needs to know about one question."""

    id: int
    points: int
    correct_choice_ids: frozenset[int] = frozenset()
    kind: str = CHOICE
    scoring: str = ALL_OR_NOTHING
    numeric_answer: Decimal | None = None
    numeric_tolerance: Decimal = Decimal(0)
    accepted_answers: tuple[str, ...] = ()
    ignore_case: bool = False

    def is_typed(self) -> bool:
        """The student types the answer (numeric, short answer) instead of picking choices."""
        return self.kind in (NUMERIC, SHORT_ANSWER)


@dataclass(frozen=True)
class ScoredQuestion:
    question_id: int
    selected: frozenset[int]
    is_correct: bool
    points_awarded: Fraction
    response: str = ""


@dataclass(frozen=True)
class Score:
    earned: Fraction
    total: int
    scaled: Decimal
    questions: tuple[ScoredQuestion, ...]


def choice_credit(*, key: QuestionKey, selected: frozenset[int]) -> Fraction:
    """The share (0–1) of a choice question's points a selection earns.

    All or nothing: 1 only for exactly the correct choices. Partial (multiple-answer only):
    each correct choice ticked +1/k, each wrong choice ticked −1/k, k = the number of
    correct choices, never below 0; so all correct and nothing else is 1.
    """
    if not selected:
        return Fraction(0)
    correct = key.correct_choice_ids
    if key.scoring != PARTIAL or not correct:
        return Fraction(int(selected == correct))
    k = len(correct)
    return max(Fraction(len(selected & correct) - len(selected - correct), k), Fraction(0))


def numeric_matches(*, key: QuestionKey, response: str) -> bool:
    """Whether a typed number is within the tolerance of the answer, edges included.
    Raises ValueError for text that is not a number (see parse_number)."""
    value = parse_number(response)
    assert key.numeric_answer is not None, "a numeric question has an answer"
    return abs(value - key.numeric_answer) <= key.numeric_tolerance


def short_answer_matches(*, key: QuestionKey, response: str) -> bool:
    """Whether a typed answer equals an accepted one after trimming (and casefolding)."""
    given = normalize_text(response, ignore_case=key.ignore_case)
    return any(
        given == normalize_text(a, ignore_case=key.ignore_case) for a in key.accepted_answers
    )


def _credit(key: QuestionKey, selected: frozenset[int], response: str) -> Fraction:
    if key.kind == NUMERIC:
        try:
            return Fraction(
                int(bool(response.strip()) and numeric_matches(key=key, response=response))
            )
        except ValueError:
            return Fraction(0)  # refused on submit; an old unparsable answer earns nothing
    if key.kind == SHORT_ANSWER:
        return Fraction(
            int(bool(response.strip()) and short_answer_matches(key=key, response=response))
        )
    return choice_credit(key=key, selected=selected)


def score_answers(
    *,
    questions: Iterable[QuestionKey],
    answers: Mapping[int, Iterable[int]],
    responses: Mapping[int, str] | None = None,
) -> Score:
    """Score answers: question id -> selected choice ids, and for numeric and short-answer
    questions question id -> the typed text.

    A choice question earns its points when the selection is exactly its correct choices, or
    a share of them under partial credit (see choice_credit); a typed answer earns them when
    it matches. Unanswered questions earn nothing.
    """
    questions = list(questions)
    responses = responses or {}
    scored = []
    for question in questions:
        selected = frozenset(answers.get(question.id, ()))
        response = responses.get(question.id, "") if question.is_typed() else ""
        credit = _credit(question, selected, response)
        scored.append(
            ScoredQuestion(
                question.id, selected, credit == 1, credit * question.points, response.strip()
            )
        )
    earned = sum((q.points_awarded for q in scored), Fraction(0))
    total = sum(q.points for q in questions)
    return Score(earned, total, scale_score(earned=earned, total=total), tuple(scored))


def grade_attempts(*, method: str, scores: Iterable[tuple[datetime, Decimal]]) -> Decimal | None:
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
