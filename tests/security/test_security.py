"""The security checks of the benchmarks issue, end to end in one place.

Deeper tests live next to the code (tests/quizzes/test_views.py, tests/academic_integration/
test_admin_marks.py, tests/quizsite/test_deploy_check.py); these walk each promise once through
the real pages, and prove that the suite's secret-canary guard itself catches a leak.
"""

import os
import re
import subprocess
import sys
import textwrap
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from academic_integration.models import TutorialMark
from quizzes.models import QuizAttempt
from tests.canary import CanaryResponseMiddleware
from tests.conftest import CANARY_TOKEN
from tests.factories import answers_for, make_quiz, make_student, make_teacher

PRODUCTION_KEY = "pr0d-Xk2f9Lq7Vw3Rt8Zy5Nm1Bc6Hj4Gd0Sa-EuIoPl7Kj3Hg5Fd9Sa2Qw8Er6Ty4Ui"
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _csrf(page) -> str:
    return _CSRF.search(page.content.decode()).group(1)


def _open(client, quiz) -> QuizAttempt:
    assert client.get(quiz.get_absolute_url()).status_code == 200
    return QuizAttempt.objects.filter(quiz=quiz, completed_at__isnull=True).latest("pk")


# --- production settings ------------------------------------------------------------------


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ACADEMIC_"))}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=PRODUCTION_KEY,
        DJANGO_ALLOWED_HOSTS="quiz.college.edu",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://quiz.college.edu",
        DJANGO_BEHIND_TLS_PROXY="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL=f"filecache://{tmp_path / 'cache'}",
        ACADEMIC_ANALYZER_URL="https://analyzer.college.edu/api",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --- CSRF ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_login_needs_the_forms_csrf_token():
    make_student(username="21Z301")
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": "21Z301", "password": "pw-student-123"}
    assert client.post(reverse("login"), credentials).status_code == 403
    assert "_auth_user_id" not in client.session

    token = _csrf(client.get(reverse("login")))
    response = client.post(reverse("login"), {**credentials, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.django_db
def test_submit_needs_the_forms_csrf_token():
    quiz = make_quiz(created_by="anand@college.edu")
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_student())
    page = client.get(quiz.get_absolute_url())
    attempt = QuizAttempt.objects.get(quiz=quiz)
    submit = reverse("quizzes:attempt_submit", args=[attempt.pk])

    assert client.post(submit, answers_for(quiz)).status_code == 403
    attempt.refresh_from_db()
    assert not attempt.is_completed()
    response = client.post(submit, {**answers_for(quiz), "csrfmiddlewaretoken": _csrf(page)})
    assert response.status_code == 302


# --- students -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_student_can_neither_read_nor_submit_another_students_attempt(client):
    quiz = make_quiz(created_by="anand@college.edu")
    alice, mallory = make_student(), make_student()
    client.force_login(alice)
    open_attempt = _open(client, quiz)
    done = _open(client, make_quiz(created_by="anand@college.edu", tutorial_number=3))
    client.post(reverse("quizzes:attempt_submit", args=[done.pk]), answers_for(done.quiz))

    client.force_login(mallory)
    for attempt in (open_attempt, done):
        assert client.get(reverse("quizzes:attempt_result", args=[attempt.pk])).status_code == 404
        submit = reverse("quizzes:attempt_submit", args=[attempt.pk])
        assert client.post(submit, answers_for(attempt.quiz, correct=False)).status_code == 404
    open_attempt.refresh_from_db()
    assert not open_attempt.is_completed()
    done.refresh_from_db()
    assert done.score == 10
    # Opening the same quiz gives Mallory her own attempt, never Alice's.
    assert _open(client, quiz).student == mallory


# --- teachers in admin --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_teacher_sees_neither_another_teachers_attempts_nor_marks(client):
    anand = make_teacher(username="anand", email="anand@college.edu")
    priya = make_teacher(username="priya", email="priya@college.edu")
    student = make_student(username="21Z401")
    client.force_login(student)
    # Each teaches their own course (co-teachers of one course would see both).
    for teacher, tutorial, course_id in ((anand, 1, "19XW51"), (priya, 2, "19XW52")):
        quiz = make_quiz(created_by=teacher.email, tutorial_number=tutorial, course_id=course_id)
        attempt = _open(client, quiz)
        client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    priyas_mark = TutorialMark.objects.get(quiz__created_by=priya)
    priyas_attempt = QuizAttempt.objects.get(quiz__created_by=priya)

    client.force_login(anand)
    marks = client.get(reverse("admin:academic_integration_tutorialmark_changelist"))
    attempts = client.get(reverse("admin:quizzes_quizattempt_changelist"))
    assert marks.status_code == attempts.status_code == 200
    assert marks.context["cl"].result_count == 1
    assert attempts.context["cl"].result_count == 1
    assert {m.pk for m in marks.context["cl"].result_list} != {priyas_mark.pk}
    for url in (
        reverse("admin:academic_integration_tutorialmark_change", args=[priyas_mark.pk]),
        reverse("admin:quizzes_quizattempt_change", args=[priyas_attempt.pk]),
    ):
        response = client.get(url)
        assert response.status_code in (302, 404)  # admin redirects "does not exist" home
        assert "21Z401" not in response.content.decode()


# --- the canary guard ---------------------------------------------------------------------


def test_the_response_guard_fails_a_page_that_shows_the_token():
    request = RequestFactory().get("/leaky/")
    leaky = CanaryResponseMiddleware(lambda request: HttpResponse(f"token={CANARY_TOKEN}"))
    clean = CanaryResponseMiddleware(lambda request: HttpResponse("nothing to see"))

    assert clean(request).status_code == 200
    with pytest.raises(AssertionError, match="leaked into the response of /leaky/"):
        leaky(request)
    assert "tests.canary.CanaryResponseMiddleware" in settings.MIDDLEWARE  # on for every test


INNER_TESTS = textwrap.dedent(
    """
    import logging

    from django.core.management import call_command

    from tests.conftest import CANARY_TOKEN


    def test_leaks_into_logs():
        logging.getLogger("academic_integration").error("sent %s", CANARY_TOKEN)


    def test_leaks_into_printed_output():
        print("Authorization: Bearer " + CANARY_TOKEN)


    def test_leaks_into_command_output(settings):
        settings.LEAK = CANARY_TOKEN
        call_command("diffsettings", "--all")


    def test_stays_clean():
        logging.getLogger("academic_integration").error("no secret here")
    """
)


def test_the_output_guard_fails_tests_that_log_print_or_output_the_token(tmp_path):
    """The suite's autouse fixture, run on tests that leak, must fail exactly those."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.conftest"]\n')
    (tmp_path / "test_leaks.py").write_text(INNER_TESTS)
    env = {**os.environ, "PYTHONPATH": str(settings.BASE_DIR)}
    report = tmp_path / "report.xml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(tmp_path),
            "-q",
            "-p",
            "no:cacheprovider",
            "--ds",
            "quizsite.settings",
            "--rootdir",
            str(tmp_path),
            "-o",
            "addopts=",
            f"--junitxml={report}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = (result.stdout + result.stderr).replace(CANARY_TOKEN, "<the canary>")
    caught = {
        case.get("name"): case.find("error").get("message", "")
        for case in ElementTree.parse(report).iter("testcase")  # noqa: S314 - our own report
        if case.find("error") is not None
    }
    assert caught.keys() == {
        "test_leaks_into_logs",
        "test_leaks_into_printed_output",
        "test_leaks_into_command_output",
    }, output
    assert "the API token leaked into logs" in caught["test_leaks_into_logs"]
    assert "the API token leaked into stdout" in caught["test_leaks_into_printed_output"]
    assert "the API token leaked into stdout" in caught["test_leaks_into_command_output"]
