"""Marks and attempts in admin: scoped to the teacher, read-only, with plain-words status."""

import html
import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from quizzes.models import QuizAttempt
from tests.academic_integration.admin_fixtures import (
    ATTEMPTS_URL,
    HEALTH_URL,
    MARKS_URL,
    QUIZZES_URL,
    log_try,
    make_mark,
)
from tests.factories import make_quiz, make_student

pytestmark = pytest.mark.django_db


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rows(page: str) -> list[str]:
    """The roll numbers of the changelist's rows, in order."""
    return re.findall(r'<th class="field-roll_number"><a href="[^"]+">([^<]+)</a>', page)


@pytest.fixture
def two_teachers_marks(anand_quiz, priya_quiz):
    """Anand's quiz has a rejected and a delivered mark; Priya's a given-up one."""
    return {
        "anand_rejected": make_mark(
            quiz=anand_quiz,
            student=make_student(username="21Z201"),
            status="rejected",
            reason="course_not_found",
        ),
        "anand_delivered": make_mark(
            quiz=anand_quiz, student=make_student(username="21Z202"), status="delivered"
        ),
        "priya_given_up": make_mark(
            quiz=priya_quiz,
            student=make_student(username="21Z209"),
            status="given_up",
            reason="unavailable",
        ),
    }


# --- who sees what ------------------------------------------------------------------------------


def test_each_teacher_sees_only_the_marks_of_their_own_quizzes(
    anand_client, priya_client, two_teachers_marks
):
    assert sorted(rows(page_of(anand_client.get(MARKS_URL)))) == ["21Z201", "21Z202"]
    assert rows(page_of(priya_client.get(MARKS_URL))) == ["21Z209"]


def test_a_superuser_sees_every_mark(admin_client, two_teachers_marks):
    assert sorted(rows(page_of(admin_client.get(MARKS_URL)))) == ["21Z201", "21Z202", "21Z209"]


def test_each_teacher_sees_only_attempts_on_their_own_quizzes(
    anand_client, priya_client, two_teachers_marks
):
    assert sorted(rows(page_of(anand_client.get(ATTEMPTS_URL)))) == ["21Z201", "21Z202"]
    assert rows(page_of(priya_client.get(ATTEMPTS_URL))) == ["21Z209"]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/academic_integration/tutorialmark/{mark}/change/",
        "/admin/academic_integration/tutorialmark/{mark}/history/",
        "/admin/academic_integration/tutorialmark/{mark}/delete/",
        "/admin/quizzes/quizattempt/{attempt}/change/",
        "/admin/quizzes/quizattempt/{attempt}/history/",
        "/admin/quizzes/quizattempt/{attempt}/delete/",
        "/admin/quizzes/quiz/{quiz}/change/",
        "/admin/quizzes/quiz/{quiz}/history/",
    ],
)
def test_another_teachers_objects_are_not_found_by_url(anand_client, two_teachers_marks, url):
    theirs = two_teachers_marks["priya_given_up"]
    url = url.format(mark=theirs.pk, attempt=theirs.attempt.pk, quiz=theirs.quiz_id)
    response = anand_client.get(url)
    assert response.status_code in (403, 404)
    assert "21Z209" not in response.content.decode()
    assert anand_client.post(url, {"post": "yes"}).status_code in (403, 404)
    assert TutorialMark.objects.filter(pk=theirs.pk).exists()
    assert QuizAttempt.objects.filter(pk=theirs.attempt.pk).exists()


def test_the_owner_and_a_superuser_can_open_the_mark(
    priya_client, admin_client, two_teachers_marks
):
    mark = two_teachers_marks["priya_given_up"]
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    assert "21Z209" in page_of(priya_client.get(url))
    assert "21Z209" in page_of(admin_client.get(url))


def test_filter_options_list_only_the_teachers_own_courses_quizzes_and_reasons(
    anand_client, two_teachers_marks, priya_quiz
):
    for url in (MARKS_URL, ATTEMPTS_URL):
        page = page_of(anand_client.get(url))
        assert "?course=19XW51" in page
        assert "19XW52" not in page  # Priya's course
        assert f"?quiz={two_teachers_marks['anand_rejected'].quiz_id}" in page
        assert f"?quiz={priya_quiz.pk}" not in page
        assert "OS T1" not in page
        assert "?reason=course_not_found" in page
        assert "reason=unavailable" not in page  # only on Priya's mark
        assert "maintenance or proxy error" not in page


