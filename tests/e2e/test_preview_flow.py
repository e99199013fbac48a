"""Issue 20 in a real browser: a teacher opens "Preview as student" from the quiz's admin page,
takes a shuffled quiz that is not open yet, sees the scored result, and nothing is kept."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from academic_integration.models import TutorialMark
from quizzes.models import AttemptAnswer, Quiz, QuizAttempt
from tests.e2e.test_hostile_flow import _watch_csp
from tests.factories import make_course, make_quiz, make_student, make_teacher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_teacher_previews_a_shuffled_quiz_before_it_opens_and_nothing_is_kept(page, screenshot):
    teacher = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", teachers=[teacher])
    make_student(username="21Z201")
    opens = (timezone.now() + timedelta(days=3)).isoformat()
    quiz = make_quiz(title="Compilers Tutorial 2", created_by=teacher.email, opens_at=opens)
    Quiz.objects.filter(pk=quiz.pk).update(shuffle_questions=True, shuffle_choices=True)
    violations = _watch_csp(page)

    page.goto("/admin/login/")
    page.get_by_label("Username").fill("anand")
    page.get_by_label("Password").fill("pw-teacher-123")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/admin/quizzes/quiz/{quiz.pk}/change/")
    with page.expect_popup() as opened:
        page.get_by_test_id("preview-link").click()
    preview = opened.value
    violations += _watch_csp(preview)

    expect(preview.get_by_test_id("preview-banner")).to_contain_text("Nothing is saved")
    for question in preview.locator("fieldset").all():
        question.locator("input").first.check()
    preview.get_by_role("button", name="Submit answers").click()
    expect(preview.get_by_test_id("score")).to_be_visible()
    expect(preview.get_by_test_id("preview-banner")).to_contain_text("Students see the score")
    screenshot(preview)

    assert (QuizAttempt.objects.count(), AttemptAnswer.objects.count()) == (0, 0)
    assert not TutorialMark.objects.exists()
    assert violations == []
