"""The resync service against the fake Analyzer over real HTTP: what it picks up, backoff and
the give-up cap, deleted courses, rejected tokens, retakes, and one bad mark."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import responses
import time_machine
from django.db.models import F
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from academic_integration.resync import run as resync  # the module the run looks names up in
from academic_integration.services import mark_deliver_inline
from quizzes.models import QuizAttempt
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import (
    DETAIL_PATH,
    due_marks,
    received,
    seed_course,
    statuses,
)
from tests.academic_integration.sync_state_fixtures import breaker_open
from tests.academic_integration.test_delivery import submit
from tests.conftest import CANARY_TOKEN
from tests.factories import make_quiz

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def run(**options):
    return resync_run(ResyncOptions(**options))


# --- what it picks up ------------------------------------------------------------------------


def test_delivers_due_marks_settles_attempts_and_writes_history(fake, teacher):
    marks = due_marks(3, teacher=teacher, control=fake.control)
    summary = run()
    assert (summary.delivered, summary.attempts_settled, summary.exit_code) == (3, 3, 0)
    assert statuses(marks) == ["delivered"] * 3
    posts = received(fake.control)
    assert len(posts) == 3 and all(p["authorized"] for p in posts)
    assert {p["body"]["marks"]["tutorial2"] for p in posts} == {7.5}
    assert len(received(fake.control, DETAIL_PATH)) == 1  # one course check per course per run
    assert not QuizAttempt.objects.filter(marks_synced=False).exists()
    log = MarkDeliveryLog.objects.filter(mark=marks[0]).get()
    assert (log.trigger, log.outcome, log.http_status, log.version) == (
        "resync",
        "delivered",
        200,
        1,
    )
    mark = TutorialMark.objects.get(pk=marks[0].pk)
    assert (mark.delivered_version, mark.claimed_by, mark.claim_expires_at) == (1, "", None)
    assert mark.teacher_email_source == "quiz_creator"
    assert run().delivered == 0  # nothing left


def test_a_mark_whose_inline_delivery_never_ran_is_delivered_once(fake, settings, teacher):
    """Sync was off at submit (as if the process died before on_commit): one POST settles both
    of the student's attempts, and carries the latest value."""
    settings.ACADEMIC_ANALYZER_URL = None
    quiz = make_quiz(created_by=teacher.email, grading_method="latest")
    from tests.factories import make_student

    student = make_student()
    submit(student, quiz, right=True)
    submit(student, quiz, right=False)  # a retake: version 2, value 0
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.version, mark.tries) == ("pending", 2, 0)
    assert not mark.history.exists()

    seed_course(
        fake.control, course="19XW51", teacher_email=teacher.email, rolls=[student.username]
    )
    settings.ACADEMIC_ANALYZER_URL = fake.api_url
    summary = run()
    assert (summary.delivered, summary.attempts_settled) == (1, 2)
    [post] = received(fake.control)
    assert post["body"]["marks"] == {"tutorial2": 0}
    assert fake.control.marks()[student.username]["19XW51"]["tutorial2"] == 0
    mark.refresh_from_db()
    assert (mark.status, mark.delivered_version) == ("delivered", 2)


def test_the_inline_breaker_does_not_stop_the_command(fake, teacher):
    due_marks(2, teacher=teacher, control=fake.control)
    breaker_open()
    assert run().delivered == 2


def test_rejected_and_given_up_wait_unless_include_failed(fake, teacher):
    rejected = due_marks(1, teacher=teacher, control=fake.control, status="rejected")
    given_up = due_marks(1, teacher=teacher, control=fake.control, status="given_up", tries=12)
    later = due_marks(
        1,
        teacher=teacher,
        control=fake.control,
        status="retrying",
        next_try_at=timezone.now() + timedelta(hours=1),
    )
    assert run().delivered == 0
    assert received(fake.control) == []
    summary = run(include_failed=True)
    assert summary.delivered == 2
    assert statuses(rejected + given_up + later) == ["delivered", "delivered", "retrying"]


# --- backoff, Retry-After and the give-up cap ------------------------------------------------


