"""Quizzes in admin: sync counts in the list, slot validation, Check with Academic Analyzer."""

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from academic_integration.exceptions import Reason
from academic_integration.models import SyncState, TutorialMark
from quizzes.models import Quiz, QuizAttempt
from tests.academic_integration.admin_fixtures import (
    QUIZZES_URL,
    make_mark,
)
from tests.factories import admin_quiz_form, make_course, make_quiz, make_student, make_teacher

pytestmark = pytest.mark.django_db


ADD_URL = reverse("admin:quizzes_quiz_add")
QUESTION = {
    "text": "Which phase builds the parse tree?",
    "points": "2",
    "choices_text": "*Syntax analysis\nLexing",
}


def quiz_form(*, quiz=None, questions=(QUESTION,), **fields):
    return admin_quiz_form(questions, quiz=quiz, **fields)


def draft_quiz(*, title, teacher, course_id="19XW51", tutorial_number=2):
    """An unpublished tutorial quiz, which may share a taken slot."""
    return Quiz.objects.create(
        title=title, course_id=course_id, tutorial_number=tutorial_number, created_by=teacher
    )


def form_errors(response) -> list[str]:
    assert response.status_code == 200, "the form should come back with errors"
    page = response.content.decode().replace("&#x27;", "'").replace("&quot;", '"')
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>\s*<li>(.*?)</li>', page, re.S)


# --- the list: attempts and mark counts, computed in the list query ---------------------------


def test_the_quiz_list_shows_attempts_and_delivered_due_failed_counts(anand_client, anand_quiz):
    for status, reason in [
        ("delivered", ""),
        ("delivered", ""),
        ("pending", ""),
        ("retrying", "timeout"),
        ("rejected", "course_not_found"),
        ("given_up", "unavailable"),
    ]:
        make_mark(quiz=anand_quiz, status=status, reason=reason)
    QuizAttempt.objects.create(student=make_student(), quiz=anand_quiz)  # in progress
    empty = make_quiz(title="Empty", tutorial_number=4, created_by="anand@college.edu")

    page = anand_client.get(QUIZZES_URL).content.decode()
    row = page[page.index(">Compilers T2<") :].split("</tr>")[0]
    cells = dict(re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row))
    assert cells["attempt_count"] == "6"  # submitted ones: not the attempt in progress
    assert f"?quiz={anand_quiz.pk}&amp;status=delivered" in cells["delivered_count"]
    assert ">2</a>" in cells["delivered_count"]
    assert ">2</a>" in cells["due_count"] and "status=due" in cells["due_count"]
    assert ">2</a>" in cells["failed_count"] and "status=failed" in cells["failed_count"]
    assert 'class="sync-count-failed"' in cells["failed_count"]
    assert cells["course_label"] == "19XW51" and cells["tutorial"] == "2"
    assert "icon-yes" in cells["published"]
    empty_row = page[page.index(">Empty<") :].split("</tr>")[0]
    assert re.findall(r'<td class="field-\w+_count[^"]*">(.*?)</td>', empty_row) == ["0"] * 4
    assert empty.pk


def test_the_mark_count_links_open_the_matching_marks(anand_client, anand_quiz):
    make_mark(quiz=anand_quiz, student=make_student(username="21Z201"), status="rejected")
    make_mark(quiz=anand_quiz, student=make_student(username="21Z202"), status="delivered")
    page = anand_client.get(
        reverse("admin:academic_integration_tutorialmark_changelist"),
        {"quiz": anand_quiz.pk, "status": "failed"},
    ).content.decode()
    assert "21Z201" in page and "21Z202" not in page


def test_the_list_can_be_sorted_by_failed_marks(anand_client, anand_quiz, teacher):
    other = make_quiz(title="Other", tutorial_number=3, created_by=teacher.email)
    make_mark(quiz=other, status="rejected", reason="course_not_found")
    page = anand_client.get(QUIZZES_URL).content.decode()
    header = page[page.index("column-failed_count") :].split("</th>")[0]
    sort = html.unescape(re.search(r'href="(\?o=[^"]+)"', header).group(1))
    page = anand_client.get(QUIZZES_URL + sort).content.decode()  # ascending: 0 first
    assert page.index(">Compilers T2<") < page.index(">Other<")
    descending = sort.replace("o=", "o=-", 1)
    page = anand_client.get(QUIZZES_URL + descending).content.decode()
    assert page.index(">Other<") < page.index(">Compilers T2<")


