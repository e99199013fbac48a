from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from quizzes import demo_data
from quizzes.importing import quiz_import
from quizzes.models import Quiz
from quizzes.roles import TEACHERS_GROUP
from quizzes.roster_file import roster_parse
from quizzes.rosters import roster_import

#: The demo courses, as the college's student records would send them.
DEMO_ROSTER = Path(__file__).resolve().parents[2] / "fixtures" / "demo_roster.csv"

# Quiz files' JSON, as `quiz_import` reads it.
DEMO_QUIZZES: list[dict[str, Any]] = [
    {
        "title": "Compilers Tutorial 1",
        "quiz_type": "tutorial",
        "course_id": "19XW51",
        "tutorial_number": 1,
        "created_by": "anand@college.edu",
        "grading_method": "highest",
        "max_attempts": 3,
        "questions": [
            {
                "text": "Which phase builds the parse tree?",
                "points": 2,
                "choices": [
                    {"text": "Syntax analysis", "correct": True},
                    {"text": "Lexical analysis"},
                    {"text": "Code generation"},
                ],
            },
            {
                "text": "Select the intermediate representations",
                "points": 3,
                "multiple": True,
                "choices": [
                    {"text": "SSA form", "correct": True},
                    {"text": "Three-address code", "correct": True},
                    {"text": "Source text"},
                ],
            },
            {
                "text": "A DFA has how many transitions per state and symbol?",
                "points": 1,
                "choices": [{"text": "Exactly one", "correct": True}, {"text": "Any number"}],
            },
            # The other question types, so that a teacher trying the demo sees each of them
            # taken, scored and summed up in the results.
            {
                "text": "An LL(1) parser can use a left-recursive grammar as it is.",
                "points": 1,
                "type": "true_false",
                "answer": False,
            },
            {
                "text": "A lexer reads 4,000 tokens per millisecond. How many milliseconds "
                "does it take for 10,000 tokens?",
                "points": 2,
                "type": "numeric",
                "answer": 2.5,
                "tolerance": 0.05,
            },
            {
                "text": "Name a tool that generates a lexer from regular expressions.",
                "points": 1,
                "type": "short_answer",
                "answers": ["lex", "flex", "re2c"],
                "ignore_case": True,
            },
            {
                "text": "Select every phase of the compiler's front end",
                "points": 3,
                "multiple": True,
                "scoring": "partial",
                "choices": [
                    {"text": "Lexical analysis", "correct": True},
                    {"text": "Syntax analysis", "correct": True},
                    {"text": "Semantic analysis", "correct": True},
                    {"text": "Register allocation"},
                ],
            },
        ],
    },
    {
        "title": "Compilers Tutorial 2",
        "quiz_type": "tutorial",
        "course_id": "19XW51",
        "tutorial_number": 2,
        "created_by": "anand@college.edu",
        "grading_method": "latest",
        "questions": [
            {
                "text": "Which pass resolves names to declarations?",
                "points": 2,
                "choices": [{"text": "Semantic analysis", "correct": True}, {"text": "Parsing"}],
            },
            {
                "text": "LR parsers build the tree…",
                "points": 2,
                "choices": [{"text": "Bottom-up", "correct": True}, {"text": "Top-down"}],
            },
        ],
    },
    {
        "title": "Operating Systems Tutorial 1",
        "quiz_type": "tutorial",
        "course_id": "19XW52",
        "tutorial_number": 1,
        "created_by": "priya@college.edu",
        "questions": [
            {
                "text": "Which scheduling policy can starve long jobs?",
                "points": 1,
                "choices": [{"text": "Shortest job first", "correct": True}, {"text": "FIFO"}],
            }
        ],
    },
    {
        "title": "Regular expressions warm-up (practice)",
        "quiz_type": "practice",
        "created_by": "anand@college.edu",
        "questions": [
            {
                "text": "Which matches one or more a's?",
                "points": 1,
                "choices": [{"text": "a+", "correct": True}, {"text": "a?"}],
            }
        ],
    },
]


def dated_quizzes(now: datetime) -> list[dict[str, Any]]:
    """Quizzes that show the rules with dates: one closing in a week, one not open yet."""
    return [
        {
            "title": "Compilers Tutorial 3",
            "quiz_type": "tutorial",
            "course_id": "19XW51",
            "tutorial_number": 3,
            "created_by": "anand@college.edu",
            "max_attempts": 2,
            "review": "after_close",
            "closes_at": (now + timedelta(days=7)).isoformat(),
            "questions": [
                {
                    "text": "Which data structure does a shift-reduce parser keep?",
                    "points": 1,
                    "choices": [{"text": "A stack", "correct": True}, {"text": "A queue"}],
                }
            ],
        },
        {
            "title": "Operating Systems Tutorial 2",
            "quiz_type": "tutorial",
            "course_id": "19XW52",
            "tutorial_number": 2,
            "created_by": "priya@college.edu",
            "review": "immediately",
            "opens_at": (now + timedelta(days=3)).isoformat(),
            "closes_at": (now + timedelta(days=10)).isoformat(),
            "questions": [
                {
                    "text": "What does a TLB cache?",
                    "points": 1,
                    "choices": [
                        {"text": "Page-table entries", "correct": True},
                        {"text": "Disk blocks"},
                    ],
                }
            ],
        },
    ]


class Command(BaseCommand):
    help = "Load demo teachers, students, courses and quizzes (safe to run again)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        teachers = Group.objects.get(name=TEACHERS_GROUP)
        password = demo_data.DEMO_PASSWORD
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(password)
            admin.save()
        for person in demo_data.TEACHERS:
            user, created = User.objects.get_or_create(
                username=person["username"], defaults={**person, "is_staff": True}
            )
            if created:
                user.set_password(password)
                user.save()
            user.groups.add(teachers)
        for person in demo_data.STUDENTS:
            user, created = User.objects.get_or_create(username=person["username"], defaults=person)
            if created:
                user.set_password(password)
                user.save()
        roster = roster_import(rows=roster_parse(DEMO_ROSTER.read_text(encoding="utf-8")))
        made = 0
        for quiz in [*DEMO_QUIZZES, *dated_quizzes(timezone.now())]:
            if not Quiz.objects.filter(title=quiz["title"]).exists():
                quiz_import(data=quiz)
                made += 1
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({made} quizzes added)."))
        self.stdout.write(f"  courses (from {DEMO_ROSTER.name}): {roster.summary()}")
        self.stdout.write(f"  students: {', '.join(s['username'] for s in demo_data.STUDENTS)}")
        self.stdout.write(f"  teachers: {', '.join(t['username'] for t in demo_data.TEACHERS)}")
        self.stdout.write("  superuser: admin")
        self.stdout.write(f"  password for all of them: {password}")
