"""What we know about the Analyzer's courses, cached in Django's cache.

A burst of submissions for one course costs one course-detail lookup, and a course the
Analyzer said is missing is not called again inline until the cache entry expires or someone
asks again after fixing it.
"""

import logging

from django.conf import settings
from django.core.cache import cache

from academic_integration.client import CourseDetail, get_client

logger = logging.getLogger(__name__)

_DETAIL_KEY = "analyzer-sync:course:{}"
_MISSING_KEY = "analyzer-sync:course-missing:{}"
_NO_INSTRUCTOR = ""


def course_instructor_email(*, course_id: str) -> str | None:
    """The course's instructor email from the Analyzer (cached); None when it has none.

    Raises the client's SyncError subclasses; a missing course is remembered as missing.
    """
    key = _DETAIL_KEY.format(course_id)
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    detail = course_detail_fetch(course_id=course_id)
    return detail.instructor_email


def course_detail_fetch(*, course_id: str) -> CourseDetail:
    """Ask the Analyzer for a course, refresh the caches, and return it."""
    from academic_integration.exceptions import SyncRejectedError

    try:
        detail = get_client().course_detail(course_id=course_id)
    except SyncRejectedError as err:
        if err.reason == "course_not_found":
            course_mark_missing(course_id=course_id)
        raise
    ttl = settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS
    cache.set(_DETAIL_KEY.format(course_id), detail.instructor_email or _NO_INSTRUCTOR, ttl)
    cache.delete(_MISSING_KEY.format(course_id))
    return detail


def course_mark_missing(*, course_id: str) -> None:
    cache.set(_MISSING_KEY.format(course_id), True, settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS)
    cache.delete(_DETAIL_KEY.format(course_id))


def course_is_known_missing(*, course_id: str) -> bool:
    return bool(cache.get(_MISSING_KEY.format(course_id)))


def course_forget(*, course_ids) -> None:
    """Drop what we cached about these courses (after someone fixed them)."""
    cache.delete_many(
        [_MISSING_KEY.format(c) for c in course_ids] + [_DETAIL_KEY.format(c) for c in course_ids]
    )