def test_backoff_grows_per_mark_and_the_cap_gives_up(fake, settings, teacher):
    settings.ACADEMIC_ANALYZER_RETRY_BASE_SECONDS = 60
    settings.ACADEMIC_ANALYZER_MAX_TRIES = 3
    with time_machine.travel(T0, tick=False) as clock:
        [mark] = due_marks(1, teacher=teacher, control=fake.control)
        fake.control.set_fault("500", paths=["staff/update-student-marks"])
        first = run()
        mark.refresh_from_db()
        assert (first.retrying, first.exit_code, mark.status, mark.tries) == (1, 1, "retrying", 1)
        assert T0 + timedelta(seconds=30) <= mark.next_try_at <= T0 + timedelta(seconds=60)
        assert first.next_try_at == mark.next_try_at

        clock.move_to(mark.next_try_at - timedelta(seconds=1))
        early = run()
        assert (early.retrying, early.exit_code, early.batches) == (0, 0, 0)  # not due yet
        assert len(received(fake.control)) == 1

        clock.move_to(mark.next_try_at)
        run()
        mark.refresh_from_db()
        now = timezone.now()
        assert mark.tries == 2
        assert now + timedelta(seconds=60) <= mark.next_try_at <= now + timedelta(seconds=120)

        clock.move_to(mark.next_try_at)
        last = run()
    mark.refresh_from_db()
    assert (mark.status, mark.tries, mark.reason, mark.next_try_at) == (
        "given_up",
        3,
        "server_error",
        None,
    )
    assert (last.given_up, last.given_up_courses, last.exit_code) == (1, ["19XW51"], 4)
    assert len(received(fake.control)) == 3


def test_the_age_cap_gives_up_an_old_mark_at_its_next_failure(fake, settings, teacher):
    settings.ACADEMIC_ANALYZER_MAX_AGE_HOURS = 72
    # Failing for 73 hours (whatever the number of tries so far).
    marks = due_marks(
        1,
        teacher=teacher,
        control=fake.control,
        status="retrying",
        tries=1,
        failing_since=timezone.now() - timedelta(hours=73),
    )
    fake.control.set_fault("502")
    assert run().given_up == 1
    assert statuses(marks) == ["given_up"]


def test_retry_after_is_honoured(fake, settings, teacher):
    settings.ACADEMIC_ANALYZER_RETRY_BASE_SECONDS = 60
    [mark] = due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=900, paths=["staff/update-student-marks"])
    before = timezone.now()
    run()
    mark.refresh_from_db()
    assert (mark.status, mark.reason) == ("retrying", "unavailable")
    assert mark.next_try_at >= before + timedelta(seconds=900)


def test_a_hanging_analyzer_costs_one_read_timeout_per_worker(fake, teacher):
    marks = due_marks(2, teacher=teacher, control=fake.control)
    fake.control.set_fault("hang", paths=["staff/update-student-marks"])
    started = time.monotonic()
    summary = run(workers=2)  # the suite's read timeout is 0.5 s
    assert time.monotonic() - started < 1.5
    assert summary.retrying == 2
    assert set(
        TutorialMark.objects.filter(pk__in=[m.pk for m in marks]).values_list("reason", flat=True)
    ) == {"timeout"}


# --- retakes ---------------------------------------------------------------------------------


