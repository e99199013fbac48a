"""Issue 12: review options, opening and closing dates, confirming unanswered questions,
which attempt counts, regrading a changed key, favicon and form contrast."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.templatetags.static import static
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from academic_integration.models import TutorialMark
from quizzes.importing import QuizFileError, quiz_import
from quizzes.models import AttemptAnswer, Choice, Question, Quiz, QuizAttempt, QuizRegrade
from quizzes.services import attempt_get_or_start, attempt_submit, quiz_regrade
from tests.factories import (
    QUESTION_PAGE_DEFAULTS,
    admin_quiz_form,
    answers_for,
    make_quiz,
    make_student,
    quiz_data,
)

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY_MARK = '<span class="ok">correct</span>'


def submit_url(attempt):
    return reverse("quizzes:attempt_submit", args=[attempt.pk])


def take(client, quiz):
    response = client.get(quiz.get_absolute_url())
    assert response.status_code == 200, response.content.decode()[:500]
    return response.context["attempt"]


def complete(client, quiz, *, correct=True, **extra):
    """Take and submit the quiz, every question answered; return the result page."""
    attempt = take(client, quiz)
    data = answers_for(quiz, correct=correct) | extra
    response = client.post(submit_url(attempt), data)
    assert response.status_code == 302, response.content.decode()[:500]
    return client.get(response.url), attempt


# --- review options -------------------------------------------------------------------------


def test_the_default_review_is_after_the_last_attempt(teacher):
    assert make_quiz().review == Quiz.Review.AFTER_LAST_ATTEMPT
    assert Quiz().review == Quiz.Review.AFTER_LAST_ATTEMPT


@pytest.mark.parametrize(
    "review, max_attempts, closes_in, used, visible",
    [
        ("immediately", None, None, 1, True),
        ("immediately", 3, None, 1, True),
        ("after_last_attempt", 3, None, 1, False),
        ("after_last_attempt", 3, None, 3, True),
        ("after_last_attempt", None, None, 50, False),  # unlimited, no close: never
        ("after_last_attempt", None, -timedelta(minutes=6), 1, True),  # closed, past grace
        ("after_last_attempt", None, -timedelta(minutes=4), 1, False),  # still in grace
        ("after_close", 1, None, 1, False),
        ("after_close", 1, timedelta(hours=1), 1, False),
        ("after_close", 1, -timedelta(minutes=5), 1, False),  # grace ends inclusive
        ("after_close", 1, -timedelta(minutes=5, seconds=1), 1, True),
        ("never", 1, -timedelta(days=1), 1, False),
    ],
)
def test_when_the_key_is_visible(review, max_attempts, closes_in, used, visible):
    quiz = Quiz(
        review=review,
        max_attempts=max_attempts,
        closes_at=None if closes_in is None else NOON + closes_in,
    )
    assert quiz.rules().key_visible(attempts_used=used, now=NOON) is visible


def test_with_retakes_left_the_result_shows_right_and_wrong_but_not_the_key(
    student_client, teacher
):
    quiz = make_quiz(max_attempts=2, n_questions=2)
    page, _ = complete(student_client, quiz, correct=False)
    html = page.content.decode()
    assert "0 / 10" in html
    assert "✗ wrong" in html
    assert "(your answer)" in html
    assert KEY_MARK not in html
    assert "shown when you have used all your attempts" in html
    # The last attempt: now the key shows, on every result.
    page, _ = complete(student_client, quiz, correct=True)
    assert KEY_MARK in page.content.decode()
    assert "✓ right" in page.content.decode()


def test_immediately_shows_the_key_after_the_first_attempt(student_client, teacher):
    quiz = make_quiz(review="immediately", n_questions=1)
    page, _ = complete(student_client, quiz, correct=False)
    assert KEY_MARK in page.content.decode()


def test_never_hides_the_key_even_with_no_attempts_left(student_client, teacher):
    quiz = make_quiz(review="never", max_attempts=1, n_questions=1)
    page, _ = complete(student_client, quiz, correct=False)
    html = page.content.decode()
    assert KEY_MARK not in html
    assert "✗ wrong" in html
    assert "does not show the correct answers" in html


def test_after_close_shows_the_key_once_the_grace_period_is_over(student_client, teacher):
    with time_machine.travel(NOON, tick=False):
        quiz = make_quiz(
            review="after_close", closes_at=(NOON + timedelta(hours=1)).isoformat(), n_questions=1
        )
        page, attempt = complete(student_client, quiz, correct=False)
        assert KEY_MARK not in page.content.decode()
    with time_machine.travel(NOON + timedelta(hours=1, minutes=5, seconds=1), tick=False):
        page = student_client.get(attempt.get_absolute_url())
        assert KEY_MARK in page.content.decode()


# --- right/wrong per question (issue 23, item 7) ---------------------------------------------


def test_right_and_wrong_are_shown_immediately_by_default(teacher):
    assert make_quiz().review_correctness == Quiz.Review.IMMEDIATELY


@pytest.mark.parametrize(
    "correctness, review, used, visible",
    [
        ("after_last_attempt", "never", 1, False),
        ("after_last_attempt", "never", 3, True),
        ("never", "never", 3, False),
        ("never", "after_last_attempt", 3, True),  # the key shows right/wrong anyway
        ("after_close", "never", 3, False),
    ],
)
def test_when_right_and_wrong_are_visible(correctness, review, used, visible):
    quiz = Quiz(review=review, review_correctness=correctness, max_attempts=3)
    assert quiz.rules().correctness_visible(attempts_used=used, now=NOON) is visible


def test_right_and_wrong_can_wait_for_the_last_attempt_so_retakes_find_no_key(
    student_client, teacher
):
    quiz = make_quiz(max_attempts=2, n_questions=2, review_correctness="after_last_attempt")
    page, _ = complete(student_client, quiz, correct=False)
    html = page.content.decode()
    assert "0 / 10" in html  # the score is still shown
    assert "✗ wrong" not in html and "✓ right" not in html
    assert 'class="card wrong"' not in html
    assert "Which questions you got right is shown when you have used all your attempts." in html
    page, _ = complete(student_client, quiz, correct=True)
    assert "✓ right" in page.content.decode()


def test_a_quiz_file_and_admin_set_when_right_and_wrong_are_shown(teacher, admin_client):
    quiz = quiz_import(data=quiz_data(review_correctness="after_close")).quiz
    assert quiz.review_correctness == "after_close"
    with pytest.raises(QuizFileError, match="review_correctness: must be one of"):
        quiz_import(data=quiz_data(review_correctness="sometimes"))
    page = admin_client.get(reverse("admin:quizzes_quiz_change", args=[quiz.pk]))
    assert 'name="review_correctness"' in page.content.decode()


# --- opening and closing dates --------------------------------------------------------------


@pytest.fixture
def dated_quiz(teacher):
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        return make_quiz(
            title="Dated quiz",
            n_questions=2,
            opens_at=NOON.isoformat(),
            closes_at=(NOON + timedelta(hours=2)).isoformat(),
        )


def test_before_opening_the_quiz_is_upcoming_and_cannot_be_taken(student_client, dated_quiz):
    with time_machine.travel(NOON - timedelta(seconds=1), tick=False):
        home = student_client.get("/").content.decode()
        assert "Upcoming" in home
        assert dated_quiz.get_absolute_url() not in home  # no link
        response = student_client.get(dated_quiz.get_absolute_url())
        assert response.status_code == 403
        assert "opens on" in response.content.decode()
    assert not QuizAttempt.objects.filter(quiz=dated_quiz).exists()


def test_at_opening_time_the_quiz_can_be_taken(student_client, dated_quiz):
    with time_machine.travel(NOON, tick=False):
        assert dated_quiz.get_absolute_url() in student_client.get("/").content.decode()
        take(student_client, dated_quiz)


def test_at_closing_time_no_new_attempt_starts_and_the_page_says_so(student_client, dated_quiz):
    with time_machine.travel(NOON + timedelta(hours=2) - timedelta(seconds=1), tick=False):
        assert student_client.get(dated_quiz.get_absolute_url()).status_code == 200
        QuizAttempt.objects.filter(quiz=dated_quiz).delete()
    with time_machine.travel(NOON + timedelta(hours=2), tick=False):
        response = student_client.get(dated_quiz.get_absolute_url())
        assert response.status_code == 403
        assert "closed on" in response.content.decode()
        assert "no new attempts" in student_client.get("/").content.decode()
    assert not QuizAttempt.objects.filter(quiz=dated_quiz).exists()


@pytest.mark.parametrize(
    "late, accepted", [(timedelta(minutes=5), True), (timedelta(minutes=5, seconds=1), False)]
)
def test_an_attempt_in_progress_at_closing_time_has_a_grace_period(
    student_client, dated_quiz, late, accepted, caplog
):
    with time_machine.travel(NOON + timedelta(hours=1, minutes=59), tick=False):
        attempt = take(student_client, dated_quiz)
    data = answers_for(dated_quiz)
    with time_machine.travel(NOON + timedelta(hours=2) + late, tick=False):
        if accepted:  # the page still opens on the attempt within the grace period
            assert student_client.get(dated_quiz.get_absolute_url()).status_code == 200
        response = student_client.post(submit_url(attempt), data)
    attempt.refresh_from_db()
    if accepted:
        assert response.status_code == 302
        assert attempt.score == 10
    else:
        # Refused out loud, never silently: the student is told it was not recorded.
        assert response.status_code == 403
        assert "was not recorded" in response.content.decode()
        assert attempt.completed_at is None
        (line,) = [r.getMessage() for r in caplog.records if "late submit refused" in r.message]
        assert f"attempt={attempt.pk}" in line
        assert all(f"{key[2:]}:{value[0]}" in line for key, value in data.items())


def test_the_model_refuses_closing_before_opening(teacher):
    quiz = make_quiz()
    quiz.opens_at, quiz.closes_at = NOON, NOON
    with pytest.raises(Exception, match="close after it opens"):
        quiz.full_clean()


# --- import_quiz ----------------------------------------------------------------------------


def test_import_takes_review_and_dates(teacher):
    quiz = quiz_import(
        data=quiz_data(
            review="after_close",
            opens_at="2026-12-01T09:00:00+05:30",
            closes_at="2026-12-02T03:30:00Z",
        )
    ).quiz
    quiz.refresh_from_db()
    assert quiz.review == "after_close"
    assert quiz.opens_at == datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    assert quiz.closes_at == datetime(2026, 12, 2, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields, error",
    [
        ({"review": "sometimes"}, "review: must be one of"),
        ({"opens_at": "next monday"}, "opens_at: must be an ISO 8601"),
        ({"closes_at": "2026-12-01T09:00:00"}, "closes_at: add the time zone"),
        ({"opens_at": 5}, "opens_at: must be an ISO 8601"),
        (
            {"opens_at": "2026-12-02T00:00:00Z", "closes_at": "2026-12-01T00:00:00Z"},
            "closes_at: must be after opens_at",
        ),
    ],
)
def test_import_refuses_bad_review_and_dates(teacher, fields, error):
    with pytest.raises(QuizFileError) as caught:
        quiz_import(data=quiz_data(**fields))
    assert any(line.startswith(error) for line in caught.value.errors), caught.value.errors
    assert not Quiz.objects.exists()


# --- admin fields ---------------------------------------------------------------------------


def test_admin_saves_review_and_dates_and_refuses_closing_before_opening(client, teacher):
    client.force_login(teacher)
    url = reverse("admin:quizzes_quiz_add")
    question = {"text": "Q", "points": "1", "choices_text": "*a\nb"}
    bad = admin_quiz_form(
        [question],
        opens_at_0="2026-12-02",
        opens_at_1="09:00",
        closes_at_0="2026-12-01",
        closes_at_1="09:00",
    )
    response = client.post(url, bad)
    assert response.status_code == 200
    assert "The quiz must close after it opens." in response.content.decode()
    good = admin_quiz_form(
        [question],
        review="never",
        opens_at_0="2026-12-01",
        opens_at_1="09:00",
        closes_at_0="2026-12-02",
        closes_at_1="09:00",
    )
    assert client.post(url, good).status_code == 302
    quiz = Quiz.objects.get()
    assert quiz.review == "never"
    assert quiz.closes_at - quiz.opens_at == timedelta(days=1)


# --- confirming unanswered questions --------------------------------------------------------


def test_unanswered_questions_come_back_named_with_answers_kept(student_client, teacher):
    quiz = make_quiz(n_questions=3)
    attempt = take(student_client, quiz)
    questions = list(quiz.questions.all())
    first_choice = questions[0].choices.all()[0]
    response = student_client.post(submit_url(attempt), {f"q_{questions[0].pk}": first_choice.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "not answered 2 questions" in html
    assert f'href="#q-{questions[1].pk}">Question 2' in html
    assert f'href="#q-{questions[2].pk}">Question 3' in html
    assert re.search(rf'value="{first_choice.pk}" id="c_{first_choice.pk}" checked', html)
    assert 'name="confirm" value="1"' in html
    attempt.refresh_from_db()
    assert attempt.completed_at is None  # nothing written
    assert not AttemptAnswer.objects.filter(attempt=attempt).exists()

    response = student_client.post(
        submit_url(attempt), {f"q_{questions[0].pk}": first_choice.pk, "confirm": "1"}
    )
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert (attempt.earned_points, attempt.total_points) == (1, 3)


def test_answering_the_rest_after_the_reminder_submits_normally(student_client, teacher):
    quiz = make_quiz(n_questions=2)
    attempt = take(student_client, quiz)
    assert student_client.post(submit_url(attempt), {}).status_code == 200
    assert student_client.post(submit_url(attempt), answers_for(quiz)).status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == 10


def test_the_take_page_loads_the_submit_script_from_this_site(student_client, teacher):
    html = student_client.get(make_quiz(n_questions=1).get_absolute_url()).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    # take.js asks before submitting; answers.js saves as the student goes (issue 20).
    assert scripts == [static("quizzes/take.js"), static("quizzes/answers.js")]
    assert all(Client().get(script).status_code == 200 for script in scripts)


# --- which attempt counts -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["highest", "latest"])
def test_the_result_and_the_attempt_list_say_which_attempt_counts(student_client, method):
    quiz = make_quiz(grading_method=method, n_questions=2, review="immediately")
    with time_machine.travel(NOON, tick=False):
        complete(student_client, quiz, correct=True)
    with time_machine.travel(NOON + timedelta(minutes=10), tick=False):
        page, _ = complete(student_client, quiz, correct=False)
    html = page.content.decode()
    counting = re.search(r'data-testid="counting">([^<]+)<', html).group(1)
    if method == "highest":
        assert "This attempt does not change your mark" in counting
        assert "graded by your highest score: attempt 1" in counting
        assert "your tutorial 2 mark is 10 / 10" in counting
    else:
        assert "This attempt counts" in counting
        assert "graded by your latest score" in counting
        assert "your tutorial 2 mark is 0 / 10" in counting
    listing = student_client.get(quiz.get_absolute_url()).content.decode()
    line = re.search(r'data-testid="analyzer-line">([^<]+)<', listing).group(1)
    value = "10 / 10" if method == "highest" else "0 / 10"
    assert line == (
        f"Your tutorial 2 mark is {value}; it has not reached the Academic Analyzer yet and is "
        "delivered automatically."
    )
    counts = re.findall(r"Attempt (\d) [^<]*</a> <strong class=\"counts\">", listing)
    assert counts == (["1"] if method == "highest" else ["2"])
    mark = TutorialMark.objects.get()
    assert mark.value == (10 if method == "highest" else 0)


# --- regrading ------------------------------------------------------------------------------


def _students_submit(quiz, n, *, correct=True):
    attempts = []
    for _ in range(n):
        student = make_student()
        attempt = attempt_get_or_start(student=student, quiz=quiz)
        answers = {int(k[2:]): set(v) for k, v in answers_for(quiz, correct=correct).items()}
        attempt_submit(attempt_id=attempt.pk, student=student, answers=answers)
        attempts.append(attempt)
    return attempts


def test_changing_the_key_in_admin_regrades_attempts_and_marks(client, teacher):
    quiz = make_quiz(n_questions=2, created_by=teacher.email, grading_method="latest")
    attempts = _students_submit(quiz, 3, correct=True)
    before = {m.pk: m.version for m in TutorialMark.objects.all()}
    assert all(m.value == 10 for m in TutorialMark.objects.all())
    client.force_login(teacher)
    questions = list(quiz.questions.all())
    form = admin_quiz_form(
        [
            # First question: the key moves to the other choice; second: points doubled.
            {"text": questions[0].text, "points": "1", "choices_text": "right\n*wrong"},
            {"text": questions[1].text, "points": "2", "choices_text": "*right\nwrong"},
        ],
        quiz=quiz,
        title=quiz.title,
        tutorial_number="2",
        grading_method="latest",
    )
    response = client.post(reverse("admin:quizzes_quiz_change", args=[quiz.pk]), form, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Regraded" in text and "3 attempts scored again, 3 scores changed" in text
    assert "3 tutorial marks changed and will be delivered" in text
    for attempt in attempts:
        attempt.refresh_from_db()
        assert (attempt.earned_points, attempt.total_points) == (2, 3)
        assert attempt.score == Decimal("6.67")
        assert attempt.marks_synced is False
    for mark in TutorialMark.objects.all():
        assert mark.value == Decimal("6.67")
        assert mark.version == before[mark.pk] + 1
        assert mark.status == "pending"
    answer = AttemptAnswer.objects.get(attempt=attempts[0], question=questions[0])
    assert (answer.is_correct, answer.points_awarded) == (False, 0)
    regrade = QuizRegrade.objects.get()
    assert regrade.changed_by == teacher
    assert "correct choices of 1 question changed" in regrade.change
    assert "points of 1 question changed" in regrade.change
    # The teacher finds the change recorded on the quiz's page.
    page = client.get(reverse("admin:quizzes_quiz_change", args=[quiz.pk])).content.decode()
    assert "Regrades (answer key or points changed" in page
    assert "correct choices of 1 question changed" in page
    # The student is told.
    student_client = Client()
    student_client.force_login(attempts[0].student)
    page = student_client.get(attempts[0].get_absolute_url()).content.decode()
    assert "Regraded on" in page


def test_saving_without_a_key_change_does_not_regrade(client, teacher):
    quiz = make_quiz(n_questions=1, created_by=teacher.email)
    _students_submit(quiz, 1)
    client.force_login(teacher)
    question = quiz.questions.get()
    form = admin_quiz_form(
        [{"text": question.text, "points": "1", "choices_text": "*right\nwrong"}],
        quiz=quiz,
        title="Renamed",
        tutorial_number="2",
    )
    client.post(reverse("admin:quizzes_quiz_change", args=[quiz.pk]), form)
    assert Quiz.objects.get().title == "Renamed"
    assert not QuizRegrade.objects.exists()


def test_a_new_grading_method_recomputes_marks(teacher):
    quiz = make_quiz(n_questions=1, created_by=teacher.email)
    student = make_student()
    for correct in (True, False):
        attempt = attempt_get_or_start(student=student, quiz=quiz)
        answers = {int(k[2:]): set(v) for k, v in answers_for(quiz, correct=correct).items()}
        attempt_submit(attempt_id=attempt.pk, student=student, answers=answers)
    assert TutorialMark.objects.get().value == 10
    Quiz.objects.filter(pk=quiz.pk).update(grading_method="latest")
    quiz.refresh_from_db()
    result = quiz_regrade(quiz=quiz, changed_by=teacher, change="grading method now latest")
    assert (result.scores_changed, result.marks_recomputed) == (0, 1)
    assert TutorialMark.objects.get().value == 0


@pytest.fixture
def regrade_queries(teacher):
    def run(n):
        quiz = make_quiz(n_questions=3, created_by=teacher.email, tutorial_number=n % 4 + 1)
        _students_submit(quiz, n)
        Choice.objects.filter(question__quiz=quiz).update(is_correct=~Q(is_correct=True))
        Question.objects.filter(quiz=quiz).update(points=2)
        with CaptureQueriesContext(connection) as queries:
            result = quiz_regrade(quiz=quiz, changed_by=teacher, change="key flipped")
        assert result.attempts_rescored == n
        assert result.scores_changed == n
        assert result.marks_recomputed == n
        return len(queries)

    return run


# savepoint; attempts in progress locked; questions, choices; attempts, answers, selected
# choices; answers update, attempts update; the slots' attempts, marks locked, marks update,
# attempts unsettled; regrade row; release.
REGRADE_QUERIES = 15


def test_a_regrade_costs_the_same_queries_for_2_or_12_attempts(regrade_queries):
    assert regrade_queries(2) == regrade_queries(12) == REGRADE_QUERIES


def test_a_regrade_with_a_question_added_scores_it_unanswered(teacher):
    quiz = make_quiz(n_questions=1, created_by=teacher.email)
    (attempt,) = _students_submit(quiz, 1)
    added = Question.objects.create(quiz=quiz, text="New", points=1, order=5)
    Choice.objects.create(question=added, text="yes", is_correct=True)
    Choice.objects.create(question=added, text="no")
    quiz_regrade(quiz=quiz, changed_by=teacher, change="1 question added")
    attempt.refresh_from_db()
    assert (attempt.earned_points, attempt.total_points, attempt.score) == (1, 2, 5)
    assert AttemptAnswer.objects.filter(attempt=attempt, question=added, is_correct=False).exists()


# --- favicon and contrast -------------------------------------------------------------------


def test_favicon_is_served_at_the_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file


def _luminance(hex_colour):
    channels = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b):
    hi, lo = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_form_borders_have_at_least_3_to_1_contrast():
    css = (Path(settings.BASE_DIR) / "quizzes/static/quizzes/site.css").read_text()
    variables = {
        name: value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])
        for name, value in re.findall(r"--([a-z]+): (#[0-9a-f]{6}|#[0-9a-f]{3})\b", css)
    }
    for rule in ("input[type=text]", "fieldset.question"):
        body = re.search(re.escape(rule) + r"[^{]*\{([^}]*)\}", css).group(1)
        colour = re.search(r"border: 1px solid var\(--([a-z]+)\)", body).group(1)
        for background in (variables["card"], variables["bg"]):
            assert _contrast(variables[colour], background) >= 3, (rule, background)


def test_changing_points_on_the_question_page_regrades_too(client, teacher):
    quiz = make_quiz(n_questions=2, created_by=teacher.email)
    (attempt,) = _students_submit(quiz, 1, correct=True)
    question = quiz.questions.first()
    choices = list(question.choices.all())
    data = {
        "quiz": quiz.pk,
        "text": question.text,
        "points": "3",
        "order": "0",
        **QUESTION_PAGE_DEFAULTS,
        "choices-TOTAL_FORMS": "2",
        "choices-INITIAL_FORMS": "2",
        "choices-MIN_NUM_FORMS": "0",
        "choices-MAX_NUM_FORMS": "1000",
    }
    for i, c in enumerate(choices):
        data |= {
            f"choices-{i}-id": c.pk,
            f"choices-{i}-question": question.pk,
            f"choices-{i}-text": c.text,
            f"choices-{i}-order": str(i),
        }
        if not c.is_correct:  # the key moves to the wrong choice
            data[f"choices-{i}-is_correct"] = "on"
    client.force_login(teacher)
    response = client.post(reverse("admin:quizzes_question_change", args=[question.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    attempt.refresh_from_db()
    assert (attempt.earned_points, attempt.total_points) == (1, 4)
    regrade = QuizRegrade.objects.get()
    assert regrade.change == "correct choices of 1 question changed; points of 1 question changed"


def test_deleting_a_question_that_has_answers_is_refused_with_a_message(client, teacher):
    quiz = make_quiz(n_questions=2, created_by=teacher.email)
    _students_submit(quiz, 1)
    questions = list(quiz.questions.all())
    form = admin_quiz_form(
        [
            {"text": q.text, "points": "1", "choices_text": "*right\nwrong"}
            | ({"DELETE": "on"} if i == 1 else {})
            for i, q in enumerate(questions)
        ],
        quiz=quiz,
        title=quiz.title,
        tutorial_number="2",
    )
    client.force_login(teacher)
    response = client.post(reverse("admin:quizzes_quiz_change", args=[quiz.pk]), form)
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in unescape(
        response.content.decode()
    )
    assert quiz.questions.count() == 2
    assert not QuizRegrade.objects.exists()


def test_a_single_attempt_with_retakes_left_says_a_retake_may_replace_it(student_client):
    quiz = make_quiz(n_questions=1, max_attempts=2, grading_method="latest")
    page, _ = complete(student_client, quiz)
    counting = re.search(r'data-testid="counting">([^<]+)<', page.content.decode()).group(1)
    assert counting == (
        "This attempt counts: its score is your tutorial 2 mark (10 / 10). This quiz is graded "
        "by your latest score: a retake replaces it."
    )
    only = make_quiz(n_questions=1, max_attempts=1, tutorial_number=3)
    page, _ = complete(student_client, only)
    assert "This attempt counts: its score is your tutorial 3 mark (10 / 10).<" in (
        page.content.decode()
    )
