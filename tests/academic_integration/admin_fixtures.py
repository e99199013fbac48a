"""Helpers shared by the admin tests (and a few others): URLs, clients, marks and history rows.

The fixtures (two teachers, their quizzes and clients) are in this folder's conftest.py."""

from decimal import Decimal

from django.test import Client
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from quizzes.models import QuizAttempt
from tests.factories import make_student

MARKS_URL = "/admin/academic_integration/tutorialmark/"
ATTEMPTS_URL = "/admin/quizzes/quizattempt/"
QUIZZES_URL = "/admin/quizzes/quiz/"
HEALTH_URL = "/admin/academic_integration/tutorialmark/health/"
TEST_CONNECTION_URL = "/admin/academic_integration/tutorialmark/health/test-connection/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_mark(*, quiz, student=None, status="pending", reason="", value="7.50", **fields):
    """A mark on the quiz's slot, with one completed attempt behind it."""
    student = student or make_student()
    now = timezone.now()
    attempt = QuizAttempt.objects.create(
        student=student,
        quiz=quiz,
        completed_at=now,
        earned_points=3,
        total_points=4,
        score=Decimal(value),
        mark_version=1,
        marks_synced=status == "delivered",
        last_sync_at=now if status == "delivered" else None,
    )
    delivered = status == "delivered"
    mark = TutorialMark.objects.create(
        student=student,
        course_id=quiz.course_id,
        tutorial_number=quiz.tutorial_number,
        quiz=quiz,
        value=Decimal(value),
        status=status,
        reason=reason,
        due_since=None if delivered else now,
        delivered_version=1 if delivered else 0,
        delivered_value=Decimal(value) if delivered else None,
        delivered_at=now if delivered else None,
        **fields,
    )
    mark.attempt = attempt
    return mark


def log_try(mark, *, outcome, reason="", http_status=None, when=None, **fields):
    return MarkDeliveryLog.objects.create(
        mark=mark,
        tried_at=when or timezone.now(),
        trigger=fields.pop("trigger", "resync"),
        version=mark.version,
        value=mark.value,
        outcome=outcome,
        reason=reason,
        http_status=http_status,
        duration_ms=fields.pop("duration_ms", 42),
        teacher_email=fields.pop("teacher_email", "anand@college.edu"),
        teacher_email_source=fields.pop("teacher_email_source", "quiz_creator"),
        **fields,
    )


def health(client) -> str:
    response = client.get(HEALTH_URL)
    assert response.status_code == 200
    return response.content.decode()


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    end = page.find("</section>", start)
    return page[start : end if end != -1 else None]
