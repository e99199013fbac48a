"""Regression tests for the promises under races and rough edges: no stale overwrite, no
herd after the breaker cools off, no requests known to fail, atomic write-back."""

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from academic_integration.services import (
    SendTry,
    claim_owner,
    mark_deliver_inline,
    marks_write_back,
)
from quizzes.models import QuizAttempt
from quizzes.services import attempt_get_or_start, attempt_submit
from tests.academic_integration.sync_state_fixtures import (
    breaker_is_open,
    config_rejection_reason,
)
from tests.factories import make_quiz, make_student

pytestmark = pytest.mark.django_db


def later(seconds):
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)


def take(student, quiz, *, right, callbacks, execute=True):
    answers = {
        q.pk: {c.pk for c in q.choices.all() if c.is_correct} if right else set()
        for q in quiz.questions.prefetch_related("choices")
    }
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    with callbacks(execute=execute):
        return attempt_submit(attempt_id=attempt.pk, student=student, answers=answers).attempt


# --- requests known to fail ------------------------------------------------------------------


def test_a_rejected_token_is_probed_by_one_submission_per_cool_off(
    analyzer, enrol, settings, teacher, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    quiz = make_quiz(created_by=teacher.email)
    analyzer.control.set_token("regenerated")
    students = enrol(*[make_student() for _ in range(5)])
    take(students[0], quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert config_rejection_reason() == "token_rejected"
    take(students[1], quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert len(analyzer.control.received()) == 1  # within the cool-off: skipped
    with later(31):
        # One probe per cool-off: still rejected, so the next submission skips again.
        take(students[2], quiz, right=True, callbacks=django_capture_on_commit_callbacks)
        take(students[3], quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert len(analyzer.control.received()) == 2
    assert TutorialMark.objects.get(student=students[3]).reason == "token_rejected"
    # The Analyzer's administrator restores the token: the next probe finds out, by itself.
    analyzer.control.set_token(settings.ACADEMIC_ANALYZER_TOKEN)
    with later(62):
        take(students[4], quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=students[4]).status == "delivered"
    assert config_rejection_reason() is None


def test_one_html_page_pauses_inline_sync_for_one_cool_off_only(
    analyzer, enrol, settings, teacher, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    quiz = make_quiz(created_by=teacher.email)
    first, second, third = enrol(make_student(), make_student(), make_student())
    analyzer.control.set_fault("html", count=1)  # a proxy glitch: one login page
    take(first, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert config_rejection_reason() == "not_the_analyzer"
    take(second, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=second).reason == "not_the_analyzer"
    with later(31):
        take(third, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=third).status == "delivered"
    assert config_rejection_reason() is None


def test_once_the_token_works_again_the_resync_proves_it_and_inline_resumes(
    analyzer, enrol, settings, teacher, django_capture_on_commit_callbacks
):
    quiz = make_quiz(created_by=teacher.email)
    analyzer.control.set_token("regenerated")
    first, second = enrol(make_student(), make_student())
    take(first, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    analyzer.control.set_token(settings.ACADEMIC_ANALYZER_TOKEN)  # fixed on their side
    with later(60):
        assert resync_run(ResyncOptions()).delivered == 1
    assert config_rejection_reason() is None
    take(second, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=second).status == "delivered"


def test_a_legacy_deleted_course_does_not_open_the_breaker_for_other_courses(
    analyzer, enrol, teacher, django_capture_on_commit_callbacks
):
    analyzer.control.set_legacy()
    analyzer.control.delete_course("19XW52")
    gone = make_quiz(created_by=teacher.email, course_id="19XW52", tutorial_number=1)
    healthy = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=1)
    students = enrol(*[make_student() for _ in range(4)])
    for student in students[:3]:
        take(student, gone, right=True, callbacks=django_capture_on_commit_callbacks)
    assert not breaker_is_open()
    assert set(TutorialMark.objects.values_list("status", "reason")) == {
        ("rejected", "course_not_found")
    }
    # The first crash asked once whether the course exists; the others were not sent at all.
    assert len(analyzer.control.received()) == 2
    take(students[3], healthy, right=True, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=students[3]).status == "delivered"


def test_resync_selected_now_does_not_send_rejected_marks(analyzer, student, teacher):
    quiz = make_quiz(created_by=teacher.email)
    take(student, quiz, right=True, callbacks=_sync_off)
    mark = TutorialMark.objects.get()
    TutorialMark.objects.filter(pk=mark.pk).update(status="rejected", reason="not_enrolled")
    summary = resync_run(ResyncOptions(mark_ids=[mark.pk], trigger="admin"))
    assert summary.delivered == 0
    assert analyzer.control.received() == []


class _sync_off:
    """Submit as if sync were not configured (no claim, no delivery): the mark stays due."""

    def __init__(self, execute):
        from django.test import override_settings

        self.off = override_settings(ACADEMIC_ANALYZER_URL=None)

    def __enter__(self):
        self.off.enable()
        return []

    def __exit__(self, *exc):
        self.off.disable()
        return False


# --- stale values ----------------------------------------------------------------------------


def test_a_timed_out_request_landing_late_cannot_leave_a_stale_value(
    analyzer, settings, student, teacher, django_capture_on_commit_callbacks
):
    """v1 times out on our side but the Analyzer applies it later, after v2 was delivered:
    v2 is sent once more after v1 can no longer land, so the Analyzer ends with v2."""
    settings.ACADEMIC_ANALYZER_LATE_WRITE_SECONDS = 60
    quiz = make_quiz(created_by=teacher.email, grading_method="latest")
    analyzer.control.set_fault("slow", delay_ms=1200, count=1)  # read timeout is 0.5 s
    take(student, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == ("retrying", "timeout")
    assert mark.unsettled_until is not None

    # The timeout opened the breaker; after its cool-off the retake is the probe (sent by the
    # background sender, here in place) and delivers v2 while v1 may still land.
    with later(31):
        retake = take(student, quiz, right=False, callbacks=django_capture_on_commit_callbacks)
    mark.refresh_from_db()
    assert (mark.status, mark.reason, mark.delivered_value) == (
        "retrying",
        "confirming",
        Decimal("0.00"),
    )
    assert mark.next_try_at >= mark.unsettled_until
    retake.refresh_from_db()
    assert retake.marks_synced  # the student's newest value did reach the Analyzer

    time.sleep(1.0)  # the late v1 lands now: the Analyzer briefly holds the stale 10
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 10
    with later(61):
        assert resync_run(ResyncOptions()).delivered == 1
    mark.refresh_from_db()
    assert (mark.status, mark.unsettled_until) == ("delivered", None)
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 0


def test_a_delivery_that_outlived_its_claim_is_fenced(analyzer, student, teacher):
    """A request sent after its lease ran out must not leave its (older) value last: the mark
    becomes due again with a new version, so any other delivery in flight is not recorded."""
    quiz = make_quiz(created_by=teacher.email)
    take(student, quiz, right=True, callbacks=_sync_off)
    mark = TutorialMark.objects.select_related("student", "quiz__created_by").get()
    ours = claim_owner("resync")
    sent = SendTry(mark=mark, version=mark.version, value=mark.value, requested=True)
    # Our lease expired and another process took the mark meanwhile.
    TutorialMark.objects.filter(pk=mark.pk).update(
        claimed_by="inline:other", claim_expires_at=timezone.now() + timedelta(minutes=5)
    )
    marks_write_back(tries=[sent], owner=ours, trigger="resync", now=timezone.now())
    mark.refresh_from_db()
    assert (mark.status, mark.reason, mark.version) == ("pending", "overlap", 2)
    # The other holder's outcome for version 1 is therefore not recorded.
    other = SendTry(mark=mark, version=1, value=mark.value, requested=True)
    marks_write_back(tries=[other], owner="inline:other", trigger="inline", now=timezone.now())
    mark.refresh_from_db()
    assert mark.status == "pending" and mark.delivered_version == 1
    assert resync_run(ResyncOptions()).delivered == 1
    mark.refresh_from_db()
    assert mark.status == "delivered" and mark.delivered_version == 2


def test_a_retake_gives_a_given_up_mark_a_fresh_retry_budget(
    analyzer, settings, student, teacher, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_MAX_TRIES = 12
    quiz = make_quiz(created_by=teacher.email)
    take(student, quiz, right=True, callbacks=_sync_off)
    TutorialMark.objects.update(
        status="given_up", tries=12, failing_since=timezone.now() - timedelta(hours=80)
    )
    analyzer.control.set_fault("500")
    take(student, quiz, right=False, callbacks=django_capture_on_commit_callbacks)
    mark = TutorialMark.objects.get()
    # Fresh budget (the inline try does not count) and due for the next resync at once.
    assert (mark.status, mark.tries, mark.failing_since is not None) == ("retrying", 0, True)
    assert mark.next_try_at <= timezone.now()


# --- atomic write-back -----------------------------------------------------------------------


def test_a_crash_while_writing_back_leaves_the_mark_due_not_half_recorded(
    analyzer, monkeypatch, student, teacher
):
    quiz = make_quiz(created_by=teacher.email)
    attempt = take(student, quiz, right=True, callbacks=_sync_off)
    mark = TutorialMark.objects.get()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(MarkDeliveryLog.objects, "bulk_create", boom)
    assert mark_deliver_inline(mark_id=mark.pk) is None  # logged, never raised at a student
    mark.refresh_from_db()
    assert (mark.status, mark.claimed_by) == ("pending", "")
    with pytest.raises(RuntimeError):
        resync_run(ResyncOptions())
    mark.refresh_from_db()
    assert (mark.status, mark.claimed_by) == ("pending", "")
    monkeypatch.undo()
    assert resync_run(ResyncOptions()).delivered == 1
    attempt.refresh_from_db()
    assert attempt.marks_synced


# --- bounded admin resync ---------------------------------------------------------------------


def test_the_admin_time_limit_also_bounds_course_checks(analyzer, teacher):
    students = [make_student() for _ in range(4)]
    for number, student in enumerate(students, start=1):
        quiz = make_quiz(
            created_by=teacher.email, course_id=f"19XW6{number}", tutorial_number=number
        )
        take(student, quiz, right=True, callbacks=_sync_off)
    analyzer.control.set_fault("hang")
    started = time.monotonic()
    summary = resync_run(
        ResyncOptions(
            mark_ids=list(TutorialMark.objects.values_list("pk", flat=True)),
            trigger="admin",
            deadline_seconds=0.3,
        )
    )
    # One course check (0.5 s timeout) went out; then the deadline stopped further checks.
    assert time.monotonic() - started < 1.5
    assert len(analyzer.control.received()) == 1
    assert summary.delivered == 0
    assert not TutorialMark.objects.exclude(claimed_by="").exists()


# --- secrets in the base URL ------------------------------------------------------------------


def test_a_password_in_the_base_url_never_reaches_logs_or_history(
    analyzer, caplog, settings, student, teacher, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_URL = analyzer.api_url.replace("http://", "http://ops:s3cr3t-pw@")
    quiz = make_quiz(created_by=teacher.email)
    analyzer.control.set_fault("html")
    take(student, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    assert "s3cr3t-pw" not in caplog.text
    assert TutorialMark.objects.get().reason == "not_the_analyzer"
    assert not MarkDeliveryLog.objects.filter(error__contains="s3cr3t-pw").exists()
    assert QuizAttempt.objects.filter(marks_synced=False).count() == 1


# --- deleting attempts -------------------------------------------------------------------------


def test_deleting_an_attempt_in_admin_recomputes_its_mark(
    analyzer, admin_client, student, teacher, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    quiz = make_quiz(created_by=teacher.email, grading_method="highest")
    best = take(student, quiz, right=True, callbacks=django_capture_on_commit_callbacks)
    take(student, quiz, right=False, callbacks=django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get().value == 10

    response = admin_client.post(
        reverse("admin:quizzes_quizattempt_changelist"),
        {"action": "delete_selected", "_selected_action": [best.pk], "post": "yes"},
    )
    assert response.status_code == 302
    mark = TutorialMark.objects.get()
    assert (mark.value, mark.version, mark.status) == (Decimal("0.00"), 3, "pending")
    assert resync_run(ResyncOptions()).delivered == 1
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 0


def test_a_process_dying_after_commit_leaves_the_mark_to_resync_within_seconds(
    analyzer, student, teacher, django_capture_on_commit_callbacks
):
    """The submit claims the mark for its inline delivery; if the process dies before
    delivering, the short inline lease runs out and resync delivers it."""
    quiz = make_quiz(created_by=teacher.email)
    take(student, quiz, right=True, callbacks=django_capture_on_commit_callbacks, execute=False)
    assert resync_run(ResyncOptions()).delivered == 0  # the inline delivery may still run
    with later(2 * 0.5 + 11):  # connect + read timeouts + margin
        assert resync_run(ResyncOptions()).delivered == 1
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 10
