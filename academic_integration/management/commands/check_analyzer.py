"""`manage.py check_analyzer`: would the Academic Analyzer accept our courses' marks?"""

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from academic_integration.analyzer_check import (
    CANNOT_ASK,
    AnalyzerCheck,
    CourseCheck,
    courses_analyzer_check,
    courses_for_check,
)
from academic_integration.management import SyncCommand
from academic_integration.resync.summary import plural
from quizzes.models import Course

EPILOG = """\
What is checked, what it asks and a daily cron line: docs/operations.md, "Checking courses
with the Analyzer". Each course's result is kept for the sync health page.

Exit codes:
  0  nothing would be refused (notes and warnings may still be printed)
  1  something would be refused: a course missing on the Analyzer, students not enrolled
     there, a quiz creator it does not know, or no teacher email for a quiz's marks
  2  the Analyzer could not be asked (sync not configured, a settings error, the token
     rejected, the URL not the Analyzer, down or too slow), or --course names a course
     that does not exist here
"""

_MARKS = {"error": "ERROR", "warning": "WARNING", "info": "note"}


class Command(SyncCommand):
    help = "Check each course against the Academic Analyzer before its marks are refused."
    epilog = EPILOG

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--course",
            action="append",
            dest="course_ids",
            metavar="COURSE_ID",
            help="Only this course (repeat for more); default: every course here.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="text (default) or json: one machine-readable document on stdout.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = analyzer_check_run(course_ids=options["course_ids"])
        if options["format"] == "json":
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        elif options["verbosity"] >= 1:
            self.print_text(result, verbosity=options["verbosity"])
        if result.exit_code:
            raise CommandError(_failure_text(result), returncode=result.exit_code)

    def print_text(self, result: AnalyzerCheck, *, verbosity: int) -> None:
        for check in result.courses:
            self.print_course(check, verbosity=verbosity)
        if not result.courses:
            self.stdout.write("No courses here to check.")
            return
        failing = sum(1 for c in result.courses if c.exit_code)
        style = self.style.SUCCESS if not result.exit_code else self.style.WARNING
        self.stdout.write(
            style(
                f"Checked {plural(len(result.courses), 'course')} against the "
                f"Academic Analyzer: {len(result.courses) - failing} fine, {failing} with "
                f"marks that would be refused or could not be checked (exit {result.exit_code})."
            )
        )

    def print_course(self, check: CourseCheck, *, verbosity: int) -> None:
        style = {"success": self.style.SUCCESS, "warning": self.style.WARNING}.get(
            check.level, self.style.ERROR
        )
        self.stdout.write(style(check.headline() + "."))
        if check.exists is not None:
            handling = set(check.teachers_handling)
            teachers = [
                f"{email} ({'handles it' if email in handling else 'known, not handling it'})"
                for email in check.teachers_known
            ]
            self.stdout.write(f"  teachers known there: {', '.join(teachers) or 'none'}")
        for sender in check.senders:
            quizzes = ", ".join(f"“{title}”" for title in sender.quizzes)
            self.stdout.write(f"  marks go as {sender.email} ({sender.source}): {quizzes}")
        for problem in check.problems:
            line = f"  {_MARKS[problem.level]} {problem.code}: {problem.message}"
            self.stdout.write(self.style.ERROR(line) if problem.exit_code else line)
            self.stdout.write(f"    next step: {problem.next_step}")
        if verbosity >= 2:
            for label, students in (
                ("not enrolled there", check.not_enrolled_there),
                ("only there", check.only_there),
            ):
                for student in students:
                    self.stdout.write(f"    {label}: {student.roll_no} {student.name}".rstrip())


def analyzer_check_run(*, course_ids: list[str] | None = None) -> AnalyzerCheck:
    """Check the courses named (default: every course here) and keep each result; raises
    CommandError (exit 2) for a course id that does not exist here."""
    courses = Course.objects.all()
    if course_ids:
        wanted = list(dict.fromkeys(course_ids))
        courses = courses.filter(pk__in=wanted)
        unknown = sorted(set(wanted) - set(courses.values_list("pk", flat=True)))
        if unknown:
            raise CommandError(
                f"No course {', '.join(unknown)} here (course ids are case-sensitive, e.g. "
                "19XW51): nothing was checked.",
                returncode=2,
            )
    return courses_analyzer_check(courses=courses_for_check(queryset=courses))


def _failure_text(result: AnalyzerCheck) -> str:
    if result.exit_code == CANNOT_ASK:
        return next(
            p.message for c in result.courses for p in c.problems if p.exit_code == CANNOT_ASK
        )
    failing = ", ".join(c.course_id for c in result.courses if c.exit_code)
    return f"Marks would be refused for course(s) {failing}: see above."
