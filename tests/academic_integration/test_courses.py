"""What the Analyzer says about courses and teachers, remembered in SyncState (sync_state.py),
and the teacher-email chain built on it (the quiz creator, then a course teacher the Analyzer's
dashboard lists as handling the course, then the session, then a generated address)."""

from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone
from responses import matchers

from academic_integration.client import reset_client
from academic_integration.exceptions import SyncRejectedError, SyncTemporaryError
from academic_integration.models import TutorialMark
from academic_integration.services.delivery import teacher_email_resolve
from academic_integration.sync_state import (
    course_detail_fetch,
    course_teacher_email,
    courses_known_missing,
    teacher_courses_known,
)
from quizzes.models import Quiz
from tests.academic_integration.sync_state_fixtures import course_is_known_missing
from tests.factories import make_course, make_quiz, make_teacher

pytestmark = pytest.mark.django_db

BASE = "http://analyzer.test/api"
DETAIL = f"{BASE}/staff/course-detail"
DASHBOARD = f"{BASE}/staff/dashboard"


@pytest.fixture(autouse=True)
def sync_on(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS = 600
    yield
    reset_client()


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def dashboard(rsps, email, *course_ids, status=200):
    body = (
        {"success": True, "name": email, "courses": [{"courseId": c} for c in course_ids]}
        if status == 200
        else {"success": False, "message": "Teacher not found"}
    )
    return rsps.get(
        DASHBOARD,
        status=status,
        json=body,
        match=[matchers.query_param_matcher({"email": email})],
    )


# --- courses -----------------------------------------------------------------------------------


def test_a_course_that_exists_and_one_that_is_missing_are_remembered(rsps):
    rsps.get(DETAIL, json={"success": True, "courseName": "Compilers", "students": []})
    rsps.get(DETAIL, status=404, json={"success": False, "message": "Course not found"})

    assert course_detail_fetch(course_id="19XW51").name == "Compilers"
    with pytest.raises(SyncRejectedError):
        course_detail_fetch(course_id="19XW99")

    assert not course_is_known_missing(course_id="19XW51")
    assert course_is_known_missing(course_id="19XW99")
    assert courses_known_missing(course_ids=["19XW51", "19XW99", "19XW00"]) == {"19XW99"}


def test_a_missing_course_is_forgotten_after_the_cache_period(rsps):
    rsps.get(DETAIL, status=404, json={"success": False, "message": "Course not found"})
    with pytest.raises(SyncRejectedError):
        course_detail_fetch(course_id="19XW99")

    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        assert not course_is_known_missing(course_id="19XW99")
        assert courses_known_missing(course_ids=["19XW99"]) == set()


# --- teachers ----------------------------------------------------------------------------------


def test_a_teachers_courses_are_asked_once_and_remembered(rsps):
    asked = dashboard(rsps, "anand@college.edu", "19XW51", "19XW52")

    assert teacher_courses_known(email="anand@college.edu") == {"19XW51", "19XW52"}
    assert teacher_courses_known(email="Anand@College.edu ") == {"19XW51", "19XW52"}
    assert asked.call_count == 1


def test_an_unknown_teacher_is_remembered_as_unknown(rsps):
    asked = dashboard(rsps, "nobody@college.edu", status=404)

    assert teacher_courses_known(email="nobody@college.edu") is None
    assert teacher_courses_known(email="nobody@college.edu") is None
    assert asked.call_count == 1


def test_a_teacher_is_asked_again_after_the_cache_period(rsps):
    asked = dashboard(rsps, "anand@college.edu", "19XW51")
    teacher_courses_known(email="anand@college.edu")

    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        teacher_courses_known(email="anand@college.edu")

    assert asked.call_count == 2


def test_a_failing_dashboard_is_raised_and_not_remembered(rsps):
    rsps.get(DASHBOARD, status=503, body="down")

    with pytest.raises(SyncTemporaryError):
        teacher_courses_known(email="anand@college.edu")
    with pytest.raises(SyncTemporaryError):
        teacher_courses_known(email="anand@college.edu")
    assert len(rsps.calls) == 2


def test_the_course_teacher_is_one_of_ours_the_analyzer_lists_as_handling_it(rsps):
    unknown = make_teacher(email="new@college.edu")
    elsewhere = make_teacher(email="priya@college.edu")
    handler = make_teacher(email="anand@college.edu")
    make_teacher(email="other@college.edu")  # not a teacher of the course here: never asked
    make_course("19XW51", teachers=[unknown, elsewhere, handler, make_teacher(email="")])
    dashboard(rsps, "new@college.edu", status=404)
    dashboard(rsps, "priya@college.edu", "19XW52")
    dashboard(rsps, "anand@college.edu", "19XW51")

    assert course_teacher_email(course_id="19XW51") == "anand@college.edu"
    assert len(rsps.calls) == 3


def test_no_course_teacher_when_the_analyzer_lists_none_of_ours(rsps):
    make_course("19XW51", teachers=[make_teacher(email="priya@college.edu")])
    dashboard(rsps, "priya@college.edu", "19XW52")

    assert course_teacher_email(course_id="19XW51") is None


# --- the chain ---------------------------------------------------------------------------------


def _mark_without_creator_email(course_id="19XW51") -> TutorialMark:
    quiz = make_quiz(created_by="someone@college.edu", course_id=course_id)
    Quiz.objects.filter(pk=quiz.pk).update(created_by=make_teacher(email=""))
    quiz.refresh_from_db()
    quiz.course.teachers.clear()  # the importer made someone@ a teacher of the course
    return TutorialMark(quiz=quiz, course_id=course_id, tutorial_number=2)


def test_the_quiz_creator_comes_first_and_nothing_is_asked(rsps):
    quiz = make_quiz(created_by="anand@college.edu")
    mark = TutorialMark(quiz=quiz, course_id="19XW51", tutorial_number=2)

    assert teacher_email_resolve(mark=mark) == ("anand@college.edu", "quiz_creator")
    assert len(rsps.calls) == 0


def test_then_a_course_teacher_the_analyzer_lists(rsps):
    mark = _mark_without_creator_email()
    make_course("19XW51", teachers=[make_teacher(email="anand@college.edu")])
    dashboard(rsps, "anand@college.edu", "19XW51")

    assert teacher_email_resolve(mark=mark, session_email="s@x.edu") == (
        "anand@college.edu",
        "course_teacher",
    )


def test_then_the_session_then_a_generated_address_then_a_rejection(rsps, settings):
    mark = _mark_without_creator_email()
    nobody = lambda: None  # noqa: E731 - the course teacher step found no one

    assert teacher_email_resolve(
        mark=mark, session_email="hod@college.edu", course_teacher=nobody
    ) == ("hod@college.edu", "session")
    settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN = "college.edu"
    assert teacher_email_resolve(mark=mark, course_teacher=nobody) == (
        "teacher_19xw51@college.edu",
        "generated",
    )
    settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN = ""
    with pytest.raises(SyncRejectedError) as info:
        teacher_email_resolve(mark=mark, course_teacher=nobody)
    assert info.value.reason == "no_teacher_email"
