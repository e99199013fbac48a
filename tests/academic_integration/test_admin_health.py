"""The Sync health page: counts, the oldest undelivered mark, problems with their next steps,
the configuration (token masked) and Test connection against the fake Analyzer."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from academic_integration.exceptions import SyncTemporaryError
from academic_integration.models import SyncState, TutorialMark
from academic_integration.sync_state import (
    breaker_record,
    bulk_unsupported_remember,
    config_rejection_remember,
)
from tests.academic_integration.admin_fixtures import (
    HEALTH_URL,
    TEST_CONNECTION_URL,
    client_for,
    health,
    log_try,
    make_mark,
    section,
)
from tests.academic_integration.sync_state_fixtures import breaker_open
from tests.factories import make_student

pytestmark = pytest.mark.django_db


def status_counts(page: str) -> dict[str, int]:
    block = section(page, "sync-status-counts")
    return {
        label: int(count)
        for label, count in re.findall(
            r"</span> ([\w ]+)</span></td><td[^>]*><a [^>]+>(\d+)<", block
        )
    }


@pytest.fixture
def marks(anand_quiz, priya_quiz):
    """Anand: 2 delivered, 1 pending, 2 rejected (course not found). Priya: 1 given up."""
    now = timezone.now()
    made = {
        "delivered": [make_mark(quiz=anand_quiz, status="delivered") for _ in range(2)],
        "pending": make_mark(quiz=anand_quiz, status="pending"),
        "rejected": [
            make_mark(quiz=anand_quiz, status="rejected", reason="course_not_found")
            for _ in range(2)
        ],
        "priya": make_mark(quiz=priya_quiz, status="given_up", reason="unavailable"),
    }
    TutorialMark.objects.filter(pk=made["pending"].pk).update(
        due_since=now - timedelta(days=3, hours=4)
    )
    TutorialMark.objects.filter(pk=made["priya"].pk).update(due_since=now - timedelta(days=9))
    return made


# --- what it shows ------------------------------------------------------------------------------


def test_counts_by_status_are_the_teachers_own(anand_client, priya_client, marks):
    assert status_counts(health(anand_client)) == {
        "Pending": 1,
        "Delivered": 2,
        "Retrying": 0,
        "Rejected": 2,
        "Given up": 0,
    }
    assert status_counts(health(priya_client))["Given up"] == 1
    assert sum(status_counts(health(priya_client)).values()) == 1


def test_a_superuser_sees_every_teachers_marks(admin_client, marks):
    counts = status_counts(health(admin_client))
    assert (counts["Given up"], counts["Rejected"], sum(counts.values())) == (1, 2, 6)
    assert "All tutorial marks, of every teacher" in health(admin_client)


def test_each_reason_shows_its_courses_and_next_step(anand_client, marks):
    reasons = section(health(anand_client), "sync-reasons")
    assert "Course not found in the Academic Analyzer" in reasons
    assert (
        "Course 19XW51 was not found in the Academic Analyzer — it may have been deleted. "
        "Check the course id on the quiz, then use Retry after fixing." in reasons
    )
    row = reasons[reasons.index("Course not found") :].split("</tr>")[0]
    assert re.search(r">2</a></td>\s*<td class=\"sync-num\">2</td>", row)  # 2 marks, 2 students
    assert "?reason=course_not_found&amp;course=19XW51&amp;status=rejected" in row
    assert "unavailable" not in reasons and "maintenance" not in reasons  # Priya's


def test_given_up_marks_are_told_to_retry_after_fixing(priya_client, marks):
    reasons = section(health(priya_client), "sync-reasons")
    assert (
        "Gave up after repeated temporary failures; use Retry after fixing once the Analyzer "
        "is healthy. Last failure: The Academic Analyzer is unavailable (maintenance or proxy "
        "error)." in reasons
    )


def test_a_student_reason_names_the_student_when_there_is_one(anand_client, anand_quiz):
    make_mark(
        quiz=anand_quiz,
        student=make_student(username="22Z999"),
        status="rejected",
        reason="student_not_found",
    )
    reasons = section(health(anand_client), "sync-reasons")
    assert "Student 22Z999 was not found in the Academic Analyzer" in reasons


def test_the_oldest_undelivered_mark_and_its_age(anand_client, priya_client, marks):
    oldest = health(anand_client)
    oldest = oldest[oldest.index('id="sync-oldest"') :].split("</dd>")[0]
    assert f"{marks['pending'].student.username} · 19XW51 tutorial 2" in oldest
    assert "3 days 4 hours" in oldest
    other = health(priya_client)
    assert "9 days" in other[other.index('id="sync-oldest"') :].split("</dd>")[0]


def test_nothing_undelivered_says_so(anand_client, anand_quiz):
    make_mark(quiz=anand_quiz, status="delivered")
    page = health(anand_client)
    assert "None: every mark has been delivered." in page


def test_the_last_successful_delivery(anand_client, anand_quiz):
    page = health(anand_client)
    assert "Never" in page[page.index('id="sync-last-delivery"') :].split("</dd>")[0]
    mark = make_mark(quiz=anand_quiz, status="delivered")
    TutorialMark.objects.filter(pk=mark.pk).update(
        delivered_at=timezone.now() - timedelta(minutes=25)
    )
    page = health(anand_client)
    assert "25 minutes ago" in page[page.index('id="sync-last-delivery"') :].split("</dd>")[0]


def test_the_inline_breaker_state(anand_client):
    page = health(anand_client)
    assert "Running" in page[page.index('id="sync-breaker"') :].split("</dd>")[0]
    breaker_open()
    breaker = health(anand_client)
    breaker = breaker[breaker.index('id="sync-breaker"') :].split("</dd>")[0]
    assert "Paused" in breaker and "submissions skip the call" in breaker


def test_configuration_problems_seen_by_recent_deliveries(anand_client, anand_quiz, priya_quiz):
    mine = make_mark(quiz=anand_quiz, status="pending", reason="token_rejected")
    theirs = make_mark(quiz=priya_quiz, status="pending", reason="not_the_analyzer")
    old = timezone.now() - timedelta(days=2)
    log_try(mine, outcome="pending", reason="token_missing", http_status=401, when=old)
    log_try(mine, outcome="pending", reason="token_rejected", http_status=401)
    log_try(theirs, outcome="pending", reason="not_the_analyzer", http_status=404)

    problems = section(health(anand_client), "sync-config-problems")
    assert "The Academic Analyzer rejected our access token" in problems
    assert "set the current token in ACADEMIC_ANALYZER_TOKEN, restart the site" in problems
    # A wrong URL concerns everybody, whoever's mark found it out.
    assert "The configured address is not the Academic Analyzer API" in problems
    assert "No Academic Analyzer token is configured" not in problems  # older than 24 hours
    assert "looks fixed" not in problems


def test_a_configuration_problem_is_shown_as_fixed_after_a_delivery(anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, status="delivered")
    log_try(
        mark,
        outcome="pending",
        reason="token_rejected",
        http_status=401,
        when=timezone.now() - timedelta(hours=1),
    )
    log_try(mark, outcome="delivered", http_status=200)
    problems = section(health(anand_client), "sync-config-problems")
    assert "A delivery has succeeded since, so it looks fixed." in problems


def test_no_configuration_problem(anand_client):
    problems = section(health(anand_client), "sync-config-problems")
    assert "None: no delivery was refused for a wrong token or address." in problems


def test_the_health_page_shows_the_count_that_opened_it_and_the_next_probe(admin_client, settings):
    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3

    for _ in range(3):
        breaker_record(SyncTemporaryError(reason="timeout"))
    page = admin_client.get(HEALTH_URL).content.decode()
    block = page[page.index('id="sync-breaker"') :].split("</dd>")[0]
    assert "Paused" in block and "failed 3 times in a row" in block
    assert "One submission tries again at" in block
    SyncState.objects.all().delete()
    config_rejection_remember("token_rejected")
    page = admin_client.get(HEALTH_URL).content.decode()
    block = page[page.index('id="sync-breaker"') :].split("</dd>")[0]
    assert "rejected this configuration" in block and "One submission tries again" in block
    assert "resumes by itself" in block


# --- who may see it -------------------------------------------------------------------------------


def test_only_staff_with_the_view_permission_see_it(db):
    assert Client().get(HEALTH_URL).status_code == 302  # to the admin login
    assert client_for(make_student()).get(HEALTH_URL).status_code == 302
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    assert client_for(clerk).get(HEALTH_URL).status_code == 403
    assert client_for(clerk).post(TEST_CONNECTION_URL).status_code == 403


def test_the_page_links_from_the_index_and_to_the_marks(anand_client):
    assert HEALTH_URL in anand_client.get("/admin/").content.decode()
    page = health(anand_client)
    assert 'href="/admin/academic_integration/tutorialmark/?status=rejected"' in page


def bulk_line(client) -> str:
    page = health(client)
    return page[page.index('id="sync-bulk"') :].split("</dd>")[0]


def test_the_resync_bulk_mode_in_plain_words(anand_client, settings):
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"
    settings.ACADEMIC_ANALYZER_BULK_SIZE = 200
    assert "In bulk" in bulk_line(anand_client)
    assert "up to 200 marks" in bulk_line(anand_client)

    bulk_unsupported_remember()

    line = bulk_line(anand_client)
    assert "One request per mark" in line
    assert "no route for sending many marks at once" in line
    assert "tries sending in bulk again after" in line
    settings.ACADEMIC_ANALYZER_URL = "http://upgraded.test/api"  # another Analyzer: tried
    assert "In bulk" in bulk_line(anand_client)


def test_bulk_turned_off_is_said(anand_client, settings):
    settings.ACADEMIC_ANALYZER_BULK_SIZE = 0
    assert "ACADEMIC_ANALYZER_BULK_SIZE is 0" in bulk_line(anand_client)


# --- the last check_analyzer result per course ---------------------------------------------------


def test_never_checked_says_how_to_check(anand_client):
    block = section(health(anand_client), "sync-course-checks")
    assert "No course has been checked yet. Run <code>python manage.py check_analyzer</code>" in (
        block
    )


def test_the_last_check_is_summed_up_with_the_courses_to_fix(analyzer, teacher, priya):
    from academic_integration.analyzer_check import courses_analyzer_check, courses_for_check
    from tests.factories import make_course

    make_course("19XW52", teachers=[teacher, priya])
    make_course("19XW53", teachers=[priya])  # not anand's: not on his page
    for roll in ("21Z201", "21Z202", "23R001", "23R002"):
        make_student(username=roll, courses=["19XW51", "19XW52", "19XW53"])
    courses_analyzer_check(courses=courses_for_check())

    block = section(health(client_for(teacher)), "sync-course-checks")

    text = " ".join(re.sub(r"<[^>]+>", " ", block).split())
    assert (
        "2 courses checked, the last less than a minute ago: 2 with marks that would be "
        "refused or could not be checked." in text
    )
    assert "19XW51 less than a minute ago 2 students on our roster of 19XW51 are not" in text
    assert "23R001" in text and "manage.py check_analyzer --course 19XW52" in text
    assert "19XW53" not in text
    everything = section(health(client_for(priya)), "sync-course-checks")
    assert "19XW53" in everything and "19XW51" not in everything


def test_each_course_to_fix_says_how_old_its_check_is(analyzer, teacher):
    """A check is kept until the next check of the course replaces it, however old: a course
    still failing is not forgotten, and the page says when it was last looked at."""
    from academic_integration.analyzer_check import courses_analyzer_check, courses_for_check

    make_student(username="99Z999", courses=["19XW51"])  # not enrolled on the Analyzer
    courses_analyzer_check(courses=courses_for_check())
    with time_machine.travel(timezone.now() + timedelta(days=3, hours=2), tick=False):
        block = section(health(client_for(teacher)), "sync-course-checks")
    text = " ".join(re.sub(r"<[^>]+>", " ", block).split())
    assert "1 course checked, the last 3 days 2 hours ago: 1 with marks" in text
    assert "19XW51 3 days 2 hours ago 1 student on our roster of 19XW51 is not enrolled" in text
