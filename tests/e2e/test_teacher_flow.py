"""A teacher in a real browser: logs in to admin, finds the marks that failed while the Academic
Analyzer was down, resyncs them once it is healthy again, and sees them delivered."""

import re

import pytest
from django.test import override_settings

from academic_integration.models import TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from tests.academic_integration.admin_fixtures import log_try, make_mark
from tests.factories import make_quiz, make_student, make_teacher

# The live server and the test share the database, so these tests are transactional (the
# e2e conftest re-creates the Teachers group after each flush).
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-teacher-123"  # tests.factories.make_teacher's


@pytest.fixture
def shot(request):
    """shot(page, name) saves test-results/e2e/teacher-<name>.png, for people to look at."""

    def take(page, name):
        folder = request.config.rootpath / "test-results" / "e2e"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"teacher-{name}.png"), full_page=True)

    return take


def failed_while_down(analyzer, quiz, rolls):
    """Marks the resync gave up on while the Analyzer answered 503 (one try allowed)."""
    marks = [make_mark(quiz=quiz, student=make_student(username=roll)) for roll in rolls]
    analyzer.control.set_fault("503")
    with override_settings(ACADEMIC_ANALYZER_MAX_TRIES=1):
        summary = resync_run(ResyncOptions(mark_ids=[m.pk for m in marks]))
    assert summary.given_up == len(marks)
    analyzer.control.clear_faults()  # ... and now the Analyzer is healthy again
    return marks


def log_in(page, username):
    page.goto("/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_teacher_filters_failed_marks_resyncs_them_and_sees_them_delivered(analyzer, page, shot):
    from playwright.sync_api import expect

    anand = make_teacher(username="anand", email="anand@college.edu", first_name="Anand")
    quiz = make_quiz(title="Compilers Tutorial 2", created_by=anand.email)
    failed = failed_while_down(analyzer, quiz, ["21Z201", "21Z202", "21Z203"])
    make_mark(quiz=quiz, student=make_student(username="21Z204"), status="delivered")
    # Another teacher's failed mark: never shown to Anand, never resynced by him.
    priya = make_teacher(username="priya", email="priya@college.edu")
    os_quiz = make_quiz(
        title="OS Tutorial 1", course_id="19XW52", tutorial_number=1, created_by=priya.email
    )
    theirs = make_mark(
        quiz=os_quiz,
        student=make_student(username="21Z209"),
        status="given_up",
        reason="unavailable",
    )
    log_try(failed[0], outcome="given_up", reason="unavailable", http_status=503)

    log_in(page, "anand")
    expect(page.get_by_role("heading", name="Academic Analyzer sync")).to_be_visible()
    shot(page, "0-admin-index")
    page.get_by_role("link", name="Sync health").first.click()
    expect(page.get_by_role("heading", name="Academic Analyzer sync health")).to_be_visible()
    expect(page.locator("#sync-reasons")).to_contain_text(
        "The Academic Analyzer is unavailable (maintenance or proxy error)"
    )
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("ul.messagelist li.success")).to_have_text(
        "Test connection: Reachable, and the token was accepted: the Academic Analyzer answered."
    )
    shot(page, "1-sync-health")

    page.get_by_role("link", name="Open the marks list").click()
    page.get_by_role("link", name="Failed (rejected or given up)").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="Given up")).to_have_count(3)
    expect(page.locator("#result_list")).not_to_contain_text("21Z209")
    expect(page.locator("#result_list")).not_to_contain_text("21Z204")
    shot(page, "2-failed-marks")

    page.locator("#action-toggle").check()
    expect(page.get_by_text("3 of 3 selected")).to_be_visible()
    page.locator("select[name=action]").select_option(label="Resync selected now")
    page.get_by_role("button", name="Go").click()

    expect(page.locator("ul.messagelist")).to_contain_text(
        "3 marks delivered to the Academic Analyzer (3 attempts settled)."
    )
    # The list still filters failed marks: now there are none.
    expect(page.locator("#result_list tbody tr")).to_have_count(0)
    shot(page, "3-after-resync")

    page.get_by_role("link", name="All").first.click()
    expect(page.locator("#result_list tbody tr").filter(has_text="Delivered")).to_have_count(4)
    shot(page, "4-all-delivered")

    page.get_by_role("link", name="21Z201").click()
    expect(page.locator("#mark-history")).to_contain_text("Admin action")
    expect(page.locator("#mark-history")).to_contain_text("Resync command")
    shot(page, "5-mark-detail")

    held = analyzer.control.marks()
    assert [held[roll]["19XW51"]["tutorial2"] for roll in ("21Z201", "21Z202", "21Z203")] == [
        7.5,
        7.5,
        7.5,
    ]
    assert set(
        TutorialMark.objects.filter(pk__in=[m.pk for m in failed]).values_list("status", flat=True)
    ) == {"delivered"}
    theirs.refresh_from_db()
    assert theirs.status == "given_up"


def test_teacher_checks_a_quiz_with_the_analyzer_from_the_quiz_list(analyzer, page, shot):
    from playwright.sync_api import expect

    anand = make_teacher(username="anand", email="anand@college.edu")
    good = make_quiz(title="Compilers Tutorial 2", created_by=anand.email)
    typo = make_quiz(
        title="Compilers Tutorial 3", course_id="19XW99", tutorial_number=3, created_by=anand.email
    )
    make_mark(quiz=good, student=make_student(username="21Z201"), status="delivered")
    make_mark(
        quiz=good, student=make_student(username="21Z202"), status="rejected", reason="not_enrolled"
    )
    make_mark(
        quiz=good, student=make_student(username="21Z203"), status="retrying", reason="timeout"
    )

    log_in(page, "anand")
    page.goto("/admin/quizzes/quiz/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    row = rows.filter(has_text="Compilers Tutorial 2")
    expect(row.locator("td.field-attempt_count")).to_have_text("3")
    expect(row.locator("td.field-delivered_count")).to_have_text("1")
    expect(row.locator("td.field-due_count")).to_have_text("1")
    expect(row.locator("td.field-failed_count")).to_have_text("1")

    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option(label="Check with Academic Analyzer")
    page.get_by_role("button", name="Go").click()

    messages = page.locator("ul.messagelist")
    expect(messages.locator("li.success")).to_contain_text(
        "“Compilers Tutorial 2”: Course 19XW51 (Compilers) exists on the Academic Analyzer: "
        "3 students here, 4 there. Its marks go as anand@college.edu (quiz creator)."
    )
    expect(messages.locator("li.error")).to_contain_text(
        "Course 19XW99 was not found on the Academic Analyzer"
    )
    shot(page, "6-quiz-check")

    row.locator("td.field-failed_count a").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("Student not enrolled in the course")
    assert typo.pk

    page.goto("/admin/quizzes/quizattempt/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    shot(page, "7-attempts")
