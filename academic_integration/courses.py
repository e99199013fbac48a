"""What we know about the Analyzer's courses, kept in the database (``SyncState``).

A burst of submissions for one course costs one course-detail lookup, and a course the
Analyzer said is missing is not called again inline until the entry expires
(``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``) or someone asks again after fixing it. Shared by
every process and host; a fresh or restored database starts knowing nothing.
"""

import logging
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
from academic_integration.models import SyncState

logger = logging.getLogger(__name__)


def _expires():
    return timezone.now() + timedelta(seconds=settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS)


def _known(course_id: str) -> SyncState | None:
    row = state_rows([course_key(course_id)]).get(course_key(course_id))
    if row is None or row.expires_at is None or row.expires_at <= timezone.now():
        return None
    return row


def course_instructor_email(*, course_id: str) -> str | None:
    """The course's instructor email from the Analyzer (remembered); None when it has none.

    Raises the client's SyncError subclasses; a missing course is remembered as missing.
    """
    row = _known(course_id)
    if row is not None and row.reason != COURSE_MISSING:
        return row.instructor_email or None
    detail = course_detail_fetch(course_id=course_id)
    return detail.instructor_email


def course_detail_fetch(*, course_id: str) -> CourseDetail:
    """Ask the Analyzer for a course, remember what it said, and return it."""
    from academic_integration.exceptions import SyncRejectedError

    try:
        detail = get_client().course_detail(course_id=course_id)
    except SyncRejectedError as err:
        if err.reason == COURSE_MISSING:
            course_mark_missing(course_id=course_id)
        raise
    email = detail.instructor_email or ""
    _quietly(
        "course detail",
        lambda: _upsert(
            course_key(course_id), reason="", instructor_email=email, expires_at=_expires()
        ),
    )
    return detail


def course_mark_missing(*, course_id: str) -> None:
    _quietly(
        "course missing",
        lambda: _upsert(
            course_key(course_id), reason=COURSE_MISSING, instructor_email="", expires_at=_expires()
        ),
    )


def course_is_known_missing(*, course_id: str) -> bool:
    row = _known(course_id)
    return row is not None and row.reason == COURSE_MISSING


def course_forget(*, course_ids) -> None:
    """Drop what we know about these courses (after someone fixed them)."""
    try:
        SyncState.objects.filter(key__in=[course_key(c) for c in course_ids]).delete()
    except DatabaseError as err:
        logger.warning("course state not forgotten courses=%s error=%s", course_ids, err)
