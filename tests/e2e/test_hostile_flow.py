"""Issue 23 in a real browser: a classmate on the same address cannot lock a student out of
the browser they used before."""

import pytest
from playwright.sync_api import expect

from tests.factories import make_student

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RIGHT = "pw-student-123"


def log_in(page, username, password):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_five_wrong_passwords_from_the_lab_leave_the_students_own_browser_working(new_page):
    make_student(username="21Z202")
    own = new_page()  # the student's browser: logged in once before, then out
    log_in(own, "21Z202", RIGHT)
    expect(own.get_by_role("heading", name="Your quizzes")).to_be_visible()
    own.get_by_role("button", name="Log out").click()

    classmate = new_page()  # same address (the live server sees 127.0.0.1 for both)
    for _ in range(5):
        log_in(classmate, "21Z202", "guess-123456")
    log_in(classmate, "21Z202", RIGHT)
    expect(classmate.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(classmate.get_by_text("log in from a browser you have used")).to_be_visible()

    log_in(own, "21Z202", RIGHT)
    expect(own.get_by_role("heading", name="Your quizzes")).to_be_visible()
