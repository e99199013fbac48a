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
    env["DJANGO_ENV"] = "local"
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


# --- malformed files: a clear error, never a traceback, nothing written ---------------------


def good_text(**overrides) -> str:
    return json.dumps(quiz_data(**overrides))


def refused(tmp_path, text, *, name="quiz.json") -> str:
    """Import a file that must be refused; return the error message. Nothing is written."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    before = counts()
    with pytest.raises(CommandError) as caught:
        import_quiz(path)
    assert counts() == before
    message = str(caught.value)
    assert message.startswith(f"{path}: nothing imported:")
    return message


def test_thousands_of_nested_brackets_name_the_depth(db, tmp_path):
    text = good_text().replace('"max_attempts": null', '"max_attempts": ' + "[" * 5000 + "]" * 5000)
    assert "[[[[" in text
    message = refused(tmp_path, text)
    assert "nested more than 8 levels deep" in message


def test_brackets_inside_strings_do_not_count_as_nesting(teacher, tmp_path):
    text = good_text(description='[[[[[[[[[[{{{{{{{{{{ " [[[[[[[[[[')
    import_quiz(write(tmp_path, text))
    assert Quiz.objects.get().description.startswith("[[[[")


def test_a_5000_digit_number_names_the_number_size(db, tmp_path):
    text = good_text().replace('"max_attempts": null', '"max_attempts": ' + "7" * 5000)
    assert "7777" in text
    message = refused(tmp_path, text)
    assert "a number of more than 20 characters (7777777777…)" in message
    assert "7" * 30 not in message


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(db, tmp_path, constant):
    text = good_text().replace('"max_attempts": null', f'"max_attempts": {constant}')
    assert f"{constant} is not a JSON number" in refused(tmp_path, text)


def test_a_huge_float_is_refused_as_not_a_whole_number(db, tmp_path):
    text = good_text().replace('"max_attempts": null', '"max_attempts": 1e400')
    assert "max_attempts: must be a whole number" in refused(tmp_path, text)


def test_a_duplicate_key_is_refused_with_its_path(db, tmp_path):
    """Last-wins would flip "correct" silently: the file says two things, so it is refused."""
    text = good_text().replace('"correct": true}', '"correct": true, "correct": false}', 1)
    assert '"correct": false' in text
    message = refused(tmp_path, text)
    assert "questions[0].choices[0].correct: duplicate key" in message


def test_a_duplicate_top_level_key_is_refused(db, tmp_path):
    text = good_text().replace('{"title": ', '{"title": "First", "title": ', 1)
    assert "title: duplicate key" in refused(tmp_path, text)


def test_a_nul_byte_in_the_file_is_refused(db, tmp_path):
    text = good_text().encode().replace(b'"highest"', b'"high\x00est"')
    assert "(file): contains a NUL character (line 1)" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("title", "title"),
        ("question", "questions[1].text"),
        ("choice", "questions[0].choices[1].text"),
    ],
)
def test_an_escaped_nul_is_refused_on_every_database(db, tmp_path, where, path):
    """\\u0000 parses to NUL, which PostgreSQL cannot store: refused with its path, not a crash."""
    data = quiz_data()
    if where == "title":
        data["title"] = "Compilers\x00"
    elif where == "question":
        data["questions"][1]["text"] = "Select\x00 the IRs"
    else:
        data["questions"][0]["choices"][1]["text"] = "Lex\x00ing"
    text = json.dumps(data)
    assert "\\u0000" in text
    assert f"{path}: contains a NUL character" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d.update(max_attemps=3),
            "max_attemps: unknown key (did you mean “max_attempts”?)",
        ),
        (lambda d: d["questions"][0].update(point=2), "questions[0].point: unknown key (did you"),
        (
            lambda d: d["questions"][0]["choices"][0].update(corect=True),
            "questions[0].choices[0].corect: unknown key (did you mean “correct”?)",
        ),
        (
            lambda d: d.update(colour="red"),
            "colour: unknown key; known keys: closes_at, course_id,",
        ),
    ],
)
def test_an_unknown_key_is_refused_with_a_suggestion(db, tmp_path, mutate, expected):
    data = quiz_data()
    mutate(data)
    assert expected in refused(tmp_path, json.dumps(data))


def test_an_oversized_file_is_refused_naming_the_cap(db, tmp_path):
    from quizzes.quiz_file import MAX_FILE_BYTES

    text = good_text(description="x" * (MAX_FILE_BYTES + 10))
    message = refused(tmp_path, text)
    assert f"a quiz file is at most {MAX_FILE_BYTES:,} bytes" in message


def many_questions(n, *, choices=2, multiple=False):
    return [
        {
            "text": f"Question {i}",
            "points": 1,
            "multiple": multiple,
            "choices": [
                {"text": f"choice {j}", "correct": multiple or j == 0} for j in range(choices)
            ],
        }
        for i in range(n)
    ]


def test_1200_questions_are_refused_naming_the_cap(db, tmp_path):
    message = refused(tmp_path, json.dumps(quiz_data(questions=many_questions(1200))))
    assert "questions: 1200 questions; a quiz has at most 100 (MAX_QUESTIONS)" in message
    assert message.count("\n") == 1  # one line, not one per question


def test_too_many_choices_are_refused_naming_the_cap(db, tmp_path):
    message = refused(tmp_path, json.dumps(quiz_data(questions=many_questions(1, choices=9))))
    assert "questions[0].choices: 9 choices; a question has at most 8 (MAX_CHOICES)" in message


def test_the_real_command_refuses_nesting_without_a_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        CACHE_URL="locmemcache://",
        DJANGO_ENV="local",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "import_quiz", str(path)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "nested more than 8 levels deep" in result.stderr
    assert "Traceback" not in result.stderr


# --- a quiz at the caps stays under Django's field limit, for students and for admin ---------


def test_a_quiz_at_the_caps_can_be_submitted_with_every_box_ticked(teacher, tmp_path, client):
    from quizzes.importing import MAX_CHOICES, MAX_QUESTIONS
    from tests.factories import answers_for, make_student

    data = quiz_data(questions=many_questions(MAX_QUESTIONS, choices=MAX_CHOICES, multiple=True))
    import_quiz(write(tmp_path, data))
    quiz = Quiz.objects.get()
    client.force_login(make_student())
    attempt = client.get(quiz.get_absolute_url()).context["attempt"]
    answers = answers_for(quiz, correct=True)  # every choice is correct: every box ticked
    assert sum(len(v) for v in answers.values()) == MAX_QUESTIONS * MAX_CHOICES
    assert MAX_QUESTIONS * MAX_CHOICES + 1 <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = client.post(f"/attempts/{attempt.pk}/submit/", answers)
    assert response.status_code == 302
    attempt.refresh_from_db()
    assert attempt.completed_at is not None and attempt.score == 10


def test_admin_pages_of_a_quiz_at_the_caps_stay_under_the_field_limit(
    teacher, tmp_path, admin_client
):
    import re

    from quizzes.importing import MAX_CHOICES, MAX_QUESTIONS
    from tests.factories import admin_quiz_form

    data = quiz_data(questions=many_questions(MAX_QUESTIONS, choices=MAX_CHOICES, multiple=True))
    import_quiz(write(tmp_path, data))
    quiz = Quiz.objects.get()
    page = admin_client.get(f"/admin/quizzes/quiz/{quiz.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    names = re.findall(r'<(?:input|textarea|select)[^>]*\bname="([^"]+)"', body)
    assert 800 < len(names) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    assert len(page.content) < 2_000_000
    # And the whole quiz saves from its admin page.
    questions = [
        {
            "text": f"Q{i}",
            "points": "1",
            "multiple": "on",
            "choices_text": "\n".join(f"*c{j}" for j in range(MAX_CHOICES)),
        }
        for i in range(MAX_QUESTIONS)
    ]
    form = admin_quiz_form(questions, quiz=quiz, title=quiz.title, tutorial_number="2")
    assert len(form) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = admin_client.post(f"/admin/quizzes/quiz/{quiz.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert quiz.questions.filter(text="Q99").exists()


def test_admin_refuses_a_question_over_the_cap(db, admin_client):
    from quizzes.importing import MAX_QUESTIONS
    from tests.factories import admin_quiz_form

    one = {"text": "Q", "points": "1", "choices_text": "*a\nb"}
    response = admin_client.post(
        "/admin/quizzes/quiz/add/", admin_quiz_form([one] * (MAX_QUESTIONS + 1))
    )
    assert response.status_code == 200
    assert "101 questions: a quiz has at most 100 (MAX_QUESTIONS)" in response.content.decode()
    assert not Quiz.objects.exists()


def test_admin_refuses_choices_over_the_cap(db, admin_client):
    from tests.factories import admin_quiz_form

    nine = {"text": "Q", "points": "1", "choices_text": "*a\n" + "\n".join("bcdefghi")}
    response = admin_client.post("/admin/quizzes/quiz/add/", admin_quiz_form([nine]))
    assert response.status_code == 200
    assert "9 choices: a question has at most 8 (MAX_CHOICES)" in response.content.decode()
    assert not Quiz.objects.exists()


def test_admin_single_question_page_caps_choices_and_questions(teacher, tmp_path, admin_client):
    from quizzes.importing import MAX_CHOICES, MAX_QUESTIONS

    import_quiz(write(tmp_path, quiz_data(questions=many_questions(MAX_QUESTIONS))))
    quiz = Quiz.objects.get()
    response = admin_client.post(
        "/admin/quizzes/question/add/",
        {
            "quiz": quiz.pk,
            "text": "One more",
            "points": "1",
            "order": "0",
            "choices-TOTAL_FORMS": "0",
            "choices-INITIAL_FORMS": "0",
            "choices-MIN_NUM_FORMS": "0",
            "choices-MAX_NUM_FORMS": str(MAX_CHOICES),
        },
    )
    assert response.status_code == 200
    assert "already has 100 questions" in response.content.decode()
    assert quiz.questions.count() == MAX_QUESTIONS


# --- Hostile files (issue 23): what admin would misread, or a page would garble ----------------


def test_two_choices_with_the_same_text_are_refused(db, tmp_path):
    """Admin pairs choices by text: a right and a wrong "Lexing" would be saved as another
    question than the file said."""
    data = quiz_data()
    data["questions"][0]["choices"] = [
        {"text": "Lexing", "correct": True},
        {"text": "Syntax analysis"},
        {"text": " lexing "},
    ]
    message = refused(tmp_path, json.dumps(data))
    assert (
        "questions[0].choices[2].text: the same text as choices[0]; each choice of a question "
        "reads differently"
    ) in message


def test_a_choice_starting_with_the_admin_correct_mark_is_refused(db, tmp_path):
    data = quiz_data()
    data["questions"][0]["choices"][1]["text"] = "*Lexing"
    assert "questions[0].choices[1].text: cannot start with *" in refused(
        tmp_path, json.dumps(data)
    )


@pytest.mark.parametrize(
    ("where", "path", "char"),
    [
        ("title", "title", "\n"),
        ("title", "title", "\x1b"),
        ("choice", "questions[0].choices[1].text", "\r"),
        ("question", "questions[1].text", "\x07"),
    ],
)
def test_control_characters_are_refused_with_their_path(db, tmp_path, where, path, char):
    data = quiz_data()
    if where == "title":
        data["title"] = f"Compilers{char}Tutorial"
    elif where == "question":
        data["questions"][1]["text"] = f"Select{char} the IRs"
    else:
        data["questions"][0]["choices"][1]["text"] = f"Lex{char}ing"
    assert f"{path}: contains a control character (U+{ord(char):04X})" in refused(
        tmp_path, json.dumps(data)
    )


def test_line_breaks_in_a_question_text_are_kept(teacher, tmp_path):
    data = quiz_data()
    data["questions"][0]["text"] = "Which phase\nbuilds the parse tree?"
    import_quiz(write(tmp_path, data))
    assert Question.objects.filter(text="Which phase\nbuilds the parse tree?").exists()


# --- Creators are staff only (issue 23, item 3) ------------------------------------------------


@pytest.mark.parametrize("held_as", ["email", "username"])
def test_a_student_holding_the_teachers_email_is_a_clear_error_not_the_creator(
    db, tmp_path, held_as
):
    from tests.factories import make_student

    email = "newteacher@college.edu"
    make_student(username="21Z301" if held_as == "email" else email, email=email)
    data = quiz_data(quiz_type="practice", tutorial_number=None, created_by=email)
    data.pop("course_id", None)
    message = refused(tmp_path, json.dumps(data))
    assert "created_by: newteacher@college.edu belongs to the non-staff account" in message
    assert not Quiz.objects.exists()


def test_a_student_with_the_email_never_becomes_creator_when_a_teacher_has_it(db, tmp_path):
    from tests.factories import make_student

    student = make_student(username="21Z302", email="anand@college.edu")
    teacher = make_teacher(username="anand", email="anand@college.edu")
    assert student.pk < teacher.pk  # the lookup by email alone picked the first: the student
    data = quiz_data(quiz_type="practice", tutorial_number=None, created_by="anand@college.edu")
    data.pop("course_id", None)
    import_quiz(write(tmp_path, data))
    assert Quiz.objects.get().created_by == teacher
