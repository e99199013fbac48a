"""Issue 20: partial credit and the typed question types, end to end on the server: import,
taking, the result page, regrades and admin authoring."""

from decimal import Decimal

import pytest
from django.urls import reverse

from quizzes.importing import MAX_CHOICES, quiz_validate
from quizzes.models import AttemptAnswer, Choice, Question, QuizAttempt
from quizzes.quiz_file import QuizFileError
from tests.factories import admin_quiz_form, make_quiz

NUMERIC = {
    "text": "What is 7 / 2?",
    "points": 2,
    "type": "numeric",
    "answer": 3.5,
    "tolerance": 0.1,
}
SHORT = {
    "text": "The capital of France?",
    "points": 1,
    "type": "short_answer",
    "answers": ["Paris", "Paris, France"],
    "ignore_case": True,
}
TRUE_FALSE = {
    "text": "Lexing comes before parsing.",
    "points": 1,
    "type": "true_false",
    "answer": True,
}
PARTIAL = {
    "text": "Select the IRs",
    "points": 3,
    "multiple": True,
    "scoring": "partial",
    "choices": [
        {"text": "SSA form", "correct": True},
        {"text": "Three-address code", "correct": True},
        {"text": "Source text"},
    ],
}


@pytest.fixture
def typed_quiz(teacher):
    return make_quiz(
        questions=[NUMERIC, SHORT, TRUE_FALSE, PARTIAL],
        created_by=teacher.email,
        review="immediately",
    )


def q(quiz, kind_or_text):
    return Question.objects.get(quiz=quiz, text=kind_or_text)


def start(client, quiz):
    response = client.get(quiz.get_absolute_url())
    assert response.status_code == 200
    return response.context["attempt"], response.content.decode()


def post(client, attempt, data):
    return client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)


# --- import ----------------------------------------------------------------------------------


def test_import_stores_each_type_and_its_key(typed_quiz):
    numeric, short, true_false, partial = typed_quiz.questions.all()
    assert (numeric.kind, numeric.numeric_answer, numeric.numeric_tolerance) == (
        "numeric",
        Decimal("3.5"),
        Decimal("0.1"),
    )
    assert (short.kind, short.accepted_answer_list(), short.ignore_case) == (
        "short_answer",
        ["Paris", "Paris, France"],
        True,
    )
    assert true_false.kind == "true_false"
    assert [(c.text, c.is_correct) for c in true_false.choices.all()] == [
        ("True", True),
        ("False", False),
    ]
    assert (partial.kind, partial.multiple, partial.scoring) == ("choice", True, "partial")
    assert not numeric.choices.exists() and not short.choices.exists()


def _errors(question):
    data = {
        "title": "T",
        "quiz_type": "practice",
        "created_by": "anand@college.edu",
        "questions": [question],
    }
    with pytest.raises(QuizFileError) as failure:
        quiz_validate(data)
    return failure.value.errors


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({**NUMERIC, "type": "essay"}, "questions[0].type: must be one of choice, true_false"),
        ({**NUMERIC, "answer": "3.5"}, "questions[0].answer: required: a number"),
        ({**NUMERIC, "answer": True}, "questions[0].answer: required: a number"),
        ({**NUMERIC, "tolerance": -0.1}, "questions[0].tolerance: must be 0 or more"),
        ({**NUMERIC, "answer": 1.1234567}, "questions[0].answer: has at most 6 digits after"),
        ({**NUMERIC, "answer": 10**12}, "questions[0].answer: must be less than 10^12"),
        ({**NUMERIC, "choices": []}, "questions[0].choices: not used by a numeric question"),
        ({**SHORT, "answers": []}, "questions[0].answers: required: a list of accepted answers"),
        (
            {**SHORT, "answers": ["Paris", " "]},
            "questions[0].answers[1]: must be a non-empty string",
        ),
        ({**SHORT, "answers": ["a\nb"]}, "questions[0].answers[0]: must be one line"),
        ({**SHORT, "answers": ["x" * 201]}, "questions[0].answers[0]: at most 200 characters"),
        (
            {**SHORT, "answers": [str(i) for i in range(MAX_CHOICES + 1)]},
            f"questions[0].answers: {MAX_CHOICES + 1} accepted answers; a question has at most",
        ),
        ({**SHORT, "ignore_case": "yes"}, "questions[0].ignore_case: must be true or false"),
        ({**SHORT, "tolerance": 1}, "questions[0].tolerance: not used by a short_answer question"),
        ({**TRUE_FALSE, "answer": "true"}, "questions[0].answer: required: true or false"),
        (
            {**PARTIAL, "scoring": "half"},
            "questions[0].scoring: must be one of all_or_nothing, partial",
        ),
        (
            {**PARTIAL, "multiple": False},
            'questions[0].scoring: partial credit is for "multiple": true',
        ),
        ({**PARTIAL, "answers": ["x"]}, "questions[0].answers: not used by a choice question"),
    ],
)
def test_import_errors_name_the_question_and_field(db, question, message):
    assert any(e.startswith(message) for e in _errors(question)), _errors(question)


