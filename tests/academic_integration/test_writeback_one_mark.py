"""The one-mark write-back (every inline delivery) writes what the batch write-back writes."""

import pytest
from django.utils import timezone

from academic_integration.models import TutorialMark
from academic_integration.services import attempts_settle
from academic_integration.services.bulk import update_row
from quizzes.models import Quiz, QuizAttempt
from tests.factories import make_quiz, make_student

pytestmark = pytest.mark.django_db


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


@pytest.mark.parametrize("batch", [False, True], ids=["one mark", "batch"])
def test_settling_one_mark_settles_exactly_its_slot_up_to_the_version(teacher, batch):
    mark, settled, untouched = _scenario(teacher)
    now = timezone.now()
    pairs = [(mark, 2)]
    if batch:  # a second mark sends the batch down the ORM path
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


def test_update_row_writes_prepared_values_only_where_every_condition_holds(teacher):
    from decimal import Decimal

    mark, _, _ = _scenario(teacher)
    now = timezone.now()
    TutorialMark.objects.filter(pk=mark.pk).update(claimed_by="me")
    values = {"delivered_value": Decimal("7.50"), "delivered_at": now, "claimed_by": ""}
    assert update_row(TutorialMark, where={"id": mark.pk, "version": 2}, values=values) == 0
    assert update_row(TutorialMark, where={"id": mark.pk, "claimed_by": "x"}, values=values) == 0
    where = {"id": mark.pk, "version": 3, "claimed_by": "me"}
    assert update_row(TutorialMark, where=where, values=values) == 1
    mark.refresh_from_db()
    assert (mark.delivered_value, mark.delivered_at, mark.claimed_by) == (Decimal("7.50"), now, "")
