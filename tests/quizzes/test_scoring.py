"""Scoring is pure: no database, exact Decimal arithmetic."""

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from quizzes.scoring import (
    QuestionKey,
    choice_credit,
    format_score,
    grade_attempts,
    numeric_matches,
    parse_number,
    round_points,
    scale_score,
    score_answers,
    short_answer_matches,
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


# --- partial credit (issue 20): +1/k per right tick, -1/k per wrong, floor 0 -----------------

PARTIAL3 = QuestionKey(  # k = 3 correct choices (31-33), two wrong ones (34, 35)
    id=3, points=3, correct_choice_ids=frozenset({31, 32, 33}), scoring="partial"
)


@pytest.mark.parametrize(
    ("selected", "credit"),
    [
        ({31, 32, 33}, Fraction(1)),  # all right, nothing wrong: full points
        ({31, 32}, Fraction(2, 3)),  # 2 of k=3
        ({31}, Fraction(1, 3)),
        ({31, 32, 33, 34}, Fraction(2, 3)),  # one wrong tick costs 1/k
        ({31, 32, 34}, Fraction(1, 3)),
        ({31, 34}, Fraction(0)),  # +1/3 - 1/3
        ({31, 34, 35}, Fraction(0)),  # -1/3 floors at 0, never negative
        ({34, 35}, Fraction(0)),
        (set(), Fraction(0)),  # unanswered
    ],
)
def test_partial_credit_per_tick_with_a_floor_of_zero(selected, credit):
    assert choice_credit(key=PARTIAL3, selected=frozenset(selected)) == credit


def test_partial_credit_is_a_share_of_the_points_and_only_full_credit_is_correct():
    score = score_answers(questions=[PARTIAL3], answers={3: {31, 32}})
    assert score.earned == 2  # 2/3 of 3 points
    assert not score.questions[0].is_correct
    assert score.scaled == Decimal("6.67")


def test_k_is_the_number_of_correct_choices_not_of_all_choices():
    two_right = QuestionKey(
        id=4, points=1, correct_choice_ids=frozenset({41, 42}), scoring="partial"
    )
    assert choice_credit(key=two_right, selected=frozenset({41})) == Fraction(1, 2)
    assert choice_credit(key=two_right, selected=frozenset({41, 43})) == 0


def test_the_score_is_rounded_once_from_the_exact_fractions():
    # Three 1-point questions each earning 1/3: exactly 1 point of 3, 3.33 / 10 — not a sum of
    # rounded 0.33s.
    keys = [
        QuestionKey(
            id=i,
            points=1,
            correct_choice_ids=frozenset({i * 10, i * 10 + 1, i * 10 + 2}),
            scoring="partial",
        )
        for i in (1, 2, 3)
    ]
    score = score_answers(questions=keys, answers={i: {i * 10} for i in (1, 2, 3)})
    assert score.earned == 1
    assert score.scaled == Decimal("3.33")
    assert round_points(Fraction(2, 3)) == Decimal("0.67")


def test_all_or_nothing_stays_the_default_for_multiple_answer():
    assert choice_credit(key=MULTI, selected=frozenset({21})) == 0


# --- numeric: a value and an inclusive tolerance ------------------------------------------------

NUMERIC_KEY = QuestionKey(
    id=5, points=2, kind="numeric", numeric_answer=Decimal("3.5"), numeric_tolerance=Decimal("0.1")
)


@pytest.mark.parametrize(
    ("typed", "right"),
    [
        ("3.5", True),
        ("3.4", True),  # the lower edge is included
        ("3.6", True),  # the upper edge is included (exact decimals, no float error)
        ("3.39999", False),
        ("3.60001", False),
        ("3,5", True),  # a comma is the decimal point
        (" 3.50 ", True),  # spaces around and trailing zeros do not matter
        ("+3.5", True),
        (".35e1", None),  # exponents are not numbers here
    ],
)
def test_numeric_tolerance_edges_are_inclusive(typed, right):
    if right is None:
        with pytest.raises(ValueError):
            numeric_matches(key=NUMERIC_KEY, response=typed)
    else:
        assert numeric_matches(key=NUMERIC_KEY, response=typed) is right


def test_a_zero_tolerance_means_exactly_the_value():
    exact = QuestionKey(id=6, points=1, kind="numeric", numeric_answer=Decimal("-2"))
    assert numeric_matches(key=exact, response="-2.000")
    assert numeric_matches(key=exact, response="\u22122")  # a typographic minus
    assert not numeric_matches(key=exact, response="-2.001")


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("3,5", "3.5"),
        (" 3.50 ", "3.50"),
        ("-0,25", "-0.25"),
        (".5", "0.5"),
        ("7.", "7"),
        ("42", "42"),
    ],
)
def test_parse_number_reads_a_comma_or_a_point(typed, value):
    assert parse_number(typed) == Decimal(value)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "abc",
        "1,000.5",
        "1.000,5",
        "3 5",
        "3.5 cm",
        "1e3",
        "NaN",
        "Infinity",
        "--1",
        "1.2.3",
        "9" * 31,
    ],
)
def test_parse_number_refuses_anything_else_with_a_message(typed):
    with pytest.raises(ValueError, match="is not a number"):
        parse_number(typed)


def test_an_unparsable_numeric_answer_scores_nothing_instead_of_crashing():
    # Refused on submit; kept here in case an old answer is regraded.
    score = score_answers(questions=[NUMERIC_KEY], answers={}, responses={5: "abc"})
    assert score.earned == 0


def test_a_numeric_answer_scores_its_points():
    score = score_answers(questions=[NUMERIC_KEY], answers={}, responses={5: " 3,55 "})
    assert (score.earned, score.questions[0].is_correct, score.questions[0].response) == (
        2,
        True,
        "3,55",
    )


# --- short answer: exact after trimming, case-insensitive on request --------------------------

PARIS = QuestionKey(
    id=7, points=1, kind="short_answer", accepted_answers=("Paris", "Paris, France")
)
PARIS_ANY_CASE = QuestionKey(
    id=7, points=1, kind="short_answer", accepted_answers=("Paris",), ignore_case=True
)


@pytest.mark.parametrize(
    ("key", "typed", "right"),
    [
        (PARIS, "Paris", True),
        (PARIS, "  Paris\t", True),  # trimmed
        (PARIS, "Paris, France", True),  # any of several accepted answers
        (PARIS, "paris", False),  # case matters unless ignore_case
        (PARIS, "Paris  France", False),  # inner spaces are kept
        (PARIS, "Pari", False),
        (PARIS_ANY_CASE, "PARIS", True),
        (PARIS_ANY_CASE, " paris ", True),
        (PARIS_ANY_CASE, "Parisian", False),
    ],
)
def test_short_answer_exact_after_trimming(key, typed, right):
    assert short_answer_matches(key=key, response=typed) is right


def test_an_empty_short_answer_is_unanswered():
    score = score_answers(questions=[PARIS], answers={}, responses={7: "   "})
    assert score.earned == 0
