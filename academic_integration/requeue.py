"""Retry after fixing: put rejected and given-up marks back in the queue."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models.functions import Now

from academic_integration.models import DUE_AFRESH, TutorialMark
from academic_integration.selectors import FAILED, marks_visible
from academic_integration.sync_state import course_forget
from quizzes.models import QuizAttempt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequeueResult:
    requeued: int
    courses: list[str]
    skipped: int  # selected marks that were not rejected / given up (or not the user's)


def marks_requeue(*, mark_ids: Iterable[int], user: User) -> RequeueResult:
    """Move the user's rejected / given-up marks among ``mark_ids`` back to ``pending``.

    Tries, backoff and the age cap's clock are reset, so the resync does not give them up
    again at once; what we cached about their courses (e.g. "course missing")
    is forgotten. Marks in other states, or not visible to ``user``, are left alone.
    One read and one conditional UPDATE, however many marks: a mark that changed status
    in between (a retake, a delivery) is left as it is.
    """
    mark_ids = list(mark_ids)
    failed = marks_visible(user=user).filter(pk__in=mark_ids, status__in=FAILED)
    rows = list(failed.values_list("pk", "course_id"))
    pks = [pk for pk, _ in rows]
    requeued = TutorialMark.objects.filter(pk__in=pks, status__in=FAILED).update(
        **DUE_AFRESH, updated_at=Now()
    )
    courses = sorted({course for _, course in rows})
    if courses:
        course_forget(course_ids=courses)
    logger.info(
        "marks requeued after fixing count=%s courses=%s by=%s",
        requeued,
        ",".join(courses) or "-",
        user.username,
    )
    return RequeueResult(requeued=requeued, courses=courses, skipped=len(mark_ids) - requeued)


def marks_forget_delivered() -> int:
    """Make every mark the Analyzer was told about due again, as if never delivered.

    For an Analyzer that lost its marks (restored from an older backup, or the demo's fake,
    which starts empty each time): the site must not keep saying the Analyzer holds them.
    The next resync sends them again (the Analyzer sets marks, so resending is safe).
    Returns how many marks were put back.
    """
    held = TutorialMark.objects.exclude(delivered_version=0)
    with transaction.atomic():
        QuizAttempt.objects.filter(marks_synced=True).update(marks_synced=False)
        # A rejected or given-up mark stays so (a person must act), but no longer claims that
        # the Analyzer holds an earlier value of it.
        held.filter(status__in=FAILED).update(
            delivered_version=0, delivered_value=None, delivered_at=None
        )
        count = held.exclude(status__in=FAILED).update(
            **DUE_AFRESH,
            delivered_version=0,
            delivered_value=None,
            delivered_at=None,
            unsettled_until=None,
            due_since=Now(),
        )
    if count:
        logger.warning(
            "marks put back as never delivered marks=%s: the Analyzer lost them; the next "
            "resync sends them again",
            count,
        )
    return count
