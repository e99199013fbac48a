from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from quizzes.roster_file import HEADER, RosterError, roster_read
from quizzes.rosters import BATCH, roster_import


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
            help="Print a one-time set-password link for each account in the file that has "
            "no password yet (new now or by an earlier import, e.g. in admin), e.g. "
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
        if dry_run:
            return
        if password_links:
            self._password_links(sorted({r.username for r in rows}), password_links)
        elif result.users_created:
            self.stdout.write(
                f"{len(result.users_created)} new account(s) have no password yet: run again "
                "with --password-links https://your-site to print set-password links, or use "
                "`manage.py changepassword USERNAME`."
            )
            if options["verbosity"] >= 2:
                self.stdout.write("  " + ", ".join(result.users_created))

    def _password_links(self, usernames, base_url):
        """A link for every account in the file without a usable password: those created now
        and those an earlier import (e.g. the admin's) created, whose owners never set one."""
        users: list[User] = []
        for start in range(0, len(usernames), BATCH):
            users += (
                get_user_model()
                .objects.filter(
                    username__in=usernames[start : start + BATCH],
                    password__startswith=UNUSABLE_PASSWORD_PREFIX,
                )
                .order_by("username")
            )
        if not users:
            self.stdout.write("Every account in the file has a password: no links to print.")
            return
        self.stdout.write(
            f"Set-password links for the {len(users)} account(s) without a password "
            "(one-time; hand each to its owner):"
        )
        for user in sorted(users, key=lambda u: u.username):
            url = reverse(
                "password_reset_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            )
            self.stdout.write(f"  {user.username}: {base_url.rstrip('/')}{url}")
