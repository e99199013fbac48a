"""Shuffling (issue 20): each attempt's own order of questions and choices, drawn when it
starts and kept — reloads, a refused submit and the result page show the student's order."""

import random
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quizzes import services
from quizzes.models import AttemptAnswer, Choice, Question, Quiz, QuizAttempt
from quizzes.ordering import arrange, shuffled_order_new
from tests.factories import make_quiz, make_student

CHOICES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def mixed_questions(n=8):
    """n choice questions of six choices, then a true/false and a numeric one."""
    questions = [
        {
            "text": f"Question {i}",
            "points": 1,
            "choices": [{"text": t, "correct": t == "alpha"} for t in CHOICES],
        }
        for i in range(n)
    ]
    questions.append(
        {"text": "Lexers read characters", "points": 1, "type": "true_false", "answer": True}
    )
    questions.append({"text": "Two plus two", "points": 1, "type": "numeric", "answer": 4})
    return questions


@pytest.fixture
def seeded(monkeypatch):
    """Every order drawn from one seeded generator: deterministic, yet each draw differs."""
    rng = random.Random(2026)
    monkeypatch.setattr(services, "shuffle_rng", lambda: rng)
    return rng


def shuffled_quiz(**overrides):
    quiz = make_quiz(questions=mixed_questions(), **overrides)
    Quiz.objects.filter(pk=quiz.pk).update(shuffle_questions=True, shuffle_choices=True)
    quiz.refresh_from_db()
    return quiz


def quiz_order(quiz):
    """The quiz's own order: question ids, and each question's choice ids."""
    questions = list(quiz.questions.prefetch_related("choices"))
    return [q.pk for q in questions], {q.pk: [c.pk for c in q.choices.all()] for q in questions}


def page_order(response):
    """The questions' ids as the take page shows them, and each one's choice ids."""
    page = response.content.decode()
    blocks = re.split(r'<fieldset class="card question[^"]*" id="q-', page)[1:]
    questions, choices = [], {}
    for block in blocks:
        pk = int(block.split('"', 1)[0])
        questions.append(pk)
        choices[pk] = [int(c) for c in re.findall(rf'name="q_{pk}" value="(\d+)"', block)]
    return questions, choices


def result_order(response):
    """The question texts as the result page lists them, and each one's choice texts."""
    page = response.content.decode()
    order = []
    for block in page.split('<li class="card')[1:]:
        text = re.search(r"<p>([^<]*)", block).group(1).strip()
        order.append((text, re.findall(r"<li>([^<]*?)\s*(?:<em>|<span|</li>)", block)))
    return order


def answers_for(quiz):
    """POST data answering every question right, typed ones too."""
    data = {}
    for question in quiz.questions.prefetch_related("choices"):
        if question.is_typed():
            data[f"t_{question.pk}"] = "4"
        else:
            data[f"q_{question.pk}"] = [c.pk for c in question.choices.all() if c.is_correct]
    return data


def take(client, quiz):
    response = client.get(quiz.get_absolute_url())
    assert response.status_code == 200
    return response, response.context["attempt"]


def login(client, student):
    client.force_login(student)
    return client


# --- the order, drawn and applied (pure) ------------------------------------------------------


def test_an_order_is_drawn_only_when_the_quiz_shuffles(teacher):
    quiz = make_quiz(questions=mixed_questions())
    questions = list(quiz.questions.prefetch_related("choices"))
    assert shuffled_order_new(quiz=quiz, questions=questions, rng=random.Random(1)) is None

    quiz.shuffle_choices = True  # choices only: the questions keep the quiz's order
    order = shuffled_order_new(quiz=quiz, questions=questions, rng=random.Random(1))
    assert order["questions"] == [q.pk for q in questions]
    shuffled = [q for q in questions if q.kind == Question.Kind.CHOICE]
    assert set(order["choices"]) == {str(q.pk) for q in shuffled}
    assert any(order["choices"][str(q.pk)] != [c.pk for c in q.choices.all()] for q in shuffled)
    for q in shuffled:
        assert sorted(order["choices"][str(q.pk)]) == sorted(c.pk for c in q.choices.all())


