"""Bench data, written by a child process straight into the bench database.

    python -m bench.fixtures class --prefix L --count 200 --course BENCHL --tutorial 1
    python -m bench.fixtures report --course BENCHL --tutorial 1

`class` creates a published 10-question tutorial quiz, its teacher, the students and a logged-in
session for each (rows in the session table, as a login would leave them: logging 300 students
in through the form would spend minutes in PBKDF2, which is not what is measured). It prints the
quiz's path, the form fields that answer it and each student's session id. `report` prints the
slot's marks, for checking them against what the fake Analyzer holds.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from bench.harness import django_setup, emit

TEACHER_EMAIL = "bench.teacher@college.edu"
PASSWORD = "bench-student-pw"


def quiz_data(*, course_id: str, tutorial: int, grading: str, n_questions: int) -> dict[str, Any]:
    return {
        "title": f"Bench {course_id} tutorial {tutorial}",
        "quiz_type": "tutorial",
        "course_id": course_id,
        "tutorial_number": tutorial,
        "created_by": TEACHER_EMAIL,
        "grading_method": grading,
        "max_attempts": None,
        "questions": [
            {
                "text": f"Question {i + 1}",
                "points": 1,
                "choices": [{"text": "right", "correct": True}, {"text": "wrong"}],
            }
            for i in range(n_questions)
        ],
    }


def students_create(*, usernames: list[str]):
    """Create the students that do not exist yet, sharing one password hash; return them all."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    password = make_password(PASSWORD)
    User.objects.bulk_create(
        [User(username=name, password=password) for name in usernames if name not in existing],
        batch_size=1000,
    )
    by_name = {u.username: u for u in User.objects.filter(username__in=usernames)}
    return [by_name[name] for name in usernames]


def course_ensure(*, course_id: str):
    """The course, created when missing, with the bench teacher among its teachers."""
    from quizzes.importing import teacher_get_or_create
    from quizzes.models import Course

    course, _ = Course.objects.get_or_create(pk=course_id)
    course.teachers.add(teacher_get_or_create(email=TEACHER_EMAIL)[0])
    return course


def sessions_create(*, users) -> list[str]:
    """A logged-in session per user, as django.contrib.auth.login would store it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    store = SessionStore()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    rows, keys = [], []
    for user in users:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expires))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys


def class_create(
    *,
    prefix: str,
    count: int,
    course_id: str,
    tutorial: int,
    grading: str = "highest",
    n_questions: int = 10,
) -> dict[str, Any]:
    """A quiz, `count` students with sessions; what a bench client needs to submit it."""
    from quizzes.importing import quiz_import
    from quizzes.models import Quiz

    # Only a course's teachers add quizzes to it, and only its students take them.
    course = course_ensure(course_id=course_id)
    quiz = Quiz.objects.filter(
        course_id=course_id, tutorial_number=tutorial, quiz_type="tutorial", is_published=True
    ).first()
    if quiz is None:
        data = quiz_data(
            course_id=course_id, tutorial=tutorial, grading=grading, n_questions=n_questions
        )
        quiz = quiz_import(data=data).quiz
    correct: dict[str, int] = {}
    wrong: dict[str, int] = {}
    for question in quiz.questions.prefetch_related("choices"):
        for choice in question.choices.all():
            (correct if choice.is_correct else wrong)[f"q_{question.pk}"] = choice.pk
    users = students_create(usernames=[f"{prefix}{i:05d}" for i in range(count)])
    course.students.add(*users)
    sessions = sessions_create(users=users)
    return {
        "quiz_id": quiz.pk,
        "quiz_path": quiz.get_absolute_url(),
        "course_id": course_id,
        "tutorial": tutorial,
        "teacher_email": TEACHER_EMAIL,
        "correct": correct,
        "wrong": wrong,
        "students": [[u.username, key] for u, key in zip(users, sessions, strict=True)],
    }


def slot_report(*, course_id: str, tutorial: int) -> dict[str, Any]:
    """Marks of a slot by status, their values, and how many completed attempts are synced."""
    from django.db.models import Count

    from academic_integration.models import TutorialMark
    from quizzes.models import QuizAttempt

    marks = TutorialMark.objects.filter(course_id=course_id, tutorial_number=tutorial)
    attempts = QuizAttempt.objects.filter(
        quiz__course_id=course_id, quiz__tutorial_number=tutorial, completed_at__isnull=False
    )
    by_status = dict(marks.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    values = {
        username: {"value": str(value), "delivered": version == delivered}
        for username, value, version, delivered in marks.values_list(
            "student__username", "value", "version", "delivered_version"
        )
    }
    return {
        "by_status": by_status,
        "marks": values,
        "attempts": attempts.count(),
        "attempts_synced": attempts.filter(marks_synced=True).count(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    make = sub.add_parser("class", help="a quiz, students and their sessions")
    make.add_argument("--prefix", required=True)
    make.add_argument("--count", type=int, required=True)
    make.add_argument("--course", required=True)
    make.add_argument("--tutorial", type=int, default=1)
    make.add_argument("--grading", default="highest", choices=["highest", "latest"])
    make.add_argument("--questions", type=int, default=10)
    report = sub.add_parser("report", help="a slot's marks")
    report.add_argument("--course", required=True)
    report.add_argument("--tutorial", type=int, default=1)
    args = parser.parse_args(argv)
    django_setup()
    if args.what == "class":
        emit(
            class_create(
                prefix=args.prefix,
                count=args.count,
                course_id=args.course,
                tutorial=args.tutorial,
                grading=args.grading,
                n_questions=args.questions,
            )
        )
    else:
        emit(slot_report(course_id=args.course, tutorial=args.tutorial))


if __name__ == "__main__":
    main()
