"""The student pages: one test per rule of the issue."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from quizzes.models import AttemptAnswer, Choice, Question, QuizAttempt
from tests.factories import answers_for, make_quiz
from tests.quizzes.conftest import SEVEN_AND_A_HALF_QUESTIONS, parse_page


def take(client, quiz):
    """Open the quiz page; return the attempt it started (or reused)."""
    response = client.get(quiz.get_absolute_url())
    assert response.status_code == 200
    return response.context["attempt"]


def submit_url(attempt):
    return reverse("quizzes:attempt_submit", args=[attempt.pk])


def choice(quiz, text):
    return Choice.objects.get(question__quiz=quiz, text=text)


def question(quiz, text):
    return Question.objects.get(quiz=quiz, text=text)


def seven_and_a_half(quiz):
    """Right on the 3-point question, half right (so wrong) on the 1-point one: 3 / 4."""
    return {
        f"q_{question(quiz, 'Which phase builds the parse tree?').pk}": [
            choice(quiz, "Syntax analysis").pk
        ],
        f"q_{question(quiz, 'Select the IRs').pk}": [choice(quiz, "SSA form").pk],
    }


def answers_saved(attempt):
    return {
        answer.question_id: {c.pk for c in answer.selected_choices.all()}
        for answer in AttemptAnswer.objects.filter(attempt=attempt)
    }


# --- logging in -----------------------------------------------------------------------------


def test_login_page_shows_the_form(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    page = parse_page(response)
    assert page.labels["id_username"] == "Username"
    assert page.labels["id_password"] == "Password"


def test_student_logs_in_with_roll_number_and_lands_on_home(client, student):
    response = client.post(reverse("login"), {"username": "21Z201", "password": "pw-student-123"})
    assert response.status_code == 302
    assert response.url == reverse("quizzes:home")
    assert client.get("/").status_code == 200


def test_wrong_password_shows_an_error(client, student):
    response = client.post(reverse("login"), {"username": "21Z201", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_logout_goes_back_to_login(student_client):
    response = student_client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert student_client.get("/").status_code == 302


@pytest.mark.parametrize("name", ["home", "quiz", "attempt_result", "attempt_submit"])
def test_anonymous_visitors_are_sent_to_login(client, quiz, student, name):
    attempt = QuizAttempt.objects.create(student=student, quiz=quiz)
    url = reverse(
        f"quizzes:{name}",
        args={"home": [], "quiz": [quiz.pk]}.get(name, [attempt.pk]),
    )
    response = client.post(url) if name == "attempt_submit" else client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


# --- home -----------------------------------------------------------------------------------


def test_home_lists_only_published_quizzes_with_a_link_each(student_client, teacher, quiz):
    draft = make_quiz(title="Secret draft", tutorial_number=3)
    draft.is_published = False
    draft.save()
    response = student_client.get("/")
    links = dict(parse_page(response).links)
    assert quiz.title in links.get(quiz.get_absolute_url(), "")
    assert draft.get_absolute_url() not in links
    assert "Secret draft" not in response.content.decode()


def test_home_shows_previous_score_and_attempts_left(student_client, quiz):
    quiz.max_attempts = 3
    quiz.save()
    attempt = take(student_client, quiz)
    student_client.post(submit_url(attempt), seven_and_a_half(quiz))
    page = student_client.get("/").content.decode()
    assert "Best score 7.5 / 10" in page
    assert "1 attempt used" in page
    assert "attempts left: 2" in page


def test_home_shows_the_latest_score_for_latest_graded_quizzes(student_client, teacher):
    quiz = make_quiz(grading_method="latest", n_questions=2)
    attempt = take(student_client, quiz)
    student_client.post(submit_url(attempt), answers_for(quiz, correct=True))
    attempt = take(student_client, quiz)
    student_client.post(submit_url(attempt), answers_for(quiz, correct=False))
    page = student_client.get("/").content.decode()
    assert "Latest score 0 / 10" in page
    assert "2 attempts used" in page
    assert "unlimited attempts" in page


def test_home_for_a_new_student(student_client, quiz):
    page = student_client.get("/").content.decode()
    assert "Not attempted yet" in page
    assert "unlimited attempts" in page


# --- taking a quiz --------------------------------------------------------------------------


def test_take_page_has_a_labelled_input_per_choice(student_client, quiz):
    page = parse_page(student_client.get(quiz.get_absolute_url()))
    inputs = [i for i in page.inputs if i.get("type") in ("radio", "checkbox")]
    expected = {
        (c.text, "checkbox" if c.question.multiple else "radio", f"q_{c.question_id}", str(c.pk))
        for c in Choice.objects.filter(question__quiz=quiz).select_related("question")
    }
    found = {(page.labels.get(i["id"]), i["type"], i["name"], i["value"]) for i in inputs}
    assert found == expected


def test_submit_redirects_to_a_result_page_with_score_points_and_right_wrong(student_client, quiz):
    attempt = take(student_client, quiz)
    response = student_client.post(submit_url(attempt), seven_and_a_half(quiz))
    assert response.status_code == 302
    assert response.url == reverse("quizzes:attempt_result", args=[attempt.pk])

    page = student_client.get(response.url).content.decode()
    assert '<strong data-testid="score">7.5 / 10</strong>' in page
    assert "3 of 4 points" in page
    assert "✓ right</strong> (3 / 3)" in page
    assert "✗ wrong</strong> (0 / 1)" in page
    attempt.refresh_from_db()
    assert (attempt.earned_points, attempt.total_points, str(attempt.score)) == (3, 4, "7.50")


def test_submitting_nothing_confirmed_scores_zero(student_client, quiz):
    attempt = take(student_client, quiz)
    response = student_client.post(submit_url(attempt), {"confirm": "1"})
    assert response.status_code == 302
    page = student_client.get(response.url).content.decode()
    assert "0 / 10" in page
    assert "0 of 4 points" in page


def test_the_result_of_an_attempt_in_progress_leads_back_to_the_quiz(student_client, quiz):
    attempt = take(student_client, quiz)
    response = student_client.get(reverse("quizzes:attempt_result", args=[attempt.pk]))
    assert response.status_code == 302
    assert response.url == quiz.get_absolute_url()


def test_max_attempts_is_enforced(student_client, quiz):
    quiz.max_attempts = 1
    quiz.save()
    attempt = take(student_client, quiz)
    student_client.post(submit_url(attempt), seven_and_a_half(quiz))

    response = student_client.get(quiz.get_absolute_url())
    assert response.status_code == 403
    assert "You have used all 1 attempts" in response.content.decode()
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 1


def test_a_replayed_submit_changes_nothing(student_client, quiz):
    attempt = take(student_client, quiz)
    student_client.post(submit_url(attempt), seven_and_a_half(quiz))
    attempt.refresh_from_db()
    first = (attempt.score, attempt.completed_at, answers_saved(attempt))

    response = student_client.post(submit_url(attempt), answers_for(quiz, correct=True))
    assert response.status_code == 302
    assert response.url == reverse("quizzes:attempt_result", args=[attempt.pk])
    attempt.refresh_from_db()
    assert (attempt.score, attempt.completed_at, answers_saved(attempt)) == first
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 1
    page = student_client.get(response.url).content.decode()
    assert "already submitted" in page
    assert "7.5 / 10" in page


def test_two_tabs_share_one_attempt(student_client, quiz):
    first_tab = take(student_client, quiz)
    second_tab = take(student_client, quiz)
    assert first_tab.pk == second_tab.pk
    assert QuizAttempt.objects.filter(quiz=quiz).count() == 1

    student_client.post(submit_url(first_tab), seven_and_a_half(quiz))
    student_client.post(submit_url(second_tab), answers_for(quiz, correct=True))
    assert QuizAttempt.objects.get(quiz=quiz).score == Decimal("7.50")


def test_after_submitting_the_quiz_page_starts_a_new_attempt(student_client, quiz):
    first = take(student_client, quiz)
    student_client.post(submit_url(first), seven_and_a_half(quiz))
    assert take(student_client, quiz).pk != first.pk


def test_another_students_attempt_is_not_found(student_client, other_student_client, quiz):
    attempt = take(student_client, quiz)
    assert other_student_client.post(submit_url(attempt), {}).status_code == 404
    attempt.refresh_from_db()
    assert not attempt.is_completed()

    student_client.post(submit_url(attempt), seven_and_a_half(quiz))
    result_url = reverse("quizzes:attempt_result", args=[attempt.pk])
    assert other_student_client.get(result_url).status_code == 404
    assert student_client.get(result_url).status_code == 200


def test_an_unpublished_quiz_is_not_reachable(student_client, teacher):
    quiz = make_quiz(n_questions=1)
    quiz.is_published = False
    quiz.save()
    assert student_client.get(quiz.get_absolute_url()).status_code == 404
    assert not QuizAttempt.objects.exists()


def test_a_quiz_unpublished_mid_attempt_cannot_be_submitted(student_client, quiz):
    attempt = take(student_client, quiz)
    quiz.is_published = False
    quiz.save()
    assert student_client.post(submit_url(attempt), seven_and_a_half(quiz)).status_code == 404
    attempt.refresh_from_db()
    assert not attempt.is_completed()


def test_an_unknown_quiz_or_attempt_is_not_found(student_client):
    assert student_client.get(reverse("quizzes:quiz", args=[999999])).status_code == 404
    assert student_client.get(reverse("quizzes:attempt_result", args=[999999])).status_code == 404
    assert student_client.post(reverse("quizzes:attempt_submit", args=[999999])).status_code == 404


def test_submit_is_post_only(student_client, quiz):
    attempt = take(student_client, quiz)
    assert student_client.get(submit_url(attempt)).status_code == 405


# --- CSRF -----------------------------------------------------------------------------------


def test_csrf_is_enforced_on_submit(student, quiz):
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    attempt = take(client, quiz)
    assert client.post(submit_url(attempt), seven_and_a_half(quiz)).status_code == 403
    attempt.refresh_from_db()
    assert not attempt.is_completed()


def test_csrf_is_enforced_on_login(student):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "21Z201", "password": "pw-student-123"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_submit_with_the_pages_csrf_token_works(student, quiz):
    client = Client(enforce_csrf_checks=True)
    client.force_login(student)
    response = client.get(quiz.get_absolute_url())
    data = {**seven_and_a_half(quiz), "csrfmiddlewaretoken": str(response.context["csrf_token"])}
    assert client.post(submit_url(response.context["attempt"]), data).status_code == 302


# --- tampered POSTs -------------------------------------------------------------------------


NOT_IN_QUIZ = "The form names questions that are not in this quiz."
OTHER_QUESTION = "The form picks a choice that belongs to another question."
TWO_CHOICES = "A single-answer question got more than one choice."
JUNK = "The form holds a value that is not an answer to this quiz."


def tampered_cases(quiz, other_quiz):
    """name -> (POST data, the message the student sees)."""
    single = question(quiz, "Which phase builds the parse tree?")
    multi = question(quiz, "Select the IRs")
    right = choice(quiz, "Syntax analysis").pk
    q = f"q_{single.pk}"
    return {
        "unknown question id": ({"q_999999": [right]}, NOT_IN_QUIZ),
        "question of another quiz": (
            {f"q_{other_quiz.questions.first().pk}": [right]},
            NOT_IN_QUIZ,
        ),
        "choice of another question": ({q: [choice(quiz, "SSA form").pk]}, OTHER_QUESTION),
        "choice of another quiz": (
            {q: [Choice.objects.filter(question__quiz=other_quiz).first().pk]},
            OTHER_QUESTION,
        ),
        "two choices on a single-answer question": (
            {q: [right, choice(quiz, "Lexing").pk]},
            TWO_CHOICES,
        ),
        "letters": ({q: ["abc"]}, JUNK),
        "negative": ({q: ["-1"]}, JUNK),
        "zero": ({q: ["0"]}, JUNK),
        "decimal": ({q: ["1.5"]}, JUNK),
        "empty value": ({q: [""]}, JUNK),
        "huge number": ({q: ["9" * 40]}, JUNK),
        "bigint-sized number": ({q: ["9" * 18]}, OTHER_QUESTION),
        "superscript digit": ({q: ["²"]}, JUNK),
        "spaces": ({q: [f" {right} "]}, JUNK),
        "question id not a number": ({"q_abc": [right]}, JUNK),
        "negative question id": ({"q_-1": [right]}, JUNK),
        "one good answer and one junk": (
            {q: [right], f"q_{multi.pk}": [choice(quiz, "SSA form").pk, "x"]},
            JUNK,
        ),
    }


TAMPERED = [
    "unknown question id",
    "question of another quiz",
    "choice of another question",
    "choice of another quiz",
    "two choices on a single-answer question",
    "letters",
    "negative",
    "zero",
    "decimal",
    "empty value",
    "huge number",
    "bigint-sized number",
    "superscript digit",
    "spaces",
    "question id not a number",
    "negative question id",
    "one good answer and one junk",
]


@pytest.mark.parametrize("case", TAMPERED)
def test_a_tampered_submit_is_refused_and_saves_nothing(student_client, quiz, case):
    other_quiz = make_quiz(course_id="19XW52", n_questions=1)
    attempt = take(student_client, quiz)
    data, message = tampered_cases(quiz, other_quiz)[case]

    response = student_client.post(submit_url(attempt), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "That submission could not be accepted" in page
    assert f"{message} Nothing was saved." in page
    attempt.refresh_from_db()
    assert not attempt.is_completed()
    assert attempt.score is None
    assert not AttemptAnswer.objects.exists()
    # The honest retry still works.
    assert student_client.post(submit_url(attempt), seven_and_a_half(quiz)).status_code == 302


def test_fields_other_than_answers_are_ignored(student_client, quiz):
    attempt = take(student_client, quiz)
    data = {**seven_and_a_half(quiz), "score": "10", "submit": "1"}
    assert student_client.post(submit_url(attempt), data).status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == Decimal("7.50")


# --- practice quizzes -----------------------------------------------------------------------


def test_a_practice_quiz_works_too(student_client, teacher):
    quiz = make_quiz(
        quiz_type="practice",
        course_id=None,
        tutorial_number=None,
        questions=SEVEN_AND_A_HALF_QUESTIONS,
    )
    assert quiz.title in student_client.get("/").content.decode()
    attempt = take(student_client, quiz)
    response = student_client.post(submit_url(attempt), seven_and_a_half(quiz))
    page = student_client.get(response.url).content.decode()
    assert "7.5 / 10" in page
    assert 'data-testid="sync-status"' not in page


# --- query count ----------------------------------------------------------------------------

# session, user; savepoint, the attempt locked, questions, choices, answers (one bulk
# insert), their choices (one bulk insert); the tutorial mark locked, the slot's attempts,
# savepoint + mark insert + release; the attempt update; release.
SUBMIT_QUERIES = 15


@pytest.mark.parametrize("n_questions", [1, 20])
def test_a_submission_costs_the_same_queries_for_any_quiz_size(
    student_client, django_assert_num_queries, n_questions
):
    quiz = make_quiz(n_questions=n_questions)
    attempt = take(student_client, quiz)
    data = answers_for(quiz, correct=True)
    with django_assert_num_queries(SUBMIT_QUERIES):
        response = student_client.post(submit_url(attempt), data)
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.score == 10
