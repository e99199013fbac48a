"""Courses the Analyzer does not know, and courses that come back.

The resync checks each course once per run; when the Analyzer answers course_not_found, no
mark of that course is sent, and ``course_marks_reject`` rejects all its due marks in one
UPDATE. The check is a try of each mark, like a POST refused for the same reason: it counts in
``tries`` and writes a history row, so the mark page tells one story.

Upstream's ``archive-course`` deletes a course and its marks and ``restore-course`` brings both
back; nobody here is told. ``rejected_courses_recheck`` asks once per run about every course
with marks rejected as missing, unless the Analyzer said "missing" within
``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``, and puts those marks back in the queue when the
course is there again: a restored course is delivered to with no human action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from academic_integration.client import CourseDetail
from academic_integration.exceptions import (
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    reason_next_step,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync.selection import ResyncOptions, mark_filters, marks_due
from academic_integration.services import DeliveryOutcome
from academic_integration.sync_state import config_rejection_remember, courses_known_missing

logger = logging.getLogger(__name__)

Status = TutorialMark.Status


def course_marks_reject(
    options: ResyncOptions, *, course_id: str, error: SyncError, owner: str
) -> tuple[list[DeliveryOutcome], set[int]]:
    """Reject every due mark of ``course_id`` (``options`` select which are due), in one UPDATE.

    Returns one outcome per rejected mark, and the ids among them that ``owner`` had claimed.
    Marks another copy holds are left alone (skipped, not waited for). Logs one WARNING
    with the next step.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            marks_due(options, now=now, owner=owner)
            .filter(course_id=course_id)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list(
                "pk", "claimed_by", "student__username", "tutorial_number", "version", "value"
            )
        )
        TutorialMark.objects.filter(pk__in=[row[0] for row in rows]).release(
            status=Status.REJECTED,
            reason=error.reason,
            last_error=str(error)[:500],
            next_try_at=None,
            last_tried_at=now,
            tries=F("tries") + 1,
        )
        MarkDeliveryLog.objects.bulk_create(
            MarkDeliveryLog(
                mark_id=pk,
                tried_at=now,
                trigger=options.trigger,
                version=version,
                value=value,
                outcome=Status.REJECTED,
                reason=error.reason,
                http_status=error.status_code,
                error=f"Course check before sending: {error}"[:500],
            )
            for pk, _, _, _, version, value in rows
        )
    results = [
        DeliveryOutcome(
            mark_id=pk,
            student=student,
            course_id=course_id,
            tutorial_number=tutorial,
            version=version,
            value=value,
            status=Status.REJECTED,
            reason=error.reason,
            http_status=error.status_code,
            error=str(error)[:500],
        )
        for pk, _, student, tutorial, version, value in rows
    ]
    logger.warning(
        "course not found in the Academic Analyzer course=%s marks=%s students=%s url=%s: "
        "its due marks are rejected, no marks were sent for it. %s",
        course_id,
        len(results),
        len({result.student for result in results}),
        error.url or "-",
        reason_next_step(Reason.COURSE_NOT_FOUND, course_id=course_id),
    )
    return results, {row[0] for row in rows if row[1] == owner}


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
