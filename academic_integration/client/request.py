"""Building a request to the Analyzer: its paths and the marks payloads (checked before sending)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

TUTORIAL_NUMBERS = range(1, 5)
MAX_MARK = Decimal(10)

UPDATE_MARKS_PATH = "/staff/update-student-marks"
COURSE_DETAIL_PATH = "/staff/course-detail"
DASHBOARD_PATH = "/staff/dashboard"


def tutorial_marks_path(tutorial_number: int) -> str:
    """The bulk route of one tutorial: ``/staff/add-tut1-mark`` … ``add-tut4-mark``."""
    return f"/staff/add-tut{_tutorial(tutorial_number)}-mark"


def _json_number(value: Decimal) -> int | float:
    # json cannot encode Decimal; whole marks go as ints (10), others as the float whose
    # shortest repr is the same digits (3.33), so the Analyzer receives a number.
    return int(value) if value == value.to_integral_value() else float(value)


def marks_payload(
    *,
    student_id: str,
    course_id: str,
    teacher_email: str,
    tutorial_number: int,
    value: Decimal,
) -> dict[str, Any]:
    """The body of an update-student-marks request.

    Raises ``ValueError`` for a tutorial outside 1-4 or a value outside 0-10.
    """
    return {
        "studentId": student_id,
        "courseId": course_id,
        "teacherEmail": teacher_email,
        "marks": {f"tutorial{_tutorial(tutorial_number)}": _json_number(_mark(value))},
    }


def tutorial_marks_payload(
    *,
    course_id: str,
    teacher_email: str,
    tutorial_number: int,
    items: Sequence[tuple[str, Decimal]],
) -> dict[str, Any]:
    """The body of an add-tutN-mark request: one item per (roll number, value), in order.

    Raises ``ValueError`` for a tutorial outside 1-4, no items, a blank or repeated roll
    number, or a value outside 0-10: the Analyzer would store a bad value without a word.
    """
    _tutorial(tutorial_number)
    if not items:
        raise ValueError("items must not be empty")
    rolls = [roll for roll, _ in items]
    if not all(isinstance(roll, str) and roll.strip() for roll in rolls):
        raise ValueError("every item needs a roll number")
    if len(set(rolls)) != len(rolls):
        # Results are matched to items by position only; a repeat would hide which won.
        raise ValueError("a roll number appears twice")
    return {
        "teacherEmail": teacher_email,
        "courseId": course_id,
        # A list even of one: upstream accepts a single object only when keyed by email.
        "studentInput": [
            {"rollno": roll, "mark": _json_number(_mark(value))} for roll, value in items
        ],
    }


def _tutorial(tutorial_number: int) -> int:
    if tutorial_number not in TUTORIAL_NUMBERS:
        raise ValueError(f"tutorial_number must be 1-4, got {tutorial_number!r}")
    return tutorial_number


def _mark(value: Decimal) -> Decimal:
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    if not value.is_finite() or not 0 <= value <= MAX_MARK:
        raise ValueError(f"mark must be a number from 0 to 10, got {value!r}")
    return value
