"""Time limit per quiz (issue 20): the deadline rule at its edges, and where teachers set it."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from quizzes.models import MAX_TIME_LIMIT_MINUTES, Quiz
from quizzes.rules import QuizRules
from quizzes.selectors import quiz_rules_for
from quizzes.time_limits import NETWORK_GRACE, attempt_deadline, is_overdue, warning_from
from tests.factories import admin_quiz_form, make_quiz, quiz_data

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def rules(minutes=None, closes_at=None, *, extra_minutes=0, later=None) -> QuizRules:
    """A student's rules on a quiz with this limit and closing, widened by their exception."""
    quiz = Quiz(time_limit_minutes=minutes, closes_at=closes_at)
    return QuizRules.build(quiz, extra_minutes=extra_minutes, closes_at=later)


# --- the deadline rule ------------------------------------------------------------------------


def test_without_a_time_limit_an_attempt_has_no_deadline_even_if_the_quiz_closes():
    assert attempt_deadline(started_at=T0, rules=rules(closes_at=T0 + timedelta(hours=1))) is None


def test_the_deadline_is_the_start_plus_the_limit():
    assert attempt_deadline(started_at=T0, rules=rules(30)) == T0 + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("closes_in", "deadline_in"),
    [
        (timedelta(minutes=10), timedelta(minutes=10)),  # closes first: capped
        (timedelta(minutes=30), timedelta(minutes=30)),  # the same moment
        (timedelta(minutes=31), timedelta(minutes=30)),  # the limit first
    ],
)
def test_the_closing_time_caps_the_deadline(closes_in, deadline_in):
    deadline = attempt_deadline(started_at=T0, rules=rules(30, closes_at=T0 + closes_in))
    assert deadline == T0 + deadline_in


def test_an_attempt_is_overdue_only_after_the_network_grace():
    deadline = T0 + timedelta(minutes=30)
    assert not is_overdue(deadline=deadline, now=deadline)
    assert not is_overdue(deadline=deadline, now=deadline + NETWORK_GRACE)
    assert is_overdue(deadline=deadline, now=deadline + NETWORK_GRACE + timedelta(microseconds=1))
    assert not is_overdue(deadline=None, now=deadline + timedelta(days=9))


@pytest.mark.parametrize(("minutes", "warn_minutes"), [(60, 5), (25, 5), (10, 2), (1, 0.2)])
def test_the_warning_starts_five_minutes_before_or_at_the_last_fifth(minutes, warn_minutes):
    deadline = T0 + timedelta(minutes=minutes)
    warn = warning_from(deadline=deadline, rules=rules(minutes))
    assert deadline - warn == timedelta(minutes=warn_minutes)


def test_extra_minutes_lengthen_the_limit_and_a_later_closing_moves_the_cap():
    closes = T0 + timedelta(minutes=30)
    mine = rules(30, closes_at=closes, extra_minutes=15)
    assert attempt_deadline(started_at=T0, rules=mine) == closes  # still capped by the close
    mine = rules(30, closes_at=closes, extra_minutes=15, later=closes + timedelta(hours=1))
    assert attempt_deadline(started_at=T0, rules=mine) == T0 + timedelta(minutes=45)
    assert attempt_deadline(started_at=T0, rules=rules(extra_minutes=15)) is None  # untimed


def test_the_rules_are_the_quizs_own_limit_and_closing_time(db, teacher):
    quiz = make_quiz(time_limit_minutes=20, closes_at="2026-03-02T10:00:00+00:00")
    mine = quiz_rules_for(quiz=quiz, student_id=1)
    assert (mine.time_limit, mine.closes_at) == (
        timedelta(minutes=20),
        datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    )


# --- where the teacher sets it ----------------------------------------------------------------


def test_the_import_reads_the_time_limit(teacher):
    assert make_quiz(time_limit_minutes=45).time_limit_minutes == 45
    assert make_quiz(tutorial_number=3).time_limit_minutes is None


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0, "time_limit_minutes: must be > 0"),
        (-5, "time_limit_minutes: must be > 0"),
        (MAX_TIME_LIMIT_MINUTES + 1, "time_limit_minutes: must be between 1 and 1440"),
        ("30", "time_limit_minutes: must be a whole number"),
        (1.5, "time_limit_minutes: must be a whole number"),
        (True, "time_limit_minutes: must be a whole number"),
    ],
)
def test_the_import_refuses_a_bad_time_limit_naming_the_field(teacher, tmp_path, value, error):
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(quiz_data(time_limit_minutes=value)))
    with pytest.raises(CommandError) as raised:
        call_command("import_quiz", str(path), stdout=StringIO())
    assert error in str(raised.value)
    assert not Quiz.objects.exists()


def test_the_database_refuses_a_time_limit_out_of_range(teacher):
    quiz = make_quiz()
    for bad in (0, MAX_TIME_LIMIT_MINUTES + 1):
        with pytest.raises(IntegrityError), transaction.atomic():
            Quiz.objects.filter(pk=quiz.pk).update(time_limit_minutes=bad)


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


QUESTION = {"text": "Which phase builds the parse tree?", "points": "2", "choices_text": "*A\nB"}


def test_a_teacher_sets_the_time_limit_in_admin(teacher_client):
    form = admin_quiz_form([QUESTION], time_limit_minutes="40")
    response = teacher_client.post(reverse("admin:quizzes_quiz_add"), form)
    assert response.status_code == 302
    assert Quiz.objects.get().time_limit_minutes == 40


@pytest.mark.parametrize(
    ("value", "error"),
    [("0", "greater than or equal to 1"), ("1441", "less than or equal to 1440")],
)
def test_admin_refuses_a_bad_time_limit(teacher_client, value, error):
    form = admin_quiz_form([QUESTION], time_limit_minutes=value)
    response = teacher_client.post(reverse("admin:quizzes_quiz_add"), form)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Quiz.objects.exists()
