"""The write-back's commit does not wait for the disk on PostgreSQL; nothing else relaxes."""

import pytest
from django.db import connection, transaction

from academic_integration.models import TutorialMark
from academic_integration.services.commit import relaxed_commit


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
    from academic_integration.services import writeback
    from quizzes.services import attempt_get_or_start, attempt_submit
    from tests.factories import make_quiz

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
