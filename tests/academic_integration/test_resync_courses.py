"""The resync's course check as upstream answers it: the roster decides who would be refused
before anything is sent, the teacher email comes from the chain on the run's own thread, and
a course archived then restored on the Analyzer is delivered to again with nobody acting."""

import json
from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone
from responses import matchers

from academic_integration.client import reset_client
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from quizzes.models import Quiz
from tests.academic_integration.resync_fixtures import due_marks, statuses
from tests.factories import make_teacher

pytestmark = pytest.mark.django_db

BASE = "http://analyzer.test/api"
DETAIL = f"{BASE}/staff/course-detail"
DASHBOARD = f"{BASE}/staff/dashboard"
MARKS = f"{BASE}/staff/update-student-marks"
NOT_FOUND = {"success": False, "message": "Course not found"}


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


def roster(*rolls):
    return {
        "success": True,
        "courseName": "Compilers",
        "students": [{"_id": r, "name": r, "rollno": r, "email": f"{r}@x.edu"} for r in rolls],
    }


def run(**options):
    return resync_run(ResyncOptions(**options))


def test_upstreams_course_detail_lets_the_resync_deliver(rsps, teacher):
    """The issue: 40 due marks, 0 delivered, 0 requests, because the answer had no `course`."""
    marks = due_marks(40, teacher=teacher)
    rsps.get(DETAIL, json=roster(*[m.student.username for m in marks]))
    posts = rsps.post(MARKS, json={"success": True, "message": "Marks updated successfully"})

    summary = run()

    assert (summary.delivered, summary.retrying, summary.exit_code) == (40, 0, 0)
    assert posts.call_count == 40
    assert statuses(marks) == ["delivered"] * 40


def test_students_not_on_the_analyzers_roster_are_rejected_without_a_request(rsps, teacher):
    marks = due_marks(3, teacher=teacher)
    enrolled = marks[0].student.username
    rsps.get(DETAIL, json=roster(enrolled))
    posts = rsps.post(
        MARKS,
        json={"success": True},
        match=[matchers.json_params_matcher({"studentId": enrolled}, strict_match=False)],
    )

    summary = run()

    assert posts.call_count == 1
    assert statuses(marks) == ["delivered", "rejected", "rejected"]
    rejected = TutorialMark.objects.get(pk=marks[1].pk)
    assert rejected.reason == "not_enrolled"
    assert "not on the Academic Analyzer's roster of course 19XW51" in rejected.last_error
    [group] = summary.rejected_groups
    assert (group.reason, group.marks) == ("not_enrolled", 2)
    assert "ask its administrator to enrol them" in group.next_step
    # Every mark has its history row, the unsent ones with no HTTP status.
    logs = MarkDeliveryLog.objects.filter(mark=marks[1]).get()
    assert (logs.outcome, logs.http_status) == ("rejected", None)


def test_without_a_creator_email_one_dashboard_per_teacher_and_run(rsps, teacher):
    marks = due_marks(5, teacher=teacher)
    Quiz.objects.update(created_by=make_teacher(email=""))
    rsps.get(DETAIL, json=roster(*[m.student.username for m in marks]))
    asked = rsps.get(
        DASHBOARD,
        json={"success": True, "name": "Anand", "courses": [{"courseId": "19XW51"}]},
        match=[matchers.query_param_matcher({"email": teacher.email})],
    )
    posts = rsps.post(MARKS, json={"success": True})

    summary = run(batch_size=2)

    assert summary.delivered == 5
    assert asked.call_count == 1
    assert {json.loads(c.request.body)["teacherEmail"] for c in posts.calls} == {teacher.email}
    assert set(TutorialMark.objects.values_list("teacher_email_source", flat=True)) == {
        "course_teacher"
    }


def test_a_restored_course_is_delivered_to_again_within_the_cache_period(rsps, teacher):
    marks = due_marks(3, teacher=teacher, course="19XW77")
    rolls = [m.student.username for m in marks]
    archived = rsps.get(DETAIL, status=404, json=NOT_FOUND)

    first = run()
    assert statuses(marks) == ["rejected"] * 3
    assert first.rejected == 3

    # Within the cache period the Analyzer is not asked again, however often the resync runs.
    second = run()
    assert (archived.call_count, second.requeued, second.batches) == (1, 0, 0)

    # The teacher restores the course on the Analyzer; nobody acts here.
    rsps.replace(responses.GET, DETAIL, json=roster(*rolls))
    posts = rsps.post(MARKS, json={"success": True})
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        third = run()

    assert (third.requeued, third.delivered, third.exit_code) == (3, 3, 0)
    assert statuses(marks) == ["delivered"] * 3
    assert posts.call_count == 3
    assert "3 requeued (their course is back on the Analyzer)" in third.headline()


def test_a_course_still_missing_after_the_cache_period_stays_rejected(rsps, teacher):
    marks = due_marks(2, teacher=teacher, course="19XW77")
    asked = rsps.get(DETAIL, status=404, json=NOT_FOUND)
    run()

    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        summary = run()

    assert (summary.requeued, asked.call_count) == (0, 2)
    assert statuses(marks) == ["rejected"] * 2


def test_a_failing_analyzer_stops_the_rechecks(rsps, teacher):
    due_marks(1, teacher=teacher, course="19XW77")
    due_marks(1, teacher=teacher, course="19XW78")
    TutorialMark.objects.update(status="rejected", reason="course_not_found")
    rsps.get(DETAIL, status=503, body="maintenance")

    summary = run()

    assert summary.requeued == 0
    assert len(rsps.calls) == 1  # not one request per course while it is failing
    assert set(TutorialMark.objects.values_list("status", flat=True)) == {"rejected"}


def test_marks_rejected_for_another_reason_are_not_requeued(rsps, teacher):
    marks = due_marks(1, teacher=teacher)
    TutorialMark.objects.update(status="rejected", reason="student_not_found")

    summary = run()

    assert summary.requeued == 0 and len(rsps.calls) == 0
    assert statuses(marks) == ["rejected"]