def test_another_teachers_quiz_in_the_filter_url_shows_nothing(
    anand_client, two_teachers_marks, priya_quiz
):
    assert rows(page_of(anand_client.get(MARKS_URL, {"quiz": priya_quiz.pk}))) == []
    assert rows(page_of(anand_client.get(ATTEMPTS_URL, {"quiz": priya_quiz.pk}))) == []
    assert rows(page_of(anand_client.get(MARKS_URL, {"course": "19XW52"}))) == []


def test_facet_counts_stay_within_the_teachers_marks(anand_client, two_teachers_marks):
    page = page_of(anand_client.get(MARKS_URL, {"_facets": "1"}))
    assert "Failed (rejected or given up) (1)" in page  # Priya's given-up mark not counted


def test_staff_without_the_view_permission_see_no_marks(client, db):
    from django.contrib.auth import get_user_model

    clerk = get_user_model().objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(MARKS_URL).status_code == 403
    assert client.get(HEALTH_URL).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_tutorialmark"))
    assert client.get(MARKS_URL).status_code == 200


# --- read-only, no deletes ----------------------------------------------------------------------


def test_marks_are_read_only_for_teachers_and_superusers_alike(
    anand_client, admin_client, two_teachers_marks
):
    mark = two_teachers_marks["anand_rejected"]
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    for client in (anand_client, admin_client):
        page = page_of(client.get(url))
        assert 'name="_save"' not in page
        assert 'name="value"' not in page and 'name="status"' not in page
        response = client.post(url, {"value": "10", "status": "delivered", "_save": "Save"})
        assert response.status_code == 403
        assert client.get(reverse("admin:academic_integration_tutorialmark_add")).status_code == 403
    mark.refresh_from_db()
    assert (mark.value, mark.status) == (mark.attempt.score, "rejected")


def test_nobody_deletes_marks_and_teachers_do_not_delete_attempts(
    anand_client, admin_client, two_teachers_marks
):
    mark = two_teachers_marks["anand_rejected"]
    delete_mark = reverse("admin:academic_integration_tutorialmark_delete", args=[mark.pk])
    delete_attempt = reverse("admin:quizzes_quizattempt_delete", args=[mark.attempt.pk])
    for client in (anand_client, admin_client):
        assert client.post(delete_mark, {"post": "yes"}).status_code == 403
        page = page_of(client.get(MARKS_URL))
        assert "delete_selected" not in page
    assert anand_client.post(delete_attempt, {"post": "yes"}).status_code == 403
    assert "delete_selected" not in page_of(anand_client.get(ATTEMPTS_URL))
    changelist = anand_client.post(
        MARKS_URL, {"action": "delete_selected", "_selected_action": [mark.pk], "post": "yes"}
    )
    assert changelist.status_code in (200, 302)
    assert TutorialMark.objects.filter(pk=mark.pk).exists()
    assert QuizAttempt.objects.filter(pk=mark.attempt.pk).exists()


def test_attempts_are_read_only_for_teachers(anand_client, two_teachers_marks):
    attempt = two_teachers_marks["anand_rejected"].attempt
    url = reverse("admin:quizzes_quizattempt_change", args=[attempt.pk])
    page = page_of(anand_client.get(url))
    assert 'name="_save"' not in page and 'name="score"' not in page
    assert anand_client.post(url, {"score": "10"}).status_code == 403


# --- the changelists show what a teacher needs -------------------------------------------------


def test_the_marks_list_shows_roll_quiz_course_tutorial_value_badge_and_plain_reason(
    anand_client, two_teachers_marks
):
    mark = two_teachers_marks["anand_rejected"]
    log_try(mark, outcome="rejected", reason="course_not_found", http_status=404)
    TutorialMark.objects.filter(pk=mark.pk).update(last_tried_at=mark.created_at)
    page = page_of(anand_client.get(MARKS_URL))
    row = page[page.index(">21Z201<") :].split("</tr>")[0]
    assert "Compilers T2" in row
    assert '<td class="field-course_id">19XW51</td>' in row
    assert '<td class="field-tutorial">2</td>' in row
    assert "7.50" in row
    # Colour with a text label, not colour alone.
    assert 'class="sync-badge sync-badge--rejected"' in row and "Rejected</span>" in row
    assert "Course not found in the Academic Analyzer" in row
    assert "course_not_found" not in row.replace("?reason=course_not_found", "")
    assert '<td class="field-last_tried_at nowrap">-</td>' not in row