def test_a_numeric_question_without_tolerance_is_exact(db):
    data = quiz_validate(
        {
            "title": "T",
            "quiz_type": "practice",
            "created_by": "a@college.edu",
            "questions": [{"text": "2+2", "points": 1, "type": "numeric", "answer": 4}],
        }
    )
    assert data["questions"][0]["numeric_tolerance"] == 0


# --- taking the quiz and the result page --------------------------------------------------------


def test_the_take_page_has_a_text_input_per_typed_question(student_client, typed_quiz):
    _, page = start(student_client, typed_quiz)
    numeric, short = q(typed_quiz, NUMERIC["text"]), q(typed_quiz, SHORT["text"])
    assert f'name="t_{numeric.pk}"' in page and 'inputmode="decimal"' in page
    assert f'name="t_{short.pk}"' in page
    assert page.count('type="radio"') == 2  # true / false
    assert "each right tick earns a share" in page


def _all_answers(quiz, *, number="3,55", word=" paris ", irs=("SSA form",)):
    numeric, short = q(quiz, NUMERIC["text"]), q(quiz, SHORT["text"])
    true_false, partial = q(quiz, TRUE_FALSE["text"]), q(quiz, PARTIAL["text"])
    return {
        f"t_{numeric.pk}": number,
        f"t_{short.pk}": word,
        f"q_{true_false.pk}": [Choice.objects.get(question=true_false, text="True").pk],
        f"q_{partial.pk}": list(
            Choice.objects.filter(question=partial, text__in=irs).values_list("pk", flat=True)
        ),
    }


def test_typed_answers_and_partial_credit_are_scored_on_submit(student_client, typed_quiz):
    attempt, _ = start(student_client, typed_quiz)
    response = post(student_client, attempt, _all_answers(typed_quiz))
    assert response.status_code == 302
    attempt.refresh_from_db()
    # 2 (numeric, 3.55 within 3.5 ± 0.1) + 1 (Paris, any case) + 1 (true) + 1.5 (1 of k=2 IRs)
    assert (attempt.earned_points, attempt.total_points, attempt.score) == (
        Decimal("5.5"),
        7,
        Decimal("7.86"),
    )
    answers = {a.question.text: a for a in AttemptAnswer.objects.filter(attempt=attempt)}
    assert answers[NUMERIC["text"]].response == "3,55"
    assert answers[SHORT["text"]].response == "paris"  # trimmed
    partial = answers[PARTIAL["text"]]
    assert (partial.is_correct, partial.points_awarded) == (False, Decimal("1.5"))

    page = student_client.get(response.url).content.decode()
    assert "5.5 of 7 points" in page
    assert "◐ partly right</strong> (1.5 / 3)" in page
    assert '<strong data-testid="response">3,55</strong>' in page
    assert "Accepted: 3.5 ± 0.1" in page
    assert "Accepted answers (any case): Paris · Paris, France" in page


def test_a_hidden_key_hides_the_accepted_answers_too(student_client, teacher):
    quiz = make_quiz(questions=[NUMERIC], created_by=teacher.email, review="never")
    attempt, _ = start(student_client, quiz)
    response = post(student_client, attempt, {f"t_{q(quiz, NUMERIC['text']).pk}": "9"})
    page = student_client.get(response.url).content.decode()
    assert '<strong data-testid="response">9</strong>' in page
    assert "Accepted" not in page and "3.5" not in page


