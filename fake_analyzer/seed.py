"""The fake's data (teachers, students, courses as upstream's models hold them) and seeds.

A seed document, as the control API (`POST /seed`, `POST /reset {"seed": …}`) and
`FakeAnalyzer(seed=…)` take it; every key is optional:

    {"teachers": ["anand@college.edu", {"email": "priya@college.edu", "name": "Priya Nair"}],
     "students": ["21Z201", {"rollno": "21Z202", "name": "Bhavya S", "email": "b@college.edu"}],
     "courses": [{"course_id": "19XW51", "name": "Compilers",
                  "course_code": "19XW51", "batch": "2021",
                  "teachers": ["anand@college.edu"],
                  "students": ["21Z201", "21Z202"], "no_performance": ["21Z202"]}]}

A student given by roll number alone is named after it and gets the address
`<roll in lower case>@college.edu`; a teacher given by address alone is named after it (as
upstream's own teacher script does). A course's `teachers` are its `assignedTeachers` (and
so each one's `coursesHandled`); `instructor` (one address or null) is still accepted as a
one-element `teachers`. `course_code`/`batch` default to the id split at its last "-"
(upstream's ids are `<courseCode>-<batch>`), else the id and "". Enrolled students and
assigned teachers are created when missing; each enrolment gets a performance record of
zeros (upstream's schema defaults) unless listed in `no_performance`. Seeding adds to what
is there: a course seeded again keeps its students and teachers and gains the new ones.
Demo-data dicts (`username`, `first_name`, `last_name`) are accepted as they are.
"""

from __future__ import annotations

import copy
import itertools
import os
import time
from dataclasses import dataclass, field
from typing import Any

from .responses import ControlError

# The marks a performance record holds, with upstream's schema names.
MARK_FIELDS = (
    "tutorial1",
    "tutorial2",
    "tutorial3",
    "tutorial4",
    "CA1",
    "CA2",
    "assignmentPresentation",
)
TUTORIAL_KEYS = MARK_FIELDS[:4]
EMAIL_DOMAIN = "college.edu"

_PROCESS_ID = os.urandom(5).hex()
_object_ids = itertools.count(int.from_bytes(os.urandom(3), "big"))


def object_id() -> str:
    """A fresh 24-hex-digit id made like Mongo's ObjectId: time, process, counter."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{_PROCESS_ID}{next(_object_ids) & 0xFFFFFF:06x}"


def new_marks() -> dict[str, float | int | None]:
    return dict.fromkeys(MARK_FIELDS, 0)


@dataclass
class Teacher:
    email: str
    name: str
    courses_handled: list[str] = field(default_factory=list)  # course ids, in order
    oid: str = field(default_factory=object_id)


@dataclass
class Student:
    rollno: str
    name: str
    email: str
    oid: str = field(default_factory=object_id)


@dataclass
class Course:
    course_id: str
    name: str
    course_code: str
    batch: str
    teachers: list[str] = field(default_factory=list)  # assignedTeachers, by email
    students: list[str] = field(default_factory=list)  # enrolledStudents, by roll number
    oid: str = field(default_factory=object_id)


@dataclass
class ArchivedCourse:
    """What upstream's archive-course keeps: the course, its roster and a marks snapshot."""

    oid: str
    course: Course
    teacher: str | None
    marks: dict[str, dict[str, float | int | None]]
    archived_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    )


@dataclass(frozen=True)
class SeedTeacher:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class SeedStudent:
    rollno: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SeedCourse:
    course_id: str
    name: str | None
    course_code: str | None
    batch: str | None
    teachers: tuple[str, ...]
    students: tuple[SeedStudent, ...]
    no_performance: frozenset[str]


@dataclass(frozen=True)
class Seed:
    teachers: tuple[SeedTeacher, ...] = ()
    students: tuple[SeedStudent, ...] = ()
    courses: tuple[SeedCourse, ...] = ()


def default_email(rollno: str) -> str:
    return f"{rollno.lower()}@{EMAIL_DOMAIN}"


