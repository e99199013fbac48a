"""Preview as a student (issue 20): a quiz's teachers take it as a student would, and nothing
is kept — no attempt, no answers, no mark, no `attempt_completed`."""

import random
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from academic_integration.models import TutorialMark
from quizzes import services
from quizzes.models import AttemptAnswer, Choice, Question, Quiz, QuizAttempt
from quizzes.preview_views import ORDER_FIELD
from quizzes.signals import attempt_completed
from tests.factories import make_course, make_quiz, make_student, make_teacher
from tests.quizzes.conftest import SEVEN_AND_A_HALF_QUESTIONS
from tests.quizzes.test_shuffling import mixed_questions, page_order, result_order


def preview_url(quiz):
    return reverse("quizzes:quiz_preview", args=[quiz.pk])


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


@pytest.fixture
def completed():
    """A receiver of `attempt_completed`, connected for the test."""
    receiver = mock.Mock()
    attempt_completed.connect(receiver, dispatch_uid="test-preview-receiver")
    yield receiver
    attempt_completed.disconnect(dispatch_uid="test-preview-receiver")


def nothing_kept():
    return (
        QuizAttempt.objects.count(),
        AttemptAnswer.objects.count(),
        TutorialMark.objects.count(),
    ) == (0, 0, 0)


def form_of(response) -> dict:
    """The preview form's hidden order field, as the browser sends it back."""
    token = re.search(rf'name="{ORDER_FIELD}" value="([^"]+)"', response.content.decode())
    return {ORDER_FIELD: token.group(1)}


def seven_and_a_half(quiz):
    first, second = quiz.questions.prefetch_related("choices")
    return {
        f"q_{first.pk}": [c.pk for c in first.choices.all() if c.is_correct],
        f"q_{second.pk}": [second.choices.all()[0].pk],
    }


def preview_submit(client, quiz, **extra):
    page = client.get(preview_url(quiz))
    assert page.status_code == 200
    return client.post(preview_url(quiz), {**form_of(page), **seven_and_a_half(quiz), **extra})


# --- what a teacher sees ----------------------------------------------------------------------


def test_a_teacher_previews_and_submits_and_nothing_is_kept(teacher_client, teacher, completed):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    student = make_student()  # enrolled: a real submit of theirs would make a mark

    page = teacher_client.get(preview_url(quiz))
    assert page.status_code == 200
    assert 'data-testid="preview-banner"' in page.content.decode()
    assert f'action="{preview_url(quiz)}"' in page.content.decode()
    result = teacher_client.post(preview_url(quiz), {**form_of(page), **seven_and_a_half(quiz)})

    assert result.status_code == 200
    html = result.content.decode()
    assert 'data-testid="preview-banner"' in html
    assert '<strong data-testid="score">7.5 / 10</strong>' in html
    assert "3 of 4 points" in html
    assert '<span class="ok">correct</span>' in html  # the key, whatever the review option
    assert "Take this quiz again" not in html
    assert nothing_kept()
    completed.assert_not_called()

    # The same receiver hears a student's real submit: the check above can fail.
    student_client = teacher_client.__class__()
    student_client.force_login(student)
    attempt = student_client.get(quiz.get_absolute_url()).context["attempt"]
    student_client.post(
        reverse("quizzes:attempt_submit", args=[attempt.pk]), seven_and_a_half(quiz)
    )
    assert completed.call_count == 1
    assert TutorialMark.objects.count() == 1


@pytest.mark.parametrize(
    "case",
    ["unpublished", "not open yet", "closed", "no attempts left", "practice, no course"],
)
def test_a_preview_works_whatever_the_dates_publication_or_attempt_limit(
    teacher_client, teacher, completed, case
):
    now = timezone.now()
    overrides = {
        "not open yet": {"opens_at": (now + timedelta(days=1)).isoformat()},
        "closed": {
            "opens_at": (now - timedelta(days=2)).isoformat(),
            "closes_at": (now - timedelta(days=1)).isoformat(),
        },
        "no attempts left": {"max_attempts": 1},
        "practice, no course": {
            "quiz_type": "practice",
            "course_id": None,
            "tutorial_number": None,
        },
    }.get(case, {})
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email, **overrides)
    if case == "unpublished":
        Quiz.objects.filter(pk=quiz.pk).update(is_published=False)
    if case == "no attempts left":
        QuizAttempt.objects.create(student=teacher, quiz=quiz, completed_at=now)
    before = QuizAttempt.objects.count()

    result = preview_submit(teacher_client, quiz)

    assert result.status_code == 200
    assert "7.5 / 10" in result.content.decode()
    assert QuizAttempt.objects.count() == before
    assert not AttemptAnswer.objects.exists()
    assert not TutorialMark.objects.exists()
    completed.assert_not_called()