# --- saving a tutorial quiz validates locally ----------------------------------------------------


@pytest.fixture
def teacher_client(anand_client):
    return anand_client


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"course_id": ""}, "course", "A tutorial quiz needs its course, e.g. 19XW51."),
        (
            {"course_id": "19XW52"},  # exists, but the teacher does not teach it
            "course",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
        (
            {"course_id": "19 XW51"},
            "course",
            "Select a valid choice. That choice is not one of the available choices.",
        ),
        (
            {"tutorial_number": ""},
            "tutorial_number",
            "A tutorial quiz needs a tutorial number 1–4.",
        ),
        (
            {"tutorial_number": "0"},
            "tutorial_number",
            "A tutorial quiz needs a tutorial number 1–4.",
        ),
        ({"tutorial_number": "5"}, "tutorial_number", "less than or equal to 4"),
    ],
    ids=["no-course", "not-mine", "space-in-course", "no-tutorial", "tutorial-0", "tutorial-5"],
)
def test_a_tutorial_quiz_is_validated_with_clear_errors(teacher_client, fields, field, message):
    make_course("19XW52")
    response = teacher_client.post(ADD_URL, quiz_form(**fields))
    errors = form_errors(response)
    assert any(message in error for error in errors), errors
    assert f'id="id_{field}_error"' in response.content.decode() or len(errors) == 1
    assert not Quiz.objects.exists()


def test_a_course_the_teacher_teaches_is_accepted(teacher_client):
    assert teacher_client.post(ADD_URL, quiz_form(course_id="19XW51")).status_code == 302
    assert Quiz.objects.get().course_id == "19XW51"


def test_a_taken_slot_names_the_teachers_own_quiz(teacher_client, anand_quiz):
    errors = form_errors(teacher_client.post(ADD_URL, quiz_form(tutorial_number="2")))
    assert errors == [
        "Another published tutorial quiz already sets this course's tutorial mark. 19XW51 "
        "tutorial 2 is taken by your quiz “Compilers T2”: pick another tutorial number, or "
        "save this quiz unpublished."
    ]
    assert Quiz.objects.count() == 1


def test_a_taken_slot_does_not_name_another_teachers_quiz(teacher_client, teacher, priya_quiz):
    make_course("19XW52", teachers=[teacher])  # anand co-teaches priya's course
    errors = form_errors(
        teacher_client.post(ADD_URL, quiz_form(course_id="19XW52", tutorial_number="1"))
    )
    assert len(errors) == 1
    assert "is taken by a quiz by another teacher" in errors[0]
    assert "OS T1" not in errors[0]


def test_publishing_a_quiz_with_attempts_into_a_taken_slot_is_a_form_error(
    teacher_client, teacher, anand_quiz
):
    # The slot fields are read-only once there are attempts, so the database constraint's
    # own check skips them: the form must still catch the clash instead of a server error.
    draft = draft_quiz(title="Draft T2", teacher=teacher)
    QuizAttempt.objects.create(student=make_student(), quiz=draft)
    url = reverse("admin:quizzes_quiz_change", args=[draft.pk])
    form = quiz_form(quiz=draft, title="Draft T2", tutorial_number=None, course_id=None)
    form.pop("quiz_type")
    response = teacher_client.post(url, form)
    errors = form_errors(response)
    assert any("19XW51 tutorial 2 is taken by your quiz “Compilers T2”" in e for e in errors)
    draft.refresh_from_db()
    assert not draft.is_published


def test_a_free_slot_saves(teacher_client, anand_quiz):
    assert teacher_client.post(ADD_URL, quiz_form(tutorial_number="4")).status_code == 302
    assert Quiz.objects.filter(tutorial_number=4, is_published=True).exists()


# --- Check with Academic Analyzer, against the fake Analyzer over real HTTP -------------------
# The fake's demo seed: 19XW51 Compilers (anand; 21Z201-21Z204), 19XW52 OS (priya; 21Z201-3).

