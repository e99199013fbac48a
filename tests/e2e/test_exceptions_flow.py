"""Issue 20 in a real browser: a teacher gives one student a later closing from the quiz's admin
page; that student can take the closed quiz, another student cannot."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from quizzes.models import StudentException
from tests.e2e.test_teacher_flow import log_in
from tests.factories import make_quiz, make_student, make_teacher

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def as_student(new_page, live_server, student):
    client = Client()
    client.force_login(student)
    page = new_page()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return page


def test_a_teacher_extends_the_closing_for_one_student(new_page, live_server, screenshot):
    anand = make_teacher(username="anand", email="anand@college.edu")
    ill = make_student(username="21Z301", first_name="Nila", last_name="V")
    well = make_student(username="21Z302")
    quiz = make_quiz(
        title="Parsing quiz",
        created_by=anand.email,
        n_questions=1,
        closes_at=(timezone.now() - timedelta(hours=1)).isoformat(),
    )
    later = timezone.localtime(timezone.now() + timedelta(days=2))

    admin = new_page()
    log_in(admin, "anand")
    admin.goto(f"/admin/quizzes/quiz/{quiz.pk}/change/")
    expect(admin.locator(".field-student_exceptions")).to_contain_text("0 students have exceptions")
    admin.get_by_role("link", name="add one").click()
    admin.locator("select[name=student]").select_option(label="21Z301 · Nila V")
    admin.locator("input[name=closes_at_0]").fill(later.strftime("%Y-%m-%d"))
    admin.locator("input[name=closes_at_1]").fill("18:00:00")
    admin.locator("input[name=reason]").fill("Medical certificate")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator("ul.messagelist li.success")).to_be_visible()
    expect(admin.locator("#result_list")).to_contain_text(f"closes {later.day} {later:%b %Y} 18:00")
    screenshot(admin)
    exception = StudentException.objects.get()
    assert (exception.student, exception.created_by) == (ill, anand)

    student = as_student(new_page, live_server, ill)
    student.goto("/")
    expect(student.get_by_text(re.compile(r"\(extended for you\)"))).to_be_visible()
    student.goto(quiz.get_absolute_url())
    expect(student.get_by_role("button", name="Submit answers")).to_be_visible()

    other = as_student(new_page, live_server, well)
    other.goto(quiz.get_absolute_url())
    expect(other.get_by_text(re.compile("closed on"))).to_be_visible()
