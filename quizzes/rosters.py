"""Course rosters from the college's student records: checked rows in, courses and enrolments
out (the CSV is read by quizzes/roster_file.py).

All or nothing: every bad row is reported with its line and column, and nothing is written.
Importing the same file again changes nothing. The reads and writes are batched, so the
number of queries grows with the number of batches of 1,000 people, never per row.

Decisions (see README, "Courses and rosters"):
- Existing users are matched by username and enrolled; their details are not changed. A
  username differing only in case from an account (or another row) is an error, not a new
  account.
- New users get an unusable password: nobody knows a password nobody was told. The command
  prints, on request, a one-time set-password link per new user (to stdout, never to logs).
- Without `replace`, a roster only adds. With it, each course named in the file gets exactly
  the file's teachers and students: whoever is missing is removed from that course (their
  account, attempts and marks stay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower

from quizzes.models import Course, Quiz
from quizzes.roles import TEACHERS_GROUP
from quizzes.roster_file import ROLES, RosterError, RosterRow, split_name, where

logger = logging.getLogger(__name__)

BATCH = 1000


@dataclass
class RosterResult:
    courses_created: list[str] = field(default_factory=list)
    courses_renamed: list[str] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    teachers_added: int = 0
    students_enrolled: int = 0
    teachers_removed: int = 0
    #: (course, username) of teachers --replace left in place: they created its quizzes.
    teachers_kept: list[tuple[str, str]] = field(default_factory=list)
    students_removed: int = 0
    per_course: dict[str, dict[str, int]] = field(default_factory=dict)
    applied: bool = False

    @property
    def changed(self) -> bool:
        return any(
            (
                self.courses_created,
                self.courses_renamed,
                self.users_created,
                self.teachers_added,
                self.students_enrolled,
                self.teachers_removed,
                self.students_removed,
            )
        )

    def summary(self) -> str:
        if not self.changed and not self.teachers_kept:
            return "Nothing to change: the roster is already in place."
        parts = [
            f"{len(self.courses_created)} course(s) created",
            f"{len(self.courses_renamed)} renamed",
            f"{len(self.users_created)} new account(s)",
            f"{self.teachers_added} teacher(s) and {self.students_enrolled} student(s) added",
        ]
        if self.teachers_removed or self.students_removed:
            parts.append(
                f"{self.teachers_removed} teacher(s) and {self.students_removed} student(s) removed"
            )
        if self.teachers_kept:
            kept = ", ".join(f"{user} in {course}" for course, user in self.teachers_kept)
            parts.append(
                f"kept as teacher(s) because they created the course's quizzes (their email "
                f"goes with its marks): {kept}"
            )
        return "; ".join(parts) + "."


def _batches(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def roster_import(
    *,
    rows: list[RosterRow],
    replace: bool = False,
    by=None,
    dry_run: bool = False,
    parse_errors: list[str] | None = None,
) -> RosterResult:
    """Apply parsed roster rows, all or nothing; `dry_run` only says what would change.

    `by` is the admin user importing (None for the command): a teacher may import only
    into courses they teach and may not create teacher accounts; a superuser may do all.
    Raises RosterError (nothing written) when a row conflicts with what exists.
    """
    with transaction.atomic():
        result = _roster_apply(
            rows=rows, replace=replace, by=by, dry_run=dry_run, errors=list(parse_errors or [])
        )
    logger.info(
        "roster import rows=%s courses=%s users_created=%s teachers_added=%s "
        "students_enrolled=%s teachers_removed=%s students_removed=%s replace=%s dry_run=%s by=%s",
        len(rows),
        ",".join(sorted(result.per_course)),
        len(result.users_created),
        result.teachers_added,
        result.students_enrolled,
        result.teachers_removed,
        result.students_removed,
        replace,
        dry_run,
        getattr(by, "username", "command"),
    )
    return result


def _roster_apply(*, rows, replace, by, dry_run, errors) -> RosterResult:
    User = get_user_model()
    result = RosterResult()
    course_ids = sorted({r.course_id for r in rows})
    courses = {c.pk: c for c in Course.objects.filter(pk__in=course_ids)}
    limited = by is not None and not by.is_superuser
    if limited:
        taught = set(
            Course.teachers.through.objects.filter(
                user_id=by.pk, course_id__in=course_ids
            ).values_list("course_id", flat=True)
        )
        errors += [
            f"{where(r.line, 'course_id')}: you do not teach course {r.course_id}"
            for r in _first_per(rows, "course_id")
            if r.course_id not in taught
        ]
    people = _first_per(rows, "username")
    existing = {}
    in_teachers = Exists(
        User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=TEACHERS_GROUP)
    )
    # Matched case-insensitively: "21z301" in a careless export is the account 21Z301, and
    # is refused (never a second account, never a silent rewrite of a username).
    other_case: dict[str, list[str]] = {}
    for names in _batches([p.username for p in people]):
        for u in (
            User.objects.annotate(username_lower=Lower("username"))
            .filter(username_lower__in=[n.lower() for n in names])
            .only("pk", "username", "is_staff")
            .annotate(in_teachers=in_teachers)
        ):
            existing[u.username] = u
            other_case.setdefault(u.username.lower(), []).append(u.username)
    for person in people:
        user = existing.get(person.username)
        variants = other_case.get(person.username.lower())
        if user is None and variants:
            errors.append(
                f"{where(person.line, 'username')}: {person.username} differs only in case "
                f"from the existing account {', '.join(sorted(variants))}; write the username "
                "exactly as the account has it"
            )
        elif user is None:
            if person.role == "teacher" and limited:
                errors.append(
                    f"{where(person.line, 'username')}: {person.username} has no account; "
                    "only a superuser can create a teacher's account"
                )
        elif person.role == "student" and user.is_staff:
            errors.append(
                f"{where(person.line, 'role')}: {person.username} is staff here; a staff "
                "account cannot be enrolled as a student"
            )
        elif person.role == "teacher" and not user.is_staff:
            errors.append(
                f"{where(person.line, 'role')}: {person.username} exists here as a "
                "non-staff account; a superuser must make it staff before it can teach"
            )
        elif person.role == "teacher" and limited and not user.in_teachers:
            # A teacher's import would grant the Teachers group: privileges are a superuser's.
            errors.append(
                f"{where(person.line, 'role')}: {person.username} is not in the "
                f"{TEACHERS_GROUP} group; only a superuser can make an existing account a "
                "teacher"
            )
    errors += _identity_errors(people)
    with_teacher = {r.course_id for r in rows if r.role == "teacher"}
    # A row whose role is unreadable may be its teacher: that row's error is enough.
    with_teacher |= {r.course_id for r in rows if r.role not in ROLES}
    for row in _first_per(rows, "course_id"):
        if row.course_id not in with_teacher and (row.course_id not in courses or replace):
            errors.append(
                f"{where(row.line, 'course_id')}: course {row.course_id} needs at least one "
                "teacher row" + (" (--replace would leave it without one)" if replace else "")
            )
    if errors:
        raise RosterError(sorted(errors, key=_line_of))

    # --- courses --------------------------------------------------------------------------
    names = {}
    for row in rows:
        if row.course_name:
            names.setdefault(row.course_id, row.course_name)
    new_courses = [Course(id=c, name=names.get(c, "")) for c in course_ids if c not in courses]
    renamed = [c for c in courses.values() if names.get(c.pk) and names[c.pk] != c.name]
    for course in renamed:
        course.name = names[course.pk]
    result.courses_created = [c.pk for c in new_courses]
    result.courses_renamed = [c.pk for c in renamed]

    # --- users ----------------------------------------------------------------------------
    new_users = []
    for person in people:
        if person.username in existing:
            continue
        first, last = split_name(person.name)
        new_user = User(
            username=person.username,
            first_name=first,
            last_name=last,
            email=person.email,
            is_staff=person.role == "teacher",
        )
        new_user.set_unusable_password()
        new_users.append(new_user)
    result.users_created = [u.username for u in new_users]

    # --- memberships ----------------------------------------------------------------------
    wanted = {role: {(r.course_id, r.username) for r in rows if r.role == role} for role in ROLES}
    through = {"teacher": Course.teachers.through, "student": Course.students.through}
    present = {
        role: set(
            through[role]
            ._default_manager.filter(course_id__in=course_ids)
            .values_list("course_id", "user__username")
        )
        for role in ROLES
    }
    add = {role: wanted[role] - present[role] for role in ROLES}
    remove = {role: (present[role] - wanted[role]) if replace else set() for role in ROLES}
    if remove["teacher"]:
        # The creator of a course's quiz stays its teacher: their email goes with its marks.
        creators = set(
            Quiz.objects.filter(course_id__in={c for c, _ in remove["teacher"]})
            .values_list("course_id", "created_by__username")
            .distinct()
        )
        result.teachers_kept = sorted(remove["teacher"] & creators)
        remove["teacher"] -= creators
    result.teachers_added, result.students_enrolled = len(add["teacher"]), len(add["student"])
    result.teachers_removed = len(remove["teacher"])
    result.students_removed = len(remove["student"])
    for course_id in course_ids:
        result.per_course[course_id] = {
            "teachers": sum(1 for c, _ in wanted["teacher"] if c == course_id),
            "students": sum(1 for c, _ in wanted["student"] if c == course_id),
        }
    if dry_run:
        return result

    Course.objects.bulk_create(new_courses)
    if renamed:
        Course.objects.bulk_update(renamed, ["name"])
    pks = {u.username: u.pk for u in existing.values()}
    for batch in _batches(new_users):
        User.objects.bulk_create(batch)
        # Re-read: not every database returns the ids of bulk-created rows.
        pks.update(
            User.objects.filter(username__in=[u.username for u in batch]).values_list(
                "username", "pk"
            )
        )
    teachers_group = Group.objects.get(name=TEACHERS_GROUP)
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(group_id=teachers_group.pk, user_id=pks[p.username])
            for p in people
            if p.role == "teacher"
        ],
        ignore_conflicts=True,
    )
    for role in ROLES:
        model = through[role]
        for batch in _batches(sorted(add[role])):
            model._default_manager.bulk_create(
                [model(course_id=c, user_id=pks[u]) for c, u in batch], ignore_conflicts=True
            )
        for course_id in course_ids:
            gone = [u for c, u in remove[role] if c == course_id]
            if gone:
                model._default_manager.filter(course_id=course_id, user__username__in=gone).delete()
    result.applied = True
    return result


def _identity_errors(people: list[RosterRow]) -> list[str]:
    """A teacher is known by their email (quiz files, the Academic Analyzer): no student may
    hold a staff member's email as email or username, and no teacher may take the email of
    an existing non-staff account (a student squatting it)."""
    User = get_user_model()
    keys = {p.email for p in people if p.email}
    keys |= {p.username.lower() for p in people if p.role == "student" and "@" in p.username}
    holders: dict[str, list] = {}
    for batch in _batches(sorted(keys)):
        for user in (
            User.objects.annotate(email_lower=Lower("email"), username_lower=Lower("username"))
            .filter(Q(email_lower__in=batch) | Q(username_lower__in=batch))
            .only("username", "email", "is_staff")
        ):
            for key in {user.email_lower, user.username_lower} & set(batch):
                holders.setdefault(key, []).append(user)
    errors = []
    for person in people:
        if person.role == "student":
            for column, key in (("email", person.email), ("username", person.username.lower())):
                staff = [u for u in holders.get(key, ()) if u.is_staff]
                if key and staff and staff[0].username != person.username:
                    errors.append(
                        f"{where(person.line, column)}: {key} is the email of staff member "
                        f"{staff[0].username}; a student cannot take it"
                    )
        elif person.role == "teacher" and person.email:
            others = [
                u
                for u in holders.get(person.email, ())
                if not u.is_staff and u.username != person.username
            ]
            if others:
                errors.append(
                    f"{where(person.line, 'email')}: {person.email} is held by the non-staff "
                    f"account {others[0].username}; a superuser must correct that account "
                    "first (a teacher is known by their email)"
                )
    return errors


def _line_of(error: str) -> int:
    """`line 7, column role: …` -> 7, to list every problem in file order."""
    number = error.removeprefix("line ").split(",")[0].split(":")[0]
    return int(number) if number.isdigit() else 0


def _first_per(rows: list[RosterRow], key: str) -> list[RosterRow]:
    seen: dict[object, RosterRow] = {}
    for row in rows:
        seen.setdefault(getattr(row, key), row)
    return list(seen.values())
