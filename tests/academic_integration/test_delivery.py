"""The sync service against a mocked Analyzer (`responses`): outcomes, versions, settling."""

import json
from decimal import Decimal

import pytest
import responses
from responses import matchers

from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.services import mark_deliver_inline
from quizzes.models import QuizAttempt
from quizzes.services import attempt_get_or_start, attempt_submit
from tests.conftest import CANARY_TOKEN
from tests.factories import make_quiz

BASE = "http://analyzer.test/api"
MARKS_URL = f"{BASE}/staff/update-student-marks"

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_on(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    return settings


def submit(student, quiz, *, right=True):
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    answers = {}
    for q in quiz.questions.prefetch_related("choices"):
        pick = [c.pk for c in q.choices.all() if c.is_correct == right] or [q.choices.first().pk]
        answers[q.pk] = set(pick if q.multiple else pick[:1])
    return attempt_submit(attempt_id=attempt.pk, student=student, answers=answers).attempt


def test_submit_delivers_after_commit_with_exact_payload(
    sync_on, teacher, student, django_capture_on_commit_callbacks
):
    quiz = make_quiz(created_by=teacher.email)
    with responses.RequestsMock() as rsps:
        rsps.post(
            MARKS_URL,
            json={"success": True, "message": "Marks updated successfully"},
            match=[
                matchers.json_params_matcher(
                    {
                        "studentId": "21Z201",
                        "courseId": "19XW51",
                        "teacherEmail": "anand@college.edu",
                        "marks": {"tutorial2": 10},
                    }
                ),
                matchers.header_matcher({"Authorization": f"Bearer {CANARY_TOKEN}"}),
            ],
        )
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            attempt = submit(student, quiz)
        assert len(callbacks) == 1
    mark = TutorialMark.objects.get()
    assert mark.status == "delivered"
    assert (mark.delivered_version, mark.delivered_value) == (1, Decimal("10.00"))
    assert mark.teacher_email_source == "quiz_creator"
    attempt.refresh_from_db()
    assert attempt.marks_synced and attempt.last_sync_at
    log = MarkDeliveryLog.objects.get()
    assert (log.outcome, log.http_status, log.trigger) == ("delivered", 200, "inline")


@pytest.mark.parametrize(
    ("status", "body", "expected_status", "expected_reason"),
    [
        (404, {"success": False, "message": "Course not found"}, "rejected", "course_not_found"),
        (
            400,
            {"success": False, "message": "Student is not enrolled in this course"},
            "rejected",
            "not_enrolled",
        ),
        (500, {"success": False, "message": "Server error"}, "retrying", "server_error"),
        (401, {"success": False, "code": "invalid_token"}, "pending", "token_rejected"),
    ],
)
def test_failures_are_recorded_on_the_mark(
    sync_on,
    teacher,
    student,
    django_capture_on_commit_callbacks,
    status,
    body,
    expected_status,
    expected_reason,
):
    quiz = make_quiz(created_by=teacher.email)
    with responses.RequestsMock() as rsps:
        rsps.post(MARKS_URL, status=status, body=json.dumps(body), content_type="application/json")
        with django_capture_on_commit_callbacks(execute=True):
            attempt = submit(student, quiz)
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == (expected_status, expected_reason)
    attempt.refresh_from_db()
    assert not attempt.marks_synced
    assert CANARY_TOKEN not in mark.last_error


def test_a_retake_during_delivery_keeps_the_newer_value_due(
    sync_on, teacher, student, django_capture_on_commit_callbacks
):
    """The outcome of v1 must not mark v2 delivered: v2 stays due and goes next."""
    quiz = make_quiz(created_by=teacher.email, grading_method="latest")
    with django_capture_on_commit_callbacks(execute=False) as first:
        submit(student, quiz, right=True)
    mark = TutorialMark.objects.get()

    def retake_lands_mid_request(request):
        with django_capture_on_commit_callbacks(execute=False):
            submit(student, quiz, right=False)  # bumps to v2 while v1 is on the wire
        return (200, {}, json.dumps({"success": True}))

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, MARKS_URL, callback=retake_lands_mid_request)
        first[0]()
    mark.refresh_from_db()
    assert mark.version == 2 and mark.delivered_version == 1
    assert mark.status == "pending"
    assert mark.value == Decimal("0.00")

    settled = QuizAttempt.objects.filter(marks_synced=True).count()
    with responses.RequestsMock() as rsps:
        rsps.post(
            MARKS_URL,
            json={"success": True},
            match=[matchers.json_params_matcher({"marks": {"tutorial2": 0}}, strict_match=False)],
        )
        outcome = mark_deliver_inline(mark_id=mark.pk)
    assert outcome.status == "delivered"
    assert QuizAttempt.objects.filter(marks_synced=True).count() == settled + 1  # the retake
    mark.refresh_from_db()
    assert (mark.status, mark.delivered_version) == ("delivered", 2)


def _fragments(secret: str, size: int = 8) -> set[str]:
    return {secret[i : i + size].lower() for i in range(len(secret) - size + 1)}


@pytest.mark.parametrize(
    "echo",
    [
        CANARY_TOKEN[:12],  # truncated by a proxy
        CANARY_TOKEN.lower(),
        CANARY_TOKEN.upper()[3:],
        f"Bearer {CANARY_TOKEN[2:-2]}…",
    ],
    ids=["truncated", "lower-cased", "upper-cased tail", "middle"],
)
def test_a_partial_or_recased_token_echo_is_neither_stored_nor_shown(
    sync_on, teacher, student, django_capture_on_commit_callbacks, admin_client, echo
):
    """Issue 23, item 4: any 8 characters of the token, in any case, are scrubbed."""
    quiz = make_quiz(created_by=teacher.email)
    body = {"success": False, "message": f"Server error: bad key {echo}"}
    with responses.RequestsMock() as rsps:
        rsps.post(MARKS_URL, status=500, body=json.dumps(body), content_type="application/json")
        with django_capture_on_commit_callbacks(execute=True):
            submit(student, quiz)
    mark = TutorialMark.objects.get()
    assert "[token scrubbed]" in mark.last_error
    log = MarkDeliveryLog.objects.get()
    page = admin_client.get(
        f"/admin/academic_integration/tutorialmark/{mark.pk}/change/", secure=True
    )
    assert page.status_code == 200
    stored = [mark.last_error, *(str(v) for v in vars(log).values())]
    for text in [*stored, page.content.decode()]:
        lowered = text.lower()
        assert not any(piece in lowered for piece in _fragments(CANARY_TOKEN)), text[:300]
