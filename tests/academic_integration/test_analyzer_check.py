"""check_analyzer and the check behind it: exit codes, text and JSON, request and query bounds.

The Analyzer is `responses` with matchers on the query (what was asked is asserted), and once
the bundled fake over real HTTP.
"""

import json
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command
from responses import matchers

from academic_integration.analyzer_check import courses_analyzer_check
from academic_integration.models import SyncState
from academic_integration.sync_state import CHECK
from tests.conftest import CANARY_TOKEN
from tests.factories import make_course, make_quiz, make_student, make_teacher

pytestmark = pytest.mark.django_db

BASE = "http://analyzer.test/api"
COURSE_URL = f"{BASE}/staff/course-detail"
DASHBOARD_URL = f"{BASE}/staff/dashboard"


@pytest.fixture
def rsps(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    with responses.RequestsMock() as mock:
        yield mock


def roster(rsps, course_id, *rolls, name="Compilers", status=200):
    body = (
        {
            "success": True,
            "courseName": name,
            "students": [
                {"_id": f"id{r}", "rollno": r, "name": f"Name {r}", "email": f"{r}@x.edu"}
                for r in rolls
            ],
        }
        if status == 200
        else {"success": False, "message": "Course not found"}
    )
    return rsps.add(
        responses.GET,
        COURSE_URL,
        json=body,
        status=status,
        match=[matchers.query_param_matcher({"courseId": course_id})],
    )


def dashboard(rsps, email, *course_ids):
    body = (
        {
            "success": True,
            "name": email.split("@")[0],
            "courses": [{"_id": c, "courseId": c, "courseName": c} for c in course_ids],
        }
        if course_ids != (None,)
        else {"success": False, "message": "Teacher not found"}
    )
    return rsps.add(
        responses.GET,
        DASHBOARD_URL,
        json=body,
        status=404 if course_ids == (None,) else 200,
        match=[matchers.query_param_matcher({"email": email})],
    )


def unknown_teacher(rsps, email):
    return dashboard(rsps, email, None)


@pytest.fixture
def compilers(teacher):
    """19XW51 with anand, two students and anand's tutorial quiz."""
    course = make_course("19XW51")
    for roll, first in (("21Z201", "Arun"), ("21Z202", "Bhavya")):
        make_student(username=roll, courses=["19XW51"], first_name=first, last_name="K")
    make_quiz(
        title="Compilers T2",
        course_id="19XW51",
        created_by="anand@college.edu",
        enrol_everyone=False,
    )
    return course


def run(*args):
    """call_command's output and exit code (0 when it returned)."""
    out = StringIO()
    try:
        call_command("check_analyzer", *args, stdout=out)
    except CommandError as err:
        return out.getvalue(), err.returncode, str(err)
    return out.getvalue(), 0, ""


# --- exit 0 -----------------------------------------------------------------------------------


def test_nothing_refused_exits_0_and_says_who_marks_go_as(rsps, compilers):
    roster(rsps, "19XW51", "21Z201", "21Z202")
    dashboard(rsps, "anand@college.edu", "19XW51")

    out, code, _ = run()

    assert code == 0
    assert (
        "Course 19XW51 (Compilers) exists on the Academic Analyzer: 2 students here, 2 there; "
        "marks go as anand@college.edu." in out
    )
    assert "teachers known there: anand@college.edu (handles it)" in out
    assert "marks go as anand@college.edu (quiz_creator): “Compilers T2”" in out
    assert "1 fine, 0 with marks that would be refused" in out
    assert "ERROR" not in out and "WARNING" not in out


def test_a_creator_without_email_goes_as_a_course_teacher_the_analyzer_lists(rsps, compilers):
    nomail = make_teacher(username="nomail", email="")
    compilers.quizzes.update(created_by=nomail)
    roster(rsps, "19XW51", "21Z201", "21Z202")
    dashboard(rsps, "anand@college.edu", "19XW51")

    out, code, _ = run("--format", "json")

    assert code == 0
    [course] = json.loads(out)["courses"]
    assert course["senders"] == [
        {"email": "anand@college.edu", "source": "course_teacher", "quizzes": ["Compilers T2"]}
    ]


# --- exit 1 -----------------------------------------------------------------------------------


def test_students_not_enrolled_there_exit_1_with_json_per_course(rsps, compilers):
    make_student(username="21z203", courses=["19XW51"], first_name="Charan")
    roster(rsps, "19XW51", "21Z201", "21Z203", "21Z299")
    dashboard(rsps, "anand@college.edu", "19XW51")

    out, code, error = run("--format", "json")

    assert code == 1
    assert error == "Marks would be refused for course(s) 19XW51: see above."
    document = json.loads(out)
    assert document["exit_code"] == 1
    [course] = document["courses"]
    assert course["exists"] is True and course["name"] == "Compilers"
    assert course["teachers"] == {"known": ["anand@college.edu"], "handling": ["anand@college.edu"]}
    assert course["not_enrolled_there"] == [
        {"roll_no": "21Z202", "name": "Bhavya K"},
        {"roll_no": "21z203", "name": "Charan"},
    ]
    assert course["only_there"] == [
        {"roll_no": "21Z203", "name": "Name 21Z203"},
        {"roll_no": "21Z299", "name": "Name 21Z299"},
    ]
    problems = {p["code"]: p for p in course["problems"]}
    assert set(problems) == {"not_enrolled", "only_there"}
    assert problems["not_enrolled"]["exit_code"] == 1
    assert "21z203 is 21Z203 there" in problems["not_enrolled"]["next_step"]
    assert problems["only_there"] == {
        "code": "only_there",
        "message": "2 students enrolled in 19XW51 on the Academic Analyzer are not on our "
        "roster: 21Z203 Name 21Z203, 21Z299 Name 21Z299. They cannot take its quizzes here.",
        "next_step": "Import them into the course's roster here if they should take its quizzes.",
        "level": "info",
        "exit_code": 0,
    }
    assert course["exit_code"] == 1


def test_text_output_has_one_line_per_problem_with_its_next_step(rsps, compilers):
    roster(rsps, "19XW51", "21Z201")
    dashboard(rsps, "anand@college.edu", "19XW51")

    out, code, _ = run("--verbosity", "2")

    assert code == 1
    lines = out.splitlines()
    problem = lines.index(
        "  ERROR not_enrolled: 1 student on our roster of 19XW51 is not enrolled in it on "
        "the Academic Analyzer: 21Z202 Bhavya K. Their marks will be refused."
    )
    assert lines[problem + 1].startswith("    next step: Ask the Analyzer administrator to ")
    assert "    not enrolled there: 21Z202 Bhavya K" in lines  # -v 2 lists every student


def test_a_course_missing_on_the_analyzer_exits_1(rsps, compilers):
    roster(rsps, "19XW51", status=404)
    dashboard(rsps, "anand@college.edu")

    out, code, _ = run()

    assert code == 1
    assert "Course 19XW51 (Compilers) was not found on the Academic Analyzer." in out
    assert "ERROR course_not_found:" in out
    assert "ask its administrator to restore it" in out
    # Remembered as missing, as every course-detail answer is (inline delivery reads it).
    assert SyncState.objects.get(key="course:19XW51").reason == "course_not_found"


def test_a_creator_the_analyzer_does_not_know_exits_1(rsps, teacher):
    ravi = make_teacher(username="ravi", email="ravi@college.edu")
    make_quiz(title="Ravi's quiz", course_id="19XW51", created_by=ravi.email)
    roster(rsps, "19XW51")
    dashboard(rsps, "anand@college.edu", "19XW51")
    unknown_teacher(rsps, "ravi@college.edu")

    out, code, _ = run("--format", "json")

    assert code == 1
    [course] = json.loads(out)["courses"]
    codes = {p["code"]: p for p in course["problems"]}
    assert codes["creator_not_a_teacher"]["message"] == (
        "Marks of “Ravi's quiz” go as the quiz creator ravi@college.edu, who is not a teacher "
        "on the Analyzer: every one will be refused (teacher not found)."
    )
    assert codes["teacher_not_found"]["level"] == "warning"  # ravi teaches 19XW51 here
    assert course["teachers"]["known"] == ["anand@college.edu"]


def test_no_teacher_email_for_a_quiz_exits_1(rsps, compilers, settings):
    settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN = ""
    nomail = make_teacher(username="nomail", email="")
    compilers.quizzes.update(created_by=nomail)
    roster(rsps, "19XW51", "21Z201", "21Z202")
    dashboard(rsps, "anand@college.edu", "19XW99")  # known, but not handling 19XW51

    out, code, _ = run()

    assert code == 1
    assert "WARNING no_teacher_handling:" in out
    assert (
        "ERROR no_teacher_email: “Compilers T2”: the creator (nomail) has no email and no "
        "teacher of 19XW51 here is listed on the Analyzer as handling it" in out
    )


# --- exit 2 -----------------------------------------------------------------------------------


def test_sync_not_configured_exits_2_and_asks_nothing(compilers):
    out, code, error = run()

    assert code == 2
    says = "The Academic Analyzer could not be asked: sync is not configured."
    assert f"ERROR sync_disabled: {says}" in out
    assert "next step: Sync is not configured (ACADEMIC_ANALYZER_URL unset)" in out
    assert error.startswith(says)


@pytest.mark.parametrize(
    ("answer", "code", "says"),
    [
        (
            {"status": 401, "json": {"success": False, "code": "invalid_token", "message": "x"}},
            "token_rejected",
            "The Academic Analyzer could not be asked: the Academic Analyzer rejected our access "
            "token.",
        ),
        (
            {"status": 200, "body": "<html>login</html>", "content_type": "text/html"},
            "not_the_analyzer",
            "The Academic Analyzer could not be asked: the configured address is not the "
            "Academic Analyzer API.",
        ),
        (
            {"body": ConnectionError("refused")},
            "connection_error",
            "The Academic Analyzer could not be asked: could not reach the Academic Analyzer.",
        ),
        (
            {"status": 503, "body": "<html>maintenance</html>", "content_type": "text/html"},
            "unavailable",
            "The Academic Analyzer could not be asked: the Academic Analyzer is unavailable",
        ),
    ],
    ids=["token", "not-analyzer", "down", "maintenance"],
)
def test_an_analyzer_that_cannot_be_asked_exits_2_after_one_request(
    rsps, compilers, answer, code, says
):
    make_course("19XW52", name="Operating Systems")
    rsps.add(responses.GET, COURSE_URL, **answer)  # whatever is asked: only once

    out, exit_code, _ = run("--format", "json")

    assert exit_code == 2
    document = json.loads(out)
    assert [c["course_id"] for c in document["courses"]] == ["19XW51", "19XW52"]
    for course in document["courses"]:  # the second course was not asked: same reason
        [problem] = course["problems"]
        assert (course["exists"], problem["code"], problem["exit_code"]) == (None, code, 2)
        assert problem["message"].startswith(says)
    assert len(rsps.calls) == 1
    assert CANARY_TOKEN not in out


def test_an_unknown_course_here_is_a_command_error_and_nothing_is_asked(rsps, compilers):
    out, code, error = run("--course", "19XW51", "--course", "19XW5X")

    assert code == 2
    assert error.startswith("No course 19XW5X here")
    assert out == "" and len(rsps.calls) == 0


# --- bounds -----------------------------------------------------------------------------------


def test_one_course_detail_per_course_and_one_dashboard_per_teacher(rsps, teacher):
    priya = make_teacher(username="priya", email="priya@college.edu")
    for course_id in ("19XW51", "19XW52", "19XW53"):
        make_course(course_id, teachers=[teacher, priya])
        for number, creator in ((1, teacher), (2, priya)):
            make_quiz(
                title=f"{course_id} T{number}",
                course_id=course_id,
                tutorial_number=number,
                created_by=creator.email,
            )
    details = [roster(rsps, c) for c in ("19XW51", "19XW52", "19XW53")]
    dashboards = [
        dashboard(rsps, "anand@college.edu", "19XW51", "19XW52", "19XW53"),
        dashboard(rsps, "priya@college.edu", "19XW52"),
    ]

    out, code, _ = run("--course", "19XW53", "--course", "19XW51", "--course", "19XW52")

    assert code == 0, out
    assert [d.call_count for d in details] == [1, 1, 1]
    assert [d.call_count for d in dashboards] == [1, 1]


@pytest.mark.parametrize("students", [3, 30])
def test_the_check_costs_the_same_queries_for_3_students_or_30(
    rsps, teacher, django_assert_num_queries, students
):
    rolls = [f"22Z{i:03d}" for i in range(students)]
    for roll in rolls:
        make_student(username=roll, courses=["19XW51"])
    make_quiz(title="T1", course_id="19XW51", created_by=teacher.email, enrol_everyone=False)
    roster(rsps, "19XW51", *rolls[1:])
    dashboard(rsps, "anand@college.edu", "19XW51")
    from academic_integration.analyzer_check import courses_for_check

    # courses, their teachers, students and tutorial quizzes (4); the course and the teacher
    # remembered for inline delivery (2); the result kept for the health page (1).
    with django_assert_num_queries(7):
        result = courses_analyzer_check(courses=courses_for_check())

    assert len(result.courses[0].not_enrolled_there) == 1


def test_the_last_result_is_kept_per_course(rsps, compilers):
    roster(rsps, "19XW51", "21Z201")
    dashboard(rsps, "anand@college.edu", "19XW51")

    run()

    row = SyncState.objects.get(key=f"{CHECK}19XW51")
    assert row.reason == "not_enrolled"
    assert row.data["exit_code"] == 1
    assert row.data["not_enrolled_there"] == [{"roll_no": "21Z202", "name": "Bhavya K"}]


# --- over real HTTP, against the bundled fake ---------------------------------------------------


def test_against_the_fake_analyzer(analyzer, teacher):
    """The demo seed: 19XW51 (Compilers, anand, 21Z201-21Z204), 19XW52 (OS, priya)."""
    priya = make_teacher(username="priya", email="priya@college.edu")
    make_course("19XW52", name="Operating Systems", teachers=[priya, teacher])
    for roll in ("21Z201", "21Z202", "21Z203", "21Z204", "21Z299"):
        make_student(username=roll, courses=["19XW51"])
    make_quiz(title="Compilers T2", course_id="19XW51", created_by=teacher.email)
    make_quiz(title="OS T1", course_id="19XW52", created_by=priya.email, enrol_everyone=False)

    out, code, _ = run("--format", "json")

    assert code == 1
    courses = {c["course_id"]: c for c in json.loads(out)["courses"]}
    assert courses["19XW51"]["not_enrolled_there"] == [{"roll_no": "21Z299", "name": ""}]
    assert courses["19XW51"]["teachers"]["handling"] == ["anand@college.edu"]
    assert courses["19XW52"]["exit_code"] == 0
    assert [s["roll_no"] for s in courses["19XW52"]["only_there"]] == [
        "21Z201",
        "21Z202",
        "21Z203",
    ]
    assert courses["19XW52"]["teachers"] == {
        "known": ["anand@college.edu", "priya@college.edu"],
        "handling": ["priya@college.edu"],
    }
    asked = sorted((r["path"], tuple(r["query"].items())) for r in analyzer.control.received())
    assert asked == [
        ("/api/staff/course-detail", (("courseId", "19XW51"),)),
        ("/api/staff/course-detail", (("courseId", "19XW52"),)),
        ("/api/staff/dashboard", (("email", "anand@college.edu"),)),
        ("/api/staff/dashboard", (("email", "priya@college.edu"),)),
    ]
