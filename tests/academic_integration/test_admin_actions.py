"""The marks actions: Resync selected now (the resync rules, over real HTTP) and Retry after
fixing — each with its limits and its messages, and only ever on the teacher's own marks."""

from decimal import Decimal

import pytest
from django.urls import reverse

from academic_integration import admin as marks_admin
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.requeue import marks_requeue
from academic_integration.sync_state import course_remember
from quizzes.models import QuizAttempt
from tests.academic_integration.admin_fixtures import (
    MARKS_URL,
    client_for,
    make_mark,
)
from tests.academic_integration.sync_state_fixtures import (
    breaker_is_open,
    breaker_open,
    course_is_known_missing,
)
from tests.conftest import CANARY_TOKEN
from tests.factories import make_student

pytestmark = pytest.mark.django_db


def run_action(client, action, marks, **extra):
    response = client.post(
        MARKS_URL,
        {"action": action, "_selected_action": [m.pk for m in marks], "index": "0", **extra},
        follow=True,  # the changelist shows (and so consumes) the messages
    )
    assert response.redirect_chain and response.status_code == 200
    found = [(m.level_tag, m.message) for m in response.context["messages"]]
    for _, text in found:
        assert CANARY_TOKEN not in text
    return found


def resync(client, marks, **extra):
    return run_action(client, "resync_now", marks, **extra)


def retry_after_fixing(client, marks):
    return run_action(client, "retry_after_fixing", marks)


def demo_students(*rolls):
    """Quiz-site students whose roll numbers the fake Analyzer's demo seed knows."""
    return [make_student(username=roll) for roll in rolls]


@pytest.fixture
def failed_marks(anand_quiz):
    """Two marks given up after failing while the Analyzer was down."""
    one, two = demo_students("21Z201", "21Z202")
    return [
        make_mark(
            quiz=anand_quiz,
            student=one,
            status="given_up",
            reason="unavailable",
            value="7.50",
            tries=12,
        ),
        make_mark(
            quiz=anand_quiz,
            student=two,
            status="given_up",
            reason="timeout",
            value="5.00",
            tries=12,
        ),
    ]


@pytest.fixture
def rejected_mark(anand_quiz):
    (student,) = demo_students("21Z203")
    return make_mark(
        quiz=anand_quiz, student=student, status="rejected", reason="not_enrolled", value="5.00"
    )


# --- Resync selected now ------------------------------------------------------------------------


def test_resync_delivers_the_selected_marks_and_says_so(analyzer, anand_client, failed_marks):
    found = resync(anand_client, failed_marks)

    assert found == [
        ("success", "2 marks delivered to the Academic Analyzer (2 attempts settled).")
    ]
    held = analyzer.control.marks()
    assert held["21Z201"]["19XW51"]["tutorial2"] == 7.5
    assert held["21Z202"]["19XW51"]["tutorial2"] == 5
    for mark in failed_marks:
        mark.refresh_from_db()
        assert (mark.status, mark.reason, mark.tries) == ("delivered", "", 0)
        assert mark.delivered_value == mark.value
        assert QuizAttempt.objects.get(pk=mark.attempt.pk).marks_synced
    logs = MarkDeliveryLog.objects.all()
    assert {(log.trigger, log.outcome, log.http_status) for log in logs} == {
        ("admin", "delivered", 200)
    }


def test_a_rejected_mark_is_not_resent_until_retried_after_fixing(
    analyzer, anand_client, rejected_mark
):
    """The Analyzer would refuse again: no request until someone says it is fixed."""
    rejected = rejected_mark
    found = resync(anand_client, [rejected])
    assert found == [
        (
            "warning",
            "1 mark rejected by the Analyzer was not sent: it would refuse again. Fix the "
            "cause shown on the mark, then use Retry after fixing (or Retry after fixing and "
            "send now).",
        ),
    ]
    assert analyzer.control.received() == []
    anand_client.post(
        reverse("admin:academic_integration_tutorialmark_changelist"),
        {"action": "retry_after_fixing", "_selected_action": [rejected.pk]},
    )
    found = resync(anand_client, [rejected])
    assert found[-1] == (
        "success",
        "1 mark delivered to the Academic Analyzer (1 attempt settled).",
    )
    assert analyzer.control.marks()["21Z203"]["19XW51"]["tutorial2"] == 5


