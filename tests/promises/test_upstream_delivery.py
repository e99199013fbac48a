"""Delivery against the Analyzer's real code (upstream, run on Node by `upstream_analyzer`):
inline submits, the resync after an outage in bulk, the roster check, archive and restore.

The fake Analyzer is checked against upstream answer by answer (tests/fake_analyzer); these
tests check that the product itself gets its marks into upstream, end to end.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from academic_integration.models import TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from tests.academic_integration.test_inline_sync import submit
from tests.factories import make_course, make_quiz, make_student, make_teacher

pytestmark = pytest.mark.django_db


@pytest.fixture
def up(upstream_analyzer, settings):
    settings.ACADEMIC_ANALYZER_URL = upstream_analyzer.base_url
    # Upstream looks each bulk item up one after another (~80 marks/s here).
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 10
    settings.ACADEMIC_ANALYZER_BULK_SIZE = 200
    return upstream_analyzer


def course_here(up, n_students, *, enrolled_there=None):
    """A course on upstream and here: one teacher, ``n_students`` students (all enrolled
    there unless ``enrolled_there`` says how many are)."""
    email = up.new_teacher()
    rolls = [up.unique("U") for _ in range(n_students)]
    there = rolls if enrolled_there is None else rolls[:enrolled_there]
    for roll in rolls[len(there) :]:
        up.create_student(email, roll)
    course_id = up.create_course(email, there)
    teacher = make_teacher(email=email)
    students = [make_student(username=roll, courses=()) for roll in rolls]
    make_course(course_id, name="Upstream course", teachers=[teacher], students=students)
    quiz = make_quiz(created_by=email, course_id=course_id, tutorial_number=2)
    return email, course_id, quiz, students


def test_a_submission_reaches_upstream_inline(up, client, django_capture_on_commit_callbacks):
    email, course_id, quiz, [student] = course_here(up, 1)
    client.force_login(student)

    _, page = submit(client, quiz, django_capture_on_commit_callbacks, correct=True)

    assert up.marks(email, student.username, course_id)["tutorial2"] == 10
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.delivered_version) == ("delivered", 1)
    assert "reached the Academic Analyzer" in page


def test_after_an_outage_the_resync_drains_a_course_in_one_bulk_request(
    up, settings, client, django_capture_on_commit_callbacks
):
    email, course_id, quiz, students = course_here(up, 40)
    settings.ACADEMIC_ANALYZER_URL = "http://127.0.0.1:9/api"  # the outage: nothing listens
    for i, student in enumerate(students):
        client.force_login(student)
        submit(client, quiz, django_capture_on_commit_callbacks, correct=i % 2 == 0)
    assert set(TutorialMark.objects.values_list("status", flat=True)) <= {"pending", "retrying"}
    settings.ACADEMIC_ANALYZER_URL = up.base_url

    summary = resync_run(ResyncOptions(ignore_backoff=True))

    assert (summary.delivered, summary.retrying, summary.exit_code) == (40, 0, 0)
    assert (summary.requests, summary.bulk_requests) == (1, 1)
    for i, student in enumerate(students):
        expected = 10 if i % 2 == 0 else 0
        assert up.marks(email, student.username, course_id)["tutorial2"] == expected


def test_students_not_enrolled_upstream_are_refused_before_sending(up):
    email, course_id, quiz, students = course_here(up, 3, enrolled_there=1)
    for student in students:
        TutorialMark.objects.create(
            student=student, course_id=course_id, tutorial_number=2, quiz=quiz, value=7
        )

    summary = resync_run(ResyncOptions())

    assert (summary.delivered, summary.rejected) == (1, 2)
    assert summary.requests == 1
    [group] = summary.rejected_groups
    assert (group.reason, group.marks) == ("not_enrolled", 2)
    assert up.marks(email, students[0].username, course_id)["tutorial2"] == 7


def test_an_archived_course_is_delivered_to_again_once_restored(up, settings):
    settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS = 600
    email, course_id, quiz, students = course_here(up, 2)
    archived = up.archive_course(email, course_id)
    for student in students:
        TutorialMark.objects.create(
            student=student, course_id=course_id, tutorial_number=2, quiz=quiz, value=6
        )

    gone = resync_run(ResyncOptions())
    assert (gone.rejected, gone.requests) == (2, 0)
    assert {m.reason for m in TutorialMark.objects.all()} == {"course_not_found"}

    up.restore_course(email, archived)  # on the Analyzer; nobody acts here
    with time_machine.travel(timezone.now() + timedelta(seconds=601)):
        back = resync_run(ResyncOptions())

    assert (back.requeued, back.delivered, back.exit_code) == (2, 2, 0)
    for student in students:
        assert up.marks(email, student.username, course_id)["tutorial2"] == 6


# --- check_analyzer against upstream --------------------------------------------------------


def test_check_analyzer_names_who_would_be_refused_by_upstream(up):
    from academic_integration.management.commands.check_analyzer import analyzer_check_run

    email, course_id, _, students = course_here(up, 3, enrolled_there=2)
    stranger = up.unique("U")  # enrolled there, not on our roster
    up.create_student(email, stranger)
    up.enrol(email, course_id, stranger)

    [check] = analyzer_check_run(course_ids=[course_id]).courses

    assert (check.exists, check.exit_code) == (True, 1)
    assert (check.teachers_known, check.teachers_handling) == ([email], [email])
    assert [s.roll_no for s in check.not_enrolled_there] == [students[2].username]
    assert [s.roll_no for s in check.only_there] == [stranger]
    assert {(s.email, s.source) for s in check.senders} == {(email, "quiz_creator")}


def test_check_analyzer_after_an_archive_says_the_course_is_missing(up):
    from academic_integration.management.commands.check_analyzer import analyzer_check_run

    email, course_id, _, _ = course_here(up, 1)
    up.archive_course(email, course_id)

    [check] = analyzer_check_run(course_ids=[course_id]).courses

    assert (check.exists, check.exit_code) == (False, 1)
    assert [p.code for p in check.problems] == ["course_not_found"]
