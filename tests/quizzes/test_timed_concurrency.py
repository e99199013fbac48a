"""A late submit in flight while the overdue batch runs: the batch skips the attempt instead
of waiting or scoring it twice (PostgreSQL: row locks between real connections)."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from academic_integration.models import TutorialMark
from quizzes import services
from quizzes.models import AttemptAnswer, QuizAttempt
from quizzes.services import attempt_submit
from quizzes.timed_attempts import attempts_submit_overdue
from tests.factories import make_quiz, make_student

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_batch_skips_an_attempt_whose_late_submit_holds_it(teacher, monkeypatch):
    quiz = make_quiz(n_questions=1, created_by=teacher.email, time_limit_minutes=30)
    student = make_student()
    attempt = QuizAttempt.objects.create(student=student, quiz=quiz)
    started = timezone.now() - timedelta(minutes=31)
    QuizAttempt.objects.filter(pk=attempt.pk).update(started_at=started)
    scored, go = threading.Event(), threading.Event()
    real_score = services.score_answers

    def score_then_wait(**kwargs):
        result = real_score(**kwargs)
        scored.set()
        go.wait(10)  # the late submit holds its attempt's lock
        return result

    monkeypatch.setattr(services, "score_answers", score_then_wait)
    errors = []

    def run():
        try:
            attempt_submit(attempt_id=attempt.pk, student=student, answers={})
        except Exception as err:  # reported by the assertion below
            errors.append(err)
        finally:
            connection.close()

    submit = threading.Thread(target=run)
    submit.start()
    assert scored.wait(10)
    began = time.monotonic()
    assert attempts_submit_overdue() == 0  # skipped, not waited for
    assert time.monotonic() - began < 5
    go.set()
    submit.join(10)
    assert not errors, errors
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.mark_version == 1
    assert AttemptAnswer.objects.filter(attempt=attempt).count() == 1
    assert TutorialMark.objects.get().version == 1
    assert attempts_submit_overdue() == 0
