"""A mark belongs to its course, and the course's teachers own it.

Two courses with two teachers each, one teacher teaching both: every URL, dropdown, action,
export and CSV, for a student, a teacher of A, a teacher of B, the teacher of both and a
superuser.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from academic_integration.models import TutorialMark
from quizzes.models import Question, Quiz, QuizAttempt
from tests.academic_integration.admin_fixtures import client_for, make_mark
from tests.factories import (
    admin_quiz_form,
    answers_for,
    make_course,
    make_exception,
    make_quiz,
    make_student,
    make_teacher,
)

A, B = "19XW51", "19XW52"


@pytest.fixture
def world(db):
    """A: a1 + ab teach, sa enrolled; B: b1 + ab teach, sb enrolled."""
    a1 = make_teacher(username="a1", email="a1@college.edu")
    b1 = make_teacher(username="b1", email="b1@college.edu")
    ab = make_teacher(username="ab", email="ab@college.edu")
    root = make_teacher(username="root", is_superuser=True)
    sa = make_student(username="21Z301", courses=[A], first_name="Arun", last_name="K")
    sb = make_student(username="21Z302", courses=[B], first_name="Bala", last_name="S")
    make_course(A, name="Compilers", teachers=[a1, ab])
    make_course(B, name="Operating Systems", teachers=[b1, ab])
    qa = make_quiz(
        title="QA", course_id=A, tutorial_number=1, created_by=a1.email, enrol_everyone=False
    )
    qb = make_quiz(
        title="QB", course_id=B, tutorial_number=1, created_by=b1.email, enrol_everyone=False
    )
    ma = make_mark(quiz=qa, student=sa, status="rejected", reason="student_not_found")
    mb = make_mark(quiz=qb, student=sb, status="rejected", reason="student_not_found")
    return {
        "users": {"sa": sa, "a1": a1, "b1": b1, "ab": ab, "root": root},
        "quiz": {A: qa, B: qb},
        "mark": {A: ma, B: mb},
        "attempt": {A: ma.attempt, B: mb.attempt},
    }


#: Which courses each role may see in admin.
SEES = {"a1": {A}, "b1": {B}, "ab": {A, B}, "root": {A, B}}


def object_urls(world, course):
    quiz, mark, attempt = world["quiz"][course], world["mark"][course], world["attempt"][course]
    question = quiz.questions.first()
    return [
        reverse("admin:quizzes_quiz_change", args=[quiz.pk]),
        reverse("admin:quizzes_question_change", args=[question.pk]),
        reverse("admin:quizzes_quizattempt_change", args=[attempt.pk]),
        reverse("admin:academic_integration_tutorialmark_change", args=[mark.pk]),
        reverse("admin:quizzes_course_change", args=[course]),
        reverse("admin:quizzes_course_results", args=[course]),
        reverse("admin:quizzes_course_results", args=[course]) + "?format=csv",
        reverse("admin:quizzes_quiz_results", args=[quiz.pk]),
        reverse("admin:quizzes_quiz_results", args=[quiz.pk]) + "?format=csv",
    ]


@pytest.mark.parametrize("role", ["a1", "b1", "ab", "root"])
def test_every_admin_url_of_an_object_answers_by_course(world, role):
    client = client_for(world["users"][role])
    for course in (A, B):
        for url in object_urls(world, course):
            status = client.get(url).status_code
            expected = 200 if course in SEES[role] else 404
            assert status == expected, (role, url, status)


@pytest.mark.parametrize("role", ["a1", "b1", "ab", "root"])
def test_view_on_site_is_404_alike_for_another_courses_objects_and_missing_ones(world, role):
    client = client_for(world["users"][role])
    for model, objects in (
        (Quiz, world["quiz"]),
        (QuizAttempt, world["attempt"]),
    ):
        ct = ContentType.objects.get_for_model(model)
        for course, obj in objects.items():
            response = client.get(f"/admin/r/{ct.pk}/{obj.pk}/")
            expected = 302 if course in SEES[role] else 404
            assert response.status_code == expected, (role, model, course)
        assert client.get(f"/admin/r/{ct.pk}/999999/").status_code == 404
        assert client.get(f"/admin/r/{ct.pk}/not-a-number/").status_code == 404


def test_view_on_site_asks_a_student_to_log_in_as_staff(world):
    ct = ContentType.objects.get_for_model(Quiz)
    response = client_for(world["users"]["sa"]).get(f"/admin/r/{ct.pk}/{world['quiz'][A].pk}/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize("role", ["a1", "b1", "ab", "root"])
def test_changelists_list_only_the_courses_objects(world, role):
    client = client_for(world["users"][role])
    for url, key in (
        ("/admin/quizzes/quiz/", "quiz"),
        ("/admin/quizzes/quizattempt/", "attempt"),
        ("/admin/academic_integration/tutorialmark/", "mark"),
    ):
        listed = {obj.pk for obj in client.get(url).context["cl"].result_list}
        assert listed == {world[key][c].pk for c in SEES[role]}, (role, url)
    courses = client.get("/admin/quizzes/course/").context["cl"].result_list
    assert {c.pk for c in courses} == SEES[role]


@pytest.mark.parametrize("role", ["a1", "b1", "ab", "root"])
def test_dropdowns_offer_only_the_teachers_courses_and_quizzes(world, role):
    client = client_for(world["users"][role])
    quiz_add = client.get(reverse("admin:quizzes_quiz_add"))
    courses = {c.pk for c in quiz_add.context["adminform"].form.fields["course"].queryset}
    assert courses == SEES[role]
    question_add = client.get(reverse("admin:quizzes_question_add"))
    quizzes = {q.pk for q in question_add.context["adminform"].form.fields["quiz"].queryset}
    assert quizzes == {world["quiz"][c].pk for c in SEES[role]}
    marks = client.get("/admin/academic_integration/tutorialmark/")
    course_filter = next(f for f in marks.context["cl"].filter_specs if f.title == "course")
    assert {value for value, _ in course_filter.lookup_choices} == SEES[role]


def test_a_teacher_cannot_put_a_quiz_into_another_courses_slot(world):
    client = client_for(world["users"]["a1"])
    form = admin_quiz_form(
        [{"text": "Q", "points": "1", "choices_text": "*yes\nno"}], course_id=B, tutorial_number=2
    )
    response = client.post(reverse("admin:quizzes_quiz_add"), form)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Quiz.objects.filter(course_id=B, tutorial_number=2).exists()


def test_a_teacher_cannot_move_their_quiz_into_another_course(world):
    a1 = world["users"]["a1"]
    draft = make_quiz(
        title="Draft", course_id=A, tutorial_number=3, created_by=a1.email, enrol_everyone=False
    )
    form = admin_quiz_form([], quiz=draft, course_id=B, title="Draft", is_published=None)
    client_for(a1).post(reverse("admin:quizzes_quiz_change", args=[draft.pk]), form)
    draft.refresh_from_db()
    assert draft.course_id == A


def test_a_co_teacher_cannot_move_a_quiz_into_a_course_its_creator_does_not_teach(world):
    a1, ab = world["users"]["a1"], world["users"]["ab"]
    draft = make_quiz(
        title="Draft", course_id=A, tutorial_number=3, created_by=a1.email, enrol_everyone=False
    )
    form = admin_quiz_form(
        [], quiz=draft, course_id=B, title="Draft", is_published=None, tutorial_number="3"
    )
    response = client_for(ab).post(reverse("admin:quizzes_quiz_change", args=[draft.pk]), form)
    assert response.status_code == 200
    assert "creator a1 is not a teacher of course 19XW52" in response.content.decode()
    draft.refresh_from_db()
    assert draft.course_id == A


def test_the_quiz_course_check_names_the_creator_who_does_not_teach_it(world):
    from quizzes.services import NotCourseTeacher, quiz_course_check

    a1, ab, root = world["users"]["a1"], world["users"]["ab"], world["users"]["root"]
    with pytest.raises(NotCourseTeacher, match="creator a1 is not a teacher of course 19XW52"):
        quiz_course_check(user=ab, creator=a1, course_id=B)
    with pytest.raises(NotCourseTeacher, match="creator a1"):
        quiz_course_check(user=root, creator=a1, course_id=B)  # a superuser neither
    quiz_course_check(user=ab, creator=a1, course_id=A)
    quiz_course_check(user=ab, creator=ab, course_id=B)


def test_a_co_teacher_edits_the_courses_quiz(world):
    quiz = world["quiz"][A]
    form = admin_quiz_form(
        [{"text": "Q", "points": "1", "choices_text": "*yes\nno"}],
        quiz=quiz,
        title="Renamed by ab",
        course_id=A,
        tutorial_number="1",
    )
    form["questions-INITIAL_FORMS"] = "0"
    response = client_for(world["users"]["ab"]).post(
        reverse("admin:quizzes_quiz_change", args=[quiz.pk]), form
    )
    assert response.status_code == 302
    quiz.refresh_from_db()
    assert quiz.title == "Renamed by ab"


def test_a_question_cannot_be_attached_to_another_courses_quiz(world):
    client = client_for(world["users"]["a1"])
    response = client.post(
        reverse("admin:quizzes_question_add"),
        {
            "quiz": world["quiz"][B].pk,
            "text": "100 points",
            "points": "100",
            "order": "0",
            "choices-TOTAL_FORMS": "0",
            "choices-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Question.objects.filter(text="100 points").exists()


def test_a_questions_quiz_cannot_be_changed(world):
    question = world["quiz"][A].questions.first()
    page = client_for(world["users"]["ab"]).get(
        reverse("admin:quizzes_question_change", args=[question.pk])
    )
    assert 'name="quiz"' not in page.content.decode()


@pytest.mark.parametrize("action", ["resync_now", "retry_after_fixing"])
def test_actions_touch_only_the_teachers_marks(world, action):
    ma, mb = world["mark"][A], world["mark"][B]
    client_for(world["users"]["a1"]).post(
        "/admin/academic_integration/tutorialmark/",
        {"action": action, "_selected_action": [ma.pk, mb.pk]},
    )
    mb_after = TutorialMark.objects.get(pk=mb.pk)
    assert (mb_after.status, mb_after.tries, mb_after.updated_at) == (
        mb.status,
        mb.tries,
        mb.updated_at,
    )
    if action == "retry_after_fixing":
        assert TutorialMark.objects.get(pk=ma.pk).status == "pending"


def test_the_teacher_of_both_courses_acts_on_both(world):
    ma, mb = world["mark"][A], world["mark"][B]
    client_for(world["users"]["ab"]).post(
        "/admin/academic_integration/tutorialmark/",
        {"action": "retry_after_fixing", "_selected_action": [ma.pk, mb.pk]},
    )
    assert set(TutorialMark.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.parametrize("role", ["a1", "b1", "ab", "root"])
def test_sync_health_counts_only_the_teachers_courses(world, role):
    page = client_for(world["users"][role]).get("/admin/academic_integration/tutorialmark/health/")
    health = page.context["health"]
    assert health.total == len(SEES[role])
    assert {row.course_id for row in health.reasons} == SEES[role]


# --- students -------------------------------------------------------------------------------


def test_a_student_sees_only_quizzes_of_their_courses(world):
    practice = make_quiz(
        title="Open practice", quiz_type="practice", course_id=None, tutorial_number=None
    )
    client = client_for(world["users"]["sa"])
    listed = [q.pk for q in client.get("/").context["quizzes"]]
    assert world["quiz"][A].pk in listed and practice.pk in listed
    assert world["quiz"][B].pk not in listed
    assert ">QB<" not in client.get("/").content.decode()  # "QB" alone may be in a CSRF token


def test_another_courses_quiz_is_404_for_taking_and_submitting(world):
    sa, qb = world["users"]["sa"], world["quiz"][B]
    client = client_for(sa)
    assert client.get(reverse("quizzes:quiz", args=[qb.pk])).status_code == 404
    assert client.get(reverse("quizzes:quiz", args=[999999])).status_code == 404
    # An attempt started while enrolled, submitted after leaving the course: 404, no mark.
    attempt = QuizAttempt.objects.create(student=sa, quiz=qb)
    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(qb))
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert attempt.completed_at is None
    assert not TutorialMark.objects.filter(student=sa, course_id=B).exists()


def test_an_enrolled_student_takes_and_submits(world):
    sa, qa = world["users"]["sa"], world["quiz"][A]
    client = client_for(sa)
    assert client.get(reverse("quizzes:quiz", args=[qa.pk])).status_code == 200
    attempt = QuizAttempt.objects.get(student=sa, quiz=qa, completed_at__isnull=True)
    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(qa))
    assert response.status_code == 302


# --- a slot's mark never changes hands --------------------------------------------------------


def test_a_delivered_mark_is_never_lowered_by_a_quiz_the_student_did_not_take(world):
    """The issue's story: unpublish a quiz with attempts, publish another into its slot."""
    a1, ab, sa = world["users"]["a1"], world["users"]["ab"], world["users"]["sa"]
    first = make_quiz(
        title="First",
        course_id=A,
        tutorial_number=2,
        created_by=a1.email,
        grading_method="latest",
        enrol_everyone=False,
    )
    client = client_for(sa)
    client.get(reverse("quizzes:quiz", args=[first.pk]))
    attempt = QuizAttempt.objects.get(student=sa, quiz=first, completed_at__isnull=True)
    client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(first))
    mark = TutorialMark.objects.get(student=sa, course_id=A, tutorial_number=2)
    TutorialMark.objects.filter(pk=mark.pk).update(
        status="delivered", delivered_version=mark.version, delivered_value=mark.value
    )
    assert mark.value == Decimal("10.00")

    # a1 unpublishes it: the slot stays held by the quiz whose attempts it has.
    Quiz.objects.filter(pk=first.pk).update(is_published=False)
    second = admin_quiz_form(
        [{"text": "Q", "points": "1", "choices_text": "*yes\nno"}],
        title="Second",
        course_id=A,
        tutorial_number="2",
        grading_method="latest",
    )
    response = client_for(ab).post(reverse("admin:quizzes_quiz_add"), second)
    assert response.status_code == 200
    assert "has students&#x27; attempts on the quiz “First”" in response.content.decode()
    assert not Quiz.objects.filter(title="Second").exists()

    # By import too.
    from quizzes.importing import QuizFileError, quiz_import
    from tests.factories import quiz_data

    with pytest.raises(QuizFileError, match="quiz with students' attempts “First”"):
        quiz_import(data=quiz_data(course_id=A, tutorial_number=2, created_by=ab.email))

    mark.refresh_from_db()
    assert (mark.value, mark.status, mark.quiz_id) == (Decimal("10.00"), "delivered", first.pk)

    # Republishing the same quiz is fine: the slot is its own.
    from quizzes.admin_forms import format_choices_text

    kept = [  # its choices as they are: students selected them
        {
            "text": q.text,
            "points": str(q.points),
            "multiple": "on" if q.multiple else "",
            "choices_text": format_choices_text(q.choices.order_by("order", "pk")),
        }
        for q in first.questions.all()
    ]
    form = admin_quiz_form(kept, quiz=first, title="First", course_id=A, tutorial_number="2")
    form["grading_method"] = "latest"
    response = client_for(a1).post(reverse("admin:quizzes_quiz_change", args=[first.pk]), form)
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.is_published