def test_true_false_keeps_true_before_false_and_typed_answers_have_no_order(teacher):
    quiz = make_quiz(questions=mixed_questions(1))
    quiz.shuffle_questions = quiz.shuffle_choices = True
    questions = list(quiz.questions.prefetch_related("choices"))
    true_false, numeric = questions[1], questions[2]
    for seed in range(20):
        order = shuffled_order_new(quiz=quiz, questions=questions, rng=random.Random(seed))
        assert str(true_false.pk) not in order["choices"]
        assert str(numeric.pk) not in order["choices"]
        shown = {q.pk: q.shown_choices for q in arrange(questions, order)}
        assert [c.text for c in shown[true_false.pk]] == ["True", "False"]
        assert shown[numeric.pk] == []


def test_a_question_added_after_the_start_comes_last_and_a_removed_one_is_dropped(teacher):
    quiz = make_quiz(questions=mixed_questions(3))
    questions = list(quiz.questions.prefetch_related("choices"))
    first, second, third, true_false, numeric = questions
    order = {
        "questions": [third.pk, 999_999, first.pk],  # 999_999: removed since the start
        "choices": {str(first.pk): [first.choices.all()[2].pk, 888_888]},
    }
    arranged = arrange(questions, order)
    assert [q.pk for q in arranged] == [third.pk, first.pk, second.pk, true_false.pk, numeric.pk]
    choices = [c.pk for c in first.shown_choices]
    original = [c.pk for c in first.choices.all()]
    assert choices == [original[2]] + [pk for pk in original if pk != original[2]]


def test_no_order_is_the_quizs_own_order(teacher):
    quiz = make_quiz(questions=mixed_questions(3))
    questions = list(quiz.questions.prefetch_related("choices"))
    arranged = arrange(questions, None)
    assert arranged == questions
    assert all(q.shown_choices == list(q.choices.all()) for q in arranged)


# --- the take page ----------------------------------------------------------------------------


def test_the_order_is_stored_when_the_attempt_starts_and_a_reload_shows_it_again(
    client, teacher, seeded
):
    quiz = shuffled_quiz()
    student = make_student()
    response, attempt = take(login(client, student), quiz)

    questions, choices = page_order(response)
    stored = QuizAttempt.objects.get(pk=attempt.pk).shuffled_order
    assert questions == stored["questions"]
    original_questions, original_choices = quiz_order(quiz)
    assert questions != original_questions
    assert sorted(questions) == sorted(original_questions)
    for pk, ids in stored["choices"].items():
        assert choices[int(pk)] == ids
    assert any(choices[pk] != original_choices[pk] for pk in choices)

    for _ in range(3):
        again, same = take(client, quiz)
        assert same.pk == attempt.pk
        assert page_order(again) == (questions, choices)
    assert QuizAttempt.objects.count() == 1


def test_the_numbers_follow_the_order_shown(client, teacher, seeded):
    quiz = shuffled_quiz()
    response, attempt = take(login(client, make_student()), quiz)
    page = response.content.decode()
    first = Question.objects.get(pk=attempt.shuffled_order["questions"][0])
    assert f'id="q-{first.pk}" data-number="1"' in page
    assert f"<legend>1. {first.text} " in page


def test_different_students_get_different_orders(client, teacher, seeded):
    quiz = shuffled_quiz()
    orders = []
    for _ in range(3):
        response, _ = take(login(client, make_student()), quiz)
        orders.append(page_order(response)[0])
    assert len({tuple(order) for order in orders}) == 3


def test_each_new_attempt_of_a_student_gets_its_own_order(client, teacher, seeded):
    quiz = shuffled_quiz()
    login(client, make_student())
    first, attempt = take(client, quiz)
    client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    second, retake = take(client, quiz)
    assert retake.pk != attempt.pk
    assert page_order(second)[0] != page_order(first)[0]


def test_shuffle_off_shows_the_quizs_order_and_stores_none(client, teacher):
    quiz = make_quiz(questions=mixed_questions())
    response, attempt = take(login(client, make_student()), quiz)
    questions, choices = page_order(response)
    assert (questions, choices) == quiz_order(quiz)
    assert QuizAttempt.objects.get(pk=attempt.pk).shuffled_order is None


