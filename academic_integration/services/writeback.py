"""Writing finished tries back, one mark or a batch alike (docs/follow-a-mark.md, stage 3);
its commit does not wait for the disk (docs/decisions/0006-relaxed-commit.md)."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from academic_integration.exceptions import Reason, SyncConfigurationError
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.services.tries import (
    DeliveryOutcome,
    MarkUpdate,
    SendTry,
    WriteBack,
    plan_outcome,
)
from academic_integration.sync_state import (
    config_rejection_remember,
    course_remember,
    problems_forget,
)
from quizzes.expressions import grouped_case
from quizzes.models import Quiz, QuizAttempt

logger = logging.getLogger(__name__)


def marks_write_back(
    *,
    tries: Sequence[SendTry],
    owner: str,
    trigger: str,
    now: datetime,
    claimed: int | None = None,
    clear_problems: bool = True,
) -> WriteBack:
    """Write finished tries of marks claimed by ``owner`` back and release the claims.

    Each outcome (``tries.plan_outcome``) is written only where the mark's version is still the
    one sent. ``claimed`` is how many marks ``owner`` holds (default: one per try); those
    without a written outcome are released. A try sent after its claim was lost is fenced (a
    new version: the current value goes last). One transaction: one UPDATE, one history
    INSERT, one UPDATE settling attempts when something reached; a SELECT and an UPDATE or two
    more only when some tries were superseded or outlived their claim. Then a try that reached
    clears the breaker and the configuration's rejection (one DELETE) unless
    ``clear_problems`` is False.
    """
    updates = {
        t.mark.pk: plan_outcome(
            tries=t.mark.tries,
            failing_since=t.mark.failing_since,
            unsettled_until=t.mark.unsettled_until,
            error=t.error,
            now=now,
            inline=trigger == MarkDeliveryLog.Trigger.INLINE,
        )
        for t in tries
    }
    reached = [t for t in tries if updates[t.mark.pk].reached]
    superseded: set[int] = set()
    with relaxed_commit():
        written = _write_outcomes(
            tries=tries, updates=updates, reached=reached, owner=owner, now=now
        )
        if written < len(tries):
            superseded, lost = _unwritten(tries=tries, owner=owner, now=now)
            _fence(tries=[t for t in tries if t.mark.pk in lost and t.requested])
        if written < (len(tries) if claimed is None else claimed):
            # Superseded or never sent: release the claim; the mark stays due.
            _release_claims(
                owner=owner,
                tries=[t for t in tries if t.mark.pk in superseded],
                reached=reached,
                now=now,
            )
        MarkDeliveryLog.objects.bulk_create(
            _history_row(sent=t, update=updates[t.mark.pk], trigger=trigger, now=now) for t in tries
        )
        settled = attempts_settle(marks_versions=[(t.mark, t.version) for t in reached], now=now)
    _remember_what_tries_taught(tries=tries, reached=bool(reached) and clear_problems)
    outcomes = {
        t.mark.pk: DeliveryOutcome.from_try(
            t, updates[t.mark.pk], superseded=t.mark.pk in superseded
        )
        for t in tries
    }
    return WriteBack(outcomes=outcomes, attempts_settled=settled)


def attempts_settle(*, marks_versions: Iterable[tuple[TutorialMark, int]], now: datetime) -> int:
    """Settle every attempt included in a version of its mark that reached the Analyzer
    (``marks_synced``), in one query (none when nothing reached it); returns how many."""
    students: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for mark, version in marks_versions:
        students[mark.course_id, mark.tutorial_number, version].append(mark.student_id)
    if not students:
        return 0
    slots = (
        Q(
            student_id__in=ids,
            quiz__in=Quiz.objects.filter(
                quiz_type=Quiz.QuizType.TUTORIAL, course_id=course_id, tutorial_number=tutorial
            ).values("pk"),
            mark_version__lte=version,
        )
        for (course_id, tutorial, version), ids in students.items()
    )
    return QuizAttempt.objects.filter(
        reduce(or_, slots), completed_at__isnull=False, marks_synced=False
    ).update(marks_synced=True, last_sync_at=now)


# --- the transaction -------------------------------------------------------------------

#: Sent in the same round trip as the transaction's first statement.
RELAXED_COMMIT_SQL = "SET LOCAL synchronous_commit TO OFF; "


@contextlib.contextmanager
def relaxed_commit() -> Iterator[None]:
    """Open a transaction whose commit does not wait for the disk (PostgreSQL only).

    Its first statement carries the ``SET LOCAL`` (no extra round trip). Inside a caller's
    transaction (or on another database) it is a plain savepoint: a caller's work is never
    made less durable.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    first = True

    def prefix(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal first
        if first and not many:
            first = False
            sql = RELAXED_COMMIT_SQL + sql
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(prefix):
        yield


# --- the UPDATEs -----------------------------------------------------------------------

_OUTCOME_FIELDS = (
    "status",
    "reason",
    "last_error",
    "tries",
    "next_try_at",
    "failing_since",
    "unsettled_until",
)


def _write_outcomes(
    *,
    tries: Sequence[SendTry],
    updates: Mapping[int, MarkUpdate],
    reached: Sequence[SendTry],
    owner: str,
    now: datetime,
) -> int:
    """One conditional UPDATE: each mark's outcome where its version is still the one sent."""
    if not tries:
        return 0
    columns = {
        name: {pk: getattr(u, name) for pk, u in updates.items()} for name in _OUTCOME_FIELDS
    }
    columns["teacher_email"] = {t.mark.pk: t.email for t in tries}
    columns["teacher_email_source"] = {t.mark.pk: t.source for t in tries}
    fields = {
        name: grouped_case(name, values, TutorialMark, every_row=True)
        for name, values in columns.items()
    }
    # Grouped by version: a term per version sent (one or two), not one per mark.
    marks_by_version: dict[int, list[int]] = defaultdict(list)
    for t in tries:
        marks_by_version[t.version].append(t.mark.pk)
    sent_versions = reduce(
        or_, (Q(pk__in=pks, version=version) for version, pks in marks_by_version.items())
    )
    return (
        TutorialMark.objects.filter(sent_versions)
        .held_by(owner)
        .release(
            **fields,
            **_reached_fields(reached, now, every_row=len(reached) == len(tries)),
            last_tried_at=now,
        )
    )


def _reached_fields(
    reached: Sequence[SendTry], now: datetime, *, every_row: bool
) -> dict[str, Any]:
    """What the Analyzer now holds of each mark: the ``delivered_*`` fields."""
    if not reached:
        return {}
    columns: dict[str, dict[int, Any]] = {
        "delivered_version": {t.mark.pk: t.version for t in reached},
        "delivered_value": {t.mark.pk: t.value for t in reached},
        "delivered_at": {t.mark.pk: now for t in reached},
    }
    return {n: grouped_case(n, v, TutorialMark, every_row=every_row) for n, v in columns.items()}


def _unwritten(*, tries: Sequence[SendTry], owner: str, now: datetime) -> tuple[set[int], set[int]]:
    """(superseded, lost): tries whose outcome was not written because a retake bumped the
    version (the claim is still ours), or because the claim was lost meanwhile."""
    sent = {t.mark.pk: t.version for t in tries}
    superseded: set[int] = set()
    lost: set[int] = set()
    rows = TutorialMark.objects.filter(pk__in=sent).values_list(
        "pk", "claimed_by", "version", "last_tried_at"
    )
    for pk, claimed_by, version, last_tried_at in rows:
        if claimed_by == owner:
            superseded.add(pk)
        elif not (claimed_by == "" and version == sent[pk] and last_tried_at == now):
            lost.add(pk)
    return superseded, lost


def _fence(*, tries: Sequence[SendTry]) -> None:
    """Make marks whose request went out after their claim was lost due again, with a new
    version: the value the Analyzer ends with is the current one."""
    if not tries:
        return
    TutorialMark.objects.filter(pk__in=[t.mark.pk for t in tries]).fence()
    for t in tries:
        logger.warning(
            "delivery outlived its claim mark=%s student=%s course=%s tutorial=%s version=%s: "
            "the mark is due again so the current value is sent last",
            t.mark.pk,
            t.mark.student.username,
            t.mark.course_id,
            t.mark.tutorial_number,
            t.version,
        )


def _release_claims(
    *, owner: str, tries: Sequence[SendTry], reached: Sequence[SendTry], now: datetime
) -> None:
    """Release what ``owner`` still holds; superseded tries still record what reached."""
    pks = {t.mark.pk for t in tries}
    fields = _reached_fields([t for t in reached if t.mark.pk in pks], now, every_row=False)
    if pks:
        fields["last_tried_at"] = grouped_case(
            "last_tried_at", dict.fromkeys(pks, now), TutorialMark
        )
    TutorialMark.objects.held_by(owner).release(**fields)


def _history_row(
    *, sent: SendTry, update: MarkUpdate, trigger: str, now: datetime
) -> MarkDeliveryLog:
    return MarkDeliveryLog(
        mark=sent.mark,
        tried_at=now,
        trigger=trigger,
        version=sent.version,
        value=sent.value,
        outcome=update.status,
        reason=update.reason,
        http_status=sent.http_status,
        duration_ms=sent.duration_ms,
        teacher_email=sent.email,
        teacher_email_source=sent.source,
        error=update.last_error,
    )


def _remember_what_tries_taught(*, tries: Sequence[SendTry], reached: bool) -> None:
    """Remember what the answers say beyond one mark: a missing course, a rejected
    configuration, an Analyzer that works (the breaker closes, also when resync finds it)."""
    if reached:
        problems_forget()
    missing = {
        t.mark.course_id
        for t in tries
        if t.error is not None and t.error.reason == Reason.COURSE_NOT_FOUND
    }
    for course_id in missing:
        course_remember(course_id=course_id, missing=True)
    for t in tries:
        if isinstance(t.error, SyncConfigurationError) and t.error.status_code is not None:
            config_rejection_remember(t.error.reason)
            break
