"""Helpers shared by the resync tests: a fake Analyzer, due marks in bulk, running the command."""

import itertools
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from academic_integration.models import TutorialMark
from fake_analyzer import running_fake_analyzer
from quizzes.models import Quiz, QuizAttempt
from tests.conftest import CANARY_TOKEN
from tests.factories import make_quiz

MARKS_PATH = "/api/staff/update-student-marks"
DETAIL_PATH = "/api/staff/course-detail"

_rolls = itertools.count(1)


@pytest.fixture(scope="module")
def analyzer():
    with running_fake_analyzer(seed=False) as handle:
        yield handle


@pytest.fixture
def fake(analyzer, settings):
    """The module's fake Analyzer, emptied, wanting our (canary) token; sync pointed at it."""
    analyzer.control.reset(seed={}, token=CANARY_TOKEN, legacy=False, latency_ms=0)
    settings.ACADEMIC_ANALYZER_URL = analyzer.api_url
    return analyzer


def seed_course(control, *, course, teacher_email, rolls, enrolled=True):
    control.seed(
        {
            "teachers": [teacher_email],
            "students": list(rolls),
            "courses": [
                {
                    "course_id": course,
                    "name": f"Course {course}",
                    "instructor": teacher_email,
                    "students": list(rolls) if enrolled else [],
                }
            ],
        }
    )


def due_marks(
    n,
    *,
    teacher,
    control=None,
    course="19XW51",
    tutorial=2,
    value="7.50",
    enrolled=True,
    **fields,
) -> list[TutorialMark]:
    """``n`` marks of new students on one slot, each with one completed attempt (version 1).

    With ``control`` the fake Analyzer knows the students, enrolled in the course or not.
    """
    quiz = Quiz.objects.filter(course_id=course, tutorial_number=tutorial).first()
    quiz = quiz or make_quiz(created_by=teacher.email, course_id=course, tutorial_number=tutorial)
    rolls = [f"23R{next(_rolls):05d}" for _ in range(n)]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=roll, password="!") for roll in rolls
    )
    now = timezone.now()
    fields.setdefault("due_since", now)
    marks = TutorialMark.objects.bulk_create(
        TutorialMark(
            student=user,
            course_id=course,
            tutorial_number=tutorial,
            quiz=quiz,
            value=Decimal(value),
            **fields,
        )
        for user in users
    )
    QuizAttempt.objects.bulk_create(
        QuizAttempt(student=u, quiz=quiz, completed_at=now, score=Decimal(value), mark_version=1)
        for u in users
    )
    if control is not None:
        seed_course(
            control, course=course, teacher_email=teacher.email, rolls=rolls, enrolled=enrolled
        )
    return marks


def received(control, path=MARKS_PATH) -> list[dict]:
    return [r for r in control.received() if r["path"] == path]


def run_command(*args) -> tuple[int, str, str]:
    """Run the command; return (exit code, stdout, stderr with any CommandError message)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("resync_tutorial_marks", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as error:
        code = error.returncode
        err.write(str(error))
    return code, out.getvalue(), err.getvalue()


def statuses(marks) -> list[str]:
    return list(
        TutorialMark.objects.filter(pk__in=[m.pk for m in marks])
        .order_by("pk")
        .values_list("status", flat=True)
    )