def test_resync_follows_the_resync_rules_not_the_inline_breaker(
    analyzer, anand_client, failed_marks
):
    breaker_open()
    assert breaker_is_open()
    found = resync(anand_client, failed_marks)
    assert found[0][0] == "success"
    assert len([r for r in analyzer.control.received() if r["method"] == "POST"]) == 2


def test_resync_groups_rejections_by_reason_with_the_next_step(
    analyzer, anand_client, teacher, anand_quiz
):
    from tests.factories import make_quiz

    os_quiz = make_quiz(
        title="OS T1", course_id="19XW52", tutorial_number=1, created_by=teacher.email
    )
    a, b = demo_students("21Z201", "21Z202")
    gone = [make_mark(quiz=os_quiz, student=s) for s in (a, b)]
    unknown = make_mark(quiz=anand_quiz, student=make_student(username="22Z999"))
    ok = make_mark(quiz=anand_quiz, student=a)
    analyzer.control.delete_course("19XW52")

    found = resync(anand_client, [*gone, unknown, ok])

    assert ("success", "1 mark delivered to the Academic Analyzer (1 attempt settled).") in found
    assert (
        "error",
        "2 marks rejected — Course not found in the Academic Analyzer (course 19XW52; 2 "
        "students). Course 19XW52 was not found in the Academic Analyzer — it may have been "
        "deleted. Check the course id on the quiz, then use Retry after fixing.",
    ) in found
    # Not on the course's roster on the Analyzer: refused before any request is sent.
    assert (
        "error",
        "1 mark rejected — Student not enrolled in the course (course 19XW51; 1 student). "
        "Student 22Z999 is not enrolled in course 19XW51 in the Academic Analyzer: ask its "
        "administrator to enrol them, then use Retry after fixing.",
    ) in found
    assert {m.status for m in TutorialMark.objects.filter(course_id="19XW52")} == {"rejected"}
    posts = [r for r in analyzer.control.received() if r["method"] == "POST"]
    assert all(r["body"]["courseId"] != "19XW52" for r in posts)  # no POST for a gone course
    assert [r["body"]["studentId"] for r in posts] == ["21Z201"]  # none for 22Z999 either


def test_resync_reports_temporary_failures_as_retrying_or_given_up(
    analyzer, anand_client, anand_quiz, failed_marks
):
    fresh = make_mark(quiz=anand_quiz, student=demo_students("21Z203")[0])
    analyzer.control.set_fault("503", retry_after=120)

    found = resync(anand_client, [*failed_marks, fresh])

    # The given-up marks had used all their tries: one more failure gives them up again.
    retrying = [t for level, t in found if level == "warning"]
    assert len(retrying) == 1
    assert retrying[0].startswith("1 mark hit a temporary problem and will be retried")
    assert (
        "error",
        "2 marks given up — The Academic Analyzer is unavailable (maintenance or proxy error) "
        "(course 19XW51; 2 students). Gave up after repeated temporary failures; use Retry "
        "after fixing once the Analyzer is healthy. Last failure: The Academic Analyzer is "
        "unavailable (maintenance or proxy error).",
    ) in found
    statuses = dict(TutorialMark.objects.values_list("student__username", "status"))
    assert statuses == {"21Z201": "given_up", "21Z202": "given_up", "21Z203": "retrying"}


def test_a_rejected_token_stops_the_resync_and_leaves_the_marks_due(
    analyzer, anand_client, failed_marks
):
    analyzer.control.set_token("regenerated-elsewhere")
    [(level, text)] = resync(anand_client, failed_marks)
    assert level == "error"
    assert text.startswith("Nothing was delivered. The Analyzer rejected the API token")
    assert "ACADEMIC_ANALYZER_TOKEN" in text
    posts = [r for r in analyzer.control.received() if r["method"] == "POST"]
    assert len(posts) <= 1
    assert not TutorialMark.objects.filter(status="delivered").exists()


def test_resync_with_sync_not_configured_says_so(anand_client, failed_marks):
    [(level, text)] = resync(anand_client, failed_marks)
    assert level == "error"
    assert "sync is not configured (ACADEMIC_ANALYZER_URL is not set)" in text
    assert {m.status for m in TutorialMark.objects.all()} == {"given_up"}


