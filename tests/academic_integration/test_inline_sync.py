"""Inline post-submit sync against the bundled fake Analyzer, over real HTTP."""

from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from quizzes.models import Quiz, QuizAttempt
from tests.academic_integration.sync_state_fixtures import breaker_is_open
from tests.factories import answers_for, make_quiz, make_student, make_teacher

pytestmark = pytest.mark.django_db

DELIVERED = "reached the Academic Analyzer"
LATER = "will be delivered automatically later"
REJECTED = "Your teacher sees the problem on the sync page"


def submit(client, quiz, django_capture_on_commit_callbacks, *, correct=True):
    """Take and submit a quiz through the views; return (attempt, result page text)."""
    client.get(quiz.get_absolute_url())
    attempt = QuizAttempt.objects.filter(quiz=quiz, completed_at__isnull=True).latest("pk")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("quizzes:attempt_submit", args=[attempt.pk]),
            answers_for(quiz, correct=correct),
        )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    attempt.refresh_from_db()
    return attempt, page.content.decode()


def test_delivered_mark_reaches_the_analyzer_and_the_page_says_so(
    analyzer, student_client, quiz, django_capture_on_commit_callbacks
):
    attempt, page = submit(student_client, quiz, django_capture_on_commit_callbacks)
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 10
    assert DELIVERED in page
    assert attempt.marks_synced and attempt.last_sync_at
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.delivered_value) == ("delivered", Decimal("10.00"))
    (received,) = analyzer.control.received()
    assert received["authorized"] and received["body"]["teacherEmail"] == "anand@college.edu"


@pytest.mark.parametrize(
    ("arrange", "status", "reason", "message"),
    [
        (lambda c: c.delete_course("19XW51"), "rejected", "course_not_found", REJECTED),
        (lambda c: c.set_token("regenerated"), "pending", "token_rejected", LATER),
        (lambda c: c.set_fault("500"), "retrying", "server_error", LATER),
        (lambda c: c.set_fault("503", retry_after=120), "retrying", "unavailable", LATER),
        (lambda c: c.set_fault("html"), "pending", "not_the_analyzer", LATER),
        (lambda c: c.set_fault("broken_json"), "retrying", "bad_response", LATER),
        (lambda c: c.set_fault("success_false"), "retrying", "not_stored", LATER),
        (lambda c: c.set_fault("reset"), "retrying", "connection_error", LATER),
        (lambda c: c.set_fault("refuse"), "retrying", "connection_error", LATER),
        (lambda c: c.set_fault("hang"), "retrying", "timeout", LATER),
        (
            lambda c: (c.set_legacy(), c.delete_course("19XW51")),
            "rejected",
            "course_not_found",
            REJECTED,
        ),
        (
            lambda c: (c.set_legacy(), c.set_token("regenerated")),
            "pending",
            "token_rejected",
            LATER,
        ),
    ],
    ids=[
        "course-deleted",
        "token-rotated",
        "500",
        "503-retry-after",
        "html-login-page",
        "broken-json",
        "success-false",
        "reset",
        "refused",
        "hang",
        "legacy-deleted-course-500",
        "legacy-403",
    ],
)
def test_each_failure_is_recorded_and_the_student_still_gets_the_result(
    analyzer,
    student_client,
    quiz,
    django_capture_on_commit_callbacks,
    arrange,
    status,
    reason,
    message,
):
    arrange(analyzer.control)
    attempt, page = submit(student_client, quiz, django_capture_on_commit_callbacks)
    assert "10 / 10" in page and message in page
    assert "Traceback" not in page
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == (status, reason)
    assert not attempt.marks_synced
    if status == "retrying":
        # Due for the next resync at once: backoff counts the resync's own tries.
        assert mark.next_try_at is not None and mark.next_try_at <= timezone.now()
        assert mark.tries == 0 and mark.failing_since is not None
    history = MarkDeliveryLog.objects.get()
    assert (history.outcome, history.reason) == (status, reason)


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("teacher", "teacher_not_found"),
        ("student", "student_not_found"),
        ("enrolment", "not_enrolled"),
        ("performance", "no_performance_record"),
    ],
)
def test_each_rejection_row_of_the_contract(
    analyzer, client, django_capture_on_commit_callbacks, who, reason
):
    teacher = make_teacher(email="stranger@college.edu" if who == "teacher" else "a@college.edu")
    roll = {"student": "99Z999", "enrolment": "21Z204", "performance": "21Z203"}.get(who, "21Z201")
    course = "19XW52" if who == "enrolment" else "19XW51"
    if who == "teacher":
        pass
    else:
        analyzer.control.seed({"teachers": ["a@college.edu"]})
    if who == "performance":
        analyzer.control.seed(
            {
                "courses": [
                    {
                        "course_id": "19XW53",
                        "name": "Networks",
                        "instructor": None,
                        "students": ["21Z203"],
                        "no_performance": ["21Z203"],
                    }
                ]
            }
        )
        course = "19XW53"
    quiz = make_quiz(created_by=teacher.email, course_id=course)
    client.force_login(make_student(username=roll))
    _, page = submit(client, quiz, django_capture_on_commit_callbacks)
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == ("rejected", reason)
    assert REJECTED in page


