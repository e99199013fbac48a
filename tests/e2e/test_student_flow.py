"""A student in a real browser: logs in, takes a tutorial quiz, sees the score and that the
mark reached the (fake) Academic Analyzer."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import make_quiz, make_student

# The live server and the test share the database, so these tests are transactional.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUESTIONS = [
    {
        "text": "Which phase of a compiler builds the parse tree from the token stream?",
        "points": 3,
        "choices": [
            {"text": "Syntax analysis", "correct": True},
            {"text": "Lexical analysis"},
            {"text": "Register allocation and instruction scheduling for the target machine"},
        ],
    },
    {
        "text": "Select every intermediate representation",
        "points": 1,
        "multiple": True,
        "choices": [
            {"text": "SSA form", "correct": True},
            {"text": "Three-address code", "correct": True},
            {"text": "Source text"},
        ],
    },
]


def label(page, text):
    """The <label> whose whole text is `text`."""
    return page.locator("label").filter(has_text=re.compile(rf"^{re.escape(text)}$"))


def test_student_logs_in_takes_a_quiz_and_sees_the_score(page, screenshot, analyzer):
    make_student(username="21Z201", first_name="Arun", last_name="K")
    quiz = make_quiz(title="Compilers Tutorial 2", questions=QUESTIONS)

    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("21Z201")
    page.get_by_label("Password").fill("pw-student-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your quizzes")).to_be_visible()

    page.get_by_role("link", name=quiz.title).click()
    expect(page.get_by_role("heading", name=quiz.title)).to_be_visible()
    label(page, "Syntax analysis").click()
    label(page, "SSA form").click()  # half of a multiple-answer question: no points
    expect(page.get_by_label("Syntax analysis")).to_be_checked()
    expect(page.get_by_label("SSA form")).to_be_checked()
    expect(page.get_by_label("Three-address code")).not_to_be_checked()
    page.get_by_role("button", name="Submit answers").click()

    expect(page).to_have_url(re.compile(r"/attempts/\d+/$"))
    expect(page.get_by_test_id("score")).to_have_text("7.5 / 10")
    expect(page.get_by_text("3 of 4 points")).to_be_visible()
    expect(page.get_by_test_id("sync-status")).to_contain_text(
        "tutorial 2 mark (7.5 / 10) reached the Academic Analyzer"
    )
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5
    screenshot(page)


def test_the_quiz_page_fits_a_phone_without_sideways_scrolling(new_page, live_server, screenshot):
    student = make_student(first_name="Venkatanarasimharajuvaripeta", last_name="Subrahmanyam")
    long_token = {
        "text": "Which type maps names to their use sites?",
        "points": 1,
        "choices": [
            {
                "text": "std::unordered_map<std::string,std::vector<SourceLocation>>",
                "correct": True,
            },
            {"text": "std::vector<std::pair<std::string,SourceLocation>>"},
        ],
    }
    quiz = make_quiz(
        title="Compilers Tutorial 2: parsing, semantic analysis",
        questions=[*QUESTIONS, long_token],
    )
    client = Client()
    client.force_login(student)
    phone = new_page(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    session_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    phone.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie, "url": live_server.url}]
    )

    for url in ("/", quiz.get_absolute_url()):
        phone.goto(url)
        overflow = phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px on a 390px phone"
    expect(phone.get_by_role("button", name="Submit answers")).to_be_visible()
    screenshot(phone)
