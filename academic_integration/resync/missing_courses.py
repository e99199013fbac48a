"""Courses the Analyzer does not know, and courses that come back (upstream's
``archive-course`` and ``restore-course`` tell nobody here).

A course-detail answered course_not_found is a try of each of the course's due marks, like a
POST refused for the same reason: ``tries`` counts it and it writes a history row.
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
    """Reject every due mark of ``course_id`` (``options`` select which are due), in one UPDATE;
    marks another copy holds are skipped. Returns one outcome per rejected mark, and the ids
    among them that ``owner`` had claimed."""
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
    course ``ask(course_id)`` (the run's course check) now finds; return how many. Not for admin
    runs (``mark_ids``). Courses the Analyzer said are missing within the cache period are not
    asked; any failure but "missing" ends the rechecks until the next run."""
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
