"""`manage.py import_quiz FILE.json`: all or nothing, errors that name the field."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from quizzes.models import Choice, Question, Quiz
from tests.factories import make_course, make_quiz, make_teacher, quiz_data

User = get_user_model()


def write(tmp_path, data, name="quiz.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def import_quiz(path) -> str:
    out = StringIO()
    call_command("import_quiz", str(path), stdout=out)
    return out.getvalue()


def counts():
    return (
        Quiz.objects.count(),
        Question.objects.count(),
        Choice.objects.count(),
        User.objects.count(),
    )


# --- good files -----------------------------------------------------------------------------


def test_a_good_file_imports_a_published_quiz_with_questions_and_choices(teacher, tmp_path):
    data = quiz_data(title="Compilers Tutorial 2", grading_method="latest", max_attempts=3)
    out = import_quiz(write(tmp_path, data))

    quiz = Quiz.objects.get()
    assert (quiz.title, quiz.quiz_type, quiz.course_id, quiz.tutorial_number) == (
        "Compilers Tutorial 2",
        "tutorial",
        "19XW51",
        2,
    )
    assert (quiz.grading_method, quiz.max_attempts, quiz.is_published) == ("latest", 3, True)
    questions = list(quiz.questions.all())
    assert [(q.text, q.points, q.multiple) for q in questions] == [
        ("Which phase builds the parse tree?", 2, False),
        ("Select the IRs", 3, True),
    ]
    assert [(c.text, c.is_correct) for c in questions[1].choices.all()] == [
        ("SSA form", True),
        ("Three-address code", True),
        ("Source text", False),
    ]
    assert "Imported “Compilers Tutorial 2”" in out
    assert "with 2 questions, published" in out


def test_the_missing_teacher_is_created_as_staff_in_teachers(db, tmp_path):
    # Only for a practice quiz without a course: a course's quizzes need one of its teachers.
    data = quiz_data(created_by="new.teacher@college.edu", quiz_type="practice")
    data.update(course_id=None, tutorial_number=None)
    out = import_quiz(write(tmp_path, data))

    teacher = Quiz.objects.get().created_by
    assert teacher.email == "new.teacher@college.edu"
    assert teacher.is_staff
    assert not teacher.is_superuser
    assert list(teacher.groups.values_list("name", flat=True)) == ["Teachers"]
    assert not teacher.has_usable_password()
    assert "Created teacher new.teacher@college.edu" in out


def test_an_existing_teacher_is_reused(teacher, tmp_path):
    out = import_quiz(write(tmp_path, quiz_data(created_by="Anand@College.edu")))
    assert Quiz.objects.get().created_by == teacher
    assert "Created teacher" not in out


@pytest.mark.parametrize("absent", [True, False], ids=["absent", "null"])
def test_max_attempts_null_or_absent_means_unlimited(teacher, tmp_path, absent):
    data = quiz_data(max_attempts=None)
    if absent:
        del data["max_attempts"]
    import_quiz(write(tmp_path, data))
    assert Quiz.objects.get().max_attempts is None


@pytest.mark.parametrize("absent", [True, False], ids=["absent", "null"])
def test_a_practice_quiz_needs_no_tutorial_number(db, tmp_path, absent):
    data = quiz_data(quiz_type="practice", course_id=None, tutorial_number=None)
    if absent:
        del data["tutorial_number"], data["course_id"]
    out = import_quiz(write(tmp_path, data))
    quiz = Quiz.objects.get()
    assert (quiz.quiz_type, quiz.tutorial_number, quiz.is_published) == ("practice", None, True)
    assert "Practice" in out


def test_a_practice_quiz_may_name_its_course(db, tmp_path):
    make_course("19XW52", teachers=[make_teacher(email="anand@college.edu")])
    import_quiz(
        write(tmp_path, quiz_data(quiz_type="practice", course_id="19xw52", tutorial_number=None))
    )
    assert Quiz.objects.get().course_id == "19XW52"


def test_an_unpublished_quiz_does_not_take_the_slot(teacher, tmp_path):
    draft = make_quiz(created_by=teacher.email)
    draft.is_published = False
    draft.save()
    import_quiz(write(tmp_path, quiz_data()))
    assert Quiz.objects.filter(is_published=True).count() == 1


# --- bad files ------------------------------------------------------------------------------


def without(key, **overrides):
    data = quiz_data(**overrides)
    del data[key]
    return data


def question_with(**fields):
    question = {
        "text": "Which phase builds the parse tree?",
        "points": 2,
        "choices": [{"text": "Syntax analysis", "correct": True}, {"text": "Lexing"}],
    }
    question.update(fields)
    return question


def with_second_question(**fields):
    data = quiz_data()
    data["questions"][1] = question_with(**fields)
    return data


def with_second_question_missing(key):
    data = with_second_question()
    del data["questions"][1][key]
    return data


BAD_FILES = {
    "broken JSON": ('{"title": "Compilers",', "not valid JSON"),
    "top level not an object": ("[1, 2]", "(top level): must be a JSON object"),
    "missing title": (without("title"), "title: required"),
    "empty title": (quiz_data(title="  "), "title: required"),
    "unknown quiz type": (quiz_data(quiz_type="exam"), "quiz_type: must be one of"),
    "tutorial number 5": (quiz_data(tutorial_number=5), "tutorial_number: must be between 1 and 4"),
    "tutorial number 0": (quiz_data(tutorial_number=0), "tutorial_number: must be > 0"),
    "tutorial number as text": (quiz_data(tutorial_number="2"), "tutorial_number: must be a whole"),
    "missing tutorial number": (without("tutorial_number"), "tutorial_number: must be a whole"),
    "missing course id on a tutorial": (without("course_id"), "course_id: required"),
    "malformed course id": (quiz_data(course_id="19 XW 51!"), "course_id: A course id is"),
    "practice quiz with a tutorial number": (
        quiz_data(quiz_type="practice", tutorial_number=2),
        "tutorial_number: must be null or absent for a practice quiz",
    ),
    "practice quiz with a malformed course id": (
        quiz_data(quiz_type="practice", tutorial_number=None, course_id="X" * 21),
        "course_id:",
    ),
    "unknown grading method": (quiz_data(grading_method="best"), "grading_method: must be one"),
    "max attempts 0": (quiz_data(max_attempts=0), "max_attempts: must be > 0"),
    "max attempts too large": (quiz_data(max_attempts=10**6), "max_attempts: must be between"),
    "missing teacher": (without("created_by"), "created_by: must be the teacher's email"),
    "teacher not an email": (quiz_data(created_by="anand"), "created_by: must be the teacher's"),
    "teacher email too long": (
        quiz_data(created_by="a" * 60 + "@" + "b" * 50 + "." + "c" * 50 + ".edu"),
        "created_by: at most 150 characters",
    ),
    "no questions": (quiz_data(questions=[]), "questions: required: a non-empty list"),
    "questions not a list": (quiz_data(questions={"a": 1}), "questions: required"),
    "question not an object": (quiz_data(questions=["Why?"]), "questions[0]: must be an object"),
    "question without text": (with_second_question(text=""), "questions[1].text: required"),
    "no correct choice": (
        with_second_question(choices=[{"text": "a"}, {"text": "b", "correct": False}]),
        'questions[1].choices: mark at least one choice "correct": true',
    ),
    "single answer with two correct": (
        with_second_question(
            choices=[{"text": "a", "correct": True}, {"text": "b", "correct": True}]
        ),
        "questions[1].choices: a single-answer question has exactly one correct choice",
    ),
    "negative points": (with_second_question(points=-2), "questions[1].points: must be > 0"),
    "zero points": (with_second_question(points=0), "questions[1].points: must be > 0"),
    "missing points": (
        with_second_question_missing("points"),
        "questions[1].points: must be a whole number",
    ),
    "fractional points": (with_second_question(points=1.5), "questions[1].points: must be a whole"),
    "points too large": (with_second_question(points=10**12), "questions[1].points: must be betw"),
    "choices not a list": (
        with_second_question(choices="a, *b"),
        "questions[1].choices: required: a list of at least two choices",
    ),
    "one choice only": (
        with_second_question(choices=[{"text": "a", "correct": True}]),
        "questions[1].choices: required: a list of at least two choices",
    ),
    "choice not an object": (
        with_second_question(choices=["a", {"text": "b", "correct": True}]),
        "questions[1].choices[0]: must be an object",
    ),
    "choice without text": (
        with_second_question(choices=[{"correct": True}, {"text": "b"}]),
        "questions[1].choices[0].text: required",
    ),
    "correct not a boolean": (
        with_second_question(choices=[{"text": "a", "correct": "yes"}, {"text": "b"}]),
        "questions[1].choices[0].correct: must be true or false",
    ),
    "multiple not a boolean": (
        with_second_question(multiple="yes"),
        "questions[1].multiple: must be true or false",
    ),
    "choice text too long": (
        with_second_question(choices=[{"text": "a" * 501, "correct": True}, {"text": "b"}]),
        "questions[1].choices[0].text: at most 500 characters",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_fails_naming_the_field_and_writes_nothing(teacher, tmp_path, case):
    content, message = BAD_FILES[case]
    before = counts()

    with pytest.raises(CommandError) as failure:
        import_quiz(write(tmp_path, content))

    assert message in str(failure.value)
    assert "nothing imported" in str(failure.value) or "JSON" in str(failure.value)
    assert "Traceback" not in str(failure.value)
    assert counts() == before


def test_every_problem_is_listed_at_once(teacher, tmp_path):
    data = quiz_data(title="", tutorial_number=5)
    data["questions"][0]["points"] = 0
    with pytest.raises(CommandError) as failure:
        import_quiz(write(tmp_path, data))
    text = str(failure.value)
    assert "title: required" in text
    assert "tutorial_number: must be between 1 and 4" in text
    assert "questions[0].points: must be > 0" in text


def test_a_taken_slot_fails_and_writes_nothing(teacher, tmp_path):
    taken = make_quiz(title="Compilers Tutorial 2 (2025)")
    before = counts()
    with pytest.raises(CommandError) as failure:
        import_quiz(write(tmp_path, quiz_data(created_by="someone.new@college.edu")))
    assert (
        "tutorial_number: 19XW51 tutorial 2 is already set by the published quiz "
        f"“Compilers Tutorial 2 (2025)” (id {taken.pk})"
    ) in str(failure.value)
    assert counts() == before


def test_a_missing_file_fails(db, tmp_path):
    before = counts()
    with pytest.raises(CommandError, match="no such file"):
        import_quiz(tmp_path / "nope.json")
    assert counts() == before


def test_a_directory_instead_of_a_file_fails(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        import_quiz(tmp_path)


def test_a_file_that_is_not_utf8_fails(db, tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes('{"title": "Café"}'.encode("latin-1"))
    with pytest.raises(CommandError, match="not valid JSON"):
        import_quiz(path)


def test_a_bad_file_exits_non_zero_without_a_traceback(tmp_path):
    """The real command line: exit status 1, one clear message, no traceback."""
    path = write(tmp_path, with_second_question(points=-2))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    env["CACHE_URL"] = "locmemcache://"
    result = subprocess.run(
        [sys.executable, "manage.py", "import_quiz", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "questions[1].points: must be > 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
