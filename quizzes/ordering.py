"""The order an attempt shows its questions and choices in: drawn once, applied everywhere.

A quiz that shuffles (``Quiz.shuffle_questions`` / ``shuffle_choices``) gets, when an attempt
starts, an order of ids kept on the attempt (``QuizAttempt.shuffled_order``): the take page,
its reloads, a refused submit shown again and the result page all apply it with `arrange`.
Ids rather than a seed: a seed replays a shuffle of the quiz *as it is now*, so one question
added mid-attempt would move every other one; stored ids keep each question where it was.
A question added after the attempt started comes last (in the quiz's order); a removed one is
dropped; the same for choices. Null (a quiz that does not shuffle, or an attempt that started
before it did): the quiz's own order, as before.

True/false keeps True before False (the convention every student expects); typed answers
have no choices. Pure functions: no query, the caller loads the questions with their choices.
"""

import random
from collections.abc import Iterable, Sequence

from quizzes.models import Choice, Question, Quiz


def shuffled_order_new(*, quiz: Quiz, questions: Sequence[Question], rng: random.Random):
    """A new attempt's order of question ids and, per choice question, choice ids; None when
    the quiz shuffles nothing. ``questions`` in the quiz's order, their choices prefetched."""
    if not quiz.shuffles():
        return None
    question_ids = [q.pk for q in questions]
    if quiz.shuffle_questions:
        rng.shuffle(question_ids)
    choices = {}
    if quiz.shuffle_choices:
        for question in questions:
            if question.kind == Question.Kind.CHOICE:
                ids = [c.pk for c in question.choices.all()]
                rng.shuffle(ids)
                choices[str(question.pk)] = ids  # JSON keys are strings
    return {"questions": question_ids, "choices": choices}


def _in_order(items: Iterable, ids, key) -> list:
    """``items`` in the order of ``ids``; the items not named there after, in their order."""
    items = list(items)
    if not ids:
        return items
    rank = {pk: i for i, pk in enumerate(ids)}
    # sorted() is stable: the unnamed (rank len(ids)) keep their own order at the end.
    return sorted(items, key=lambda item: rank.get(key(item), len(rank)))


def arrange(questions: Iterable[Question], order: dict | None) -> list[Question]:
    """The questions in the attempt's order, each with ``shown_choices`` for the templates
    (the list `shown_choices` returns). ``order`` None: as given. No query (choices
    prefetched)."""
    order = order or {}
    arranged = _in_order(questions, order.get("questions"), key=lambda q: q.pk)
    for question in arranged:
        question.shown_choices = shown_choices(question, order)
    return arranged


def shown_choices(question: Question, order: dict | None) -> list[Choice]:
    """A question's choices in the attempt's order (``order`` None: the quiz's); what
    `arrange` puts on it for the templates, typed for code. No query (choices prefetched)."""
    choice_orders = (order or {}).get("choices") or {}
    return _in_order(
        question.choices.all(), choice_orders.get(str(question.pk)), key=lambda c: c.pk
    )


def arrange_answers(answers: Iterable, order: dict | None) -> list:
    """An attempt's answers (``question__choices`` and ``selected_choices`` prefetched) in
    the order the student saw the questions, each with ``chosen`` (the choices picked)."""
    answers = list(answers)
    by_question = {answer.question_id: answer for answer in answers}
    arranged = arrange([answer.question for answer in answers], order)
    result = [by_question[question.pk] for question in arranged]
    for answer in result:
        answer.chosen = list(answer.selected_choices.all())
    return result