def test_resync_of_delivered_marks_sends_nothing(analyzer, anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, student=demo_students("21Z201")[0], status="delivered")
    assert resync(anand_client, [mark]) == [
        (
            "info",
            "1 mark already delivered: the Analyzer holds its current value, nothing to send.",
        )
    ]
    assert analyzer.control.received() == []


def test_resync_handles_at_most_200_marks_per_click_and_says_so(analyzer, anand_client, anand_quiz):
    rolls = [f"23Z{i:03d}" for i in range(201)]
    analyzer.control.seed(
        {
            "courses": [
                {
                    "course_id": "19XW51",
                    "name": "Compilers",
                    "instructor": "anand@college.edu",
                    "students": rolls,
                }
            ]
        }
    )
    marks = [make_mark(quiz=anand_quiz, student=make_student(username=r)) for r in rolls]

    found = resync(anand_client, marks)

    assert found == [
        (
            "warning",
            "You selected 201 marks; only the first 200 were resynced (at most 200 per click). "
            "Run the action again for the rest.",
        ),
        ("success", "200 marks delivered to the Academic Analyzer (200 attempts settled)."),
    ]
    assert TutorialMark.objects.filter(status="delivered").count() == 200
    assert TutorialMark.objects.filter(status="pending").count() == 1
    posts = [r for r in analyzer.control.received() if r["method"] == "POST"]
    assert len(posts) == 200


def test_resync_is_bounded_in_time(analyzer, anand_client, anand_quiz, monkeypatch):
    monkeypatch.setattr(marks_admin, "RESYNC_DEADLINE_SECONDS", 0.5)
    analyzer.control.set_latency(200)
    rolls = ["21Z201", "21Z202", "21Z203", "21Z204"]
    marks = [make_mark(quiz=anand_quiz, student=s) for s in demo_students(*rolls)]

    found = dict(resync(anand_client, marks))

    assert found["warning"].endswith(
        "marks were not tried within the time one click may take; they stay due: run the "
        "action again, or the next resync sends them."
    )
    assert TutorialMark.objects.filter(status="pending").exists()  # left due, not lost
    assert found.get("success", "").startswith(("1 mark", "2 marks", "3 marks"))


def test_resync_never_touches_another_teachers_marks(
    analyzer, anand_client, failed_marks, priya_quiz
):
    theirs = make_mark(
        quiz=priya_quiz, student=demo_students("21Z203")[0], status="given_up", reason="unavailable"
    )
    found = resync(anand_client, [*failed_marks, theirs])
    assert found == [
        ("success", "2 marks delivered to the Academic Analyzer (2 attempts settled).")
    ]
    theirs.refresh_from_db()
    assert theirs.status == "given_up"
    assert all(
        r["body"]["studentId"] != "21Z203"
        for r in analyzer.control.received()
        if r["method"] == "POST"
    )


def test_select_all_across_pages_is_scoped_too(analyzer, anand_client, failed_marks, priya_quiz):
    theirs = make_mark(quiz=priya_quiz, status="given_up", reason="unavailable")
    found = resync(anand_client, failed_marks[:1], select_across="1")
    assert found[0] == (
        "success",
        "2 marks delivered to the Academic Analyzer (2 attempts settled).",
    )
    assert TutorialMark.objects.get(pk=theirs.pk).status == "given_up"


# --- Retry after fixing -------------------------------------------------------------------------


def test_retry_after_fixing_puts_failed_marks_back_to_pending(
    anand_client, failed_marks, anand_quiz
):
    delivered = make_mark(quiz=anand_quiz, status="delivered")
    course_remember(course_id="19XW51", missing=True)
    assert course_is_known_missing(course_id="19XW51")

    found = retry_after_fixing(anand_client, [*failed_marks, delivered])

    assert found[0][0] == "success"
    assert found[0][1].startswith(
        "2 marks back to pending: the next resync sends them. What we knew about course "
        "19XW51 was forgotten, so the Analyzer is asked again. <form"
    )
    assert ">Send them now</button>" in found[0][1]
    assert found[1:] == [
        ("info", "1 mark left as it was: only rejected or given-up marks are put back."),
    ]
    for mark in failed_marks:
        mark.refresh_from_db()
        assert (mark.status, mark.reason, mark.tries, mark.next_try_at) == ("pending", "", 0, None)
        assert mark.failing_since is None  # the resync's age cap starts again
    assert TutorialMark.objects.get(pk=delivered.pk).status == "delivered"
    assert not course_is_known_missing(course_id="19XW51")


