"""Migration 0003: every quiz's course id becomes a Course; nothing delivered is lost or re-sent.

Runs on a database filled by the previous schema (the historical models of 0002), then
migrates forward and checks every row.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("quizzes", "0002_tutorial_quiz_needs_number"),
    ("academic_integration", "0003_mark_failing_since_unsettled_until"),
]
AFTER = [("quizzes", "0003_courses")]


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema():
    """Leave the database at the latest migrations: later tests (and later migrations, such
    as the quiz rules' 0004) expect every column."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


MARK_FIELDS = (
    "student_id",
    "course_id",
    "tutorial_number",
    "quiz_id",
    "value",
    "version",
    "delivered_version",
    "delivered_value",
    "status",
    "reason",
    "due_since",
    "updated_at",
)


@pytest.mark.django_db(transaction=True)
def test_quiz_course_ids_become_courses_with_teachers_and_students_and_marks_stay():
    old = migrate(BEFORE)
    User = old.get_model("auth", "User")
    Quiz = old.get_model("quizzes", "Quiz")
    Attempt = old.get_model("quizzes", "QuizAttempt")
    Mark = old.get_model("academic_integration", "TutorialMark")

    anand = User.objects.create(username="anand", email="anand@college.edu", is_staff=True)
    priya = User.objects.create(username="priya", email="priya@college.edu", is_staff=True)
    s1, s2, s3 = (User.objects.create(username=f"21Z20{i}") for i in (1, 2, 3))
    qa = Quiz.objects.create(
        title="A1", quiz_type="tutorial", course_id="19XW51", tutorial_number=1, created_by=anand
    )
    qa2 = Quiz.objects.create(
        title="A2", quiz_type="tutorial", course_id="19XW51", tutorial_number=2, created_by=priya
    )
    qb = Quiz.objects.create(
        title="B1", quiz_type="tutorial", course_id="19XW52", tutorial_number=1, created_by=priya
    )
    practice = Quiz.objects.create(
        title="P", quiz_type="practice", course_id="", tutorial_number=None, created_by=anand
    )
    now = timezone.now()
    for student, quiz in ((s1, qa), (s2, qa), (s2, qb), (s3, practice)):
        Attempt.objects.create(student=student, quiz=quiz, completed_at=now, score=Decimal("8"))
    Attempt.objects.create(student=s3, quiz=qa2)  # in progress: enrols too
    delivered = Mark.objects.create(
        student=s1,
        course_id="19XW51",
        tutorial_number=1,
        quiz=qa,
        value=Decimal("8"),
        version=3,
        delivered_version=3,
        delivered_value=Decimal("8"),
        delivered_at=now,
        status="delivered",
    )
    due = Mark.objects.create(
        student=s2,
        course_id="19XW52",
        tutorial_number=1,
        quiz=qb,
        value=Decimal("8"),
        version=2,
        delivered_version=1,
        status="retrying",
        reason="timeout",
        due_since=now,
    )
    marks_before = list(Mark.objects.order_by("pk").values_list(*MARK_FIELDS))

    new = migrate(AFTER)
    Course = new.get_model("quizzes", "Course")
    Quiz = new.get_model("quizzes", "Quiz")
    Mark = new.get_model("academic_integration", "TutorialMark")

    assert sorted(Course.objects.values_list("pk", flat=True)) == ["19XW51", "19XW52"]
    teachers = {
        c.pk: sorted(c.teachers.values_list("username", flat=True)) for c in Course.objects.all()
    }
    students = {
        c.pk: sorted(c.students.values_list("username", flat=True)) for c in Course.objects.all()
    }
    assert teachers == {"19XW51": ["anand", "priya"], "19XW52": ["priya"]}
    assert students == {"19XW51": ["21Z201", "21Z202", "21Z203"], "19XW52": ["21Z202"]}
    assert dict(Quiz.objects.values_list("title", "course_id")) == {
        "A1": "19XW51",
        "A2": "19XW51",
        "B1": "19XW52",
        "P": None,
    }
    # Nothing re-sent: every mark field, including versions and updated_at, is as it was.
    assert list(Mark.objects.order_by("pk").values_list(*MARK_FIELDS)) == marks_before
    assert Mark.objects.get(pk=delivered.pk).status == "delivered"
    assert Mark.objects.get(pk=due.pk).status == "retrying"


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_to_course_id_strings():
    new = migrate(AFTER)
    User = new.get_model("auth", "User")
    Course = new.get_model("quizzes", "Course")
    Quiz = new.get_model("quizzes", "Quiz")
    anand = User.objects.create(username="anand", is_staff=True)
    Course.objects.create(pk="19XW51")
    Quiz.objects.create(
        title="A1", quiz_type="tutorial", course_id="19XW51", tutorial_number=1, created_by=anand
    )
    Quiz.objects.create(title="P", quiz_type="practice", created_by=anand)
    old = migrate(BEFORE)
    Quiz = old.get_model("quizzes", "Quiz")
    assert dict(Quiz.objects.values_list("title", "course_id")) == {"A1": "19XW51", "P": ""}
    migrate(AFTER)
