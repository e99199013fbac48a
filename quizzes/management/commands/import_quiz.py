from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from quizzes.importing import quiz_import
from quizzes.quiz_file import MAX_FILE_BYTES, QuizFileError, quiz_file_parse


class Command(BaseCommand):
    help = "Import a quiz from a JSON file in one transaction (all or nothing) and publish it."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the quiz JSON file (see README for the format).")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)  # never more than the cap into memory
        except FileNotFoundError as err:
            raise CommandError(f"{path}: no such file") from err
        except OSError as err:  # a directory, no permission...
            raise CommandError(f"{path}: cannot read: {err.strerror or err}") from err
        try:
            result = quiz_import(data=quiz_file_parse(raw))
        except QuizFileError as err:
            lines = "\n".join(f"  {line}" for line in err.errors)
            raise CommandError(f"{path}: nothing imported:\n{lines}") from err
        quiz = result.quiz
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported “{quiz.title}” (id {quiz.pk}, {quiz.slot_label}) with "
                f"{quiz.questions.count()} questions, published."
            )
        )
        if result.teacher_created:
            self.stdout.write(
                f"Created teacher {quiz.created_by.email} (staff, Teachers, no password yet: "
                f"`manage.py changepassword {quiz.created_by.username}`)."
            )