def test_a_numeric_answer_that_is_not_a_number_comes_back_with_the_other_answers(
    student_client, typed_quiz
):
    attempt, _ = start(student_client, typed_quiz)
    data = _all_answers(typed_quiz, number="1,000.5")
    response = post(student_client, attempt, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "question 1: “1,000.5” is not a number" in page
    assert 'aria-invalid="true"' in page
    # Nothing written, every answer still there.
    assert not AttemptAnswer.objects.filter(attempt=attempt).exists()
    assert QuizAttempt.objects.get(pk=attempt.pk).completed_at is None
    assert 'value="1,000.5"' in page and 'value=" paris "' in page
    for choice_pk in data[f"q_{q(typed_quiz, PARTIAL['text']).pk}"]:
        assert f'value="{choice_pk}" id="c_{choice_pk}" checked' in page


def test_an_empty_typed_answer_counts_as_unanswered(student_client, typed_quiz):
    attempt, _ = start(student_client, typed_quiz)
    response = post(student_client, attempt, _all_answers(typed_quiz, word="   "))
    assert response.status_code == 200
    assert "you have not answered 1 question" in response.content.decode()


@pytest.mark.parametrize(
    "tamper",
    ["typed answer to a choice question", "choice for a typed question", "too long"],
)
def test_tampered_typed_answers_are_refused(student_client, typed_quiz, tamper):
    attempt, _ = start(student_client, typed_quiz)
    data = _all_answers(typed_quiz)
    numeric, true_false = q(typed_quiz, NUMERIC["text"]), q(typed_quiz, TRUE_FALSE["text"])
    if tamper == "typed answer to a choice question":
        data[f"t_{true_false.pk}"] = "True"
    elif tamper == "choice for a typed question":
        data[f"q_{numeric.pk}"] = [Choice.objects.filter(question=true_false).first().pk]
    else:
        data[f"t_{numeric.pk}"] = "1" * 201
    assert post(student_client, attempt, data).status_code == 400
    assert not AttemptAnswer.objects.filter(attempt=attempt).exists()


# --- regrades --------------------------------------------------------------------------------


def test_switching_a_question_to_partial_credit_regrades_through_admin(
    client, teacher, student_client
):
    quiz = make_quiz(questions=[{**PARTIAL, "scoring": "all_or_nothing"}], created_by=teacher.email)
    attempt, _ = start(student_client, quiz)
    post(student_client, attempt, _partial_pick(quiz, "SSA form"))
    attempt.refresh_from_db()
    assert attempt.earned_points == 0

    question = quiz.questions.get()
    row = {
        "text": question.text,
        "points": "3",
        "question_type": "multiple_partial",
        "choices_text": "*SSA form\n*Three-address code\nSource text",
    }
    client.force_login(teacher)
    form = admin_quiz_form([row], quiz=quiz, title=quiz.title, tutorial_number="2")
    response = client.post(reverse("admin:quizzes_quiz_change", args=[quiz.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    attempt.refresh_from_db()
    assert (attempt.earned_points, attempt.score) == (Decimal("1.5"), Decimal("5.00"))
    assert quiz.regrades.get().change == "answer or scoring of 1 question changed"


def _partial_pick(quiz, *texts):
    question = quiz.questions.get()
    chosen = Choice.objects.filter(question=question, text__in=texts).values_list("pk", flat=True)
    return {f"q_{question.pk}": list(chosen), "confirm": "1"}


def test_changing_a_numeric_tolerance_regrades_the_typed_answers(teacher, student_client):
    from quizzes.services import quiz_regrade

    quiz = make_quiz(questions=[NUMERIC], created_by=teacher.email)
    attempt, _ = start(student_client, quiz)
    post(student_client, attempt, {f"t_{q(quiz, NUMERIC['text']).pk}": "3.7"})
    attempt.refresh_from_db()
    assert attempt.earned_points == 0
    Question.objects.filter(quiz=quiz).update(numeric_tolerance=Decimal("0.2"))  # 3.7 on the edge
    result = quiz_regrade(quiz=quiz, changed_by=teacher, change="tolerance")
    attempt.refresh_from_db()
    assert (result.scores_changed, attempt.earned_points, attempt.score) == (1, 2, 10)


# --- admin authoring ---------------------------------------------------------------------------


def _add(client, teacher, rows):
    client.force_login(teacher)
    return client.post(reverse("admin:quizzes_quiz_add"), admin_quiz_form(rows))


def test_admin_authors_each_type_without_json(client, teacher):
    rows = [
        {"text": "7/2?", "points": "2", "question_type": "numeric", "choices_text": "3,5 ± 0.1"},
        {"text": "Exact", "points": "1", "question_type": "numeric", "choices_text": "42"},
        {
            "text": "Capital?",
            "points": "1",
            "question_type": "short_answer_any_case",
            "choices_text": " Paris \n\nParis, France",
        },
        {"text": "Case?", "points": "1", "question_type": "short_answer", "choices_text": "NaCl"},
        {
            "text": "Lexing first?",
            "points": "1",
            "question_type": "true_false",
            "choices_text": "false",
        },
        {
            "text": "IRs",
            "points": "3",
            "question_type": "multiple_partial",
            "choices_text": "*SSA\n*TAC\nSource",
        },
    ]
    response = _add(client, teacher, rows)
    assert response.status_code == 302, response.content.decode()[:3000]
    numeric, exact, capital, case, true_false, irs = Question.objects.order_by("order")
    assert (numeric.kind, numeric.numeric_answer, numeric.numeric_tolerance) == (
        "numeric",
        Decimal("3.5"),
        Decimal("0.1"),
    )
    assert (exact.numeric_answer, exact.numeric_tolerance) == (Decimal(42), 0)
    assert (capital.kind, capital.accepted_answer_list(), capital.ignore_case) == (
        "short_answer",
        ["Paris", "Paris, France"],
        True,
    )
    assert (case.kind, case.ignore_case) == ("short_answer", False)
    assert [(c.text, c.is_correct) for c in true_false.choices.all()] == [
        ("True", False),
        ("False", True),
    ]
    assert (irs.multiple, irs.scoring, irs.choices.count()) == (True, "partial", 3)

    # The change page shows each question's type and answer as it was written.
    page = client.get(reverse("admin:quizzes_quiz_change", args=[numeric.quiz_id])).content.decode()
    assert "3.5 ± 0.1</textarea>" in page
    assert "Paris\nParis, France</textarea>" in page
    assert '<option value="multiple_partial" selected>' in page


@pytest.mark.parametrize(
    ("question_type", "answer", "message"),
    [
        ("numeric", "about 3", "Write the correct value and, if answers near it are right too"),
        ("numeric", "3.5 ± -1", "the tolerance must be 0 or more"),
        ("numeric", "", "Write the correct value"),
        ("single", "", "Give at least two choices, one per line."),
        ("numeric", "3.1234567", "the value has at most 6 digits after the decimal point"),
        ("true_false", "maybe", "Write the right answer: “True” or “False”."),
        ("short_answer", "\n \n", "Give at least one accepted answer, one per line."),
        ("short_answer", "\n".join("abcdefghi"), "9 accepted answers: a question has at most 8."),
        ("single", "*a\n*b", "A single-answer question has exactly one correct choice"),
        ("multiple_partial", "a\nb", "Mark at least one choice correct"),
    ],
)
def test_admin_refuses_a_bad_answer_per_type(client, teacher, question_type, answer, message):
    row = {"text": "Q", "points": "1", "question_type": question_type, "choices_text": answer}
    response = _add(client, teacher, [row])
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Question.objects.exists()


def test_the_single_question_page_checks_the_type_fields(client, teacher):
    from tests.factories import QUESTION_PAGE_DEFAULTS

    quiz = make_quiz(questions=[SHORT], created_by=teacher.email)
    question = quiz.questions.get()
    client.force_login(teacher)
    data = {
        "text": question.text,
        "points": "1",
        "order": "0",
        **QUESTION_PAGE_DEFAULTS,
        "kind": "short_answer",
        "accepted_answers": "  ",
        "choices-TOTAL_FORMS": "0",
        "choices-INITIAL_FORMS": "0",
    }
    url = reverse("admin:quizzes_question_change", args=[question.pk])
    assert "Give at least one accepted answer" in client.post(url, data).content.decode()
    data |= {"kind": "numeric", "numeric_answer": "", "accepted_answers": ""}
    assert "A numeric question needs its correct value" in client.post(url, data).content.decode()
    data |= {"kind": "choice", "scoring": "partial"}
    assert "Partial credit is for multiple-answer" in client.post(url, data).content.decode()
    data |= {
        "kind": "numeric",
        "numeric_answer": "2.5",
        "numeric_tolerance": "0.5",
        "scoring": "all_or_nothing",
    }
    assert client.post(url, data).status_code == 302
    question.refresh_from_db()
    assert (question.kind, question.numeric_answer) == ("numeric", Decimal("2.5"))


def test_a_late_submit_logs_the_typed_answers_too(teacher, student, caplog):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from quizzes.services import QuizNotOpen, attempt_get_or_start, attempt_submit

    quiz = make_quiz(questions=[NUMERIC], created_by=teacher.email)
    quiz.closes_at = timezone.now() + timedelta(minutes=1)
    quiz.save()
    attempt = attempt_get_or_start(student=student, quiz=quiz)
    question = quiz.questions.get()
    with time_machine.travel(timezone.now() + timedelta(hours=1)), pytest.raises(QuizNotOpen):
        attempt_submit(
            attempt_id=attempt.pk, student=student, answers={}, responses={question.pk: "3,5"}
        )
    (line,) = [r.getMessage() for r in caplog.records if "late submit refused" in r.message]
    assert f"typed={{{question.pk}: '3,5'}}" in line
