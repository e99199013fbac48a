"""What we know about the Analyzer's courses and teachers: asked, then remembered.

A course exists when course-detail answers it (its roster comes with it); a teacher handles a
course when the Analyzer's dashboard lists it for them. Both answers are remembered in
``sync_state`` for ``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``, shared by every process and
host: a burst of submissions costs one lookup, and a course the Analyzer said is missing is
not called again inline until the entry expires or someone forgets it after fixing it.
"""

from __future__ import annotations

from collections.abc import Iterable

from academic_integration import sync_state
from academic_integration.client import CourseDetail, get_client
from academic_integration.exceptions import SyncRejectedError
from academic_integration.reasons import Reason

# The write-back imports this writer from here; it lives in ``sync_state``.
from academic_integration.sync_state import course_mark_missing as course_mark_missing


def course_detail_fetch(*, course_id: str) -> CourseDetail:
    """Ask the Analyzer for a course (with its roster), remember that it exists, return it.

    Raises the client's SyncError subclasses; a missing course is remembered as missing.
    """
    try:
        detail = get_client().course_detail(course_id=course_id)
    except SyncRejectedError as err:
        if err.reason == Reason.COURSE_NOT_FOUND:
            sync_state.course_remember(course_id=course_id, missing=True)
        raise
    sync_state.course_remember(course_id=course_id, missing=False)
    return detail


def course_is_known_missing(*, course_id: str) -> bool:
    return bool(courses_known_missing(course_ids=[course_id]))


def courses_known_missing(*, course_ids: Iterable[str]) -> set[str]:
    """Those of ``course_ids`` the Analyzer said are missing, still within the cache period."""
    keys = {sync_state.course_key(course_id): course_id for course_id in course_ids}
    return {
        keys[key]
        for key, row in sync_state.rows(keys).items()
        if row.reason == Reason.COURSE_NOT_FOUND and sync_state.live(row)
    }


def teacher_courses_known(*, email: str) -> frozenset[str] | None:
    """The course ids the Analyzer lists for teacher ``email`` (remembered); None when the
    Analyzer knows no such teacher. Raises the client's other SyncError subclasses."""
    key = sync_state.teacher_key(email)
    row = sync_state.live(sync_state.rows([key]).get(key))
    if row is None:
        return teacher_courses_fetch(email=email)
    if row.reason == Reason.TEACHER_NOT_FOUND:
        return None
    return frozenset((row.data or {}).get("courses") or ())


def teacher_courses_fetch(*, email: str) -> frozenset[str] | None:
    """Ask the Analyzer's dashboard for teacher ``email`` now, remember the answer, return the
    course ids it lists (None: no such teacher). Raises the client's other SyncError
    subclasses."""
    try:
        found = get_client().teacher_courses(email=email).course_ids
    except SyncRejectedError as err:
        if err.reason != Reason.TEACHER_NOT_FOUND:
            raise
        sync_state.teacher_remember(email=email, courses=None)
        return None
    sync_state.teacher_remember(email=email, courses=found)
    return found


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
