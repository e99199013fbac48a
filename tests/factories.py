"""Small factories for tests: plain functions with sensible defaults."""

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from quizzes.importing import quiz_import
from quizzes.models import Quiz

_seq = itertools.count(1)


def make_teacher(username=None, email=None, **extra):
    n = next(_seq)
    username = username or f"teacher{n}"
    user = get_user_model().objects.create_user(
        username=username,
        email=email if email is not None else f"{username}@college.edu",
        password="pw-teacher-123",
        is_staff=True,
        **extra,
    )
    user.groups.add(Group.objects.get(name="Teachers"))
    return user


def make_student(username=None, **extra):
    username = username or f"21Z{next(_seq):03d}"
    return get_user_model().objects.create_user(
        username=username, password="pw-student-123", **extra
    )


def quiz_data(**overrides):
    """A valid import description: two questions worth 2 and 3 points."""
    data = {
        "title": f"Quiz {next(_seq)}",
        "quiz_type": "tutorial",
        "course_id": "19XW51",
        "tutorial_number": 2,
        "created_by": "anand@college.edu",
        "grading_method": "highest",
        "max_attempts": None,
        "questions": [
            {
                "text": "Which phase builds the parse tree?",
                "points": 2,
                "choices": [{"text": "Syntax analysis", "correct": True}, {"text": "Lexing"}],
            },
            {
                "text": "Select the IRs",
                "points": 3,
                "multiple": True,
                "choices": [
                    {"text": "SSA form", "correct": True},
                    {"text": "Three-address code", "correct": True},
                    {"text": "Source text"},
                ],
            },
        ],
    }
    data.update(overrides)
    return data


def make_quiz(*, questions=None, n_questions=None, **overrides) -> Quiz:
    data = quiz_data(**overrides)
    if questions is not None:
        data["questions"] = questions
    if n_questions is not None:
        data["questions"] = [
            {
                "text": f"Question {i}",
                "points": 1,
                "choices": [{"text": "right", "correct": True}, {"text": "wrong"}],
            }
            for i in range(n_questions)
        ]
    return quiz_import(data=data).quiz


def answers_for(quiz, *, correct=True):
    """POST data answering every question of a quiz right (or wrong)."""
    data = {}
    for question in quiz.questions.prefetch_related("choices"):
        chosen = [c.pk for c in question.choices.all() if c.is_correct == correct]
        if not chosen:
            chosen = [question.choices.all()[0].pk]
        if not question.multiple:
            chosen = chosen[:1]
        data[f"q_{question.pk}"] = chosen
    return data


def admin_quiz_form(questions=(), quiz=None, **fields):
    """The admin quiz form as a browser posts it, with the questions inline formset."""
    existing = list(quiz.questions.all()) if quiz else []
    data = {
        "title": "Compilers Tutorial 3",
        "description": "",
        "is_published": "on",
        "quiz_type": "tutorial",
        "course_id": "19XW51",
        "tutorial_number": "3",
        "grading_method": "highest",
        "max_attempts": "",
        "review": "after_last_attempt",
        "questions-TOTAL_FORMS": str(len(questions)),
        "questions-INITIAL_FORMS": str(len(existing)),
        "questions-MIN_NUM_FORMS": "0",
        "questions-MAX_NUM_FORMS": "1000",
        # The read-only regrade history is an inline too: a browser posts its management form.
        "regrades-TOTAL_FORMS": "0",
        "regrades-INITIAL_FORMS": "0",
    }
    for i, question in enumerate(questions):
        row = {"order": str(i), "id": "", "quiz": quiz.pk if quiz else ""}
        if i < len(existing):
            row["id"] = existing[i].pk
        row.update(question)
        data.update({f"questions-{i}-{key}": value for key, value in row.items()})
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}
