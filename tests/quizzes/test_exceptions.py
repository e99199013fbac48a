"""Issue 20: per-student exceptions (extra attempts, a later closing, extra time), at the edges.

Each rule is tested where it starts and stops: the extra attempt that is exactly one more, the
extension's grace period to the second, the key held back until the last extension ends; and
who may set them: the course's teachers only, whatever is posted.
"""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quizzes.models import Quiz, QuizAttempt, StudentException
from quizzes.rules import QuizRules
from quizzes.selectors import quiz_rules_for, student_quizzes
from quizzes.services import NotCourseTeacher, student_exception_save
from tests.academic_integration.admin_fixtures import client_for
from tests.factories import (
    answers_for,
    make_course,
    make_exception,
    make_quiz,
    make_student,
    make_teacher,
)

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CLOSES = NOON + timedelta(hours=2)
EXTENDED = NOON + timedelta(days=1)
GRACE = Quiz.SUBMIT_GRACE
KEY_MARK = '<span class="ok">correct</span>'
ADD_URL = reverse("admin:quizzes_studentexception_add")
LIST_URL = reverse("admin:quizzes_studentexception_changelist")


def submit_url(attempt):
    return reverse("quizzes:attempt_submit", args=[attempt.pk])


def take(client, quiz, status=200):
    response = client.get(quiz.get_absolute_url())
    assert response.status_code == status, response.content.decode()[:500]
    return response.context.get("attempt") if status == 200 else response


def submit(client, attempt, quiz):
    return client.post(submit_url(attempt), answers_for(quiz))


@pytest.fixture
def pupils(teacher):
    """Two students of 19XW51: ``ext`` will have an exception, ``other`` never."""
    return make_student(username="21Z501"), make_student(username="21Z502")


@pytest.fixture
def clients(pupils):
    return tuple(client_for(p) for p in pupils)


@pytest.fixture
def dated_quiz(teacher, pupils):
    """Opens at noon, closes two hours later, one attempt."""
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        return make_quiz(
            title="Dated quiz",
            n_questions=2,
            created_by=teacher.email,
            max_attempts=1,
            opens_at=NOON.isoformat(),
            closes_at=CLOSES.isoformat(),
        )


# --- the rules, pure ----------------------------------------------------------------------------


def test_rules_widen_the_quiz_and_never_narrow_it():
    quiz = Quiz(opens_at=NOON, closes_at=CLOSES, max_attempts=2)
    assert QuizRules.build(quiz) == quiz.rules()
    rules = QuizRules.build(quiz, extra_attempts=1, closes_at=EXTENDED, extra_minutes=15)
    assert (rules.closes_at, rules.max_attempts, rules.extra_minutes) == (EXTENDED, 3, 15)
    assert rules.submit_deadline() == EXTENDED + GRACE and rules.extended()
    # A closing the quiz has since moved past counts no more: the later one holds.
    earlier = QuizRules.build(quiz, closes_at=CLOSES - timedelta(hours=1))
    assert earlier.closes_at == CLOSES and not earlier.extended()
    # A quiz that never closes or has unlimited attempts stays so.
    open_ended = QuizRules.build(Quiz(), extra_attempts=3, closes_at=EXTENDED)
    assert (open_ended.closes_at, open_ended.max_attempts) == (None, None)


@pytest.mark.parametrize(
    "now, accepted",
    [
        (EXTENDED + GRACE, True),  # the extended closing's grace period, edge included
        (EXTENDED + GRACE + timedelta(seconds=1), False),
    ],
)
def test_the_extended_closing_has_the_grace_period_too(now, accepted):
    rules = QuizRules.build(Quiz(closes_at=CLOSES), closes_at=EXTENDED)
    assert rules.is_closed(now)
    assert rules.accepts_submissions(now) is accepted


