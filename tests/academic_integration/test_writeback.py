"""The write-back (services/writeback.py): the attempts a delivered version settles, and the
write-back's commit that does not wait for the disk on PostgreSQL (nothing else relaxes)."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from academic_integration.models import TutorialMark
from academic_integration.services import writeback
from academic_integration.services.writeback import attempts_settle, relaxed_commit
from quizzes.models import Quiz, QuizAttempt
from quizzes.services import attempt_get_or_start, attempt_submit
from tests.factories import make_quiz, make_student


def _attempt(student, quiz, *, version, done=True):
    return QuizAttempt.objects.create(
        student=student,
        quiz=quiz,
        completed_at=timezone.now() if done else None,
        score=5,
        mark_version=version,
    )


def _scenario(teacher):
    """Two students, a slot served by two quizzes, another tutorial, attempts of versions 1-3."""
    one, other = make_student("21Z301"), make_student("21Z302")
    quiz = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=2)
    # An earlier quiz of the same slot (replaced since: a slot has one published quiz).
    retake_quiz = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=1)
    Quiz.objects.filter(pk=retake_quiz.pk).update(tutorial_number=2, is_published=False)
    elsewhere = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=3)
    mark = TutorialMark.objects.create(
        student=one, course_id="19XW51", tutorial_number=2, quiz=quiz, value=5, version=3
    )
    settled = {
        _attempt(one, quiz, version=1).pk,
        _attempt(one, retake_quiz, version=2).pk,  # same slot, another quiz
    }
    untouched = {
        _attempt(one, quiz, version=3).pk,  # newer than the version delivered
        _attempt(one, elsewhere, version=1).pk,  # another tutorial
        _attempt(other, quiz, version=1).pk,  # another student
        _attempt(one, quiz, version=None, done=False).pk,  # in progress
    }
    return mark, settled, untouched


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True], ids=["one mark", "batch"])
def test_settling_one_mark_settles_exactly_its_slot_up_to_the_version(teacher, batch):
    mark, settled, untouched = _scenario(teacher)
    now = timezone.now()
    pairs = [(mark, 2)]
    if batch:  # a second mark of another tutorial in the same UPDATE
        other = TutorialMark.objects.create(
            student=make_student("21Z303"),
            course_id="19XW51",
            tutorial_number=4,
            quiz=mark.quiz,
            value=1,
        )
        pairs.append((other, 1))
    assert attempts_settle(marks_versions=pairs, now=now) == 2
    synced = dict(QuizAttempt.objects.values_list("pk", "last_sync_at").filter(marks_synced=True))
    assert set(synced) == settled and set(synced.values()) == {now}
    assert not QuizAttempt.objects.filter(pk__in=untouched, marks_synced=True).exists()
    assert attempts_settle(marks_versions=[(mark, 2)], now=now) == 0  # already settled


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_only_the_relaxed_transaction_skips_the_wait_and_its_first_statement_works():
    assert _synchronous_commit() == "on"
    with relaxed_commit():
        assert connection.in_atomic_block
        # The first statement carries the SET LOCAL in the same round trip; parameters and
        # the row count of an UPDATE still come through.
        assert TutorialMark.objects.filter(pk__in=[-1, -2]).update(reason="x") == 0
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"  # SET LOCAL ended with its transaction
    with transaction.atomic():
        assert _synchronous_commit() == "on"  # the next transaction on the connection


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_nothing_is_relaxed():
    with transaction.atomic():
        with relaxed_commit():
            assert _synchronous_commit() == "on"
        assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_a_failed_relaxed_transaction_rolls_back():
    with pytest.raises(ZeroDivisionError), relaxed_commit():
        TutorialMark.objects.filter(pk=-1).update(reason="x")
        1 / 0  # noqa: B018
    assert not connection.in_atomic_block


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_inline_delivery_writes_back_without_waiting_and_the_submit_waits(
    analyzer, teacher, student, monkeypatch
):
    """The submit transaction commits durably; the write-back after the POST does not."""
    seen = {}
    settle = writeback.attempts_settle

    def spying_settle(**kwargs):
        seen["write-back"] = _synchronous_commit()
        return settle(**kwargs)

    monkeypatch.setattr(writeback, "attempts_settle", spying_settle)
    quiz = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=2)
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    with transaction.atomic():
        attempt_submit(attempt_id=attempt.pk, student=student, answers={})
        seen["submit"] = _synchronous_commit()
    # on_commit ran the delivery: delivered, written back in the relaxed transaction.
    assert seen == {"submit": "on", "write-back": "off"}
    assert TutorialMark.objects.get().status == "delivered"
    assert _synchronous_commit() == "on"
