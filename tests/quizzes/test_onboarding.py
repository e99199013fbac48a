"""Day one without mail: a teacher (their courses) or an admin makes set-password links for
students without a password; shown once, expiring, logged without the token (issue 18)."""

import logging
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import make_course, make_student, make_teacher
from tests.quizzes.test_rosters import GOOD, upload

pytestmark = pytest.mark.django_db
User = get_user_model()
CHANGELIST = "/admin/quizzes/course/"


def _no_password(username, course):
    user = User.objects.create_user(username=username, first_name="New")
    user.set_unusable_password()
    user.save()
    course.students.add(user)
    return user


def _links(response) -> dict[str, str]:
    """{username: link} from the links page."""
    assert response.status_code == 200
    found = re.findall(
        r'value="(http://testserver/accounts/reset/[^"]+)" '
        r'aria-label="Set-password link for ([^"]+)"',
        response.content.decode(),
    )
    return {user: url for url, user in found}


def _make_links(client, *course_ids):
    return client.post(
        CHANGELIST,
        {"action": "password_links", "_selected_action": list(course_ids)},
    )


def test_a_teacher_makes_links_for_their_courses_students_without_a_password(client, caplog):
    anand = make_teacher(username="anand")
    mine = make_course("19XW51", teachers=[anand])
    theirs = make_course("19XW52")
    new = _no_password("23R001", mine)
    _no_password("23R009", theirs)
    make_student(username="21Z201", courses=["19XW51"])  # has a password: no link
    client.force_login(anand)
    caplog.set_level(logging.INFO, logger="quizzes.onboarding")

    response = _make_links(client, "19XW51", "19XW52")  # 19XW52 is not theirs: ignored
    links = _links(response)
    assert list(links) == ["23R001"]
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "works <strong>once</strong>" in page and "stops working at" in page
    token = links["23R001"].rstrip("/").rsplit("/", 1)[1]
    [record] = [r for r in caplog.records if r.name == "quizzes.onboarding"]
    assert "by=anand" in record.getMessage() and "links=1" in record.getMessage()
    assert token not in caplog.text

    # The student sets a password with it, once.
    form = client.get(links["23R001"], follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-Long-new-pass-42", "new_password2": "a-Long-new-pass-42"},
    )
    assert done.status_code == 302
    new.refresh_from_db()
    assert new.check_password("a-Long-new-pass-42")
    again = client.get(links["23R001"], follow=True)
    assert b"new_password1" not in again.content  # used: no longer valid


def test_an_admin_makes_links_for_any_course(client):
    root = make_teacher(username="root", is_superuser=True)
    course = make_course("19XW52")
    _no_password("23R009", course)
    client.force_login(root)
    assert list(_links(_make_links(client, "19XW52"))) == ["23R009"]


def test_nobody_without_a_password_says_so(client):
    anand = make_teacher(username="anand")
    make_course("19XW51", teachers=[anand])
    client.force_login(anand)
    response = _make_links(client, "19XW51")
    assert "already has a password: no links to make" in response.content.decode()


def test_the_roster_import_message_says_what_to_do_next_in_plain_words(client):
    root = make_teacher(username="root", is_superuser=True)
    client.force_login(root)
    text = upload(client, GOOD).context["confirm"].initial["text"]
    response = client.post(
        reverse("admin:quizzes_course_import"),
        {"text": text, "apply": "Apply this roster"},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    [note] = [m for m in messages if "no password" in m]
    assert "`" not in note and "manage.py" not in note and "ops" not in note
    assert "Make set-password links for students without a password" in note
