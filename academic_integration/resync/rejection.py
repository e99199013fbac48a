"""A course the Analyzer does not know: every due mark of it rejected in one UPDATE.

The resync checks each course once per run; when the Analyzer answers course_not_found, no
mark of that course is sent, and ``course_marks_reject`` rejects them all at once. The check
is a try of each mark, like a POST refused for the same reason: it counts in ``tries`` and
writes a history row, so the mark page tells one story.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from academic_integration.exceptions import SyncError, reason_next_step
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.reasons import Reason
from academic_integration.resync.selection import ResyncOptions, marks_due
from academic_integration.services import DeliveryOutcome

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
