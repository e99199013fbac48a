from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from quizzes.rosters import HEADER, RosterError, roster_import, roster_read


class Command(BaseCommand):
    help = (
        "Import course rosters (teachers and enrolled students) from a CSV file, all or "
        f"nothing. Header: {','.join(HEADER)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the roster CSV file.")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="The file is the whole roster of each course it names: teachers and "
            "students of those courses who are not in it are removed from the course.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would change; write nothing."
        )
        parser.add_argument(
            "--password-links",
            metavar="BASE_URL",
            help="Print a one-time set-password link for each new account, e.g. "
            "https://quiz.college.edu (valid for PASSWORD_RESET_TIMEOUT; stdout only).",
        )

    def handle(self, *args, file, replace, dry_run, password_links, **options):
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as err:
            raise CommandError(f"{path}: no such file") from err
        except OSError as err:
            raise CommandError(f"{path}: cannot read: {err.strerror or err}") from err
        except UnicodeDecodeError as err:
            raise CommandError(f"{path}: not UTF-8 text: {err}") from err
        try:
            rows, errors = roster_read(text)
            result = roster_import(rows=rows, replace=replace, dry_run=dry_run, parse_errors=errors)
        except RosterError as err:
            lines = "\n".join(f"  {line}" for line in err.errors)
            raise CommandError(f"{path}: nothing imported:\n{lines}") from err
        prefix = "Dry run, nothing written: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + result.summary()))
        for course_id, counts in sorted(result.per_course.items()):
            self.stdout.write(
                f"  {course_id}: {counts['teachers']} teacher(s), {counts['students']} "
                "student(s) in the file"
            )
        if result.users_created and not dry_run:
            self._new_accounts(result.users_created, password_links, options["verbosity"])

    def _new_accounts(self, usernames, base_url, verbosity):
        if not base_url:
            self.stdout.write(
                f"{len(usernames)} new account(s) have no password yet: run again with "
                "--password-links https://your-site to print set-password links, or use "
                "`manage.py changepassword USERNAME`."
            )
            if verbosity >= 2:
                self.stdout.write("  " + ", ".join(usernames))
            return
        users = get_user_model().objects.filter(username__in=usernames).order_by("username")
        self.stdout.write("Set-password links (one-time; hand each to its owner):")
        for user in users.iterator(chunk_size=1000):
            url = reverse(
                "password_reset_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
            self.stdout.write(f"  {user.username}: {base_url.rstrip('/')}{url}")