def test_turning_shuffling_on_or_off_does_not_move_an_attempt_in_progress(client, teacher, seeded):
    quiz = make_quiz(questions=mixed_questions())
    login(client, make_student())
    before, _ = take(client, quiz)
    Quiz.objects.filter(pk=quiz.pk).update(shuffle_questions=True, shuffle_choices=True)
    assert page_order(take(client, quiz)[0]) == page_order(before)

    other = shuffled_quiz(tutorial_number=3)
    shuffled, _ = take(client, other)
    Quiz.objects.filter(pk=other.pk).update(shuffle_questions=False, shuffle_choices=False)
    assert page_order(take(client, other)[0]) == page_order(shuffled)


def test_a_question_edited_added_or_removed_mid_attempt_does_not_break_the_page(
    client, teacher, seeded
):
    quiz = shuffled_quiz()
    login(client, make_student())
    response, attempt = take(client, quiz)
    questions, choices = page_order(response)
    removed, edited = Question.objects.get(pk=questions[0]), Question.objects.get(pk=questions[1])
    AttemptAnswer.objects.filter(question=removed).delete()
    removed.delete()
    Question.objects.filter(pk=edited.pk).update(text="Reworded question")
    new_choice = Choice.objects.create(question=edited, text="golf", order=0)
    added = Question.objects.create(quiz=quiz, text="Added later", points=1, order=0)
    Choice.objects.create(question=added, text="right", is_correct=True)
    Choice.objects.create(question=added, text="wrong")

    again = client.get(quiz.get_absolute_url())
    assert again.status_code == 200
    shown, shown_choices = page_order(again)
    assert shown == [*questions[1:], added.pk]  # the rest kept their places; the new one last
    assert shown_choices[edited.pk] == [*choices[edited.pk], new_choice.pk]
    assert "Reworded question" in again.content.decode()

    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200


def test_a_refused_submit_shows_the_form_again_in_the_attempts_order(client, teacher, seeded):
    quiz = shuffled_quiz()
    login(client, make_student())
    response, attempt = take(client, quiz)
    order = page_order(response)
    first_shown = order[0][0]
    data = {k: v for k, v in answers_for(quiz).items() if k != f"q_{first_shown}"}

    again = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)

    assert again.status_code == 200
    assert page_order(again) == order
    assert again.context["unanswered"] == [(1, Question.objects.get(pk=first_shown))]
    assert f'<a href="#q-{first_shown}">Question 1:' in again.content.decode()


def test_a_choice_of_another_question_is_refused_as_without_shuffling(client, teacher, seeded):
    quiz = shuffled_quiz()
    login(client, make_student())
    _, attempt = take(client, quiz)
    first, second = quiz.questions.all()[:2]
    data = answers_for(quiz)
    data[f"q_{first.pk}"] = [second.choices.first().pk]

    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)

    assert response.status_code == 400
    assert "belongs to another question" in response.content.decode()
    assert not AttemptAnswer.objects.exists()
    assert not QuizAttempt.objects.get(pk=attempt.pk).is_completed()


# --- the result page --------------------------------------------------------------------------


def test_the_result_page_shows_the_students_order(client, teacher, seeded):
    quiz = shuffled_quiz()
    Quiz.objects.filter(pk=quiz.pk).update(review="immediately")
    login(client, make_student())
    response, attempt = take(client, quiz)
    questions, choices = page_order(response)

    submitted = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    result = client.get(submitted.url)

    text = {q.pk: q.text for q in Question.objects.filter(quiz=quiz)}
    choice_text = dict(Choice.objects.filter(question__quiz=quiz).values_list("pk", "text"))
    assert result_order(result) == [
        (text[pk], [choice_text[c] for c in choices[pk]]) for pk in questions
    ]
    assert [a.question_id for a in result.context["answers"]] == questions


def test_without_shuffling_the_result_page_keeps_the_quizs_order(client, teacher):
    quiz = make_quiz(questions=mixed_questions(3))
    login(client, make_student())
    _, attempt = take(client, quiz)
    submitted = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    result = client.get(submitted.url)
    questions, _ = quiz_order(quiz)
    assert [a.question_id for a in result.context["answers"]] == questions


