"""A submit scoring with the old key while a teacher regrades: it ends regraded (PostgreSQL:
row locks between real connections)."""

import threading

import pytest
from django.db import connection, transaction
from django.db.models import Q

from academic_integration.models import TutorialMark
from quizzes import services
from quizzes.models import Choice, QuizAttempt
from quizzes.services import attempt_get_or_start, attempt_submit, quiz_regrade
from tests.factories import make_quiz, make_student

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_submit_in_flight_during_a_regrade_is_regraded(teacher, monkeypatch):
    quiz = make_quiz(n_questions=1, created_by=teacher.email)
    student = make_student()
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    question = quiz.questions.get()
    right = question.choices.get(is_correct=True)
    scored, go = threading.Event(), threading.Event()
    real_score = services.score_answers

    def score_then_wait(**kwargs):
        result = real_score(**kwargs)
        scored.set()
        go.wait(10)  # the submit holds its attempt's lock, scored with the old key
        return result

    monkeypatch.setattr(services, "score_answers", score_then_wait)
    errors = []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as err:  # reported by the assertion below
                errors.append(err)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    submit = in_thread(
        lambda: attempt_submit(
            attempt_id=attempt.pk, student=student, answers={question.pk: {right.pk}}
        )
    )
    assert scored.wait(10)

    def regrade():
        with transaction.atomic():  # as the admin does: key change and regrade, one commit
            Choice.objects.filter(question=question).update(is_correct=~Q(is_correct=True))
            quiz_regrade(quiz=quiz, changed_by=teacher, change="key flipped")

    regrading = in_thread(regrade)
    regrading.join(1)
    assert regrading.is_alive()  # waiting for the submit in flight
    go.set()
    submit.join(10)
    regrading.join(10)
    assert not errors, errors
    attempt = QuizAttempt.objects.get(pk=attempt.pk)
    assert (attempt.earned_points, attempt.score) == (0, 0)  # the new key, not the old
    assert TutorialMark.objects.get().value == 0
