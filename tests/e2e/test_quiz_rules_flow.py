"""Issue 12 in a real browser: the unanswered-questions confirmation (with and without
JavaScript), a submit button that cannot be pressed twice, a closed quiz, and a student with
retakes left who sees right/wrong but not the key."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from quizzes.models import QuizAttempt
from tests.e2e.test_student_flow import QUESTIONS, label
from tests.factories import make_quiz, make_student

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def logged_in(new_page, live_server, **context_options):
    """A page whose browser is logged in as a new student (21Z301)."""
    student = make_student(username="21Z301")
    client = Client()
    client.force_login(student)
    page = new_page(**context_options)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return page


def test_with_javascript_the_browser_asks_before_submitting_unanswered(
    new_page, live_server, screenshot
):
    quiz = make_quiz(title="Parsing quiz", questions=QUESTIONS)
    page = logged_in(new_page, live_server)
    page.goto(quiz.get_absolute_url())
    label(page, "Syntax analysis").click()

    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Submit answers").click()
    expect(page.get_by_role("heading", name=quiz.title)).to_be_visible()
    assert "You have not answered question 2" in asked[0]
    assert page.url.endswith(quiz.get_absolute_url())  # went back to the questions
    assert not QuizAttempt.objects.filter(completed_at__isnull=False).exists()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit answers").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))
    expect(page.get_by_test_id("score")).to_have_text("7.5 / 10")
    screenshot(page)


def test_without_javascript_the_form_comes_back_naming_the_unanswered(
    new_page, live_server, screenshot
):
    quiz = make_quiz(title="Parsing quiz", questions=QUESTIONS)
    page = logged_in(new_page, live_server, java_script_enabled=False)
    page.goto(quiz.get_absolute_url())
    label(page, "Syntax analysis").click()
    page.get_by_role("button", name="Submit answers").click()

    notice = page.get_by_test_id("unanswered")
    expect(notice).to_contain_text("you have not answered 1 question")
    expect(notice.get_by_role("link", name=re.compile("Question 2: Select every"))).to_be_visible()
    expect(page.get_by_label("Syntax analysis")).to_be_checked()  # the answer given is kept
    screenshot(page)
    assert not QuizAttempt.objects.filter(completed_at__isnull=False).exists()

    page.get_by_role("button", name="Submit with 1 unanswered").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))
    expect(page.get_by_test_id("score")).to_have_text("7.5 / 10")


def test_the_submit_button_shows_progress_and_cannot_be_pressed_twice(new_page, live_server):
    quiz = make_quiz(title="Parsing quiz", questions=QUESTIONS)
    page = logged_in(new_page, live_server)
    page.goto(quiz.get_absolute_url())
    label(page, "Syntax analysis").click()
    label(page, "SSA form").click()
    # Hold the form on the page (after the site's own handler ran) to look at the button.
    page.evaluate(
        "document.getElementById('quiz-form')"
        ".addEventListener('submit', (event) => event.preventDefault())"
    )
    page.get_by_role("button", name="Submit answers").click()
    # (The form's other submit button is "Save answers", issue 20.)
    button = page.locator("#quiz-form button[type=submit]:not([name=save])")
    expect(button).to_be_disabled()
    expect(button).to_have_text("Submitting…")
    expect(button).to_have_attribute("aria-busy", "true")


def test_a_closed_quiz_says_so_and_takes_no_attempt(new_page, live_server, screenshot):
    quiz = make_quiz(
        title="Closed quiz",
        questions=QUESTIONS,
        opens_at=(timezone.now() - timedelta(days=2)).isoformat(),
        closes_at=(timezone.now() - timedelta(days=1)).isoformat(),
    )
    page = logged_in(new_page, live_server)
    page.goto("/")
    card = page.get_by_test_id(f"quiz-{quiz.pk}")
    expect(card).to_contain_text("Closed")
    expect(card).to_contain_text("no new attempts")
    card.get_by_role("link", name="Closed quiz").click()
    expect(page.get_by_test_id("not-open")).to_contain_text("This quiz closed on")
    expect(page.get_by_role("button", name="Submit answers")).to_have_count(0)
    assert not QuizAttempt.objects.exists()
    screenshot(page)


def test_with_retakes_left_the_student_sees_right_and_wrong_but_not_the_key(
    new_page, live_server, screenshot
):
    quiz = make_quiz(title="Retake quiz", questions=QUESTIONS, max_attempts=3)
    page = logged_in(new_page, live_server)
    page.goto(quiz.get_absolute_url())
    label(page, "Lexical analysis").click()
    label(page, "SSA form").click()
    label(page, "Three-address code").click()
    page.get_by_role("button", name="Submit answers").click()

    expect(page.get_by_test_id("score")).to_have_text("2.5 / 10")
    expect(page.get_by_text("✗ wrong")).to_be_visible()
    expect(page.get_by_text("✓ right")).to_be_visible()
    expect(page.get_by_test_id("key-hidden")).to_contain_text(
        "shown when you have used all your attempts"
    )
    expect(page.locator(".ok")).to_have_count(0)  # no choice is labelled correct
    expect(page.get_by_test_id("counting")).to_contain_text("This attempt counts")
    screenshot(page)