def test_the_attempts_list_shows_each_attempts_mark_status_and_reason(
    anand_client, two_teachers_marks
):
    page = page_of(anand_client.get(ATTEMPTS_URL))
    rejected = page[page.index(">21Z201<") :].split("</tr>")[0]
    delivered = page[page.index(">21Z202<") :].split("</tr>")[0]
    assert "sync-badge--rejected" in rejected
    assert "Course not found in the Academic Analyzer" in rejected
    mark = two_teachers_marks["anand_rejected"]
    assert reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk]) in rejected
    assert "sync-badge--delivered" in delivered and "Delivered" in delivered
    assert '<td class="field-slot">19XW51 · T2</td>' in rejected and "Compilers T2" in rejected


def test_a_practice_attempt_and_one_in_progress_say_so(anand_client, teacher):
    practice = make_quiz(quiz_type="practice", tutorial_number=None, created_by=teacher.email)
    tutorial = make_quiz(tutorial_number=4, created_by=teacher.email)
    QuizAttempt.objects.create(student=make_student(username="21Z301"), quiz=practice)
    QuizAttempt.objects.create(student=make_student(username="21Z302"), quiz=tutorial)
    page = page_of(anand_client.get(ATTEMPTS_URL))
    assert "No mark (practice)" in page[page.index(">21Z301<") :].split("</tr>")[0]
    assert "In progress" in page[page.index(">21Z302<") :].split("</tr>")[0]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "rejected"}, ["21Z201"]),
        ({"status": "delivered"}, ["21Z202"]),
        ({"status": "failed"}, ["21Z201", "21Z203"]),
        ({"status": "undelivered"}, ["21Z201", "21Z203", "21Z204"]),
        ({"status": "due"}, ["21Z204"]),
        ({"reason": "course_not_found"}, ["21Z201"]),
        ({"reason": "timeout"}, ["21Z204"]),
        ({"course": "19XW51"}, ["21Z201", "21Z202", "21Z203"]),
        ({"course": "19XW53"}, ["21Z204"]),
        ({"tutorial": "3"}, ["21Z204"]),
        ({"tutorial": "2"}, ["21Z201", "21Z202", "21Z203"]),
        ({"q": "21Z203"}, ["21Z203"]),
        ({"q": "19XW53"}, ["21Z204"]),
        ({"q": "Networks"}, ["21Z204"]),
    ],
)
@pytest.mark.parametrize("url", [MARKS_URL, ATTEMPTS_URL])
def test_filters_and_search(anand_client, teacher, anand_quiz, url, params, expected):
    other = make_quiz(
        title="Networks T3", course_id="19XW53", tutorial_number=3, created_by=teacher.email
    )
    make_mark(
        quiz=anand_quiz,
        student=make_student(username="21Z201"),
        status="rejected",
        reason="course_not_found",
    )
    make_mark(quiz=anand_quiz, student=make_student(username="21Z202"), status="delivered")
    make_mark(
        quiz=anand_quiz,
        student=make_student(username="21Z203"),
        status="given_up",
        reason="unavailable",
    )
    make_mark(
        quiz=other, student=make_student(username="21Z204"), status="retrying", reason="timeout"
    )
    assert sorted(rows(page_of(anand_client.get(url, params)))) == expected


@pytest.mark.parametrize("url", [MARKS_URL, ATTEMPTS_URL])
def test_quiz_and_date_filters(anand_client, teacher, anand_quiz, url):
    other = make_quiz(
        title="Networks T3", course_id="19XW53", tutorial_number=3, created_by=teacher.email
    )
    make_mark(quiz=anand_quiz, student=make_student(username="21Z201"))
    make_mark(quiz=other, student=make_student(username="21Z204"))
    assert rows(page_of(anand_client.get(url, {"quiz": other.pk}))) == ["21Z204"]
    page = page_of(anand_client.get(url))
    today = html.unescape(re.search(r'href="(\?[^"]+)"[^>]*>Today<', page).group(1))
    assert sorted(rows(page_of(anand_client.get(url + today)))) == ["21Z201", "21Z204"]
    past = today.replace(str(timezone.localdate()), "1999-01-01")
    past = re.sub(r"__lt=\d{4}-\d{2}-\d{2}", "__lt=1999-01-02", past)
    assert rows(page_of(anand_client.get(url + past))) == []


