"""Courses in a real browser: a teacher imports a roster in admin, previews and applies it,
sees a student who has not attempted in the results grid and exports it as CSV; a student of
another course does not see the quiz."""

import csv
import io

import pytest
from playwright.sync_api import expect

from quizzes.models import Course
from tests.academic_integration.admin_fixtures import make_mark
from tests.factories import make_course, make_quiz, make_student, make_teacher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROSTER = """course_id,course_name,role,username,name,email
19XW51,Compilers,student,21Z201,Arun K,
19XW51,Compilers,student,21Z202,Bhavya S,
"""


def log_in(page, username, password, path="/admin/"):
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_teacher_imports_a_roster_sees_who_has_not_attempted_and_exports_csv(
    new_page, tmp_path, screenshot
):
    anand = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", name="Compilers", teachers=[anand])
    quiz = make_quiz(title="Compilers Tutorial 1", tutorial_number=1, created_by=anand.email)
    arun = make_student(username="21Z201", courses=["19XW51"], first_name="Arun", last_name="K")
    make_mark(quiz=quiz, student=arun, status="delivered", value="9.00")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")

    page = new_page(accept_downloads=True)
    log_in(page, "anand", "pw-teacher-123")
    page.goto("/admin/quizzes/course/")
    page.get_by_role("link", name="Import roster").click()
    page.get_by_label("Roster file:").set_input_files(str(roster))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#roster-preview")).to_contain_text("1 new account(s)")
    assert not Course.objects.get(pk="19XW51").students.filter(username="21Z202").exists()
    page.get_by_role("button", name="Apply this roster").click()
    expect(page.locator(".messagelist")).to_contain_text("Roster imported")

    page.goto("/admin/quizzes/quiz/")
    page.get_by_role("row", name="Compilers Tutorial 1").get_by_role("link", name="Results").click()
    table = page.locator("#results")
    expect(table.get_by_role("row", name="21Z201")).to_contain_text("9.00")
    expect(table.get_by_role("row", name="21Z202")).to_contain_text("Bhavya S")
    page.get_by_label("Show").select_option("not_attempted")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("21Z202")
    screenshot(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert rows == [
        ["roll number", "name", "attempts used", "mark (of 10)", "sync status", "exception"],
        ["21Z202", "Bhavya S", "0", "", "", ""],
    ]


def test_a_student_of_another_course_does_not_see_the_quiz(page):
    anand = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", teachers=[anand])
    make_student(username="21Z202", courses=["19XW52"])
    quiz = make_quiz(title="Compilers Tutorial 1", created_by=anand.email, enrol_everyone=False)
    log_in(page, "21Z202", "pw-student-123", path="/accounts/login/")
    expect(page.locator("body")).not_to_contain_text("Compilers Tutorial 1")
    response = page.goto(f"/quizzes/{quiz.pk}/")
    assert response.status == 404
