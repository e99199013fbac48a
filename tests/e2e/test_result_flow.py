"""The result page in a real browser (issue 18): an unanswered question reads "Not answered",
and a retake link is there while attempts remain."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_quiz_rules_flow import logged_in
from tests.e2e.test_student_flow import QUESTIONS, label
from tests.factories import make_quiz

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_student_with_an_unanswered_question_sees_not_answered(new_page, live_server, screenshot):
    quiz = make_quiz(title="Parsing quiz", questions=QUESTIONS, max_attempts=2)
    page = logged_in(new_page, live_server)
    page.goto(quiz.get_absolute_url())
    label(page, "Syntax analysis").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit answers").click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))

    answers = page.locator("ol.answers > li")
    expect(answers.nth(0)).to_contain_text("✓ right")
    expect(answers.nth(1)).to_contain_text("Not answered")
    expect(answers.nth(1)).not_to_contain_text("wrong")
    expect(page.get_by_test_id("retake")).to_have_text("Take this quiz again")
    screenshot(page)
