"""Courses that come back: marks rejected because their course was missing are put back in
the queue once the Analyzer has the course again (an archived course that was restored).

Upstream's ``archive-course`` deletes a course and its marks and ``restore-course`` brings both
back; nobody here is told. Each resync run asks once about every course it has such marks for,
unless the Analyzer said "missing" within ``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``: at most one
course-detail per course per cache period, so a restored course is delivered to again within
that period with no human action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db.models.functions import Now

from academic_integration.breaker import config_rejection_remember
from academic_integration.client import CourseDetail
from academic_integration.courses import courses_known_missing
from academic_integration.exceptions import SyncConfigurationError, SyncError, SyncRejectedError
from academic_integration.models import TutorialMark
from academic_integration.reasons import Reason
from academic_integration.resync.selection import ResyncOptions, mark_filters

logger = logging.getLogger(__name__)

Status = TutorialMark.Status


def rejected_courses_recheck(
    options: ResyncOptions, *, ask: Callable[[str], CourseDetail | SyncError]
) -> int:
    """Requeue the marks (within ``options``' filters) rejected as course_not_found whose
    course ``ask(course_id)`` now finds; return how many. ``ask`` is the run's own course
    check (asked once per run, its answer reused for the run's batches; a failure comes back
    as the SyncError). A course still missing stays remembered as missing; any other failure
    stops the checks until the next run (the Analyzer is not asked about every course while
    it is failing), and a rejected configuration is remembered, as a rejected delivery would
    be. Not for admin runs (``mark_ids``): those deliver what was picked."""
    if options.mark_ids is not None:
        return 0
    rejected = TutorialMark.objects.filter(
        status=Status.REJECTED, reason=Reason.COURSE_NOT_FOUND, **mark_filters(options)
    )
    courses = set(rejected.order_by().values_list("course_id", flat=True).distinct())
    if not courses:
        return 0
    requeued = 0
    for course_id in sorted(courses - courses_known_missing(course_ids=courses)):
        found = ask(course_id)
        if isinstance(found, SyncRejectedError):
            continue  # still missing: remembered, asked again after the cache period
        if isinstance(found, SyncError):
            if isinstance(found, SyncConfigurationError) and found.status_code is not None:
                config_rejection_remember(found.reason)
            logger.info(
                "rejected courses not rechecked course=%s reason=%s: the next run asks again",
                course_id,
                found.reason,
            )
            break
        count = rejected.filter(course_id=course_id).update(
            status=Status.PENDING,
            reason="",
            tries=0,
            next_try_at=None,
            failing_since=None,
            updated_at=Now(),
        )
        requeued += count
        logger.info(
            "course back on the Academic Analyzer course=%s marks_requeued=%s: they are "
            "delivered in this run",
            course_id,
            count,
        )
    return requeued