def split_course_id(course_id: str) -> tuple[str, str]:
    """Upstream's ids are `<courseCode>-<batch>`; others are their own code, batch ""."""
    code, dash, batch = course_id.rpartition("-")
    return (code, batch) if dash and code and batch else (course_id, "")


def demo_seed() -> dict[str, Any]:
    """The demo data of `quizzes.demo_data`, in the control API's seed shape."""
    from quizzes import demo_data

    return {
        "teachers": [
            {"email": t["email"], "name": f"{t['first_name']} {t['last_name']}"}
            for t in demo_data.TEACHERS
        ],
        "students": [
            {
                "rollno": s["username"],
                "name": f"{s['first_name']} {s['last_name']}",
                "email": default_email(s["username"]),
            }
            for s in demo_data.STUDENTS
        ],
        "courses": copy.deepcopy(demo_data.COURSES),
    }


def _name_of(raw: dict[str, Any]) -> str | None:
    name = raw.get("name")
    if name is None and (raw.get("first_name") or raw.get("last_name")):
        name = f"{raw.get('first_name') or ''} {raw.get('last_name') or ''}".strip()
    if name is not None and (not isinstance(name, str) or not name):
        raise ControlError("names must be non-empty strings")
    return name


def _nonempty_str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ControlError(f"{what} must be a non-empty string")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ControlError(f"{what} must be a list")
    return value


def _teacher(raw: Any) -> SeedTeacher:
    if isinstance(raw, dict):
        return SeedTeacher(_nonempty_str(raw.get("email"), "a teacher's email"), _name_of(raw))
    return SeedTeacher(_nonempty_str(raw, "a teacher"))


def _student(raw: Any) -> SeedStudent:
    if isinstance(raw, dict):
        roll = raw.get("rollno", raw.get("username"))
        email = raw.get("email")
        if email is not None:
            email = _nonempty_str(email, "a student's email")
        return SeedStudent(_nonempty_str(roll, "a student's rollno"), _name_of(raw), email)
    return SeedStudent(_nonempty_str(raw, "a student"))


COURSE_KEYS = {
    "course_id",
    "name",
    "course_code",
    "batch",
    "teachers",
    "instructor",
    "students",
    "no_performance",
}


def _course(raw: Any) -> SeedCourse:
    if not isinstance(raw, dict):
        raise ControlError("each seed course must be an object")
    unknown = set(raw) - COURSE_KEYS
    if unknown:
        raise ControlError(f"unknown seed course keys: {sorted(unknown)}")
    course_id = _nonempty_str(raw.get("course_id"), "each seed course's course_id")
    optional = {}
    for key in ("name", "course_code", "batch"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise ControlError(f"course {key} must be a string")
        optional[key] = value
    teachers = [_teacher(t).email for t in _list(raw.get("teachers"), "course teachers")]
    instructor = raw.get("instructor")
    if instructor is not None:
        teachers.insert(0, _nonempty_str(instructor, "course instructor (or null)"))
    return SeedCourse(
        course_id=course_id,
        name=optional["name"],
        course_code=optional["course_code"],
        batch=optional["batch"],
        teachers=tuple(dict.fromkeys(teachers)),
        students=tuple(_student(s) for s in _list(raw.get("students"), "course students")),
        no_performance=frozenset(
            _student(s).rollno for s in _list(raw.get("no_performance"), "no_performance")
        ),
    )


def parse_seed(data: Any) -> Seed:
    """Validate a seed document; raise ControlError before anything is applied."""
    if data is None:
        return Seed()
    if not isinstance(data, dict):
        raise ControlError("seed must be an object")
    unknown = set(data) - {"teachers", "students", "courses"}
    if unknown:
        raise ControlError(f"unknown seed keys: {sorted(unknown)}")
    return Seed(
        teachers=tuple(_teacher(t) for t in _list(data.get("teachers"), "teachers")),
        students=tuple(_student(s) for s in _list(data.get("students"), "students")),
        courses=tuple(_course(c) for c in _list(data.get("courses"), "seed courses")),
    )