def test_retry_after_fixing_never_touches_another_teachers_marks(
    anand_client, failed_marks, priya_quiz
):
    theirs = make_mark(quiz=priya_quiz, status="rejected", reason="course_not_found")
    found = retry_after_fixing(anand_client, [*failed_marks, theirs])
    assert found[0][1].startswith("2 marks back to pending")
    assert TutorialMark.objects.get(pk=theirs.pk).status == "rejected"


def test_marks_requeue_is_one_read_and_one_update(teacher, failed_marks, django_assert_num_queries):
    # The read, the UPDATE, and one DELETE forgetting what we knew of their courses (kept in
    # the database since the sync state moved out of the cache).
    with django_assert_num_queries(3):
        result = marks_requeue(mark_ids=[m.pk for m in failed_marks], user=teacher)
    assert (result.requeued, result.courses, result.skipped) == (2, ["19XW51"], 0)


def test_a_teacher_without_a_mark_to_requeue_is_told_so(anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, status="retrying", reason="timeout")
    assert retry_after_fixing(anand_client, [mark]) == [
        ("warning", "1 mark left as it was: only rejected or given-up marks are put back.")
    ]


# --- the whole fix: a deleted course, restored; retry after fixing; resync now ---------------


def test_fix_a_deleted_course_then_retry_and_resync(analyzer, anand_client, anand_quiz):
    marks = [make_mark(quiz=anand_quiz, student=s) for s in demo_students("21Z201", "21Z202")]
    analyzer.control.delete_course("19XW51")
    found = resync(anand_client, marks)
    assert found[0][0] == "error" and "Course 19XW51 was not found" in found[0][1]
    assert {m.status for m in TutorialMark.objects.all()} == {"rejected"}

    analyzer.control.restore_course("19XW51")  # the Analyzer's administrator fixed it
    assert retry_after_fixing(anand_client, marks)[0][0] == "success"
    found = resync(anand_client, marks)

    assert found == [
        ("success", "2 marks delivered to the Academic Analyzer (2 attempts settled).")
    ]
    assert analyzer.control.marks()["21Z202"]["19XW51"]["tutorial2"] == Decimal("7.5")


def test_the_actions_are_offered_to_teachers_but_not_delete(anand_client, anand_quiz):
    make_mark(quiz=anand_quiz)
    page = anand_client.get(MARKS_URL).content.decode()
    assert '<option value="resync_now">Resync selected now</option>' in page
    assert '<option value="retry_after_fixing">Retry after fixing</option>' in page
    assert "delete_selected" not in page


def test_staff_without_the_view_permission_cannot_run_the_actions(db, anand_quiz):
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    mark = make_mark(quiz=anand_quiz, status="rejected", reason="course_not_found")
    response = client_for(clerk).post(
        MARKS_URL, {"action": "retry_after_fixing", "_selected_action": [mark.pk]}
    )
    assert response.status_code == 403
    assert TutorialMark.objects.get(pk=mark.pk).status == "rejected"


def test_retry_and_send_now_puts_back_every_selected_mark_and_sends_the_first_200(
    analyzer, anand_client, anand_quiz
):
    """Putting marks back is one UPDATE whatever their number: none of the selection is left
    rejected; the send is capped per click, and the warning counts what was selected."""
    rolls = [f"23Z{i:03d}" for i in range(202)]
    analyzer.control.seed(
        {
            "courses": [
                {
                    "course_id": "19XW51",
                    "name": "Compilers",
                    "instructor": "anand@college.edu",
                    "students": rolls,
                }
            ]
        }
    )
    marks = [
        make_mark(
            quiz=anand_quiz,
            student=make_student(username=r),
            status="rejected",
            reason="not_enrolled",
        )
        for r in rolls
    ]

    found = run_action(anand_client, "retry_and_send_now", marks)

    assert found[0] == ("info", "202 marks back to pending; sending the selected marks now.")
    assert (
        "warning",
        "You selected 202 marks; only the first 200 were resynced (at most 200 per click). "
        "Run the action again for the rest.",
    ) in found
    assert TutorialMark.objects.filter(status="delivered").count() == 200
    assert TutorialMark.objects.filter(status="pending").count() == 2
    assert not TutorialMark.objects.filter(status="rejected").exists()
