"""When a student sees the score (`Quiz.review_score`, issue 23 item 7): held back, no page a
student sees names a score, points or the mark's value, and each says when it will appear;
the mark still reaches the Analyzer's queue and the teachers' grids as before."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from academic_integration.models import TutorialMark
from quizzes.importing import QuizFileError, quiz_import
from quizzes.models import Quiz
from quizzes.selectors import quiz_results
from tests.factories import admin_quiz_form, answers_for, make_quiz, quiz_data

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLOSES = NOON + timedelta(hours=1)
IN_GRACE = CLOSES + timedelta(minutes=5)  # the last moment a submit is still accepted
PAST_GRACE = IN_GRACE + timedelta(seconds=1)


def complete(client, quiz, *, correct=True):
    """Take and submit the quiz; return the result page's HTML and the attempt's URL."""
    attempt = client.get(quiz.get_absolute_url()).context["attempt"]
    response = client.post(
        reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz, correct=correct)
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client.get(response.url).content.decode(), response.url


def said_in(html, name):
    found = re.search(rf'data-testid="{name}">([^<]+)<', html)
    return found and found.group(1)


def assert_no_score(html):
    """Nothing on the page names a score, the points or a mark's value."""
    assert "/ 10" not in html
    assert 'data-testid="score"' not in html
    assert not re.search(r"\d+ of \d+ points", html)
    assert not re.search(r"\(\d+(\.\d+)? / \d+\)", html)  # points per question
    assert 'class="counts"' not in html


# --- the rule, at the edges of each choice -------------------------------------------------


def test_the_score_is_shown_immediately_by_default(teacher):
    assert make_quiz().review_score == Quiz.Review.IMMEDIATELY
    assert Quiz().review_score == Quiz.Review.IMMEDIATELY


@pytest.mark.parametrize(
    "review, max_attempts, now, used, visible",
    [
        ("immediately", 3, NOON, 1, True),
        ("after_last_attempt", 3, NOON, 2, False),
        ("after_last_attempt", 3, NOON, 3, True),
        ("after_last_attempt", None, NOON, 50, False),  # unlimited attempts: at the close
        ("after_last_attempt", None, IN_GRACE, 1, False),
        ("after_last_attempt", None, PAST_GRACE, 1, True),
        ("after_close", 1, NOON, 1, False),  # out of attempts is not enough
        ("after_close", 1, IN_GRACE, 1, False),
        ("after_close", 1, PAST_GRACE, 1, True),
        ("never", 1, PAST_GRACE, 1, False),
    ],
)
def test_when_the_score_is_visible(review, max_attempts, now, used, visible):
    quiz = Quiz(review_score=review, max_attempts=max_attempts, closes_at=CLOSES)
    assert quiz.rules().score_visible(attempts_used=used, now=now) is visible


def test_the_score_has_its_own_moment_whatever_the_key_and_right_and_wrong_do():
    quiz = Quiz(review="immediately", review_correctness="immediately", review_score="never")
    assert quiz.rules().key_visible(attempts_used=1, now=NOON)
    assert not quiz.rules().score_visible(attempts_used=1, now=NOON)


# --- during attempts: the result page, the attempt list, the home list ----------------------


@pytest.mark.parametrize("method", ["highest", "latest"])
def test_held_until_the_last_attempt_no_page_names_the_score(student_client, method):
    quiz = make_quiz(
        max_attempts=2, n_questions=2, grading_method=method, review_score="after_last_attempt"
    )
    html, _ = complete(student_client, quiz)
    assert_no_score(html)
    assert said_in(html, "score-hidden") == (
        "Your answers are saved. Your score is shown when you have used all your attempts."
    )
    assert "✓ right" in html  # right/wrong has its own setting; only the points go
    counting = said_in(html, "counting")
    assert counting == (
        "Your tutorial 2 mark is your highest score on this quiz."
        if method == "highest"
        else "Your tutorial 2 mark is the score of your latest attempt."
    )
    assert said_in(html, "sync-status") == (
        "Your result is saved. Your tutorial 2 mark has not reached the Academic Analyzer yet; "
        "it will be delivered automatically later, by the next scheduled delivery run. You need "
        "do nothing."
    )

    take = student_client.get(quiz.get_absolute_url()).content.decode()  # the second attempt
    listing = take[take.index('data-testid="attempt-list"') :]
    assert_no_score(listing)
    assert said_in(take, "score-hidden") == (
        "Your score is shown when you have used all your attempts."
    )
    assert said_in(take, "analyzer-line") == (
        "Your tutorial 2 mark has not reached the Academic Analyzer yet; it is delivered "
        "automatically."
    )
    home = student_client.get(reverse("quizzes:home")).content.decode()
    assert "Score not shown" in home and "/ 10" not in home

    # The mark is recorded as ever: the college's record is not the student's view.
    assert TutorialMark.objects.get().value == 10
    [row] = quiz_results(quiz=quiz)
    assert row.mark == 10


