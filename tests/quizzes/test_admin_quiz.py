"""Teachers author quizzes in the admin: a whole quiz on one page, scoped to their own."""

import pytest
from django.urls import reverse

from quizzes.models import Choice, Quiz, QuizAttempt
from tests.factories import QUESTION_PAGE_DEFAULTS, make_quiz, make_student, make_teacher
from tests.factories import admin_quiz_form as quiz_form

ADD_URL = reverse("admin:quizzes_quiz_add")
CHANGELIST_URL = reverse("admin:quizzes_quiz_changelist")

PARSE_TREE = {
    "text": "Which phase builds the parse tree?",
    "points": "2",
    "choices_text": "*Syntax analysis\nLexing\n\nCode generation\n",
}
IRS = {
    "text": "Select the IRs",
    "points": "3",
    "multiple": "on",
    "choices_text": "* SSA form\n*Three-address code\nSource text",
}


@pytest.fixture
def teacher_client(client, teacher):
    client.force_login(teacher)
    return client


def errors_of(response) -> str:
    assert response.status_code == 200, "the form should come back with errors"
    return response.content.decode()


# --- adding a quiz on one page --------------------------------------------------------------


def test_the_add_page_has_the_quiz_and_its_questions_with_choices(teacher_client):
    page = teacher_client.get(ADD_URL).content.decode()
    for name in ("title", "quiz_type", "course", "tutorial_number", "questions-0-choices_text"):
        assert f'name="{name}"' in page
    assert "Choices: one per line, start correct ones with *" in page


def test_a_teacher_adds_a_quiz_with_questions_and_choices_on_one_page(teacher_client, teacher):
    response = teacher_client.post(ADD_URL, quiz_form([PARSE_TREE, IRS]))

    assert response.status_code == 302
    assert response.url == CHANGELIST_URL
    quiz = Quiz.objects.get()
    assert (quiz.title, quiz.course_id, quiz.tutorial_number, quiz.is_published) == (
        "Compilers Tutorial 3",
        "19XW51",
        3,
        True,
    )
    assert quiz.created_by == teacher
    first, second = quiz.questions.all()
    assert (first.text, first.points, first.multiple) == (PARSE_TREE["text"], 2, False)
    assert [(c.text, c.is_correct) for c in first.choices.all()] == [
        ("Syntax analysis", True),
        ("Lexing", False),
        ("Code generation", False),
    ]
    assert (second.points, second.multiple) == (3, True)
    assert [(c.text, c.is_correct) for c in second.choices.all()] == [
        ("SSA form", True),
        ("Three-address code", True),
        ("Source text", False),
    ]


def test_the_course_dropdown_lists_only_the_courses_the_teacher_teaches(teacher_client):
    make_quiz(course_id="19XW52", created_by="priya@college.edu")  # 19XW52 is priya's
    page = teacher_client.get(ADD_URL).content.decode()
    assert '<option value="19XW51"' in page
    assert "19XW52" not in page


def test_a_practice_quiz_needs_no_course_or_tutorial_number(teacher_client):
    form = quiz_form([PARSE_TREE], quiz_type="practice", course_id="", tutorial_number="")
    assert teacher_client.post(ADD_URL, form).status_code == 302
    quiz = Quiz.objects.get()
    assert (quiz.quiz_type, quiz.tutorial_number) == ("practice", None)


def test_an_unpublished_draft_may_have_no_questions_yet(teacher_client):
    response = teacher_client.post(ADD_URL, quiz_form([], is_published=None))
    assert response.status_code == 302
    assert not Quiz.objects.get().is_published