@pytest.mark.parametrize(
    "review, used, now, mine, visible",
    [
        # after the close: past the LAST extension's grace for everyone, the student's own too
        ("after_close", 1, CLOSES + GRACE + timedelta(seconds=1), None, False),
        ("after_close", 1, EXTENDED + GRACE, None, False),
        ("after_close", 1, EXTENDED + GRACE + timedelta(seconds=1), None, True),
        ("after_close", 1, EXTENDED + GRACE, EXTENDED, False),
        ("after_close", 1, EXTENDED + GRACE + timedelta(seconds=1), EXTENDED, True),
        # after the last attempt: the closing part waits alike; out of attempts does not
        ("after_last_attempt", 0, CLOSES + timedelta(hours=1), None, False),
        ("after_last_attempt", 1, CLOSES - timedelta(hours=1), None, True),
        ("after_last_attempt", 0, EXTENDED + GRACE + timedelta(seconds=1), None, True),
    ],
)
def test_review_after_the_close_waits_for_the_last_extension(review, used, now, mine, visible):
    quiz = Quiz(
        closes_at=CLOSES,
        max_attempts=1,
        review=review,
        review_correctness=review,
        review_score=review,
    )
    rules = QuizRules.build(quiz, closes_at=mine, last_closes_at=EXTENDED)
    assert rules.key_visible(attempts_used=used, now=now) is visible
    assert rules.correctness_visible(attempts_used=used, now=now) is visible
    assert rules.score_visible(attempts_used=used, now=now) is visible


def test_an_extra_attempt_counts_for_review_after_the_last_attempt():
    quiz = Quiz(max_attempts=1, review="after_last_attempt")
    rules = QuizRules.build(quiz, extra_attempts=1)
    assert not rules.key_visible(attempts_used=1, now=NOON)
    assert rules.key_visible(attempts_used=2, now=NOON)
    assert rules.attempts_left(used=1) == 1 and rules.attempts_left(used=5) == 0


# --- validation ---------------------------------------------------------------------------------


def _exception(quiz, student, **fields):
    return StudentException(quiz=quiz, student=student, reason="Medical", **fields)


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"closes_at": CLOSES}, "closes_at", "must be after the quiz's own closing"),
        ({"closes_at": CLOSES - timedelta(days=1)}, "closes_at", "never shortens"),
        ({"closes_at": CLOSES + timedelta(days=367)}, "closes_at", "at most a year"),
        ({"extra_attempts": 21}, "extra_attempts", "less than or equal to 20"),
        ({"extra_minutes": 601}, "extra_minutes", "less than or equal to 600"),
        ({"extra_attempts": -1}, "extra_attempts", "greater than or equal to 0"),
        ({}, "__all__", "An exception gives something"),
        ({"extra_minutes": 5, "reason": ""}, "reason", "cannot be blank"),
    ],
)
def test_the_model_refuses_values_out_of_range(dated_quiz, pupils, fields, field, message):
    exception = StudentException(quiz=dated_quiz, student=pupils[0], reason="Medical")
    for name, value in fields.items():
        setattr(exception, name, value)
    with pytest.raises(ValidationError) as err:
        exception.full_clean()
    assert any(message in m for m in err.value.message_dict[field]), err.value.message_dict


def test_one_second_after_the_quizs_closing_is_a_valid_extension(dated_quiz, pupils):
    _exception(dated_quiz, pupils[0], closes_at=CLOSES + timedelta(seconds=1)).full_clean()
    _exception(dated_quiz, pupils[0], closes_at=CLOSES + timedelta(days=366)).full_clean()


def test_the_student_must_be_on_the_quizs_roster(dated_quiz):
    elsewhere = make_student(username="21Z509", courses=["19XW52"])
    with pytest.raises(ValidationError) as err:
        _exception(dated_quiz, elsewhere, extra_minutes=5).full_clean()
    assert err.value.message_dict["student"] == ["This student is not on the roster of 19XW51."]


def test_what_the_quiz_does_not_limit_cannot_be_extended(teacher, pupils):
    open_ended = make_quiz(created_by=teacher.email, tutorial_number=3)  # no close, no limit
    with pytest.raises(ValidationError) as err:
        _exception(open_ended, pupils[0], closes_at=EXTENDED, extra_attempts=1).full_clean()
    assert set(err.value.message_dict) == {"closes_at", "extra_attempts"}
    practice = make_quiz(quiz_type="practice", course_id=None, tutorial_number=None)
    with pytest.raises(ValidationError, match="no roster"):
        _exception(practice, pupils[0], extra_minutes=5).full_clean()