def test_after_the_last_attempt_every_page_shows_the_score(student_client):
    quiz = make_quiz(max_attempts=2, n_questions=2, review_score="after_last_attempt")
    first, first_url = complete(student_client, quiz, correct=False)
    assert_no_score(first)
    html, _ = complete(student_client, quiz)
    assert said_in(html, "score") == "10 / 10"
    assert "2 of 2 points" in html and "(1 / 1)" in html
    assert 'data-testid="score-hidden"' not in html
    assert "your tutorial 2 mark is 10 / 10" in said_in(html, "counting")
    assert "(10 / 10)" in said_in(html, "sync-status")
    # The first attempt's page shows its score now too.
    assert said_in(student_client.get(first_url).content.decode(), "score") == "0 / 10"

    listing = student_client.get(quiz.get_absolute_url()).content.decode()  # no attempts left
    assert ": 10 / 10" in listing and ": 0 / 10" in listing
    assert 'class="counts"' in listing
    assert said_in(listing, "analyzer-line").startswith("Your tutorial 2 mark is 10 / 10;")
    home = student_client.get(reverse("quizzes:home")).content.decode()
    assert "Best score 10 / 10" in home and "Score not shown" not in home


def test_shown_immediately_is_as_before(student_client):
    quiz = make_quiz(max_attempts=2, n_questions=1)
    html, _ = complete(student_client, quiz)
    assert said_in(html, "score") == "10 / 10"
    assert 'data-testid="score-hidden"' not in html
    take = student_client.get(quiz.get_absolute_url()).content.decode()
    assert ": 10 / 10" in take and 'data-testid="score-hidden"' not in take


# --- after the close: the edges of the grace period -----------------------------------------


@pytest.mark.parametrize("review", ["after_close", "after_last_attempt"])
def test_held_until_the_close_the_score_appears_after_the_grace_period(student_client, review):
    with time_machine.travel(NOON, tick=False):
        quiz = make_quiz(n_questions=1, review_score=review, closes_at=CLOSES.isoformat())
        html, url = complete(student_client, quiz)
        assert_no_score(html)
        closes = "1 Dec 2026 18:30 IST"
        assert said_in(html, "score-hidden") == (
            f"Your answers are saved. Your score is shown after the quiz closes ({closes})."
        )
    with time_machine.travel(IN_GRACE, tick=False):
        assert_no_score(student_client.get(url).content.decode())
        closed = student_client.get(quiz.get_absolute_url())  # not open: the attempt list
        assert closed.status_code == 403
        assert_no_score(closed.content.decode())
    with time_machine.travel(PAST_GRACE, tick=False):
        assert said_in(student_client.get(url).content.decode(), "score") == "10 / 10"
        closed = student_client.get(quiz.get_absolute_url()).content.decode()
        assert ": 10 / 10" in closed
        assert "Best score 10 / 10" in student_client.get(reverse("quizzes:home")).content.decode()


def test_held_until_the_close_using_every_attempt_is_not_enough(student_client):
    with time_machine.travel(NOON, tick=False):
        quiz = make_quiz(
            n_questions=1, max_attempts=1, review_score="after_close", closes_at=CLOSES.isoformat()
        )
        html, _ = complete(student_client, quiz)
        assert_no_score(html)
        no_attempts_left = student_client.get(quiz.get_absolute_url())
        assert no_attempts_left.status_code == 403
        assert_no_score(no_attempts_left.content.decode())


def test_never_shown_even_after_the_close_and_every_attempt(student_client):
    with time_machine.travel(NOON, tick=False):
        quiz = make_quiz(
            n_questions=1, max_attempts=1, review_score="never", closes_at=CLOSES.isoformat()
        )
        html, url = complete(student_client, quiz)
        assert said_in(html, "score-hidden") == (
            "Your answers are saved. Your teacher does not show the score of this quiz; your "
            "mark is still recorded."
        )
    with time_machine.travel(PAST_GRACE + timedelta(days=30), tick=False):
        assert_no_score(student_client.get(url).content.decode())
        assert_no_score(student_client.get(quiz.get_absolute_url()).content.decode())
    assert TutorialMark.objects.get().value == 10


@pytest.mark.parametrize(
    "fields, said",
    [
        (
            {"review_score": "after_close"},
            "Your score is shown after the quiz closes; it has no closing date yet.",
        ),
        (
            {"review_score": "after_last_attempt"},
            "Your score is not shown: this quiz has unlimited attempts and no closing date.",
        ),
        (
            {"review_score": "after_last_attempt", "max_attempts": 3, "closes_at": CLOSES},
            "Your score is shown when you have used all your attempts or after the quiz closes "
            "(1 Dec 2026 18:30 IST).",
        ),
    ],
)
def test_the_student_is_told_when_the_score_appears(fields, said):
    from quizzes.wording import score_hidden_message

    assert score_hidden_message(quiz=Quiz(**fields)) == said


# --- where teachers set it ------------------------------------------------------------------


def test_a_quiz_file_and_admin_set_when_the_score_is_shown(teacher, client):
    quiz = quiz_import(data=quiz_data(review_score="after_close")).quiz
    assert quiz.review_score == "after_close"
    with pytest.raises(QuizFileError, match="review_score: must be one of"):
        quiz_import(data=quiz_data(review_score="sometimes"))

    client.force_login(teacher)
    page = client.get(reverse("admin:quizzes_quiz_change", args=[quiz.pk])).content.decode()
    assert 'name="review_score"' in page
    question = {"text": "Q", "points": "1", "choices_text": "*a\nb"}
    response = client.post(
        reverse("admin:quizzes_quiz_add"), admin_quiz_form([question], review_score="never")
    )
    assert response.status_code == 302
    assert Quiz.objects.get(title="Compilers Tutorial 3").review_score == "never"
