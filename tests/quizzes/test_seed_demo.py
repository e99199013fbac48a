"""`manage.py seed_demo`: the demo data, safe to run twice."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from quizzes import demo_data
from quizzes.models import Choice, Question, Quiz

User = get_user_model()


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts():
    return tuple(m.objects.count() for m in (User, Quiz, Question, Choice))


def test_seed_demo_loads_teachers_students_and_quizzes(db):
    seed()
    for person in demo_data.TEACHERS:
        teacher = User.objects.get(username=person["username"])
        assert teacher.is_staff and not teacher.is_superuser
        assert teacher.groups.filter(name="Teachers").exists()
        assert teacher.check_password(demo_data.DEMO_PASSWORD)
    for person in demo_data.STUDENTS:
        student = User.objects.get(username=person["username"])
        assert not student.is_staff
        assert student.check_password(demo_data.DEMO_PASSWORD)
    assert User.objects.get(username="admin").is_superuser
    quizzes = Quiz.objects.filter(is_published=True)
    assert {q.quiz_type for q in quizzes} == {"tutorial", "practice"}
    assert {q.course_id for q in quizzes if q.is_tutorial()} == {
        c["course_id"] for c in demo_data.COURSES
    }
    assert quizzes.get(title="Compilers Tutorial 1").created_by.username == "anand"
    from quizzes.models import Course

    for course in demo_data.COURSES:
        row = Course.objects.get(pk=course["course_id"])
        assert row.name == course["name"]
        assert [t.email for t in row.teachers.all()] == [course["instructor"]]
        assert sorted(row.students.values_list("username", flat=True)) == course["students"]


def test_seed_demo_prints_the_logins_and_the_password(db):
    out = seed()
    assert demo_data.DEMO_PASSWORD in out
    for person in [*demo_data.STUDENTS, *demo_data.TEACHERS]:
        assert person["username"] in out
    assert "admin" in out


def test_seed_demo_twice_duplicates_nothing(db):
    seed()
    first = counts()
    out = seed()
    assert counts() == first
    assert "0 quizzes added" in out


def test_seed_demo_shows_the_quiz_rules_with_dates(db):
    """The demo has a quiz closing in a week (key after close) and one not open yet."""
    from django.utils import timezone

    seed()
    now = timezone.now()
    closing = Quiz.objects.get(title="Compilers Tutorial 3")
    assert closing.review == Quiz.Review.AFTER_CLOSE
    assert closing.opens_at is None and closing.closes_at > now
    upcoming = Quiz.objects.get(title="Operating Systems Tutorial 2")
    assert upcoming.opens_at > now and upcoming.closes_at > upcoming.opens_at
    assert upcoming.review == Quiz.Review.IMMEDIATELY


def test_seed_demo_has_every_question_type_in_the_walkthrough_quiz(db):
    """Compilers Tutorial 1, the quiz the README has people take, shows each question type:
    single and multiple choice (all or nothing, partial credit), true/false, numeric with a
    tolerance and short answer with several accepted answers."""
    seed()
    questions = Quiz.objects.get(title="Compilers Tutorial 1").questions.all()
    kinds = {(q.kind, q.multiple, q.scoring) for q in questions}
    assert kinds == {
        ("choice", False, "all_or_nothing"),
        ("choice", True, "all_or_nothing"),
        ("choice", True, "partial"),
        ("true_false", False, "all_or_nothing"),
        ("numeric", False, "all_or_nothing"),
        ("short_answer", False, "all_or_nothing"),
    }
    numeric = questions.get(kind="numeric")
    assert numeric.numeric_tolerance > 0
    assert len(questions.get(kind="short_answer").accepted_answer_list()) > 1
