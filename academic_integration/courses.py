"""What we know about the Analyzer's courses and teachers, kept in the database (``SyncState``).

A course exists when course-detail answers it (its roster comes with it); a teacher handles a
course when the Analyzer's dashboard lists it for them. Both answers are remembered for
``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``, shared by every process and host: a burst of
submissions costs one lookup, and a course the Analyzer said is missing is not called again
inline until the entry expires (an archived course that is restored is then found again) or
someone asks again after fixing it. A fresh or restored database starts knowing nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from academic_integration.breaker import (
    COURSE_MISSING,
    _quietly,
    _upsert,
    course_key,
    state_rows,
)
from academic_integration.client import CourseDetail, get_client
from academic_integration.exceptions import SyncRejectedError
from academic_integration.models import SyncState
from academic_integration.reasons import Reason

logger = logging.getLogger(__name__)

_TEACHER = "teacher:"
TEACHER_UNKNOWN = Reason.TEACHER_NOT_FOUND


def _expires():
    return timezone.now() + timedelta(seconds=settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS)


def _known(key: str) -> SyncState | None:
    row = state_rows([key]).get(key)
    if row is None or row.expires_at is None or row.expires_at <= timezone.now():
        return None
    return row


def teacher_key(email: str) -> str:
    """Names a teacher's row without storing the email in the key (emails run to 254)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"{_TEACHER}{digest}"


# --- courses ----------------------------------------------------------------------------------


def course_detail_fetch(*, course_id: str) -> CourseDetail:
    """Ask the Analyzer for a course (with its roster), remember that it exists, return it.

    Raises the client's SyncError subclasses; a missing course is remembered as missing.
    """
    try:
        detail = get_client().course_detail(course_id=course_id)
    except SyncRejectedError as err:
        if err.reason == COURSE_MISSING:
            course_mark_missing(course_id=course_id)
        raise
    _quietly(
        "course detail",
        lambda: _upsert(course_key(course_id), reason="", expires_at=_expires()),
    )
    return detail


def course_mark_missing(*, course_id: str) -> None:
    _quietly(
        "course missing",
        lambda: _upsert(course_key(course_id), reason=COURSE_MISSING, expires_at=_expires()),
    )


def course_is_known_missing(*, course_id: str) -> bool:
    row = _known(course_key(course_id))
    return row is not None and row.reason == COURSE_MISSING


def courses_known_missing(*, course_ids: Iterable[str]) -> set[str]:
    """Those of ``course_ids`` the Analyzer said are missing, still within the cache period."""
    keys = {course_key(course_id): course_id for course_id in course_ids}
    now = timezone.now()
    return {
        keys[key]
        for key, row in state_rows(list(keys)).items()
        if row.reason == COURSE_MISSING and row.expires_at and row.expires_at > now
    }


def course_forget(*, course_ids) -> None:
    """Drop what we know about these courses (after someone fixed them)."""
    try:
        SyncState.objects.filter(key__in=[course_key(c) for c in course_ids]).delete()
    except DatabaseError as err:
        logger.warning("course state not forgotten courses=%s error=%s", course_ids, err)


# --- teachers ---------------------------------------------------------------------------------


def teacher_courses_known(*, email: str) -> frozenset[str] | None:
    """The course ids the Analyzer lists for teacher ``email`` (remembered); None when the
    Analyzer knows no such teacher. Raises the client's other SyncError subclasses."""
    row = _known(teacher_key(email))
    if row is None:
        return teacher_courses_fetch(email=email)
    if row.reason == TEACHER_UNKNOWN:
        return None
    return frozenset((row.data or {}).get("courses") or ())


def teacher_courses_fetch(*, email: str) -> frozenset[str] | None:
    """Ask the Analyzer's dashboard for teacher ``email`` now, remember the answer, return the
    course ids it lists (None: no such teacher). Raises the client's other SyncError
    subclasses."""
    key = teacher_key(email)
    try:
        found = get_client().teacher_courses(email=email)
    except SyncRejectedError as err:
        if err.reason != TEACHER_UNKNOWN:
            raise
        _quietly(
            "teacher unknown",
            lambda: _upsert(key, reason=TEACHER_UNKNOWN, data={}, expires_at=_expires()),
        )
        return None
    courses = sorted(found.course_ids)
    _quietly(
        "teacher courses",
        lambda: _upsert(key, reason="", data={"courses": courses}, expires_at=_expires()),
    )
    return found.course_ids


def course_teacher_email(*, course_id: str) -> str | None:
    """The email of one of the course's teachers here whom the Analyzer lists as handling
    the course (the first by account age), or None. One dashboard lookup per teacher asked,
    remembered; raises the client's SyncError subclasses when the Analyzer cannot be asked."""
    from quizzes.models import Course

    emails = (
        Course.teachers.through.objects.filter(course_id=course_id)
        .exclude(user__email="")
        .order_by("user_id")
        .values_list("user__email", flat=True)
    )
    for email in emails:
        handled = teacher_courses_known(email=email)
        if handled is not None and course_id in handled:
            return email
    return None
