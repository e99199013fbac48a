"""Recording (services/recording.py): a submit folds its attempt into the mark inside its
transaction and claims the mark for the delivery after commit."""

from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.db import transaction
from django.utils import timezone

from academic_integration.models import TutorialMark
from quizzes.models import QuizAttempt
from tests.academic_integration.test_delivery import submit
from tests.academic_integration.test_inline_sync import submit as submit_page
from tests.factories import make_quiz

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_on(settings):
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"
    return settings


def test_nothing_is_sent_when_the_transaction_rolls_back(sync_on, teacher, student):
    quiz = make_quiz(created_by=teacher.email)

    # Any request would fail loudly: nothing is registered.
    with responses.RequestsMock(), pytest.raises(RuntimeError), transaction.atomic():
        submit(student, quiz)
        raise RuntimeError("boom")
    assert not TutorialMark.objects.exists()


@pytest.mark.parametrize(
    ("method", "expected"), [("latest", 0), ("highest", 10)], ids=["latest", "highest"]
)
def test_retakes_follow_the_grading_method(
    analyzer, student_client, teacher, django_capture_on_commit_callbacks, method, expected
):
    quiz = make_quiz(created_by=teacher.email, grading_method=method)
    submit_page(student_client, quiz, django_capture_on_commit_callbacks, correct=True)
    submit_page(student_client, quiz, django_capture_on_commit_callbacks, correct=False)
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == expected
    mark = TutorialMark.objects.get()
    assert (mark.version, mark.delivered_version, mark.value) == (2, 2, Decimal(expected))
    assert QuizAttempt.objects.filter(marks_synced=True).count() == 2
    assert [r["body"]["marks"]["tutorial2"] for r in analyzer.control.received()] == [10, expected]


def test_a_mark_being_delivered_elsewhere_is_not_claimed_by_a_submit(
    analyzer, student, quiz, django_capture_on_commit_callbacks
):
    submit_service(student, quiz, django_capture_on_commit_callbacks)
    until = timezone.now() + timedelta(minutes=5)
    TutorialMark.objects.update(claimed_by="resync:elsewhere", claim_expires_at=until)
    outcome = submit_service(student, quiz, django_capture_on_commit_callbacks)
    mark = TutorialMark.objects.get()
    assert outcome.status == "busy"
    assert (mark.claimed_by, mark.version, mark.status) == ("resync:elsewhere", 2, "pending")
    assert len(analyzer.control.received()) == 1  # only the first submission's


def submit_service(student, quiz, callbacks):
    from quizzes.services import attempt_get_or_start, attempt_submit

    attempt = attempt_get_or_start(student=student, quiz=quiz)
    with callbacks(execute=False) as pending:
        attempt_submit(attempt_id=attempt.pk, student=student, answers={})
    (deliver,) = pending
    return deliver()
