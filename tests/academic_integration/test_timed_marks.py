"""Issue 20: the marks of timed attempts submitted when their time was up, by the batch
(`attempts_submit_overdue`): recorded as any other, delivered by the resync run that submits
them first (the cron that already runs delivers the marks of students who never came back)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from academic_integration.models import TutorialMark
from quizzes.models import QuizAttempt
from quizzes.services import attempt_submit
from quizzes.timed_attempts import attempts_submit_overdue
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import received, run_command, seed_course
from tests.factories import answers_for, make_quiz, make_student

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake


def overdue_attempt(quiz, student, *, answers=None) -> QuizAttempt:
    """An attempt started 31 minutes ago on a 30-minute quiz, with these saved answers."""
    attempt = QuizAttempt.objects.create(student=student, quiz=quiz)
    started = timezone.now() - timedelta(minutes=31)
    draft = {"answers": {str(q): sorted(c) for q, c in (answers or {}).items()}}
    QuizAttempt.objects.filter(pk=attempt.pk).update(started_at=started, draft=draft)
    return attempt


def as_answers(post) -> dict[int, set[int]]:
    return {int(key[2:]): set(values) for key, values in post.items()}


def test_the_resync_command_submits_overdue_attempts_and_delivers_their_marks(fake, teacher):
    quiz = make_quiz(created_by=teacher.email, time_limit_minutes=30)
    student = make_student()
    seed_course(
        fake.control, course="19XW51", teacher_email=teacher.email, rolls=[student.username]
    )
    attempt = overdue_attempt(quiz, student, answers=as_answers(answers_for(quiz)))
    code, out, _ = run_command()
    assert code == 0
    assert out.startswith("Submitted 1 timed attempt whose time was up.")
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == 10
    mark = TutorialMark.objects.get(student=student)
    assert (mark.status, mark.delivered_version, mark.value) == ("delivered", 1, Decimal(10))
    [sent] = received(fake.control)
    assert sent["body"]["studentId"] == student.username


def test_a_dry_run_submits_nothing(teacher):
    quiz = make_quiz(created_by=teacher.email, time_limit_minutes=30)
    attempt = overdue_attempt(quiz, make_student())
    _, out, _ = run_command("--dry-run")
    attempt.refresh_from_db()
    assert attempt.completed_at is None and "timed attempt" not in out


def test_a_later_attempt_bumps_a_delivered_mark_as_a_submit_does(teacher):
    """The second attempt's mark: a new version, due again from now, its attempt unsettled."""
    quiz = make_quiz(created_by=teacher.email, time_limit_minutes=30, grading_method="latest")
    student = make_student()
    first = QuizAttempt.objects.create(student=student, quiz=quiz)
    attempt_submit(attempt_id=first.pk, student=student, answers=as_answers(answers_for(quiz)))
    TutorialMark.objects.update(status="delivered", delivered_version=1, due_since=None)
    second = overdue_attempt(quiz, student)  # nothing saved: scores 0
    assert attempts_submit_overdue() == 1
    mark = TutorialMark.objects.get()
    second.refresh_from_db()
    assert (mark.value, mark.version, mark.status) == (Decimal(0), 2, "pending")
    assert mark.due_since is not None and second.mark_version == 2


def test_a_practice_quiz_has_no_mark(teacher):
    quiz = make_quiz(
        quiz_type="practice", course_id=None, tutorial_number=None, time_limit_minutes=30
    )
    overdue_attempt(quiz, make_student())
    assert attempts_submit_overdue() == 1
    assert not TutorialMark.objects.exists()


def test_the_batch_and_a_late_submit_record_the_same_mark(teacher):
    """One student's attempt through the page (a late submit) and another's through the
    batch: the same value and version."""
    quiz = make_quiz(created_by=teacher.email, time_limit_minutes=30)
    a, b = make_student(), make_student()
    answers = as_answers(answers_for(quiz))
    late = overdue_attempt(quiz, a, answers=answers)
    overdue_attempt(quiz, b, answers=answers)
    with time_machine.travel(timezone.now(), tick=False):
        attempt_submit(attempt_id=late.pk, student=a, answers={})
        assert attempts_submit_overdue() == 1
    marks = TutorialMark.objects.order_by("student_id").values_list("value", "version")
    assert list(marks) == [(Decimal(10), 1), (Decimal(10), 1)]