COURSES_URL = reverse("admin:quizzes_course_changelist")


def check(client, *quizzes):
    response = client.post(
        QUIZZES_URL,
        {"action": "check_with_analyzer", "_selected_action": [q.pk for q in quizzes]},
    )
    assert response.status_code == 302
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def check_courses(client, *course_ids):
    response = client.post(
        COURSES_URL, {"action": "check_with_analyzer", "_selected_action": list(course_ids)}
    )
    assert response.status_code == 302
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def asked(analyzer):
    return [(r["path"], r["query"]) for r in analyzer.control.received()]


def test_check_a_quiz_whose_marks_would_be_accepted(analyzer, anand_client, anand_quiz):
    for roll in ("21Z201", "21Z202", "21Z203", "21Z204"):
        make_student(username=roll, courses=["19XW51"])
    assert check(anand_client, anand_quiz) == [
        (
            "success",
            "“Compilers T2”: Course 19XW51 (Compilers) exists on the Academic Analyzer: 4 "
            "students here, 4 there. Its marks go as anand@college.edu (quiz creator).",
        )
    ]
    assert asked(analyzer) == [
        ("/api/staff/course-detail", {"courseId": "19XW51"}),
        ("/api/staff/dashboard", {"email": "anand@college.edu"}),
    ]


def test_check_the_creator_is_not_a_known_teacher(analyzer, db):
    ravi = make_teacher(username="ravi", email="ravi@college.edu")
    quiz = make_quiz(title="Ravi's quiz", course_id="19XW51", created_by=ravi.email)
    from tests.academic_integration.admin_fixtures import client_for

    [(level, message)] = check(client_for(ravi), quiz)
    assert level == "error"
    assert (
        "Marks of “Ravi's quiz” go as the quiz creator ravi@college.edu, who is not a teacher "
        "on the Analyzer: every one will be refused (teacher not found). Next step: Set the "
        "quiz creator's email to their Analyzer login email" in message
    )


def test_check_a_quiz_of_a_restored_course_another_teacher_handles(
    analyzer, anand_client, anand_quiz
):
    # Upstream's restore-course assigns only the restoring teacher: anand's marks are still
    # accepted (no route checks who handles a course), but he is no longer listed for it.
    analyzer.control.seed({"courses": [{"course_id": "19XW51", "teachers": ["priya@college.edu"]}]})
    analyzer.control.archive_course("19XW51", teacher="priya@college.edu")
    analyzer.control.restore_course("19XW51")
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "warning"
    assert "The Analyzer lists none of 19XW51's teachers here as handling it" in message
    assert "Its marks go as anand@college.edu (quiz creator)." in message


def test_check_the_course_was_not_found(analyzer, anand_client, teacher):
    quiz = make_quiz(title="Typo", course_id="19XW99", created_by=teacher.email)
    [(level, message)] = check(anand_client, quiz)
    assert level == "error"
    assert message.startswith(
        "“Typo”: Its marks go as anand@college.edu (quiz creator). Course 19XW99 was not "
        "found on the Academic Analyzer (mistyped, never created there, or archived): every "
        "mark for it will be refused. Next step: Check the course id"
    )


def test_check_an_archived_course(analyzer, anand_client, anand_quiz):
    analyzer.control.archive_course("19XW51")
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "error" and "Course 19XW51 was not found" in message
    assert "ask its administrator to restore it" in message


@pytest.mark.parametrize("fault", ["refuse", "hang"])
def test_check_the_analyzer_could_not_be_reached(analyzer, anand_client, anand_quiz, fault):
    analyzer.control.set_fault(fault)
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "error"
    assert message.startswith(
        "“Compilers T2”: Course 19XW51 (Compilers) could not be checked. The Academic "
        "Analyzer could not be asked:"
    )
    reason = Reason.CONNECTION_ERROR if fault == "refuse" else Reason.TIMEOUT
    assert f"could not be asked: {reason.label[:1].lower()}{reason.label[1:]}." in message
    assert f"Next step: {reason.next_step()}" in message


