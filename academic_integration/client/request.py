"""Building a request to the Analyzer: its paths and the marks payload (checked before sending)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

TUTORIAL_NUMBERS = range(1, 5)
MAX_MARK = Decimal(10)

UPDATE_MARKS_PATH = "/staff/update-student-marks"
COURSE_DETAIL_PATH = "/staff/course-detail"
DASHBOARD_PATH = "/staff/dashboard"


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
    if tutorial_number not in TUTORIAL_NUMBERS:
        raise ValueError(f"tutorial_number must be 1-4, got {tutorial_number!r}")
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    if not value.is_finite() or not 0 <= value <= MAX_MARK:
        raise ValueError(f"mark must be a number from 0 to 10, got {value!r}")
    return {
        "studentId": student_id,
        "courseId": course_id,
        "teacherEmail": teacher_email,
        "marks": {f"tutorial{tutorial_number}": _json_number(value)},
    }
