"""Reading a roster file: CSV text in, checked rows out, every bad row named.

`roster_read` checks each row and the rows against each other (a person is one role with one
name and email; a course has one name); quizzes/rosters.py's `roster_import` then checks them
against the database and applies them, all or nothing.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from quizzes.models import COURSE_ID_VALIDATOR

HEADER = ["course_id", "course_name", "role", "username", "name", "email"]
ROLES = ("teacher", "student")

# What the database holds (quizzes.models.Course and auth.User), checked before any preview
# says a roster is fine: PostgreSQL refuses a longer value or a NUL at write time, SQLite
# stores either, and the preview and the apply must never disagree.
MAX_COURSE_NAME = 200
MAX_USERNAME = 150
MAX_NAME_PART = 150  # first_name and last_name
MAX_EMAIL = 254


@dataclass(frozen=True)
class RosterRow:
    line: int
    course_id: str
    course_name: str
    role: str
    username: str
    name: str
    email: str


class RosterError(Exception):
    """The roster cannot be imported; `errors` lists `line N, column C: problem` lines."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


def where(line: int, column: str | None = None) -> str:
    return f"line {line}, column {column}" if column else f"line {line}"


def roster_parse(text: str) -> list[RosterRow]:
    """Parse and check a roster file's text; raise RosterError listing every bad row."""
    rows, errors = roster_read(text)
    if errors:
        raise RosterError(errors)
    return rows


def roster_read(text: str) -> tuple[list[RosterRow], list[str]]:
    """Parse a roster: its rows and the problems found in them (pass both to roster_import,
    which adds what it finds against the database and reports them all at once).

    Raises RosterError at once for a file that is not a roster (empty, wrong header)."""
    errors: list[str] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError(
            ["line 1: the file is empty; the header is " + ",".join(HEADER)]
        ) from None
    if [h.strip() for h in header] != HEADER:
        raise RosterError(
            [f"line 1: the header must be exactly {','.join(HEADER)} (got {','.join(header)})"]
        )
    rows: list[RosterRow] = []
    username_check = UnicodeUsernameValidator()
    student_pattern = settings.STUDENT_USERNAME_PATTERN
    for line, values in _records(reader, errors):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(HEADER):
            errors.append(f"{where(line)}: expected {len(HEADER)} columns, got {len(values)}")
            continue
        cells = dict(zip(HEADER, (v.strip() for v in values), strict=True))
        if bad := _control_character_errors(line, cells):
            errors += bad
            continue
        course_id = cells["course_id"].upper()
        try:
            COURSE_ID_VALIDATOR(course_id)
        except ValidationError as err:
            errors.append(f"{where(line, 'course_id')}: {err.messages[0]}")
        if len(cells["course_name"]) > MAX_COURSE_NAME:
            errors.append(f"{where(line, 'course_name')}: at most {MAX_COURSE_NAME} characters")
        role = cells["role"].lower()
        if role not in ROLES:
            errors.append(
                f"{where(line, 'role')}: must be teacher or student (got {cells['role']!r})"
            )
        username = cells["username"]
        try:
            if not username or len(username) > MAX_USERNAME:
                raise ValidationError(f"required, at most {MAX_USERNAME} characters")
            username_check(username)
            if role == "student" and not re.fullmatch(student_pattern, username):
                raise ValidationError(
                    f"{username!r} is not a student username here (STUDENT_USERNAME_PATTERN "
                    f"{student_pattern}; a roll number, never an email)"
                )
        except ValidationError as err:
            errors.append(f"{where(line, 'username')}: {err.messages[0]}")
        first, last = split_name(cells["name"])
        if len(first) > MAX_NAME_PART or len(last) > MAX_NAME_PART:
            errors.append(
                f"{where(line, 'name')}: the first name (up to the first space) and the rest "
                f"are each at most {MAX_NAME_PART} characters"
            )
        email = cells["email"].lower()
        if role == "teacher" and not email:
            errors.append(
                f"{where(line, 'email')}: required for a teacher (the Academic Analyzer "
                "knows teachers by email)"
            )
        elif len(email) > MAX_EMAIL:
            errors.append(f"{where(line, 'email')}: at most {MAX_EMAIL} characters")
        elif email:
            try:
                validate_email(email)
            except ValidationError:
                errors.append(f"{where(line, 'email')}: not an email address ({email!r})")
        rows.append(
            RosterRow(line, course_id, cells["course_name"], role, username, cells["name"], email)
        )
    errors += _cross_row_errors(rows)
    if not rows and not errors:
        raise RosterError(["line 2: the roster has no rows"])
    return rows, errors


def split_name(name: str) -> tuple[str, str]:
    """A roster's one name column as (first_name, last_name)."""
    first, _, last = name.partition(" ")
    return first, last.strip()


def _records(reader, errors: list[str]):
    """(line, values) of each CSV record; a record csv cannot read (a cell over its field
    limit, 131,072 characters) is one error for its line, and reading goes on."""
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            errors.append(
                f"{where(reader.line_num)}: a cell is too long to read ({err}); no column of "
                "a roster holds more than a few hundred characters"
            )
            continue
        yield reader.line_num, values


def _control_character_errors(line: int, cells: dict[str, str]) -> list[str]:
    """NUL, line breaks inside a cell and other control characters: no column needs one,
    PostgreSQL cannot store NUL, and a name with a line break garbles every page and CSV."""
    errors = []
    for column, value in cells.items():
        bad = next((c for c in value if unicodedata.category(c) == "Cc"), None)
        if bad is not None:
            errors.append(
                f"{where(line, column)}: contains a control character (U+{ord(bad):04X}); remove it"
            )
    return errors


def _cross_row_errors(rows: list[RosterRow]) -> list[str]:
    """A person is one role with one name and email; a course has one name."""
    errors = []
    teacher_emails = {r.email: r for r in rows if r.role == "teacher" and r.email}
    for row in rows:
        teacher = teacher_emails.get(row.email) or teacher_emails.get(row.username.lower())
        if row.role == "student" and teacher is not None:
            column = "email" if row.email in teacher_emails else "username"
            errors.append(
                f"{where(row.line, column)}: {teacher.email} is the email of teacher "
                f"{teacher.username} on line {teacher.line}; a student cannot take it"
            )
    first_person: dict[str, RosterRow] = {}
    first_folded: dict[str, RosterRow] = {}
    course_names: dict[str, RosterRow] = {}
    for row in rows:
        seen = first_person.setdefault(row.username, row)
        folded = first_folded.setdefault(row.username.lower(), row)
        if folded.username != row.username:
            errors.append(
                f"{where(row.line, 'username')}: {row.username} differs only in case from "
                f"{folded.username} on line {folded.line}; one person has one username"
            )
        elif seen.role != row.role and row.role in ROLES and seen.role in ROLES:
            errors.append(
                f"{where(row.line, 'role')}: {row.username} is a {seen.role} on line "
                f"{seen.line}; a person is either a teacher or a student"
            )
        elif (seen.name, seen.email) != (row.name, row.email):
            column = "name" if seen.name != row.name else "email"
            errors.append(
                f"{where(row.line, column)}: {row.username} has a different {column} on "
                f"line {seen.line}"
            )
        named = course_names.setdefault(row.course_id, row)
        if row.course_name and named.course_name and named.course_name != row.course_name:
            errors.append(
                f"{where(row.line, 'course_name')}: course {row.course_id} is named "
                f"{named.course_name!r} on line {named.line}"
            )
        elif row.course_name and not named.course_name:
            course_names[row.course_id] = row
    return errors