@pytest.mark.parametrize("legacy", [False, True], ids=["401", "legacy-403"])
def test_check_the_token_was_rejected(analyzer, anand_client, anand_quiz, legacy):
    if legacy:
        analyzer.control.set_legacy()
    analyzer.control.set_token("regenerated-elsewhere")
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "error"
    assert "could not be asked: the Academic Analyzer rejected our access token." in message
    assert "ACADEMIC_ANALYZER_TOKEN" in message


def test_check_a_url_that_is_not_the_analyzer(analyzer, anand_client, anand_quiz):
    analyzer.control.set_fault("html")
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "error"
    assert "could not be asked: the configured address is not the Academic Analyzer API" in message


def test_check_with_sync_not_configured_asks_nothing(anand_client, anand_quiz):
    [(level, message)] = check(anand_client, anand_quiz)
    assert level == "error"
    assert "could not be asked: sync is not configured." in message
    assert f"Next step: {Reason.SYNC_DISABLED.next_step()}" in message


def test_check_a_practice_quiz_asks_nothing(analyzer, anand_client, teacher):
    quiz = make_quiz(quiz_type="practice", tutorial_number=None, created_by=teacher.email)
    [(level, _)] = check(anand_client, quiz)
    assert level == "success"
    assert analyzer.control.received() == []


def test_check_asks_about_each_course_and_creator_once_and_at_most_twenty_quizzes(
    analyzer, anand_client, teacher
):
    quizzes = [draft_quiz(title=f"Q{i:02d}", teacher=teacher) for i in range(21)]
    found = check(anand_client, *quizzes)
    assert found[0] == (
        "warning",
        "Only the first 20 selected quizzes were checked; select fewer to check the rest.",
    )
    assert len(found) == 21  # the warning and 20 findings
    paths = [path for path, _ in asked(analyzer)]
    assert paths == ["/api/staff/course-detail", "/api/staff/dashboard"]


def test_check_ignores_another_teachers_quiz(analyzer, anand_client, priya_quiz):
    response = anand_client.post(
        QUIZZES_URL, {"action": "check_with_analyzer", "_selected_action": [priya_quiz.pk]}
    )
    assert all("OS T1" not in m.message for m in get_messages(response.wsgi_request))
    assert analyzer.control.received() == []


def test_check_does_not_change_marks(analyzer, anand_client, anand_quiz):
    mark = make_mark(quiz=anand_quiz, status="rejected", reason="course_not_found")
    check(anand_client, anand_quiz)
    assert TutorialMark.objects.get(pk=mark.pk).status == "rejected"
    assert TutorialMark.objects.get(pk=mark.pk).reason == "course_not_found"


# --- per course ---------------------------------------------------------------------------------


def test_a_teacher_checks_their_own_course_only(analyzer, anand_client, priya_quiz):
    found = check_courses(anand_client, "19XW51", "19XW52")
    assert [message.split(":")[0] for _, message in found] == [
        "Course 19XW51 (Compilers) exists on the Academic Analyzer"
    ]
    assert ("/api/staff/course-detail", {"courseId": "19XW52"}) not in asked(analyzer)
    assert not SyncState.objects.filter(key="check:19XW52").exists()


def test_a_course_check_lists_ten_students_not_enrolled_there_then_how_many_more(
    analyzer, anand_client, teacher
):
    for i in range(12):
        make_student(username=f"23R{i:03d}", courses=["19XW51"], first_name=f"S{i}")
    [(level, message)] = check_courses(anand_client, "19XW51")
    assert level == "error"
    named = ", ".join(f"23R{i:03d} S{i}" for i in range(10))
    assert (
        f"12 students on our roster of 19XW51 are not enrolled in it on the Academic Analyzer: "
        f"{named} and 2 more. Their marks will be refused. Next step: Ask the Analyzer "
        "administrator to enrol them in 19XW51" in message
    )
    kept = SyncState.objects.get(key="check:19XW51")  # for the health page
    assert len(kept.data["not_enrolled_there"]) == 12 and kept.reason == "not_enrolled"


def test_a_course_check_costs_the_same_queries_for_any_roster(
    analyzer, anand_client, teacher, django_assert_max_num_queries
):
    for i in range(40):
        make_student(username=f"23R{i:03d}", courses=["19XW51"])
    with django_assert_max_num_queries(25):  # session, auth, changelist, the check's 7
        check_courses(anand_client, "19XW51")
