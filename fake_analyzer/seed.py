"""The fake's data: courses, teachers and students, and the demo seed."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .responses import ControlError

TUTORIAL_KEYS = ("tutorial1", "tutorial2", "tutorial3", "tutorial4")


@dataclass
class Course:
    course_id: str
    name: str
    instructor: str | None
    students: set[str] = field(default_factory=set)
    deleted: bool = False


@dataclass(frozen=True)
class SeedCourse:
    course_id: str
    name: str
    instructor: str | None
    students: tuple[str, ...]
    no_performance: frozenset[str]


@dataclass(frozen=True)
class Seed:
    teachers: tuple[str, ...] = ()
    students: tuple[str, ...] = ()
    courses: tuple[SeedCourse, ...] = ()


def demo_seed() -> dict[str, Any]:
    """The demo data of `quizzes.demo_data`, in the control API's seed shape."""
    from quizzes import demo_data

    return {
        "teachers": [t["email"] for t in demo_data.TEACHERS],
        "students": [s["username"] for s in demo_data.STUDENTS],
        "courses": copy.deepcopy(demo_data.COURSES),
    }


def _str_list(value: Any, what: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ControlError(f"{what} must be a list")
    out = []
    for item in value:
        # Accept demo_data-style dicts too, so its lists can be passed straight through.
        if isinstance(item, dict):
            item = item.get(key)
        if not isinstance(item, str) or not item:
            raise ControlError(f"{what} must hold non-empty strings")
        out.append(item)
    return out


def parse_seed(data: Any) -> Seed:
    """Validate a seed document; raise ControlError before anything is applied."""
    if data is None:
        return Seed()
    if not isinstance(data, dict):
        raise ControlError("seed must be an object")
    unknown = set(data) - {"teachers", "students", "courses"}
    if unknown:
        raise ControlError(f"unknown seed keys: {sorted(unknown)}")
    courses = []
    raw_courses = data.get("courses") or []
    if not isinstance(raw_courses, list):
        raise ControlError("seed courses must be a list")
    for raw in raw_courses:
        if not isinstance(raw, dict):
            raise ControlError("each seed course must be an object")
        unknown = set(raw) - {"course_id", "name", "instructor", "students", "no_performance"}
        if unknown:
            raise ControlError(f"unknown seed course keys: {sorted(unknown)}")
        course_id = raw.get("course_id")
        if not isinstance(course_id, str) or not course_id:
            raise ControlError("each seed course needs a non-empty course_id")
        name = raw.get("name", course_id)
        instructor = raw.get("instructor")
        if not isinstance(name, str) or not (instructor is None or isinstance(instructor, str)):
            raise ControlError("course name must be a string and instructor a string or null")
        courses.append(
            SeedCourse(
                course_id=course_id,
                name=name,
                instructor=instructor or None,
                students=tuple(_str_list(raw.get("students"), "course students", "username")),
                no_performance=frozenset(
                    _str_list(raw.get("no_performance"), "no_performance", "username")
                ),
            )
        )
    return Seed(
        teachers=tuple(_str_list(data.get("teachers"), "teachers", "email")),
        students=tuple(_str_list(data.get("students"), "students", "username")),
        courses=tuple(courses),
    )
