"""Content-Security-Policy (issue 23, item 5): on every page, and no page needs inline script
or style for it (tests/e2e/test_hostile_flow.py proves the pages work under it in Chromium)."""

import re

import pytest
from django.test import Client

from tests.factories import make_quiz

pytestmark = pytest.mark.django_db

_INLINE = [
    re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I),
    re.compile(r"<style\b", re.I),
    re.compile(r"\sstyle=", re.I),
    re.compile(r"\son[a-z]+=", re.I),
    re.compile(r"javascript:", re.I),
]


def _pages(teacher, student):
    quiz = make_quiz(created_by=teacher.email)
    student_client, teacher_client = Client(), Client()
    student_client.force_login(student)
    teacher_client.force_login(teacher)
    return [
        (Client(), "/accounts/login/"),
        (Client(), "/admin/login/"),
        (student_client, "/"),
        (student_client, quiz.get_absolute_url()),
        (teacher_client, "/admin/"),
        (teacher_client, "/admin/quizzes/quiz/"),
        (teacher_client, f"/admin/quizzes/quiz/{quiz.pk}/change/"),
        (teacher_client, "/admin/quizzes/quiz/add/"),
        (teacher_client, "/admin/quizzes/course/"),
        (teacher_client, "/admin/quizzes/course/import/"),
        (teacher_client, "/admin/lockouts/"),
    ]


def test_every_page_has_a_strict_policy_and_no_inline_script_or_style(teacher, student):
    for client, url in _pages(teacher, student):
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "style-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
        page = response.content.decode()
        for pattern in _INLINE:
            found = pattern.search(page)
            assert found is None, f"{url}: inline {found.group(0)!r}"


def test_error_and_lockout_pages_carry_the_policy_too(client):
    assert "Content-Security-Policy" in client.get("/no-such-page/", secure=True)