# --- import_quiz ------------------------------------------------------------------------------


def test_import_quiz_requires_the_creator_to_teach_the_course(world):
    from quizzes.importing import QuizFileError, quiz_import
    from tests.factories import quiz_data

    with pytest.raises(QuizFileError) as err:
        quiz_import(data=quiz_data(course_id=B, tutorial_number=3, created_by="a1@college.edu"))
    assert err.value.errors == [
        "created_by: a1@college.edu is not a teacher of course 19XW52; only its teachers may "
        "add quizzes to it (import the course's roster with `manage.py import_roster`)"
    ]
    with pytest.raises(QuizFileError, match="course_id: course 19XW99 does not exist here"):
        quiz_import(data=quiz_data(course_id="19XW99", created_by="a1@college.edu"))
    quiz = quiz_import(data=quiz_data(course_id=B, tutorial_number=3, created_by="AB@college.edu"))
    assert quiz.quiz.created_by == world["users"]["ab"]


# --- results grids ----------------------------------------------------------------------------


def test_the_quiz_grid_lists_every_enrolled_student_also_without_attempts(world):
    never = make_student(username="21Z399", courses=[A], first_name="Nila", last_name="V")
    quiz = world["quiz"][A]
    url = reverse("admin:quizzes_quiz_results", args=[quiz.pk])
    client = client_for(world["users"]["a1"])
    page = client.get(url)
    assert page.context["rows"][0][:4] == ["21Z301", "Arun K", 1, "7.50"]
    assert page.context["rows"][1][:4] == ["21Z399", "Nila V", 0, "–"]
    assert "21Z302" not in page.content.decode()  # B's student

    rows = list(csv.reader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    assert rows == [
        ["roll number", "name", "attempts used", "mark (of 10)", "sync status", "exception"],
        ["21Z301", "Arun K", "1", "7.50", "rejected", ""],
        ["21Z399", "Nila V", "0", "", "", ""],
    ]
    not_yet = client.get(url, {"status": "not_attempted", "format": "csv"}).content.decode()
    assert "21Z399" in not_yet and "21Z301" not in not_yet
    undelivered = client.get(url, {"status": "undelivered"}).context["rows"]
    assert [row[0] for row in undelivered] == ["21Z301"]
    assert [r[0] for r in client.get(url, {"q": "nila"}).context["rows"]] == [never.username]


def test_the_course_grid_has_a_column_group_per_tutorial(world):
    a1 = world["users"]["a1"]
    make_quiz(
        title="QA2", course_id=A, tutorial_number=2, created_by=a1.email, enrol_everyone=False
    )
    response = client_for(a1).get(
        reverse("admin:quizzes_course_results", args=[A]), {"format": "csv"}
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "roll number",
        "name",
        "T1 attempts",
        "T1 mark",
        "T1 sync status",
        "T2 attempts",
        "T2 mark",
        "T2 sync status",
        "exceptions",
    ]
    assert rows[1] == ["21Z301", "Arun K", "1", "7.50", "rejected", "0", "", "", ""]
    assert response["Content-Disposition"] == 'attachment; filename="results-19XW51.csv"'


def test_csv_cells_never_start_a_formula(world):
    make_student(username="21Z398", courses=[A], first_name="=HYPERLINK(1)")
    text = (
        client_for(world["users"]["a1"])
        .get(reverse("admin:quizzes_course_results", args=[A]), {"format": "csv"})
        .content.decode()
    )
    assert "'=HYPERLINK(1)" in text


@pytest.mark.parametrize("n", [10, 500])
@pytest.mark.parametrize("which", ["quiz", "course"])
def test_results_grid_queries_are_pinned_and_equal_for_10_and_500(
    world, n, which, django_assert_num_queries
):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    User.objects.bulk_create([User(username=f"G{i:04d}") for i in range(n)])
    world["quiz"][A].course.students.add(*User.objects.filter(username__startswith="G"))
    url = (
        reverse("admin:quizzes_quiz_results", args=[world["quiz"][A].pk])
        if which == "quiz"
        else reverse("admin:quizzes_course_results", args=[A])
    )
    client = client_for(world["users"]["a1"])
    # session, user, 2 permission reads; the quiz (or the course and its slots); the rows;
    # the per-student exceptions (one query for any number, some of them with one).
    Quiz.objects.filter(pk=world["quiz"][A].pk).update(time_limit_minutes=30)
    world["quiz"][A].refresh_from_db()  # a timed quiz: extra minutes need a limit to add to
    for student in User.objects.filter(username__startswith="G")[:5]:
        make_exception(quiz=world["quiz"][A], student=student, extra_minutes=10)
    expected = 4 + (1 if which == "quiz" else 2) + 1 + 1
    for params in ({}, {"format": "csv", "status": "not_attempted", "q": "G"}):
        with django_assert_num_queries(expected):
            response = client.get(url, params)
        assert response.status_code == 200
    assert response.content.decode().count("\n") == n + 1


# --- per-course check ---------------------------------------------------------------------------


def test_check_a_course_with_the_analyzer(analyzer, db):
    anand = make_teacher(username="anand", email="anand@college.edu")
    other = make_teacher(username="ravi", email="ravi@college.edu")
    make_course("19XW51", teachers=[anand])
    make_course("19XW52", teachers=[other])
    make_course("19XW99", teachers=[anand, other])
    root = make_teacher(username="root", is_superuser=True)
    response = client_for(root).post(
        "/admin/quizzes/course/",
        {"action": "check_with_analyzer", "_selected_action": ["19XW51", "19XW52", "19XW99"]},
        follow=True,
    )
    found = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert found[0][0] == "success"
    assert found[0][1].startswith(
        "Course 19XW51 (Compilers) exists on the Academic Analyzer: 0 students here, 4 there."
    )
    assert found[1][0] == "warning"
    assert (
        "Teacher ravi@college.edu of 19XW52 here is not a teacher on the Analyzer" in (found[1][1])
    )
    assert found[2][0] == "error" and "Course 19XW99 was not found" in found[2][1]


def test_a_teacher_checks_only_their_own_courses(analyzer, world):
    response = client_for(world["users"]["a1"]).post(
        "/admin/quizzes/course/",
        {"action": "check_with_analyzer", "_selected_action": [A, B]},
        follow=True,
    )
    messages = [m.message for m in response.context["messages"]]
    assert len(messages) == 1 and "19XW51" in messages[0]


def test_a_student_reaches_no_admin_url_of_either_course(world):
    client = client_for(world["users"]["sa"])
    for course in (A, B):
        for url in [*object_urls(world, course), "/admin/quizzes/course/import/"]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/"), url
