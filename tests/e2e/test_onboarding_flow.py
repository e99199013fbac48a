"""Day one in a real browser: a teacher imports a roster, makes a set-password link for a new
student from admin, and the student sets a password with it and logs in (issue 18)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_course_roster_flow import ROSTER, log_in
from tests.factories import make_course, make_teacher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_teacher_makes_a_set_password_link_and_the_student_uses_it(
    new_page, tmp_path, screenshot
):
    anand = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", name="Compilers", teachers=[anand])
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")

    teacher = new_page()
    log_in(teacher, "anand", "pw-teacher-123")
    teacher.goto("/admin/quizzes/course/")
    teacher.get_by_role("link", name="Import roster").click()
    teacher.get_by_label("Roster file:").set_input_files(str(roster))
    teacher.get_by_role("button", name="Preview").click()
    teacher.get_by_role("button", name="Apply this roster").click()
    expect(teacher.locator(".messagelist")).to_contain_text(
        "Make set-password links for students without a password"
    )

    teacher.get_by_role("row", name="19XW51").get_by_role("checkbox").check()
    teacher.get_by_label("Action:").select_option(
        label="Make set-password links for students without a password"
    )
    teacher.get_by_role("button", name="Go").click()
    link = teacher.get_by_label("Set-password link for 21Z202")
    expect(link).to_be_visible()
    url = link.input_value()
    screenshot(teacher)

    student = new_page()
    student.goto(url)
    student.get_by_label("New password:").fill("a-Long-new-pass-42")
    student.get_by_label("Confirm password:").fill("a-Long-new-pass-42")
    student.get_by_role("button", name="Change my password").click()
    expect(student.locator("body")).to_contain_text("Your password has been set")
    log_in(student, "21Z202", "a-Long-new-pass-42", path="/accounts/login/")
    expect(student.get_by_role("button", name="Log in")).to_have_count(0)
