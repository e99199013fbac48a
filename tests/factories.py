"""Small factories for tests: plain functions with sensible defaults."""

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from quizzes.importing import quiz_import, teacher_get_or_create
from quizzes.models import Course, Quiz, StudentException

_seq = itertools.count(1)

#: make_student's default: enrolled in every course, also those made later by make_quiz
#: (the behaviour tests had before courses existed). Pass courses=[...] to choose.
EVERY_COURSE = object()


def make_course(course_id="19XW51", *, name="", teachers=(), students=()) -> Course:
    """The course (created when missing) with these teachers and students added."""
    course, _ = Course.objects.get_or_create(pk=course_id, defaults={"name": name})
    if teachers:
        course.teachers.add(*teachers)
    if students:
        course.students.add(*students)
    return course


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


def make_student(username=None, courses=EVERY_COURSE, **extra):
    username = username or f"21Z{next(_seq):03d}"
    user = get_user_model().objects.create_user(
        username=username, password="pw-student-123", **extra
    )
    if courses is EVERY_COURSE:
        user.courses_enrolled.add(*Course.objects.all())
    else:
        user.courses_enrolled.add(*(make_course(c) for c in courses))
    return user


def make_exception(*, quiz, student, reason="Medical certificate", **fields) -> StudentException:
    """A student's exception to a quiz's rules, as the admin would save it (validated)."""
    exception = StudentException(quiz=quiz, student=student, reason=reason, **fields)
    exception.full_clean()
    exception.save()
    return exception


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


def make_quiz(*, questions=None, n_questions=None, enrol_everyone=True, **overrides) -> Quiz:
    """Import a quiz; its course is created when missing, with the creator as a teacher.

    With `enrol_everyone` (the default, as before courses existed) every student who exists
    is enrolled in the course; pass False and enrol them yourself to test scoping.
    """
    data = quiz_data(**overrides)
    if data.get("course_id") and isinstance(data.get("created_by"), str):
        creator, _ = teacher_get_or_create(email=data["created_by"].strip().lower())
        course = make_course(str(data["course_id"]).upper(), teachers=[creator])
        if enrol_everyone:
            course.students.add(*get_user_model().objects.filter(is_staff=False))
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


#: The single-question admin page's other fields, as a browser posts them for a choice question.
QUESTION_PAGE_DEFAULTS = {"kind": "choice", "scoring": "all_or_nothing", "numeric_tolerance": "0"}


def admin_quiz_form(questions=(), quiz=None, **fields):
    """The admin quiz form as a browser posts it, with the questions inline formset."""
    existing = list(quiz.questions.all()) if quiz else []
    data = {
        "title": "Compilers Tutorial 3",
        "description": "",
        "is_published": "on",
        "quiz_type": "tutorial",
        "course": "19XW51",
        "tutorial_number": "3",
        "grading_method": "highest",
        "max_attempts": "",
        "review": "after_last_attempt",
        "review_correctness": "immediately",
        "review_score": "immediately",
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
        # The admin's one type select stands for the old "multiple" box.
        multiple = row.pop("multiple", "")
        row.setdefault("question_type", "multiple" if multiple else "single")
        data.update({f"questions-{i}-{key}": value for key, value in row.items()})
    if "course_id" in fields:  # the admin form's field is `course` now
        fields["course"] = fields.pop("course_id")
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def submit_answers(student, quiz, picks=None, typed=None):
    """Submit an attempt: question text -> the choice texts ticked, or the text typed."""
    from quizzes.services import attempt_get_or_start, attempt_submit

    attempt = attempt_get_or_start(student=student, quiz=quiz)
    questions = {q.text: q for q in quiz.questions.prefetch_related("choices")}
    answers = {
        questions[text].pk: {c.pk for c in questions[text].choices.all() if c.text in chosen}
        for text, chosen in (picks or {}).items()
    }
    responses = {questions[text].pk: value for text, value in (typed or {}).items()}
    attempt_submit(attempt_id=attempt.pk, student=student, answers=answers, responses=responses)
    attempt.refresh_from_db()
    return attempt