def test_one_exception_per_quiz_and_student_in_the_database(dated_quiz, pupils):
    make_exception(quiz=dated_quiz, student=pupils[0], extra_attempts=1)
    with pytest.raises(ValidationError, match="already has an exception"):
        make_exception(quiz=dated_quiz, student=pupils[0], extra_minutes=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        StudentException.objects.create(
            quiz=dated_quiz, student=pupils[0], extra_minutes=5, reason="x"
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # gives nothing
        StudentException.objects.create(quiz=dated_quiz, student=pupils[1], reason="x")


# --- the student's pages ------------------------------------------------------------------------


def test_an_extra_attempt_lets_exactly_one_more(teacher, pupils, clients):
    quiz = make_quiz(created_by=teacher.email, n_questions=1, max_attempts=1)
    make_exception(quiz=quiz, student=pupils[0], extra_attempts=1)
    ext, other = clients
    first = take(ext, quiz)
    assert (
        "attempts left including this one: 2" in ext.get(quiz.get_absolute_url()).content.decode()
    )
    submit(ext, first, quiz)
    assert "attempts left: 1" in ext.get("/").content.decode()
    second = take(ext, quiz)
    result = ext.get(submit(ext, second, quiz).url).content.decode()
    assert 'data-testid="retake"' not in result
    refused = take(ext, quiz, status=403)
    assert "You have used all 2 attempts" in refused.content.decode()
    assert QuizAttempt.objects.filter(student=pupils[0]).count() == 2
    # The other student keeps the quiz's one.
    submit(other, take(other, quiz), quiz)
    assert "You have used all 1 attempts" in take(other, quiz, status=403).content.decode()


def test_an_extension_opens_the_quiz_past_its_closing_for_that_student_only(
    dated_quiz, pupils, clients
):
    make_exception(quiz=dated_quiz, student=pupils[0], closes_at=EXTENDED)
    ext, other = clients
    with time_machine.travel(CLOSES + timedelta(hours=1), tick=False):
        home = ext.get("/").content.decode()
        assert "(extended for you)" in home and "no new attempts" not in home
        page = ext.get(dated_quiz.get_absolute_url())
        assert page.status_code == 200 and "(extended for you)" in page.content.decode()
        assert "no new attempts" in other.get("/").content.decode()
        assert "(extended for you)" not in other.get("/").content.decode()
        assert "closed on" in take(other, dated_quiz, status=403).content.decode()
    with time_machine.travel(EXTENDED, tick=False):  # the extended closing: no new attempt
        QuizAttempt.objects.filter(student=pupils[0]).delete()
        assert "closed on 2 Dec 2026" in take(ext, dated_quiz, status=403).content.decode()


@pytest.mark.parametrize("late, accepted", [(GRACE, True), (GRACE + timedelta(seconds=1), False)])
def test_a_submit_is_accepted_until_the_extended_closing_plus_grace(
    dated_quiz, pupils, clients, late, accepted
):
    make_exception(quiz=dated_quiz, student=pupils[0], closes_at=EXTENDED)
    ext, _ = clients
    with time_machine.travel(EXTENDED - timedelta(minutes=1), tick=False):
        attempt = take(ext, dated_quiz)
    with time_machine.travel(EXTENDED + late, tick=False):
        response = submit(ext, attempt, dated_quiz)
    attempt.refresh_from_db()
    if accepted:
        assert response.status_code == 302 and attempt.score == 10
    else:
        assert response.status_code == 403
        assert "was not recorded" in response.content.decode()
        assert attempt.completed_at is None


def test_another_students_attempt_keeps_the_quizs_grace_period(dated_quiz, pupils, clients):
    make_exception(quiz=dated_quiz, student=pupils[0], closes_at=EXTENDED)
    _, other = clients
    with time_machine.travel(CLOSES - timedelta(minutes=1), tick=False):
        attempt = take(other, dated_quiz)
    with time_machine.travel(CLOSES + GRACE + timedelta(seconds=1), tick=False):
        assert submit(other, attempt, dated_quiz).status_code == 403


def test_the_key_waits_for_the_last_extension_for_everyone(teacher, pupils, clients):
    with time_machine.travel(NOON - timedelta(days=2), tick=False):
        quiz = make_quiz(
            created_by=teacher.email,
            n_questions=1,
            review="after_close",
            closes_at=CLOSES.isoformat(),
        )
    make_exception(quiz=quiz, student=pupils[0], closes_at=EXTENDED)
    ext, other = clients
    with time_machine.travel(NOON, tick=False):
        other_result = submit(other, take(other, quiz), quiz).url
    with time_machine.travel(CLOSES + timedelta(hours=1), tick=False):
        page = other.get(other_result).content.decode()
        assert KEY_MARK not in page
        # The date is the last closing; whose extension it is, is not said.
        assert "shown after the quiz closes for every student (2 Dec 2026 17:30 IST)" in page
        assert pupils[0].username not in page
        ext_result = submit(ext, take(ext, quiz), quiz).url
        page = ext.get(ext_result).content.decode()
        assert KEY_MARK not in page
        assert "shown after the quiz closes (2 Dec 2026 17:30 IST)" in page
    with time_machine.travel(EXTENDED + GRACE, tick=False):
        assert KEY_MARK not in other.get(other_result).content.decode()
    with time_machine.travel(EXTENDED + GRACE + timedelta(seconds=1), tick=False):
        assert KEY_MARK in other.get(other_result).content.decode()
        assert KEY_MARK in ext.get(ext_result).content.decode()


def test_home_reads_every_exception_in_its_one_list_query(teacher, pupils, clients):
    """The home page's queries do not grow with quizzes or exceptions."""

    def home_queries():
        with CaptureQueriesContext(connection) as queries:
            assert clients[0].get("/").status_code == 200
        return len(queries)

    quizzes = [
        make_quiz(created_by=teacher.email, tutorial_number=n, max_attempts=1) for n in (1, 2)
    ]
    home_queries()
    without = home_queries()
    for quiz in quizzes:
        make_exception(quiz=quiz, student=pupils[0], extra_attempts=2)
    for n in (3, 4):
        quiz = make_quiz(created_by=teacher.email, tutorial_number=n, max_attempts=1)
        make_exception(quiz=quiz, student=pupils[0], extra_attempts=1)
    assert home_queries() == without
    assert clients[0].get("/").content.decode().count("attempts left: 3") == 2


def test_quiz_rules_for_reads_a_listed_quiz_without_a_query(dated_quiz, pupils, teacher):
    make_exception(quiz=dated_quiz, student=pupils[0], extra_attempts=2, closes_at=EXTENDED)
    make_exception(quiz=dated_quiz, student=pupils[1], closes_at=EXTENDED + timedelta(hours=1))
    listed = student_quizzes(student=pupils[0]).get(pk=dated_quiz.pk)
    with CaptureQueriesContext(connection) as none:
        from_list = quiz_rules_for(quiz=listed, student=pupils[0])
    with CaptureQueriesContext(connection) as one:
        loaded = quiz_rules_for(quiz=dated_quiz, student=pupils[0])
    with CaptureQueriesContext(connection) as another:  # listed for someone else: read
        theirs = quiz_rules_for(quiz=listed, student=pupils[1])
    assert (len(none), len(one), len(another)) == (0, 1, 1)
    assert (theirs.closes_at, theirs.max_attempts) == (EXTENDED + timedelta(hours=1), 1)
    for rules in (from_list, loaded):
        assert (rules.closes_at, rules.max_attempts) == (EXTENDED, 3)
        assert rules.review_closes_at == EXTENDED + timedelta(hours=1)


# --- admin: who may, and what is recorded -------------------------------------------------------


@pytest.fixture
def courses(teacher, pupils, dated_quiz):
    """19XW51: anand (and the co-teacher ``co``) teach, ``pupils`` enrolled; 19XW52: ravi
    teaches, ``stranger`` enrolled, with its own quiz."""
    co = make_teacher(username="co")
    ravi = make_teacher(username="ravi", email="ravi@college.edu")
    make_course("19XW51", teachers=[co])
    stranger = make_student(username="21Z599", courses=[])
    make_course("19XW52", teachers=[ravi], students=[stranger])
    theirs = make_quiz(
        course_id="19XW52", created_by=ravi.email, enrol_everyone=False, max_attempts=1
    )
    return {"co": co, "ravi": ravi, "stranger": stranger, "theirs": theirs}


def _post(quiz, student, **fields):
    data = {
        "quiz": quiz.pk,
        "student": student.pk,
        "extra_attempts": "1",
        "closes_at_0": "",
        "closes_at_1": "",
        "extra_minutes": "0",
        "reason": "Medical certificate 3 Dec",
    }
    data.update(fields)
    return data


def test_a_teacher_adds_an_exception_and_who_and_when_are_recorded(
    teacher, pupils, dated_quiz, courses
):
    client = client_for(teacher)
    pupils[0].first_name, pupils[0].last_name = "Asha", "Raman"
    pupils[0].save(update_fields=["first_name", "last_name"])
    page = client.get(ADD_URL, {"quiz": dated_quiz.pk})
    form = page.context["adminform"].form
    assert set(form.fields["student"].queryset) == set(pupils)  # the quiz's roster
    assert set(form.fields["quiz"].queryset) == {dated_quiz}
    assert "selected>Dated quiz · Compilers (19XW51) · tutorial 2</option>" in page.content.decode()
    assert ">21Z501 · Asha Raman</option>" in page.content.decode()  # roll number and name
    assert form.initial["quiz"] == str(dated_quiz.pk)
    # created_by / updated_by in the POST are not fields: ignored.
    data = _post(dated_quiz, pupils[0], created_by=courses["co"].pk, updated_by=courses["co"].pk)
    with time_machine.travel(NOON, tick=False):
        response = client.post(f"{ADD_URL}?quiz={dated_quiz.pk}", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    exception = StudentException.objects.get()
    assert (exception.created_by, exception.updated_by) == (teacher, teacher)
    assert exception.created_at == exception.updated_at == NOON
    # A co-teacher changes it: the update is theirs, the creation stays anand's.
    change = reverse("admin:quizzes_studentexception_change", args=[exception.pk])
    with time_machine.travel(NOON + timedelta(hours=1), tick=False):
        data = _post(dated_quiz, pupils[0], extra_attempts="2", created_by=courses["co"].pk)
        assert client_for(courses["co"]).post(change, data).status_code == 302
    exception.refresh_from_db()
    assert (exception.extra_attempts, exception.created_by) == (2, teacher)
    assert (exception.updated_by, exception.updated_at) == (
        courses["co"],
        NOON + timedelta(hours=1),
    )
    assert exception.student == pupils[0]  # not movable, whatever is posted
    history = LogEntry.objects.filter(object_id=str(exception.pk)).order_by("pk")
    assert [(e.user, e.action_flag) for e in history] == [(teacher, 1), (courses["co"], 2)]


def test_the_change_page_shows_who_and_when_and_the_list_what_it_gives(teacher, pupils, dated_quiz):
    with time_machine.travel(NOON, tick=False):
        exception = student_exception_save(
            exception=_exception(dated_quiz, pupils[0], extra_attempts=1, closes_at=EXTENDED),
            by=teacher,
        )
    client = client_for(teacher)
    page = client.get(reverse("admin:quizzes_studentexception_change", args=[exception.pk]))
    recorded = '<div class="readonly">anand, 1 Dec 2026 17:30</div>'
    assert page.content.decode().count(recorded) == 2  # created, last changed
    assert set(page.context["adminform"].form.fields) == {
        "extra_attempts",
        "closes_at",
        "extra_minutes",
        "reason",
    }
    listed = client.get(LIST_URL, {"quiz": dated_quiz.pk}).content.decode()
    assert "1 extra attempt, closes 2 Dec 2026 17:30" in listed
    quiz_page = client.get(reverse("admin:quizzes_quiz_change", args=[dated_quiz.pk]))
    assert "1 student has an exception" in quiz_page.content.decode()
    assert f"{ADD_URL}?quiz={dated_quiz.pk}" in quiz_page.content.decode()


def test_a_teacher_of_another_course_can_neither_see_nor_make_one(
    teacher, pupils, dated_quiz, courses
):
    exception = make_exception(quiz=dated_quiz, student=pupils[0], extra_attempts=1)
    ravi = client_for(courses["ravi"])
    change = reverse("admin:quizzes_studentexception_change", args=[exception.pk])
    delete = reverse("admin:quizzes_studentexception_delete", args=[exception.pk])
    assert ravi.get(change).status_code == 404
    assert ravi.get(delete).status_code == 404
    assert ravi.post(delete, {"post": "yes"}).status_code == 404
    assert ravi.post(change, _post(dated_quiz, pupils[0], extra_attempts="9")).status_code == 404
    assert list(ravi.get(LIST_URL).context["cl"].result_list) == []
    # Tampered adds: anand's quiz, or his own quiz with anand's student.
    for data in (
        _post(dated_quiz, pupils[1]),
        _post(courses["theirs"], pupils[1]),
        _post(dated_quiz, courses["stranger"]),
    ):
        response = ravi.post(ADD_URL, data)
        assert response.status_code == 200 and response.context["adminform"].form.errors
    # Ravi's own students only are offered.
    offered = ravi.get(ADD_URL).context["adminform"].form.fields["student"].queryset
    assert set(offered) == {courses["stranger"]}
    exception.refresh_from_db()
    assert exception.extra_attempts == 1 and StudentException.objects.count() == 1
    # Bulk delete by the changelist action: not his to select.
    ravi.post(
        LIST_URL, {"action": "delete_selected", "_selected_action": [exception.pk], "post": "yes"}
    )
    assert StudentException.objects.filter(pk=exception.pk).exists()


def test_a_teacher_cannot_pick_a_student_of_another_of_their_courses(
    teacher, pupils, dated_quiz, courses
):
    make_course("19XW52", teachers=[teacher], students=[courses["stranger"]])
    response = client_for(teacher).post(ADD_URL, _post(dated_quiz, courses["stranger"]))
    errors = response.context["adminform"].form.errors
    assert errors["student"] == ["This student is not on the roster of 19XW51."]


def test_the_service_refuses_a_user_who_does_not_teach_the_course(dated_quiz, pupils, courses):
    with pytest.raises(NotCourseTeacher):
        student_exception_save(
            exception=_exception(dated_quiz, pupils[0], extra_minutes=5), by=courses["ravi"]
        )
    assert not StudentException.objects.exists()


def test_a_teacher_deletes_one_and_the_student_has_the_quizs_rules_again(
    teacher, pupils, dated_quiz, clients, caplog
):
    exception = make_exception(quiz=dated_quiz, student=pupils[0], closes_at=EXTENDED)
    delete = reverse("admin:quizzes_studentexception_delete", args=[exception.pk])
    assert client_for(teacher).post(delete, {"post": "yes"}).status_code == 302
    assert not StudentException.objects.exists()
    (line,) = [r.getMessage() for r in caplog.records if "student exception deleted" in r.message]
    assert "student=21Z501 by=anand" in line and "closes_at=2026-12-02T12:00:00+00:00" in line
    assert "Medical" not in line  # the reason may be medical: never logged
    with time_machine.travel(CLOSES + timedelta(hours=1), tick=False):
        take(clients[0], dated_quiz, status=403)


def test_a_student_reaches_no_exception_page(pupils, dated_quiz):
    exception = make_exception(quiz=dated_quiz, student=pupils[0], extra_attempts=1)
    client = client_for(pupils[0])
    for url in (
        LIST_URL,
        ADD_URL,
        reverse("admin:quizzes_studentexception_change", args=[exception.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- results grids ------------------------------------------------------------------------------


def test_the_grids_and_their_csv_show_each_students_exception(teacher, pupils, dated_quiz):
    Quiz.objects.filter(pk=dated_quiz.pk).update(time_limit_minutes=45)  # extra minutes need one
    dated_quiz.refresh_from_db()
    make_exception(
        quiz=dated_quiz, student=pupils[0], extra_attempts=1, closes_at=EXTENDED, extra_minutes=15
    )
    client = client_for(teacher)
    url = reverse("admin:quizzes_quiz_results", args=[dated_quiz.pk])
    rows = client.get(url).context["rows"]
    assert [(r[0], r[-1]) for r in rows] == [
        ("21Z501", "1 extra attempt, closes 2 Dec 2026 17:30, 15 extra minutes"),
        ("21Z502", "–"),
    ]
    text = client.get(url, {"format": "csv"}).content.decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "exception"
    assert table[1][-1] == "1 extra attempt, closes 2 Dec 2026 17:30, 15 extra minutes"
    assert table[2][-1] == ""
    course = client.get(reverse("admin:quizzes_course_results", args=["19XW51"]), {"format": "csv"})
    table = list(csv.reader(io.StringIO(course.content.decode())))
    assert table[0][-1] == "exceptions"
    assert table[1][-1] == "T2: 1 extra attempt, closes 2 Dec 2026 17:30, 15 extra minutes"


@pytest.mark.parametrize("value", ["abc", "99999999999999999999999", "-1"])
def test_a_tampered_quiz_filter_is_the_admins_bad_filter_page_not_a_server_error(
    teacher, pupils, dated_quiz, value
):
    make_exception(quiz=dated_quiz, student=pupils[0], extra_attempts=1)
    response = client_for(teacher).get(LIST_URL, {"quiz": value})
    assert response.status_code == 302 and response.url.endswith("?e=1")
    listed = client_for(teacher).get(LIST_URL, {"quiz": str(dated_quiz.pk)})
    assert len(listed.context["cl"].result_list) == 1