def test_the_lists_are_newest_first(anand_client, anand_quiz):
    from datetime import timedelta

    old = make_mark(quiz=anand_quiz, student=make_student(username="21Z201"))
    make_mark(quiz=anand_quiz, student=make_student(username="21Z202"))
    TutorialMark.objects.filter(pk=old.pk).update(updated_at=old.updated_at - timedelta(days=1))
    QuizAttempt.objects.filter(pk=old.attempt.pk).update(
        started_at=old.attempt.started_at - timedelta(days=1)
    )
    assert rows(page_of(anand_client.get(MARKS_URL))) == ["21Z202", "21Z201"]
    assert rows(page_of(anand_client.get(ATTEMPTS_URL))) == ["21Z202", "21Z201"]


# --- the mark's detail page ---------------------------------------------------------------------


def test_the_detail_page_shows_the_mark_its_attempts_and_its_history(anand_client, anand_quiz):
    student = make_student(username="21Z201")
    mark = make_mark(
        quiz=anand_quiz,
        student=student,
        status="rejected",
        reason="course_not_found",
        teacher_email="anand@college.edu",
        teacher_email_source="quiz_creator",
        last_error="The Analyzer refused the request: Course not found (HTTP 404)",
    )
    retake = QuizAttempt.objects.create(
        student=student, quiz=anand_quiz, completed_at=mark.attempt.completed_at, score="5.00"
    )
    log_try(mark, outcome="retrying", reason="server_error", http_status=500, duration_ms=812)
    log_try(
        mark,
        outcome="rejected",
        reason="course_not_found",
        http_status=404,
        duration_ms=37,
        teacher_email="hod@college.edu",
        teacher_email_source="course_teacher",
        trigger="admin",
    )
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    page = page_of(anand_client.get(url))

    assert "21Z201 · 19XW51 tutorial 2" in page
    assert "sync-badge--rejected" in page
    # The next step, in plain words, with the course filled in.
    assert (
        "Course 19XW51 was not found in the Academic Analyzer — it may have been deleted. "
        "Check the course id on the quiz, then use Retry after fixing." in page
    )
    attempts = page[page.index('id="mark-attempts"') : page.index('id="mark-history"')]
    assert f"#{mark.attempt.pk}" in attempts and f"#{retake.pk}" in attempts
    assert "5.00" in attempts and "7.50" in attempts
    history = page[page.index('id="mark-history"') :]
    for text in (
        "Admin action",
        "Resync command",
        "The Academic Analyzer had an internal error",
        "Course not found in the Academic Analyzer",
        ">500<",
        ">404<",
        "812 ms",
        "37 ms",
        "hod@college.edu",
        "A course teacher the Analyzer lists",
        "Quiz creator",
    ):
        assert text in history, text
    assert history.index("Admin action") < history.index("812 ms")  # newest first


def test_the_history_shows_the_latest_hundred_tries(anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, status="retrying", reason="timeout")
    MarkDeliveryLog.objects.bulk_create(
        MarkDeliveryLog(
            mark=mark,
            tried_at=mark.created_at,
            trigger="resync",
            version=1,
            value=mark.value,
            outcome="retrying",
            reason="timeout",
        )
        for _ in range(120)
    )
    url = reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk])
    page = page_of(anand_client.get(url))
    assert "History of tries (latest 100)" in page
    history = page[page.index('id="mark-history"') :]
    assert history.count("sync-badge--retrying") == 100


def test_no_secret_appears_in_any_admin_page(anand_client, admin_client, two_teachers_marks):
    from tests.conftest import CANARY_TOKEN

    mark = two_teachers_marks["anand_rejected"]
    urls = [
        MARKS_URL,
        ATTEMPTS_URL,
        QUIZZES_URL,
        HEALTH_URL,
        "/admin/",
        reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk]),
        reverse("admin:quizzes_quizattempt_change", args=[mark.attempt.pk]),
    ]
    for client in (anand_client, admin_client):
        for url in urls:
            assert CANARY_TOKEN not in page_of(client.get(url))


def test_the_admin_index_links_to_sync_health(anand_client):
    page = page_of(anand_client.get("/admin/"))
    assert f'href="{HEALTH_URL}"' in page
    assert f'href="{MARKS_URL}?status=failed"' in page
    assert f'href="{HEALTH_URL}"' in page_of(anand_client.get(MARKS_URL))
