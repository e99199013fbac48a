"""Issue 20 in a real browser: a timed attempt whose countdown runs out is submitted by the
page with the answers saved by the deadline, and its mark reaches the (fake) Analyzer; and
without JavaScript, "Save answers" keeps them and coming back after the time submits them.

The limit is one minute; the clock is moved by moving the attempt's start back in the
database, so the tests take seconds."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from quizzes.models import Choice, QuizAttempt
from quizzes.time_limits import NETWORK_GRACE
from tests.e2e.test_student_flow import QUESTIONS, label
from tests.factories import make_quiz, make_student

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def logged_in(new_page, live_server, student, **context_options):
    client = Client()
    client.force_login(student)
    page = new_page(**context_options)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return page


def move_start(attempt, *, left: timedelta) -> None:
    """Start the attempt so long ago that ``left`` remains of its one-minute limit."""
    started = timezone.now() - timedelta(minutes=1) + left
    QuizAttempt.objects.filter(pk=attempt.pk).update(started_at=started)


def test_the_countdown_submits_the_saved_answers_and_the_mark_reaches_the_analyzer(
    new_page, live_server, analyzer, enrol, screenshot
):
    [student] = enrol(make_student(username="21Z401"))
    quiz = make_quiz(title="Timed parsing quiz", questions=QUESTIONS, time_limit_minutes=1)
    page = logged_in(new_page, live_server, student)
    page.goto(quiz.get_absolute_url())
    expect(page.get_by_test_id("time-limit")).to_contain_text("Time limit: 1 minute.")
    page.get_by_role("button", name="Start attempt").click()
    # The attempt's page, loaded: the start's POST and redirect are over before the reload
    # (a reload during that navigation fails: "Not attached to an active page", seen on CI).
    expect(page.get_by_test_id("time-left")).to_be_visible()
    attempt = QuizAttempt.objects.get(student=student)
    move_start(attempt, left=timedelta(seconds=6))
    page.reload()
    box = page.get_by_test_id("time-left")
    expect(box).to_have_class(re.compile(r"\bwarning\b"))  # 6 s of a 1-minute limit
    label(page, "Syntax analysis").click()  # saved at once, in time
    expect(page.get_by_test_id("save-status")).to_contain_text("Answers saved at")

    # The server's time runs out (and its grace) while the page still counts down; answers
    # ticked now never reach the server in time (set without events: no save is sent).
    move_start(attempt, left=-(NETWORK_GRACE + timedelta(seconds=5)))
    for text in ("SSA form", "Three-address code"):
        choice = Choice.objects.get(question__quiz=quiz, text=text)
        page.evaluate(f"document.getElementById('c_{choice.pk}').checked = true")

    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"), timeout=15_000)
    expect(page.get_by_test_id("submitted-automatically")).to_be_visible()
    expect(page.get_by_test_id("score")).to_have_text("7.5 / 10")  # the saved answer only
    expect(page.get_by_text("The time for this attempt was up")).to_be_visible()
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == 7.5
    assert analyzer.control.marks()["21Z401"]["19XW51"]["tutorial2"] == 7.5
    screenshot(page)


def test_without_javascript_save_answers_and_coming_back_late_submits_them(
    new_page, live_server, analyzer, enrol, screenshot
):
    [student] = enrol(make_student(username="21Z402"))
    quiz = make_quiz(title="Timed parsing quiz", questions=QUESTIONS, time_limit_minutes=1)
    page = logged_in(new_page, live_server, student, java_script_enabled=False)
    page.goto(quiz.get_absolute_url())
    page.get_by_role("button", name="Start attempt").click()
    expect(page.get_by_test_id("time-left")).to_contain_text("Time left: 1:00")
    label(page, "Syntax analysis").click()
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_text("Answers saved at").first).to_be_visible()
    expect(page.get_by_label("Syntax analysis")).to_be_checked()  # kept on the page

    attempt = QuizAttempt.objects.get(student=student)
    move_start(attempt, left=-timedelta(minutes=5))  # the student closed the laptop
    page.goto("/")
    expect(page.get_by_test_id(f"quiz-{quiz.pk}")).to_contain_text("Best score 7.5 / 10")
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == 7.5
    # The home list's batch leaves the mark for the resync run, as the cron does.
    call_command("resync_tutorial_marks", verbosity=0)
    assert analyzer.control.marks()["21Z402"]["19XW51"]["tutorial2"] == 7.5
    screenshot(page)


def test_a_save_after_being_logged_out_says_so_not_no_connection(
    new_page, live_server, analyzer, enrol
):
    """Logged out in another tab: the save gets the login page, not JSON. "No connection"
    would send the student to check their network while nothing they answer is saved."""
    [student] = enrol(make_student(username="21Z403"))
    quiz = make_quiz(title="Timed parsing quiz", questions=QUESTIONS, time_limit_minutes=30)
    page = logged_in(new_page, live_server, student)
    page.goto(quiz.get_absolute_url())
    page.get_by_role("button", name="Start attempt").click()
    label(page, "Syntax analysis").click()
    expect(page.get_by_test_id("save-status")).to_contain_text("Answers saved at")
    kept = [c for c in page.context.cookies() if c["name"] != settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies(kept)  # the CSRF cookie stays, as after a logout elsewhere
    label(page, "SSA form").click()
    expect(page.get_by_test_id("save-status")).to_contain_text("you are no longer logged in")
