"""A student in a real browser answers a numeric and a short-answer question (issue 20): a
number that is not one comes back with the answers kept; then both are scored."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import make_quiz, make_student

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    {"text": "What is 7 / 2?", "points": 2, "type": "numeric", "answer": 3.5, "tolerance": 0.05},
    {
        "text": "Which phase builds the parse tree?",
        "points": 2,
        "type": "short_answer",
        "answers": ["Syntax analysis", "Parsing"],
        "ignore_case": True,
    },
]


def test_student_answers_a_numeric_and_a_short_answer_question(new_page, live_server, screenshot):
    student = make_student(username="21Z301")
    quiz = make_quiz(title="Typed answers", questions=QUESTIONS, review="immediately")
    client = Client()
    client.force_login(student)
    page = new_page()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    page.goto(quiz.get_absolute_url())
    number = page.get_by_label("Your answer (a number, e.g. 3.5)")
    word = page.get_by_label("Your answer", exact=True)
    number.fill("3.5 cm")
    word.fill("  parsing ")
    page.get_by_role("button", name="Submit answers").click()

    # Not a number: the page says so and keeps both answers.
    expect(page.get_by_test_id("unreadable")).to_contain_text("“3.5 cm” is not a number")
    expect(number).to_have_value("3.5 cm")
    expect(word).to_have_value("  parsing ")

    number.fill("3,55")  # a comma is the decimal point; 3.55 is on the tolerance's edge
    page.get_by_role("button", name="Submit answers").click()

    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))
    expect(page.get_by_test_id("score")).to_have_text("10 / 10")
    expect(page.get_by_text("4 of 4 points")).to_be_visible()
    expect(page.get_by_test_id("response").first).to_have_text("3,55")
    expect(page.get_by_test_id("response").nth(1)).to_have_text("parsing")
    expect(page.get_by_test_id("accepted").first).to_have_text("Accepted: 3.5 ± 0.05")
    expect(page.get_by_test_id("accepted").nth(1)).to_contain_text("Syntax analysis · Parsing")
    screenshot(page)
