"""Writing finished tries back in bulk: conditional on the version sent, fencing tries that
outlived their claim, settling the attempts a delivered version includes."""

import functools
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Q

from academic_integration.breaker import (
    config_rejection_remember,
    problems_forget,
)
from academic_integration.courses import (
    course_mark_missing,
)
from academic_integration.exceptions import (
    SyncConfigurationError,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.reasons import Reason
from academic_integration.retry import MarkUpdate, plan_outcome
from academic_integration.services.bulk import per_mark, tutorial_attempts_q, update_row
from academic_integration.services.commit import relaxed_commit
from academic_integration.services.tries import RecordedTries, SendTry
from quizzes.models import Quiz, QuizAttempt

logger = logging.getLogger(__name__)


def marks_record_tries(
    *,
    tries: Sequence[SendTry],
    owner: str,
    trigger: str,
    now: datetime,
    claimed: int | None = None,
    clear_problems: bool = True,
) -> RecordedTries:
    """Write finished tries of marks claimed by ``owner`` back in bulk and release the claims.

    Each outcome (``retry.plan_outcome``) is written only where the mark's version is still the
    one sent, so a newer value is never marked delivered. ``claimed`` is how many marks
    ``owner`` holds (default: one per try); those without a written outcome are released.
    A try sent after its claim was lost (it outlived its lease) is fenced: the mark's version
    goes up, so whatever else is in flight is not recorded and the current value goes last.
    One transaction (on PostgreSQL its commit does not wait for the disk: services/commit.py);
    queries: one UPDATE, one history INSERT, one UPDATE settling attempts when something was
    delivered; a SELECT and an UPDATE or two more only when some tries
    were superseded or outlived their claim. After it, a delivery clears the breaker and the
    configuration's rejection (one DELETE) unless ``clear_problems`` is False (the caller
    knows there is nothing to clear).
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
    # Not waiting for the disk at commit: see services/commit.py for why that is safe here.
    with relaxed_commit():
        written = _write_outcomes(
            tries=tries, updates=updates, delivered=reached, owner=owner, now=now
        )
        if written < len(tries):
            superseded, lost = _unwritten(tries=tries, owner=owner, now=now)
            _fence(tries=[t for t in tries if t.mark.pk in lost and t.requested])
        if written < (len(tries) if claimed is None else claimed):
            # Superseded or never sent: release the claim; the mark stays due.
            _release_claims(
                owner=owner,
                tries=[t for t in tries if t.mark.pk in superseded],
                delivered=reached,
                now=now,
            )
        MarkDeliveryLog.objects.bulk_create(
            _history_row(sent=t, update=updates[t.mark.pk], trigger=trigger, now=now) for t in tries
        )
        settled = attempts_settle(marks_versions=[(t.mark, t.version) for t in reached], now=now)
    _remember_what_tries_taught(tries=tries, reached=bool(reached) and clear_problems)
    return RecordedTries(updates, frozenset(superseded), settled)


def _unwritten(*, tries: Sequence[SendTry], owner: str, now: datetime) -> tuple[set[int], set[int]]:
    """(superseded, lost): tries whose outcome was not written because a retake bumped the
    version (the claim is still ours), or because the claim was lost meanwhile."""
    sent = {t.mark.pk: t.version for t in tries}
    superseded, lost = set(), set()
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
    version: another delivery in flight then cannot mark them delivered, and the value the
    Analyzer ends with is the current one."""
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


def _remember_what_tries_taught(*, tries: Sequence[SendTry], reached: bool) -> None:
    """Remember what the answers say beyond one mark: a missing course, a rejected
    configuration (skipped inline but for one probe per cool-off), an Analyzer that works
    (the inline breaker closes: the resync can be what finds out it is back)."""
    if reached:
        problems_forget()
    for course_id in {t.mark.course_id for t in tries if _reason(t) == Reason.COURSE_NOT_FOUND}:
        course_mark_missing(course_id=course_id)
    for t in tries:
        if isinstance(t.error, SyncConfigurationError) and t.error.status_code is not None:
            config_rejection_remember(t.error.reason)
            break


def _reason(sent: SendTry) -> str | None:
    return sent.error.reason if sent.error is not None else None


def _delivered_fields(delivered: Sequence[SendTry], now: datetime, *, every_row: bool) -> dict:
    if not delivered:
        return {}
    versions = {t.mark.pk: t.version for t in delivered}
    values = {t.mark.pk: t.value for t in delivered}
    return {
        "delivered_version": per_mark("delivered_version", versions, every_row=every_row),
        "delivered_value": per_mark("delivered_value", values, every_row=every_row),
        "delivered_at": per_mark("delivered_at", dict.fromkeys(versions, now), every_row=every_row),
    }


def _write_outcomes(
    *,
    tries: Sequence[SendTry],
    updates: dict[int, MarkUpdate],
    delivered: Sequence[SendTry],
    owner: str,
    now: datetime,
) -> int:
    """One conditional UPDATE: each mark's outcome where its version is still the one sent."""
    if not tries:
        return 0
    if len(tries) == 1:
        return _write_outcome(sent=tries[0], update=updates[tries[0].mark.pk], owner=owner, now=now)
    fields = {
        name: per_mark(name, {pk: getattr(u, name) for pk, u in updates.items()}, every_row=True)
        for name in _OUTCOME_FIELDS
    }
    fields["teacher_email"] = per_mark(
        "teacher_email", {t.mark.pk: t.email for t in tries}, every_row=True
    )
    fields["teacher_email_source"] = per_mark(
        "teacher_email_source", {t.mark.pk: t.source for t in tries}, every_row=True
    )
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
            **_delivered_fields(delivered, now, every_row=len(delivered) == len(tries)),
            last_tried_at=now,
        )
    )


