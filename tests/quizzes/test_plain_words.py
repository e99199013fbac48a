"""What students and teachers read (issue 18): one closing time, submitted attempts counted,
"Not answered", times with their zone, course names, a retake link while attempts remain."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone

from quizzes.models import Course, Question, QuizAttempt
from quizzes.wording import key_hidden_message
from tests.factories import make_course, make_quiz, make_teacher

pytestmark = pytest.mark.django_db


def _submit(client, quiz, data, *, confirm=True):
    attempt = client.get(quiz.get_absolute_url()).context["attempt"]
    if confirm:
        data = {**data, "confirm": "1"}
    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)
    assert response.status_code == 302, response.content[:500]
    return attempt


def _first_question_right(quiz):
    question = Question.objects.filter(quiz=quiz).order_by("pk").first()
    right = question.choices.get(is_correct=True)
    return {f"q_{question.pk}": [right.pk]}


def test_the_key_waits_for_the_closing_time_students_see_not_the_grace_period():
    closes = timezone.now() + timedelta(days=3)
    quiz = make_quiz(review="after_close", closes_at=closes.isoformat())
    text = key_hidden_message(quiz=quiz)
    shown = dateformat.format(timezone.localtime(quiz.closes_at), "j M Y H:i T")
    late = dateformat.format(timezone.localtime(quiz.rules().submit_deadline()), "j M Y H:i")
    assert shown in text and late not in text


def test_an_unanswered_question_reads_not_answered_with_times_in_their_zone(
    student_client, student
):
    quiz = make_quiz(max_attempts=2)
    attempt = _submit(student_client, quiz, _first_question_right(quiz))
    page = student_client.get(attempt.get_absolute_url()).content.decode()
    assert "Not answered" in page
    assert page.count("✗ wrong") == 0  # the unanswered one is not called wrong
    done = timezone.localtime(QuizAttempt.objects.get(pk=attempt.pk).completed_at)
    assert f"submitted {dateformat.format(done, 'j M Y H:i')} {done.strftime('%Z')}" in page


def test_the_result_page_offers_a_retake_while_attempts_remain(student_client, student):
    quiz = make_quiz(max_attempts=2)
    first = _submit(student_client, quiz, _first_question_right(quiz))
    page = student_client.get(first.get_absolute_url()).content.decode()
    assert 'data-testid="retake"' in page and "(1 attempt left)" in page
    second = _submit(student_client, quiz, _first_question_right(quiz))
    page = student_client.get(second.get_absolute_url()).content.decode()
    assert 'data-testid="retake"' not in page


def test_students_read_the_course_name(student_client, student):
    make_course("19XW51", name="Compilers")
    make_quiz(title="Compilers Tutorial 2")
    page = student_client.get(reverse("quizzes:home")).content.decode()
    assert "Compilers (19XW51) · tutorial 2" in page


def test_the_admin_quiz_list_counts_submitted_attempts_only(client, student):
    anand = make_teacher(username="anand", email="anand@college.edu")
    quiz = make_quiz(title="Counted", created_by="anand@college.edu")
    QuizAttempt.objects.create(student=student, quiz=quiz)  # opened, never submitted
    QuizAttempt.objects.create(
        student=student,
        quiz=quiz,
        completed_at=timezone.now(),
        score=5,
        earned_points=1,
        total_points=2,
    )
    assert Course.objects.filter(teachers=anand).exists()
    client.force_login(anand)
    page = client.get("/admin/quizzes/quiz/").content.decode()
    row = page[page.index("Counted") :].split("</tr>")[0]
    assert 'class="field-attempt_count">1<' in row