def test_practice_quiz_sends_nothing(
    analyzer, student_client, teacher, django_capture_on_commit_callbacks
):
    quiz = make_quiz(created_by=teacher.email, quiz_type="practice", tutorial_number=None)
    _, page = submit(student_client, quiz, django_capture_on_commit_callbacks)
    assert analyzer.control.received() == []
    assert not TutorialMark.objects.exists()
    assert "Academic Analyzer" not in page


def test_sync_disabled_sends_nothing_and_keeps_the_mark_pending(
    analyzer, settings, student_client, quiz, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_URL = None
    _, page = submit(student_client, quiz, django_capture_on_commit_callbacks)
    assert analyzer.control.received() == []
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == ("pending", "sync_disabled")
    assert LATER in page


def test_teacher_email_falls_back_to_a_course_teacher_the_analyzer_lists_once_per_teacher(
    analyzer, client, django_capture_on_commit_callbacks
):
    """The quiz creator has no email: a teacher of the course here whom the Analyzer's
    dashboard lists as handling the course is used, asked about once for all submissions."""
    creator = make_teacher(email="")
    quiz = make_quiz(created_by="someone@college.edu")
    Quiz.objects.filter(pk=quiz.pk).update(created_by=creator)
    quiz.refresh_from_db()
    quiz.course.teachers.set([make_teacher(email="anand@college.edu")])  # anand handles 19XW51
    for roll in ("21Z201", "21Z202", "21Z203"):
        client.force_login(make_student(username=roll))
        submit(client, quiz, django_capture_on_commit_callbacks)
    received = analyzer.control.received()
    paths = [r["path"] for r in received]
    assert paths.count("/api/staff/dashboard") == 1
    assert paths.count("/api/staff/update-student-marks") == 3
    assert {r["body"]["teacherEmail"] for r in received if r["method"] == "POST"} == {
        "anand@college.edu"
    }
    assert set(TutorialMark.objects.values_list("teacher_email_source", flat=True)) == {
        "course_teacher"
    }
    assert set(TutorialMark.objects.values_list("status", flat=True)) == {"delivered"}


def test_no_teacher_email_when_the_analyzer_lists_none_of_the_course_teachers(
    analyzer, client, django_capture_on_commit_callbacks
):
    # anand teaches 19XW51 here and the fake's dashboard lists it for him; the quiz's creator
    # has no email, so marks go as anand, asked about once and remembered.
    make_teacher(username="anand", email="anand@college.edu")
    creator = make_teacher(email="")
    quiz = make_quiz(created_by="anand@college.edu")
    Quiz.objects.filter(pk=quiz.pk).update(created_by=creator)
    quiz.refresh_from_db()
    quiz.course.teachers.set([make_teacher(email="priya@college.edu")])  # handles 19XW52 only
    client.force_login(make_student(username="21Z201"))
    _, page = submit(client, quiz, django_capture_on_commit_callbacks)
    assert [r["path"] for r in analyzer.control.received()] == ["/api/staff/dashboard"]
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == ("rejected", "no_teacher_email")
    assert REJECTED in page


def test_breaker_opens_after_consecutive_failures_and_closes_after_cooling_off(
    analyzer, enrol, settings, client, quiz, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    analyzer.control.set_fault("500")
    students = enrol(*[make_student() for _ in range(5)])
    for s in students[:4]:
        client.force_login(s)
        submit(client, quiz, django_capture_on_commit_callbacks)
    # Three calls opened it; the fourth submission skipped the call.
    assert len(analyzer.control.received()) == 3
    assert breaker_is_open()
    assert TutorialMark.objects.filter(reason="breaker_open", status="pending").count() == 1

    analyzer.control.clear_faults()
    with _later(31):
        client.force_login(students[4])
        _, page = submit(client, quiz, django_capture_on_commit_callbacks)
    assert DELIVERED in page
    assert not breaker_is_open()
    assert len(analyzer.control.received()) == 4


def _later(seconds):
    from datetime import UTC, datetime, timedelta

    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)


def test_a_rejected_token_opens_the_breaker_so_later_submissions_skip_the_call(
    analyzer, enrol, client, quiz, django_capture_on_commit_callbacks
):
    analyzer.control.set_token("regenerated")
    for student in enrol(*[make_student() for _ in range(3)]):
        client.force_login(student)
        submit(client, quiz, django_capture_on_commit_callbacks)
    # One call found out; the others skip it, and say why.
    assert len(analyzer.control.received()) == 1
    assert set(TutorialMark.objects.values_list("status", "reason")) == {
        ("pending", "token_rejected")
    }


def test_a_known_missing_course_is_not_called_again_inline(
    analyzer, enrol, client, quiz, django_capture_on_commit_callbacks
):
    students = enrol(*[make_student() for _ in range(3)])
    analyzer.control.delete_course("19XW51")  # archived: seeding it again would bring it back
    for student in students:
        client.force_login(student)
        submit(client, quiz, django_capture_on_commit_callbacks)
    assert len(analyzer.control.received()) == 1
    assert set(TutorialMark.objects.values_list("status", "reason")) == {
        ("rejected", "course_not_found")
    }


def test_delivery_query_count_is_pinned(
    analyzer, student, quiz, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from quizzes.services import attempt_get_or_start, attempt_submit

    attempt = attempt_get_or_start(student=student, quiz=quiz)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        attempt_submit(attempt_id=attempt.pk, student=student, answers={})
    # The submit transaction claimed the mark as it wrote it, so the delivery neither claims
    # nor loads it: one SELECT of the sync state (breaker, configuration and course at once:
    # it lives in the database, not a cache), then one write-back transaction (a savepoint
    # pair inside the test's) with the outcome, the history row and the attempts settled. A
    # healthy delivery writes no sync state: nothing was open.
    (deliver,) = callbacks
    with django_assert_num_queries(6):
        outcome = deliver()
    assert outcome.status == "delivered"
    mark = TutorialMark.objects.get()
    assert (mark.claimed_by, mark.claim_expires_at) == ("", None)


@pytest.mark.django_db(transaction=True)
def test_a_retake_landing_during_a_slow_delivery_wins(analyzer, teacher, student, settings):
    """v1 is on the wire when v2 commits: v2 is never lost and v1 never overwrites it."""
    # The slow answer (300 ms) must be slow, not late: a wide margin under the suite's 0.5 s
    # read timeout, which a loaded CI machine could otherwise cross (then v1 is a timeout).
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 5
    import threading
    import time

    from django.db import connection

    from academic_integration.resync import ResyncOptions, resync_run
    from quizzes.services import attempt_get_or_start, attempt_submit

    quiz = make_quiz(created_by=teacher.email, grading_method="latest")
    right = {q.pk: {c.pk for c in q.choices.all() if c.is_correct} for q in quiz.questions.all()}

    def take(answers):
        attempt = attempt_get_or_start(student=student, quiz=quiz)
        return attempt_submit(attempt_id=attempt.pk, student=student, answers=answers)

    analyzer.control.set_fault("slow", delay_ms=300, count=1)

    def take_in_thread():
        try:
            take(right)
        finally:
            connection.close()

    first = threading.Thread(target=take_in_thread)
    first.start()
    deadline = time.monotonic() + 5
    while not analyzer.control.received() and time.monotonic() < deadline:
        time.sleep(0.02)
    take({})  # the retake (0 / 10) commits while v1 (10 / 10) is still in flight
    first.join()

    mark = TutorialMark.objects.get()
    assert (mark.version, mark.delivered_version, mark.status) == (2, 1, "pending")
    assert resync_run(ResyncOptions(bulk_size=0)).delivered == 1  # one POST, as inline
    assert analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 0
    posts = [r for r in analyzer.control.received() if r["path"].endswith("update-student-marks")]
    assert [r["body"]["marks"]["tutorial2"] for r in posts] == [10, 0]
    assert QuizAttempt.objects.filter(marks_synced=True).count() == 2