INVALID = {
    "no correct choice": (
        quiz_form([{**PARSE_TREE, "choices_text": "Syntax analysis\nLexing"}]),
        "Mark at least one choice correct by starting its line with *.",
    ),
    "single answer with two correct": (
        quiz_form([{**PARSE_TREE, "choices_text": "*Syntax analysis\n*Lexing"}]),
        "A single-answer question has exactly one correct choice; choose a “Multiple answers”",
    ),
    "one choice only": (
        quiz_form([{**PARSE_TREE, "choices_text": "*Syntax analysis"}]),
        "Give at least two choices, one per line.",
    ),
    "zero points": (
        quiz_form([{**PARSE_TREE, "points": "0"}]),
        "Ensure this value is greater than or equal to 1.",
    ),
    "tutorial quiz without course id": (
        quiz_form([PARSE_TREE], course_id=""),
        "A tutorial quiz needs its course, e.g. 19XW51.",
    ),
    "tutorial quiz without tutorial number": (
        quiz_form([PARSE_TREE], tutorial_number=""),
        "A tutorial quiz needs a tutorial number 1–4.",
    ),
    "tutorial number 5": (
        quiz_form([PARSE_TREE], tutorial_number="5"),
        "Ensure this value is less than or equal to 4.",
    ),
    "a course the teacher does not teach (or that does not exist)": (
        quiz_form([PARSE_TREE], course_id="19XW52"),
        "Select a valid choice. That choice is not one of the available choices.",
    ),
    "two choices that read the same": (
        quiz_form([{**PARSE_TREE, "choices_text": "*Syntax analysis\nLexing\nsyntax  Analysis"}]),
        "“syntax  Analysis” is given twice: each choice of a question reads differently.",
    ),
    "max attempts 0": (
        quiz_form([PARSE_TREE], max_attempts="0"),
        "Ensure this value is greater than or equal to 1.",
    ),
    "publishing with no questions": (
        quiz_form([]),
        "A published quiz needs at least one question worth points: add a question or untick",
    ),
    "publishing with every question deleted": (
        quiz_form([{**PARSE_TREE, "DELETE": "on"}]),
        "A published quiz needs at least one question worth points",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_validation_errors_say_what_to_fix(teacher_client, case):
    form, message = INVALID[case]
    page = errors_of(teacher_client.post(ADD_URL, form))
    assert message in page.replace("&#x27;", "'")
    assert not Quiz.objects.exists()
    assert not Choice.objects.exists()


def test_a_taken_slot_is_refused_with_a_clear_message(teacher_client):
    make_quiz(course_id="19XW51", tutorial_number=3, created_by="priya@college.edu")
    page = errors_of(teacher_client.post(ADD_URL, quiz_form([PARSE_TREE])))
    assert "Another published tutorial quiz already sets this course&#x27;s tutorial mark." in page
    assert Quiz.objects.count() == 1


def test_a_draft_may_share_a_taken_slot(teacher_client):
    make_quiz(course_id="19XW51", tutorial_number=3)
    response = teacher_client.post(ADD_URL, quiz_form([PARSE_TREE], is_published=None))
    assert response.status_code == 302
    assert Quiz.objects.count() == 2


# --- scoping: a teacher sees their own quizzes ----------------------------------------------


def test_a_teacher_sees_only_their_own_quizzes(teacher_client, teacher):
    mine = make_quiz(title="Mine", created_by=teacher.email)
    theirs = make_quiz(title="Theirs", course_id="19XW52", created_by="priya@college.edu")
    page = teacher_client.get(CHANGELIST_URL).content.decode()
    assert reverse("admin:quizzes_quiz_change", args=[mine.pk]) in page
    assert reverse("admin:quizzes_quiz_change", args=[theirs.pk]) not in page


def test_the_changelist_filters_work_for_a_teacher(teacher_client, teacher):
    make_quiz(title="Tutorial one", created_by=teacher.email)
    make_quiz(title="Warm-up", quiz_type="practice", tutorial_number=None, created_by=teacher.email)
    response = teacher_client.get(CHANGELIST_URL, {"quiz_type__exact": "practice"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Warm-up" in page
    assert "Tutorial one" not in page


def test_a_superuser_sees_every_quiz(admin_client, teacher):
    make_quiz(title="Mine", created_by=teacher.email)
    make_quiz(title="Theirs", course_id="19XW52", created_by="priya@college.edu")
    page = admin_client.get(CHANGELIST_URL).content.decode()
    assert "Mine" in page and "Theirs" in page


def test_another_teachers_quiz_cannot_be_opened_or_changed(teacher_client):
    theirs = make_quiz(title="Theirs", course_id="19XW52", created_by="priya@college.edu")
    url = reverse("admin:quizzes_quiz_change", args=[theirs.pk])

    response = teacher_client.get(url)
    assert response.status_code in (302, 404)
    assert "Theirs" not in teacher_client.get(url, follow=True).content.decode()

    response = teacher_client.post(url, quiz_form([], quiz=theirs, title="Hijacked"))
    assert response.status_code in (302, 404)
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"


def test_a_teacher_sees_only_attempts_on_their_own_quizzes(teacher_client, teacher):
    mine = make_quiz(title="Mine", created_by=teacher.email)
    theirs = make_quiz(title="Theirs", course_id="19XW52", created_by="priya@college.edu")
    QuizAttempt.objects.create(student=make_student(username="21Z301"), quiz=mine)
    QuizAttempt.objects.create(student=make_student(username="21Z302"), quiz=theirs)
    page = teacher_client.get(reverse("admin:quizzes_quizattempt_changelist")).content.decode()
    assert "21Z301" in page
    assert "21Z302" not in page


# --- attempts: only superusers delete them --------------------------------------------------


@pytest.fixture
def attempt(teacher):
    quiz = make_quiz(created_by=teacher.email)
    return QuizAttempt.objects.create(student=make_student(), quiz=quiz)


def test_a_teacher_cannot_delete_attempts(teacher_client, attempt):
    url = reverse("admin:quizzes_quizattempt_delete", args=[attempt.pk])
    assert teacher_client.get(url).status_code == 403
    assert teacher_client.post(url, {"post": "yes"}).status_code == 403
    changelist = teacher_client.get(reverse("admin:quizzes_quizattempt_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    assert QuizAttempt.objects.filter(pk=attempt.pk).exists()


def test_a_superuser_can_delete_attempts(admin_client, attempt):
    url = reverse("admin:quizzes_quizattempt_delete", args=[attempt.pk])
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not QuizAttempt.objects.filter(pk=attempt.pk).exists()


def test_a_teacher_cannot_delete_quizzes(teacher_client, teacher):
    quiz = make_quiz(created_by=teacher.email)
    url = reverse("admin:quizzes_quiz_delete", args=[quiz.pk])
    assert teacher_client.post(url, {"post": "yes"}).status_code == 403
    assert Quiz.objects.filter(pk=quiz.pk).exists()


# --- editing ---------------------------------------------------------------------------------


def test_editing_choices_matches_them_by_text(teacher_client, teacher):
    """A reorder or a key change keeps each choice (answers stay attached); a new text is a
    new choice, and an unselected old one goes."""
    quiz = make_quiz(created_by=teacher.email, questions=[_import_question()])
    ids = dict(Choice.objects.filter(question__quiz=quiz).values_list("text", "pk"))
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    assert "*Syntax analysis\nLexing" in teacher_client.get(url).content.decode()

    edited = {**PARSE_TREE, "choices_text": "Lexing\n*Syntax analysis (parsing)"}
    form = quiz_form([edited], quiz=quiz, course_id="19XW51", tutorial_number="2")
    assert teacher_client.post(url, form).status_code == 302

    choices = list(Choice.objects.filter(question__quiz=quiz).order_by("order"))
    assert [(c.text, c.is_correct) for c in choices] == [
        ("Lexing", False),
        ("Syntax analysis (parsing)", True),
    ]
    assert choices[0].pk == ids["Lexing"]
    assert choices[1].pk not in ids.values()


def _answered(teacher, student, picks=("Syntax analysis",)):
    from quizzes.services import attempt_get_or_start, attempt_submit

    quiz = make_quiz(created_by=teacher.email, questions=[_import_question()])
    question = quiz.questions.get()
    chosen = set(question.choices.filter(text__in=picks).values_list("pk", flat=True))
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    attempt_submit(attempt_id=attempt.pk, student=student, answers={question.pk: chosen})
    attempt.refresh_from_db()
    return quiz, attempt


def _picked(attempt):
    from quizzes.models import AttemptAnswer

    answer = AttemptAnswer.objects.get(attempt=attempt)
    return [c.text for c in answer.selected_choices.all()]


def test_adding_a_distractor_on_top_keeps_students_answers_and_scores(
    teacher_client, teacher, student
):
    quiz, attempt = _answered(teacher, student)
    assert attempt.score == 10 and _picked(attempt) == ["Syntax analysis"]
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    edited = {**PARSE_TREE, "choices_text": "Maybe\n*Syntax analysis\nLexing"}
    form = quiz_form([edited], quiz=quiz, course_id="19XW51", tutorial_number="2")

    assert teacher_client.post(url, form).status_code == 302

    attempt.refresh_from_db()
    assert _picked(attempt) == ["Syntax analysis"]
    assert attempt.score == 10
    assert not quiz.regrades.exists()  # the key did not change: nothing to regrade


@pytest.mark.parametrize(
    "choices_text", ["*Syntax analysis (parsing)\nLexing", "*Lexing\nCode generation"]
)
def test_a_choice_students_selected_cannot_be_reworded_or_removed(
    teacher_client, teacher, student, choices_text
):
    quiz, attempt = _answered(teacher, student)
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    edited = {**PARSE_TREE, "choices_text": choices_text}
    form = quiz_form([edited], quiz=quiz, course_id="19XW51", tutorial_number="2")

    page = errors_of(teacher_client.post(url, form))

    assert "Students selected “Syntax analysis”" in page
    assert "add a new choice instead" in page
    assert sorted(Choice.objects.filter(question__quiz=quiz).values_list("text", flat=True)) == [
        "Lexing",
        "Syntax analysis",
    ]
    assert _picked(attempt) == ["Syntax analysis"]


def test_an_unselected_choice_may_go_and_a_key_change_still_regrades(
    teacher_client, teacher, student
):
    quiz, attempt = _answered(teacher, student)
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    # "Lexing" (nobody picked it) goes; the key moves to a new choice: a regrade.
    edited = {**PARSE_TREE, "choices_text": "Syntax analysis\n*Parsing"}
    form = quiz_form([edited], quiz=quiz, course_id="19XW51", tutorial_number="2")

    assert teacher_client.post(url, form).status_code == 302

    attempt.refresh_from_db()
    assert _picked(attempt) == ["Syntax analysis"]
    assert attempt.score == 0
    assert quiz.regrades.get().scores_changed == 1


def test_the_question_page_refuses_rewording_or_deleting_a_selected_choice(
    teacher_client, teacher, student
):
    quiz, attempt = _answered(teacher, student)
    question = quiz.questions.get()
    picked, other = question.choices.order_by("order")
    url = reverse("admin:quizzes_question_change", args=[question.pk])
    base = {
        "text": question.text,
        "points": "2",
        "order": "0",
        **QUESTION_PAGE_DEFAULTS,
        "choices-TOTAL_FORMS": "2",
        "choices-INITIAL_FORMS": "2",
        "choices-0-id": picked.pk,
        "choices-0-question": question.pk,
        "choices-0-text": "Maybe",
        "choices-0-order": "0",
        "choices-0-is_correct": "on",
        "choices-1-id": other.pk,
        "choices-1-question": question.pk,
        "choices-1-text": "Lexing",
        "choices-1-order": "1",
    }
    page = errors_of(teacher_client.post(url, base))
    assert "Students selected “Syntax analysis”" in page
    deleting = {**base, "choices-0-text": "Syntax analysis", "choices-0-DELETE": "on"}
    assert "Students selected “Syntax analysis”" in errors_of(teacher_client.post(url, deleting))
    assert _picked(attempt) == ["Syntax analysis"]
    # The unselected one may be re-worded there.
    fine = {**base, "choices-0-text": "Syntax analysis", "choices-1-text": "Lexical analysis"}
    assert teacher_client.post(url, fine).status_code == 302
    other.refresh_from_db()
    assert other.text == "Lexical analysis"


def test_the_question_page_refuses_two_choices_that_read_the_same(teacher_client, teacher):
    quiz = make_quiz(created_by=teacher.email, n_questions=1)
    question = quiz.questions.get()
    first, second = question.choices.order_by("order")[:2]
    url = reverse("admin:quizzes_question_change", args=[question.pk])
    data = {"text": question.text, "points": "2", "order": "0"}
    data |= {"choices-TOTAL_FORMS": "2", "choices-INITIAL_FORMS": "2"}
    for i, (choice, text) in enumerate([(first, first.text), (second, first.text.upper())]):
        data |= {
            f"choices-{i}-id": choice.pk,
            f"choices-{i}-question": question.pk,
            f"choices-{i}-text": text,
            f"choices-{i}-order": str(i),
        }
        if choice.is_correct:
            data[f"choices-{i}-is_correct"] = "on"
    page = errors_of(teacher_client.post(url, data))
    assert "is given twice: each choice of a question reads differently." in page
    second.refresh_from_db()
    assert second.text != first.text.upper()


def _import_question():
    return {
        "text": PARSE_TREE["text"],
        "points": 2,
        "choices": [{"text": "Syntax analysis", "correct": True}, {"text": "Lexing"}],
    }


def test_once_a_quiz_has_attempts_its_slot_and_type_are_read_only(teacher_client, teacher):
    quiz = make_quiz(created_by=teacher.email, questions=[_import_question()])
    QuizAttempt.objects.create(student=make_student(), quiz=quiz)
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])

    page = teacher_client.get(url).content.decode()
    for field in ("quiz_type", "course", "tutorial_number"):
        assert f'name="{field}"' not in page
    assert 'name="title"' in page

    form = quiz_form(
        [PARSE_TREE],
        quiz=quiz,
        title="Renamed",
        quiz_type="practice",
        course_id="19XW52",
        tutorial_number="4",
    )
    assert teacher_client.post(url, form).status_code == 302
    quiz.refresh_from_db()
    assert quiz.title == "Renamed"
    assert (quiz.quiz_type, quiz.course_id, quiz.tutorial_number) == ("tutorial", "19XW51", 2)


def test_without_attempts_the_slot_can_still_change(teacher_client, teacher):
    quiz = make_quiz(created_by=teacher.email, questions=[_import_question()])
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    form = quiz_form([PARSE_TREE], quiz=quiz, course_id="19XW51", tutorial_number="4")
    assert teacher_client.post(url, form).status_code == 302
    quiz.refresh_from_db()
    assert quiz.tutorial_number == 4


def test_teachers_group_has_no_delete_rights_on_quizzes_or_attempts(db):
    teacher = make_teacher()
    assert teacher.has_perm("quizzes.add_quiz")
    assert teacher.has_perm("quizzes.change_quiz")
    assert teacher.has_perm("quizzes.view_quizattempt")
    assert not teacher.has_perm("quizzes.delete_quiz")
    assert not teacher.has_perm("quizzes.delete_quizattempt")
    assert not teacher.has_perm("quizzes.change_quizattempt")


def test_a_question_students_answered_cannot_be_deleted_and_the_page_says_why(
    teacher_client, teacher, student
):
    from quizzes.services import attempt_get_or_start, attempt_submit

    quiz = make_quiz(created_by=teacher.email, questions=[_import_question(), _import_question()])
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    attempt_submit(attempt_id=attempt.pk, student=student, answers={})
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    form = quiz_form(
        [PARSE_TREE, {**PARSE_TREE, "DELETE": "on"}],
        quiz=quiz,
        course_id="19XW51",
        tutorial_number="2",
    )

    page = errors_of(teacher_client.post(url, form))

    assert "would require deleting the following protected related objects" in page
    assert quiz.questions.count() == 2


def test_the_quiz_page_reads_choices_once_whatever_the_number_of_questions(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(quiz):
        with CaptureQueriesContext(connection) as ctx:
            page = admin_client.get(reverse("admin:quizzes_quiz_change", args=[quiz.pk]))
        assert page.status_code == 200
        return len(ctx.captured_queries)

    small = make_quiz(n_questions=2, tutorial_number=1)
    large = make_quiz(n_questions=12, tutorial_number=2)
    queries(small)  # the first page of a session fills caches (content types, permissions)
    assert queries(small) == queries(large)
