"""Scoring is pure: no database, exact Decimal arithmetic."""

from datetime import datetime, timedelta
from decimal import Decimal

from quizzes.scoring import (
    QuestionKey,
    format_score,
    grade_attempts,
    scale_score,
    score_answers,
)


def test_two_of_six_points_is_3_33():
    assert scale_score(earned=2, total=6) == Decimal("3.33")


def test_one_of_eighty_rounds_half_up_to_0_13():
    # 1/80*10 = 0.125 exactly; a float cannot hold it, so round() goes the wrong way.
    assert round(1 / 80 * 10, 2) == 0.12
    assert scale_score(earned=1, total=80) == Decimal("0.13")


def test_full_marks_is_10():
    assert scale_score(earned=7, total=7) == Decimal("10.00")


def test_nothing_earned_is_0():
    assert scale_score(earned=0, total=5) == Decimal("0")


def test_a_total_of_zero_scores_0_instead_of_dividing_by_zero():
    assert scale_score(earned=0, total=0) == Decimal("0")


def test_score_has_two_decimal_places():
    assert scale_score(earned=3, total=4).as_tuple().exponent == -2


SINGLE = QuestionKey(id=1, points=2, correct_choice_ids=frozenset({11}))
MULTI = QuestionKey(id=2, points=3, correct_choice_ids=frozenset({21, 22}))


def test_right_answers_earn_their_points():
    score = score_answers(questions=[SINGLE, MULTI], answers={1: {11}, 2: {21, 22}})
    assert (score.earned, score.total, score.scaled) == (5, 5, Decimal("10.00"))
    assert [q.is_correct for q in score.questions] == [True, True]


def test_a_wrong_single_answer_earns_nothing():
    score = score_answers(questions=[SINGLE, MULTI], answers={1: {12}, 2: {21, 22}})
    assert (score.earned, score.scaled) == (3, Decimal("6.00"))
    assert score.questions[0].points_awarded == 0


def test_multiple_answer_is_all_or_nothing():
    partial = score_answers(questions=[MULTI], answers={2: {21}})
    too_many = score_answers(questions=[MULTI], answers={2: {21, 22, 23}})
    assert partial.earned == 0
    assert too_many.earned == 0
    assert not partial.questions[0].is_correct


def test_unanswered_questions_earn_nothing_but_count_in_the_total():
    score = score_answers(questions=[SINGLE, MULTI], answers={2: {21, 22}})
    assert (score.earned, score.total, score.scaled) == (3, 5, Decimal("6.00"))
    assert score.questions[0].selected == frozenset()
    assert not score.questions[0].is_correct


def test_an_empty_selection_is_unanswered():
    score = score_answers(questions=[SINGLE], answers={1: set()})
    assert score.earned == 0


def test_the_selection_is_kept_per_question():
    score = score_answers(questions=[SINGLE, MULTI], answers={1: {12}, 2: {22}})
    assert [q.selected for q in score.questions] == [frozenset({12}), frozenset({22})]


T0 = datetime(2026, 1, 5, 10, 0)
ATTEMPTS = [
    (T0, Decimal("4.00")),
    (T0 + timedelta(hours=2), Decimal("6.50")),  # latest
    (T0 + timedelta(hours=1), Decimal("9.00")),  # highest
]


def test_grade_by_highest_attempt():
    assert grade_attempts(method="highest", scores=ATTEMPTS) == Decimal("9.00")


def test_grade_by_latest_attempt():
    assert grade_attempts(method="latest", scores=ATTEMPTS) == Decimal("6.50")


def test_no_attempts_no_grade():
    assert grade_attempts(method="highest", scores=[]) is None
    assert grade_attempts(method="latest", scores=[]) is None


def test_scores_are_shown_without_trailing_zeros():
    shown = [format_score(Decimal(s)) for s in ("7.50", "10.00", "0.00", "3.33", "0.13")]
    assert shown == ["7.5", "10", "0", "3.33", "0.13"]