def test_a_superuser_may_preview_any_quiz(client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    client.force_login(
        get_user_model().objects.create_superuser("root", "root@college.edu", "pw-root-123")
    )
    assert preview_submit(client, quiz).status_code == 200
    assert nothing_kept()


def test_unanswered_questions_come_back_in_the_preview_with_the_answers_kept(
    teacher_client, teacher
):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    page = teacher_client.get(preview_url(quiz))
    first = quiz.questions.first()
    chosen = first.choices.get(is_correct=True)
    again = teacher_client.post(preview_url(quiz), {**form_of(page), f"q_{first.pk}": [chosen.pk]})

    assert again.status_code == 200
    html = again.content.decode()
    assert 'data-testid="unanswered"' in html
    assert 'data-testid="preview-banner"' in html
    assert f'value="{chosen.pk}" id="c_{chosen.pk}" checked' in html
    confirmed = teacher_client.post(
        preview_url(quiz), {**form_of(again), f"q_{first.pk}": [chosen.pk], "confirm": "1"}
    )
    assert "7.5 / 10" in confirmed.content.decode()
    assert nothing_kept()


def test_an_unreadable_number_comes_back_in_the_preview(teacher_client, teacher):
    quiz = make_quiz(questions=mixed_questions(1), created_by=teacher.email)
    numeric = quiz.questions.get(kind=Question.Kind.NUMERIC)
    page = teacher_client.get(preview_url(quiz))
    again = teacher_client.post(preview_url(quiz), {**form_of(page), f"t_{numeric.pk}": "four"})
    assert again.status_code == 400
    assert 'data-testid="unreadable"' in again.content.decode()
    assert nothing_kept()


# --- shuffling in a preview -------------------------------------------------------------------


def test_a_preview_of_a_shuffling_quiz_shows_and_scores_in_its_own_order(
    teacher_client, teacher, monkeypatch
):
    monkeypatch.setattr(services, "shuffle_rng", lambda: random.Random(7))
    quiz = make_quiz(questions=mixed_questions(), created_by=teacher.email)
    Quiz.objects.filter(pk=quiz.pk).update(shuffle_questions=True, shuffle_choices=True)
    page = teacher_client.get(preview_url(quiz))
    questions, choices = page_order(page)
    assert questions != list(quiz.questions.values_list("pk", flat=True))

    result = teacher_client.post(preview_url(quiz), {**form_of(page), "confirm": "1"})

    text = dict(Question.objects.filter(quiz=quiz).values_list("pk", "text"))
    choice_text = dict(Choice.objects.filter(question__quiz=quiz).values_list("pk", "text"))
    assert result_order(result) == [
        (text[pk], [choice_text[c] for c in choices[pk]]) for pk in questions
    ]
    assert nothing_kept()


# --- who may preview --------------------------------------------------------------------------


def test_students_and_other_courses_teachers_get_a_404(client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    stranger = make_teacher()
    make_course("20XW01", teachers=[stranger])
    for user in (make_student(), stranger):
        client.force_login(user)
        assert client.get(preview_url(quiz)).status_code == 404
        assert client.post(preview_url(quiz), seven_and_a_half(quiz)).status_code == 404
    assert nothing_kept()


def test_a_student_made_teacher_of_the_course_without_staff_gets_a_404(client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    student = make_student()
    quiz.course.teachers.add(student)  # a roster mistake: not staff, so no preview
    client.force_login(student)
    assert client.get(preview_url(quiz)).status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    response = client.get(preview_url(quiz))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- the signed order -------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "garbage", "other quiz"])
def test_a_changed_or_foreign_order_field_is_refused(teacher_client, teacher, token):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    if token == "other quiz":
        other = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, tutorial_number=3)
        token = form_of(teacher_client.get(preview_url(other)))[ORDER_FIELD]
    response = teacher_client.post(
        preview_url(quiz), {ORDER_FIELD: token, **seven_and_a_half(quiz)}
    )
    assert response.status_code == 400
    assert "The preview form was changed" in response.content.decode()
    assert f'href="{preview_url(quiz)}"' in response.content.decode()
    assert nothing_kept()


def test_an_order_cannot_be_forged_without_the_secret(teacher_client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    forged = signing.dumps({"quiz": quiz.pk, "order": None}, salt="another salt")
    response = teacher_client.post(preview_url(quiz), {ORDER_FIELD: forged})
    assert response.status_code == 400


def test_a_choice_of_another_question_is_refused_in_a_preview(teacher_client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    page = teacher_client.get(preview_url(quiz))
    first, second = quiz.questions.all()
    data = {**form_of(page), f"q_{first.pk}": [second.choices.first().pk]}
    response = teacher_client.post(preview_url(quiz), data)
    assert response.status_code == 400
    assert "belongs to another question" in response.content.decode()


# --- the links in admin -----------------------------------------------------------------------


def test_the_quiz_admin_links_to_the_preview(teacher_client, teacher):
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)
    change = teacher_client.get(reverse("admin:quizzes_quiz_change", args=[quiz.pk]))
    assert f'href="{preview_url(quiz)}"' in change.content.decode()
    assert "Preview as student" in change.content.decode()
    listing = teacher_client.get(reverse("admin:quizzes_quiz_changelist"))
    assert f'href="{preview_url(quiz)}"' in listing.content.decode()
    add = teacher_client.get(reverse("admin:quizzes_quiz_add"))
    assert "preview-link" not in add.content.decode()


def test_a_preview_of_a_timed_quiz_says_its_time_limit_is_not_applied(teacher_client, teacher):
    """A preview has no attempt, so no start page and no countdown: the teacher checking a
    timed quiz must still be told that students get a time limit, and that it is not running
    here (rather than nothing at all about it)."""
    quiz = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, time_limit_minutes=30)
    page = teacher_client.get(preview_url(quiz)).content.decode()
    assert "the time limit (students get 30 minutes, with a start page and a countdown)" in page
    assert 'data-testid="time-left"' not in page
    untimed = make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, tutorial_number=3)
    assert "time limit" not in teacher_client.get(preview_url(untimed)).content.decode()