# --- query counts: shuffling costs nothing ----------------------------------------------------

# session, user, quiz, past attempts, attempt in progress (none), questions, choices,
# savepoint + insert + release.
TAKE_START_QUERIES = 10
# session, user, quiz, past attempts, the attempt in progress, questions, choices.
TAKE_RELOAD_QUERIES = 7
# session, user, attempt with quiz, past attempts, the student's exception (quizzes/rules.py),
# answers with their questions, selected choices, the questions' choices, the mark, the regrade.
RESULT_QUERIES = 10


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("shuffle", [False, True])
def test_the_take_and_result_pages_cost_the_same_queries_with_shuffling(
    client, teacher, seeded, shuffle
):
    quiz = make_quiz(questions=mixed_questions())
    Quiz.objects.filter(pk=quiz.pk).update(shuffle_questions=shuffle, shuffle_choices=shuffle)
    login(client, make_student())
    url = quiz.get_absolute_url()

    assert _queries(client, url) == TAKE_START_QUERIES
    assert _queries(client, url) == TAKE_RELOAD_QUERIES
    attempt = QuizAttempt.objects.get()
    assert (attempt.shuffled_order is not None) == shuffle
    client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    assert _queries(client, attempt.get_absolute_url()) == RESULT_QUERIES


# --- setting it: the import and admin ---------------------------------------------------------


def test_the_import_reads_the_shuffle_switches_and_defaults_them_off(teacher):
    from quizzes.importing import quiz_import
    from tests.factories import quiz_data

    on = quiz_import(data=quiz_data(shuffle_questions=True, shuffle_choices=True)).quiz
    assert (on.shuffle_questions, on.shuffle_choices) == (True, True)
    off = quiz_import(data=quiz_data(tutorial_number=3)).quiz
    assert (off.shuffle_questions, off.shuffle_choices) == (False, False)


@pytest.mark.parametrize("value", [1, "yes", None, []])
def test_the_import_refuses_a_shuffle_switch_that_is_not_true_or_false(teacher, value):
    from quizzes.importing import quiz_import
    from quizzes.quiz_file import QuizFileError
    from tests.factories import quiz_data

    with pytest.raises(QuizFileError) as failure:
        quiz_import(data=quiz_data(shuffle_questions=value, shuffle_choices=value))
    assert failure.value.errors == [
        "shuffle_questions: must be true or false",
        "shuffle_choices: must be true or false",
    ]
    assert not Quiz.objects.exists()


def test_a_teacher_switches_shuffling_on_in_admin(client, teacher):
    from tests.factories import admin_quiz_form

    question = {"text": "Which phase builds the parse tree?", "points": 2}
    quiz = make_quiz(
        questions=[
            {
                **question,
                "choices": [{"text": "Syntax analysis", "correct": True}, {"text": "Lexing"}],
            }
        ],
        created_by=teacher.email,
    )
    client.force_login(teacher)
    url = reverse("admin:quizzes_quiz_change", args=[quiz.pk])
    page = client.get(url).content.decode()
    assert 'name="shuffle_questions"' in page
    assert 'name="shuffle_choices"' in page
    form = admin_quiz_form(
        [{**question, "points": "2", "choices_text": "*Syntax analysis\nLexing"}],
        quiz=quiz,
        course_id="19XW51",
        tutorial_number="2",
        shuffle_questions="on",
    )
    assert client.post(url, form).status_code == 302
    quiz.refresh_from_db()
    assert (quiz.shuffle_questions, quiz.shuffle_choices) == (True, False)


def test_the_attempts_admin_page_lists_the_answers_in_the_students_order(client, teacher, seeded):
    quiz = shuffled_quiz()
    login(client, make_student())
    response, attempt = take(client, quiz)
    questions, _ = page_order(response)
    client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))

    client.force_login(teacher)
    page = client.get(reverse("admin:quizzes_quizattempt_change", args=[attempt.pk]))

    assert page.status_code == 200
    formset = page.context["inline_admin_formsets"][0].formset
    assert [form.instance.question_id for form in formset.forms] == questions