def test_a_retake_during_the_resync_is_never_marked_delivered_and_goes_next(
    fake, settings, teacher, django_capture_on_commit_callbacks
):
    """The retake lands while v1 is on the wire (sent from this thread with one worker)."""
    settings.ACADEMIC_ANALYZER_URL = None
    quiz = make_quiz(created_by=teacher.email, grading_method="latest")
    from tests.factories import make_student

    student = make_student()
    submit(student, quiz, right=True)
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"

    def retake_lands_mid_request(request):
        with django_capture_on_commit_callbacks(execute=False):
            submit(student, quiz, right=False)
        return (200, {}, json.dumps({"success": True}))

    with responses.RequestsMock() as rsps:
        rsps.get(
            "http://analyzer.test/api/staff/course-detail",
            json={"success": True, "course": {"courseId": "19XW51", "instructor": None}},
        )
        rsps.add_callback(
            responses.POST,
            "http://analyzer.test/api/staff/update-student-marks",
            callback=retake_lands_mid_request,
        )
        summary = run()
    assert (summary.delivered, summary.superseded, summary.exit_code) == (0, 1, 0)
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.version, mark.delivered_version) == ("pending", 2, 1)
    assert (mark.value, mark.claimed_by) == (Decimal("0.00"), "")

    settings.ACADEMIC_ANALYZER_URL = fake.api_url
    seed_course(
        fake.control, course="19XW51", teacher_email=teacher.email, rolls=[student.username]
    )
    assert run().delivered == 1
    assert fake.control.marks()[student.username]["19XW51"]["tutorial2"] == 0
    mark.refresh_from_db()
    assert (mark.status, mark.delivered_version) == ("delivered", 2)
    assert QuizAttempt.objects.filter(marks_synced=True).count() == 2


@responses.activate
def test_one_retake_in_a_batch_keeps_only_that_mark_due(settings, teacher):
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"
    marks = due_marks(3, teacher=teacher)
    retaken = marks[1]

    def answer(request):
        if json.loads(request.body)["studentId"] == retaken.student.username:
            TutorialMark.objects.filter(pk=retaken.pk).update(
                version=F("version") + 1, value=Decimal("9.00"), status="pending"
            )
        return (200, {}, json.dumps({"success": True}))

    responses.get(
        "http://analyzer.test/api/staff/course-detail",
        json={"success": True, "course": {"courseId": "19XW51", "instructor": None}},
    )
    responses.add_callback(
        responses.POST, "http://analyzer.test/api/staff/update-student-marks", callback=answer
    )
    summary = run()
    assert (summary.delivered, summary.superseded, summary.attempts_settled) == (2, 1, 3)
    assert statuses(marks) == ["delivered", "pending", "delivered"]
    mark = TutorialMark.objects.get(pk=retaken.pk)
    assert (mark.version, mark.delivered_version, mark.delivered_value) == (2, 1, Decimal("7.50"))
    assert (mark.claimed_by, mark.last_tried_at is not None) == ("", True)
    assert MarkDeliveryLog.objects.count() == 3


