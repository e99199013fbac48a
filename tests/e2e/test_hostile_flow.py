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


def _watch_csp(page) -> list[str]:
    """Console errors Chromium logs for the policy ("Refused to ... Content Security Policy")."""
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"page error: {error}"))
    return violations


def test_pages_work_under_the_content_security_policy(new_page):
    from tests.factories import make_course, make_quiz, make_teacher

    teacher = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", teachers=[teacher])
    make_student(username="21Z201")
    quiz = make_quiz(title="Compilers Tutorial 2", created_by="anand@college.edu")

    student = new_page()
    violations = _watch_csp(student)
    log_in(student, "21Z201", RIGHT)
    expect(student.get_by_role("heading", name="Your quizzes")).to_be_visible()
    student.get_by_role("link", name=quiz.title).click()
    for question in student.locator("fieldset").all():
        question.locator("input").first.check()
    student.get_by_role("button", name="Submit answers").click()
    expect(student.get_by_test_id("score")).to_be_visible()

    admin = new_page()
    violations += _watch_csp(admin)
    admin.goto("/admin/login/")
    admin.get_by_label("Username").fill("anand")
    admin.get_by_label("Password").fill("pw-teacher-123")
    admin.get_by_role("button", name="Log in").click()
    for url in (
        "/admin/",
        "/admin/quizzes/quiz/",
        f"/admin/quizzes/quiz/{quiz.pk}/change/",
        "/admin/quizzes/quiz/add/",
        "/admin/quizzes/course/",
        "/admin/quizzes/course/import/",
        "/admin/quizzes/quizattempt/",
        "/admin/lockouts/",
    ):
        response = admin.goto(url)
        assert response.status == 200, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
    admin.goto("/admin/quizzes/quiz/add/")
    rows = admin.locator("tr.form-row, div.inline-related").filter(has=admin.locator("textarea"))
    before = rows.count()
    admin.locator(".add-row a").first.click()  # admin's inline JS runs under the policy
    expect(rows).to_have_count(before + 1)
    assert violations == []