_OUTCOME_FIELDS = (
    "status",
    "reason",
    "last_error",
    "tries",
    "next_try_at",
    "failing_since",
    "unsettled_until",
)


def _write_outcome(*, sent: SendTry, update: MarkUpdate, owner: str, now: datetime) -> int:
    """``_write_outcomes`` for one try (every inline delivery): the same conditional UPDATE,
    releasing the claim, through ``update_row`` instead of the ORM's query building."""
    values = {name: getattr(update, name) for name in _OUTCOME_FIELDS}
    values |= {"teacher_email": sent.email, "teacher_email_source": sent.source}
    if update.reached:
        values |= {"delivered_version": sent.version, "delivered_value": sent.value}
        values["delivered_at"] = now
    values |= {"last_tried_at": now, "claimed_by": "", "claim_expires_at": None}
    where = {"id": sent.mark.pk, "version": sent.version, "claimed_by": owner}
    return update_row(TutorialMark, where=where, values=values)


def _release_claims(
    *, owner: str, tries: Sequence[SendTry], delivered: Sequence[SendTry], now: datetime
) -> None:
    """Release what ``owner`` still holds; superseded tries still record what they delivered."""
    pks = {t.mark.pk for t in tries}
    fields = _delivered_fields([t for t in delivered if t.mark.pk in pks], now, every_row=False)
    if pks:
        fields["last_tried_at"] = per_mark(
            "last_tried_at", dict.fromkeys(pks, now), every_row=False
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


def attempts_settle(*, marks_versions: Iterable[tuple[TutorialMark, int]], now: datetime) -> int:
    """Mark every attempt included in a delivered version of its mark as synced, in one query.

    Returns how many attempts were settled; no query when nothing was delivered. The slots
    are grouped by course, tutorial and version, so a batch of a hundred marks is a handful
    of terms (cheap to build), not a hundred.
    """
    marks_versions = list(marks_versions)
    if len(marks_versions) == 1:
        return _settle_slot(*marks_versions[0], now=now)
    students: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for mark, version in marks_versions:
        students[mark.course_id, mark.tutorial_number, version].append(mark.student_id)
    if not students:
        return 0
    slots = (
        Q(
            student_id__in=ids,
            quiz__course_id=course_id,
            quiz__tutorial_number=tutorial,
            mark_version__lte=version,
        )
        for (course_id, tutorial, version), ids in students.items()
    )
    return QuizAttempt.objects.filter(
        tutorial_attempts_q(), reduce(or_, slots), marks_synced=False
    ).update(marks_synced=True, last_sync_at=now)


@functools.cache
def _settle_slot_sql(vendor: str) -> str:
    """The UPDATE of ``_settle_slot`` for this database; only names from the models in it."""
    qn = connection.ops.quote_name

    def a(name: str) -> str:
        return qn(QuizAttempt._meta.get_field(name).column)

    def q(name: str) -> str:
        return qn(Quiz._meta.get_field(name).column)

    attempts, quizzes = qn(QuizAttempt._meta.db_table), qn(Quiz._meta.db_table)
    return (
        f"UPDATE {attempts} SET {a('marks_synced')} = %s, {a('last_sync_at')} = %s "  # noqa: S608
        f"WHERE {a('student')} = %s AND {a('marks_synced')} = %s "
        f"AND {a('completed_at')} IS NOT NULL AND {a('mark_version')} <= %s "
        f"AND {a('quiz')} IN (SELECT {q('id')} FROM {quizzes} "
        f"WHERE {q('quiz_type')} = %s AND {q('course_id')} = %s AND {q('tutorial_number')} = %s)"
    )


def _settle_slot(mark: TutorialMark, version: int, *, now: datetime) -> int:
    """``attempts_settle`` for one mark (every inline delivery): the same UPDATE, written out
    once. Building the ORM's version (a join through the quiz, in a subquery) cost more CPU
    than the database spends running it: about 1 ms of a healthy submit, measured."""
    params = [
        True,
        connection.ops.adapt_datetimefield_value(now),
        mark.student_id,
        False,
        version,
        Quiz.QuizType.TUTORIAL.value,
        mark.course_id,
        mark.tutorial_number,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_settle_slot_sql(connection.vendor), params)
        return cursor.rowcount