# --- deleted courses -------------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["modern", "legacy"])
def test_a_deleted_course_is_checked_once_and_its_marks_rejected_without_posting(
    fake, teacher, legacy, caplog
):
    fake.control.set_legacy(legacy)
    gone = due_marks(5, teacher=teacher, control=fake.control, course="19XW99")
    fine = due_marks(2, teacher=teacher, control=fake.control, course="19XW51")
    fake.control.delete_course("19XW99")
    summary = run(batch_size=2)
    assert statuses(gone) == ["rejected"] * 5
    assert statuses(fine) == ["delivered"] * 2
    assert {p["body"]["courseId"] for p in received(fake.control)} == {"19XW51"}
    checks = [r["query"]["courseId"] for r in received(fake.control, DETAIL_PATH)]
    assert sorted(checks) == ["19XW51", "19XW99"]
    [group] = summary.rejected_groups
    assert (group.reason, group.courses, len(group.students), group.marks) == (
        "course_not_found",
        {"19XW99"},
        5,
        5,
    )
    assert "Course 19XW99 was not found" in group.next_step
    assert summary.exit_code == 4  # rejected: a person must act
    warnings = [r for r in caplog.records if "course not found" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"
    assert TutorialMark.objects.get(pk=gone[0].pk).reason == "course_not_found"


@responses.activate
def test_a_legacy_500_for_a_deleted_course_ends_given_up_with_the_course_named(settings, teacher):
    """An older Analyzer whose course lookup still answers, but whose marks update crashes."""
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"
    settings.ACADEMIC_ANALYZER_MAX_TRIES = 3
    responses.get(
        "http://analyzer.test/api/staff/course-detail",
        json={"success": True, "course": {"courseId": "19XW77", "instructor": None}},
    )
    responses.post(
        "http://analyzer.test/api/staff/update-student-marks",
        status=500,
        body="TypeError: Cannot read properties of null (reading 'enrolledStudents')\n    at ...",
        content_type="text/html",
    )
    marks = due_marks(2, teacher=teacher, course="19XW77")
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(3):
            summary = run()
            clock.shift(timedelta(hours=2))
    assert statuses(marks) == ["given_up"] * 2
    assert summary.given_up_courses == ["19XW77"]
    [group] = summary.given_up_groups
    assert "19XW77 still exist" in group.next_step
    assert run(include_failed=False).batches == 0  # not retried forever


def test_a_failing_course_check_counts_as_a_try_without_posting(fake, teacher):
    marks = due_marks(3, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", paths=["staff/course-detail"], retry_after=None)
    summary = run()
    assert summary.retrying == 3
    assert statuses(marks) == ["retrying"] * 3
    assert received(fake.control) == []
    assert len(received(fake.control, DETAIL_PATH)) == 1


# --- tokens and addresses --------------------------------------------------------------------


@pytest.mark.parametrize("legacy", [False, True], ids=["401", "legacy-403"])
def test_a_rejected_token_stops_the_run_at_once_and_leaves_marks_due(fake, teacher, legacy):
    fake.control.set_legacy(legacy)
    marks = due_marks(4, teacher=teacher, control=fake.control)
    fake.control.set_token("regenerated-token")
    summary = run(batch_size=2)
    assert (summary.stopped, summary.exit_code) == ("token_rejected", 2)
    assert "ACADEMIC_ANALYZER_TOKEN" in summary.message and "regenerated" in summary.message
    assert CANARY_TOKEN not in summary.message
    assert len(fake.control.received()) == 1  # the course check; nothing after it
    assert statuses(marks) == ["pending"] * 4
    assert not TutorialMark.objects.exclude(claimed_by="").exists()
    assert summary.batches == 1


def test_a_token_rotated_mid_run_stops_before_the_next_request(fake, teacher):
    marks = due_marks(6, teacher=teacher, control=fake.control)

    def rotate_after_first(result):
        if result.status == "delivered":
            fake.control.set_token("regenerated-token")

    # One mark per batch: the token changes between the first and the second request.
    summary = resync_run(ResyncOptions(batch_size=1), on_mark=rotate_after_first)
    assert (summary.delivered, summary.stopped, summary.exit_code) == (1, "token_rejected", 2)
    assert len(received(fake.control)) == 2
    assert statuses(marks) == ["delivered"] + ["pending"] * 5
    second = TutorialMark.objects.get(pk=marks[1].pk)
    assert second.reason == "token_rejected"
    assert second.history.get().http_status == 401


def test_a_base_url_that_is_not_the_analyzer_stops_the_run(fake, settings, teacher):
    marks = due_marks(2, teacher=teacher, control=fake.control)
    settings.ACADEMIC_ANALYZER_URL = fake.api_url.removesuffix("/api")  # Express: Cannot GET
    summary = run()
    assert (summary.stopped, summary.exit_code) == ("not_the_analyzer", 2)
    assert "ACADEMIC_ANALYZER_URL" in summary.message
    assert statuses(marks) == ["pending"] * 2


def test_sync_not_configured_is_a_configuration_stop(settings, teacher):
    settings.ACADEMIC_ANALYZER_URL = None
    marks = due_marks(1, teacher=teacher)
    summary = run()
    assert (summary.stopped, summary.exit_code, summary.batches) == ("sync_disabled", 2, 0)
    assert "ACADEMIC_ANALYZER_URL" in summary.message
    assert statuses(marks) == ["pending"]


def test_a_malformed_setting_is_a_configuration_stop_naming_it(settings, teacher):
    settings.ACADEMIC_ANALYZER_URL = "analyzer.college.edu/api"
    [mark] = due_marks(1, teacher=teacher)
    summary = run()
    assert (summary.stopped, summary.exit_code) == ("config_error", 2)
    assert "ACADEMIC_ANALYZER_URL must start with http:// or https://" in summary.message
    # The inline delivery records it on the mark instead of raising.
    assert mark_deliver_inline(mark_id=mark.pk).reason == "config_error"
    assert statuses([mark]) == ["pending"]


# --- robustness ------------------------------------------------------------------------------


def test_one_bad_mark_never_stops_the_run(fake, teacher, monkeypatch, caplog):
    marks = due_marks(3, teacher=teacher, control=fake.control)
    real_send = resync.mark_send

    def send(*, mark, course, teacher):
        if mark.pk == marks[1].pk:
            raise ValueError("boom")
        return real_send(mark=mark, course=course, teacher=teacher)

    monkeypatch.setattr(resync, "mark_send", send)
    summary = run()
    assert (summary.delivered, summary.retrying, summary.errors, summary.exit_code) == (
        2,
        1,
        1,
        1,
    )
    bad = TutorialMark.objects.get(pk=marks[1].pk)
    assert (bad.status, bad.reason, bad.tries, bad.claimed_by) == ("retrying", "sync_error", 1, "")
    assert any("unexpected error sending" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("workers", [1, 4])
def test_an_interrupted_run_releases_its_claims(fake, teacher, monkeypatch, workers):
    marks = due_marks(6, teacher=teacher, control=fake.control)
    real_send = resync.mark_send

    def send(*, mark, course, teacher):
        if mark.pk == marks[2].pk:
            raise KeyboardInterrupt  # Ctrl-C, or SIGTERM turned into an exception
        return real_send(mark=mark, course=course, teacher=teacher)

    monkeypatch.setattr(resync, "mark_send", send)
    with pytest.raises(KeyboardInterrupt):
        run(workers=workers)
    assert not TutorialMark.objects.exclude(claimed_by="").exists()
    assert set(statuses(marks)) == {"pending"}  # nothing written: all due for the next run


def test_an_analyzer_that_keeps_failing_stops_the_run_early(fake, teacher):
    marks = due_marks(resync.FAILING_STREAK + 5, teacher=teacher, control=fake.control)
    fake.control.set_fault("500", paths=["staff/update-student-marks"])
    summary = run(batch_size=4)
    assert (summary.stopped, summary.exit_code) == ("analyzer_failing", 1)
    assert len(received(fake.control)) == resync.FAILING_STREAK
    assert summary.retrying == resync.FAILING_STREAK
    assert statuses(marks).count("pending") == 5
    assert not TutorialMark.objects.exclude(claimed_by="").exists()


def test_a_deadline_stops_claiming(fake, teacher):
    marks = due_marks(2, teacher=teacher, control=fake.control)
    summary = run(deadline_seconds=0)
    assert (summary.stopped, summary.batches, summary.exit_code) == ("deadline", 0, 0)
    assert statuses(marks) == ["pending"] * 2


def test_admin_mark_ids_take_those_marks_in_any_undelivered_status_but_rejected(fake, teacher):
    later = timezone.now() + timedelta(hours=1)
    rejected, retrying, other = (
        due_marks(1, teacher=teacher, control=fake.control, status="rejected"),
        due_marks(1, teacher=teacher, control=fake.control, status="retrying", next_try_at=later),
        due_marks(1, teacher=teacher, control=fake.control),
    )
    busy = due_marks(
        1,
        teacher=teacher,
        control=fake.control,
        claimed_by="inline:elsewhere",
        claim_expires_at=later,
    )
    ids = [rejected[0].pk, retrying[0].pk, busy[0].pk]
    summary = run(mark_ids=ids, trigger="admin")
    # A rejected mark waits for "Retry after fixing" (or include_failed): no request known
    # to fail. The retrying one goes now, whatever its next try time.
    assert (summary.delivered, summary.busy) == (1, 1)
    assert statuses(rejected + retrying + other + busy) == [
        "rejected",
        "delivered",
        "pending",
        "pending",
    ]
    assert run(mark_ids=ids, trigger="admin", include_failed=True).delivered == 1
    assert statuses(rejected) == ["delivered"]
    assert set(MarkDeliveryLog.objects.values_list("trigger", flat=True)) == {"admin"}
