"""The sync service: record attempts onto marks and deliver one mark to the Analyzer.

`mark_record_attempt` runs inside the submit transaction; `mark_deliver` runs after commit
(inline), from the resync command and from the admin. Retrying is the caller's business:
one call here is at most one delivery.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial, reduce
from operator import or_
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from academic_integration.breaker import (
    InlineGate,
    breaker_record,
    config_rejection_remember,
    inline_gate,
    probes_release,
    problems_forget,
)
from academic_integration.client import CourseDetail, get_client, is_configured
from academic_integration.courses import (
    course_detail_fetch,
    course_instructor_email,
    course_is_known_missing,
    course_mark_missing,
)
from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    AnalyzerConfigError,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.reasons import Reason
from academic_integration.retry import MarkUpdate, plan_outcome
from quizzes.models import Quiz, QuizAttempt
from quizzes.scoring import grade_attempts

logger = logging.getLogger(__name__)

Status = TutorialMark.Status
Source = TutorialMark.EmailSource


def claim_owner(label: str) -> str:
    """A claim owner unique to this process, thread and call."""
    host = socket.gethostname()[:30]
    return f"{label}:{host}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"[:80]


def _slot_q(*, student_id: int, course_id: str, tutorial_number: int) -> Q:
    return Q(
        student_id=student_id,
        quiz__quiz_type=Quiz.QuizType.TUTORIAL,
        quiz__course_id=course_id,
        quiz__tutorial_number=tutorial_number,
        completed_at__isnull=False,
    )


def slot_attempts(*, student_id: int, course_id: str, tutorial_number: int):
    """The student's completed attempts on a tutorial slot, across the slot's quizzes."""
    return QuizAttempt.objects.filter(
        _slot_q(student_id=student_id, course_id=course_id, tutorial_number=tutorial_number)
    )


def mark_record_attempt(*, attempt: QuizAttempt, session_email: str | None = None) -> int:
    """Fold a just-completed tutorial attempt into its mark and schedule the delivery.

    Must run inside the submit transaction: the mark row is locked, its value recomputed by the
    quiz's grading method and its version bumped; `attempt.mark_version` is set (the caller
    saves it). Unless another process is delivering the mark, the same write claims it for
    the inline delivery, which runs only after commit, from the row as written here: no
    further claim or load. Returns the mark id.
    """
    quiz = attempt.quiz
    now = attempt.completed_at
    slot = dict(
        student_id=attempt.student_id,
        course_id=quiz.course_id,
        tutorial_number=quiz.tutorial_number,
    )
    mark = TutorialMark.objects.select_for_update().filter(**slot).first()
    scores = list(slot_attempts(**slot).exclude(pk=attempt.pk).values_list("completed_at", "score"))
    scores.append((attempt.completed_at, attempt.score))
    value = grade_attempts(method=quiz.grading_method, scores=scores)
    claim = _inline_claim(mark=mark, now=now)

    if mark is None:
        try:
            with transaction.atomic():
                mark = TutorialMark.objects.create(
                    **slot, quiz=quiz, value=value, due_since=now, **claim
                )
            attempt.mark_version = mark.version
        except IntegrityError:  # a concurrent first submit created it: bump that one
            mark = TutorialMark.objects.select_for_update().get(**slot)
            claim = _inline_claim(mark=mark, now=now)
    if attempt.mark_version is None:
        fields = dict(
            value=value,
            quiz=quiz,
            status=Status.PENDING,
            reason="",
            next_try_at=None,
            # A new value gets the full retry budget; a new attempt is a natural "ask again".
            tries=0,
            failing_since=None,
            **claim,
        )
        if mark.status == Status.DELIVERED or mark.due_since is None:
            fields["due_since"] = now
        TutorialMark.objects.filter(pk=mark.pk).update(version=F("version") + 1, **fields)
        # Exact: we hold the row lock. The instance now mirrors the row for the delivery.
        for name, field_value in fields.items():
            setattr(mark, name, field_value)
        mark.version += 1
        attempt.mark_version = mark.version
    mark.student = attempt.student
    transaction.on_commit(
        partial(
            mark_deliver_inline,
            mark_id=mark.pk,
            attempt_id=attempt.pk,
            session_email=session_email,
            claimed=mark if claim else None,
        )
    )
    return mark.pk


#: Added to the timeouts for the inline delivery's lease: the DB writes after the request.
INLINE_LEASE_MARGIN_SECONDS = 10


def _inline_claim(*, mark: TutorialMark | None, now: datetime) -> dict:
    """The claim fields for the inline delivery, or {} when sync is off or someone holds it."""
    if not is_configured():
        return {}
    if mark is not None and mark.claim_expires_at and mark.claim_expires_at > now:
        return {}  # being delivered elsewhere: that delivery, or resync, sends the new value
    # Just long enough for one request: if this process dies before delivering, resync
    # finds the mark due again within seconds (and fences a delivery that overran it).
    lease = settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT + settings.ACADEMIC_ANALYZER_READ_TIMEOUT
    return {
        "claimed_by": claim_owner(MarkDeliveryLog.Trigger.INLINE),
        "claim_expires_at": now + timedelta(seconds=lease + INLINE_LEASE_MARGIN_SECONDS),
    }


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery call did. `sent` is False when no request went out."""

    mark_id: int
    status: str
    reason: str = ""
    sent: bool = False
    version: int | None = None
    value: Decimal | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    attempts_settled: int = 0

    @classmethod
    def from_try(cls, sent: "SendTry", update: MarkUpdate, **fields: Any):
        """The outcome of a finished try, with ``update`` its planned effect on the mark."""
        return cls(
            mark_id=sent.mark.pk,
            status=update.status,
            reason=update.reason,
            sent=sent.requested,
            version=sent.version,
            value=sent.value,
            http_status=sent.http_status,
            duration_ms=sent.duration_ms,
            **fields,
        )


def mark_deliver_inline(
    *,
    mark_id: int,
    attempt_id: int | None = None,
    session_email: str | None = None,
    claimed: TutorialMark | None = None,
) -> DeliveryOutcome | None:
    """The post-commit delivery of a submission. Never raises: the student gets their result.

    ``claimed`` is the mark as the submit transaction wrote and claimed it; without it the
    mark is claimed and loaded here.
    """
    trigger = MarkDeliveryLog.Trigger.INLINE
    try:
        if claimed is None:
            return mark_deliver(
                mark_id=mark_id,
                trigger=trigger,
                attempt_id=attempt_id,
                session_email=session_email,
                use_breaker=True,
            )
        return _deliver_holding_claim(
            mark=claimed,
            owner=claimed.claimed_by,
            trigger=trigger,
            attempt_id=attempt_id,
            session_email=session_email,
            use_breaker=True,
        )
    except Exception:
        logger.exception(
            "inline delivery crashed mark=%s attempt=%s: the mark stays due for resync",
            mark_id,
            attempt_id,
        )
        return None


def teacher_email_resolve(
    *, mark: TutorialMark, session_email: str | None = None, course: CourseDetail | None = None
) -> tuple[str, str]:
    """The teacher email to send, and which step of the fallback chain gave it.

    ``course`` is the course as already fetched (the resync checks each course once); without
    it the instructor comes from the cached course lookup. Raises SyncError from that lookup,
    or SyncRejectedError(no_teacher_email).
    """
    creator_email = mark.quiz.created_by.email
    if creator_email:
        return creator_email, Source.QUIZ_CREATOR
    if course is not None:
        instructor = course.instructor_email
    else:
        instructor = course_instructor_email(course_id=mark.course_id)
    if instructor:
        return instructor, Source.COURSE_INSTRUCTOR
    if session_email:
        return session_email, Source.SESSION
    domain = settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN
    if domain:
        return f"teacher_{mark.course_id.lower()}@{domain}", Source.GENERATED
    raise SyncRejectedError(reason=Reason.NO_TEACHER_EMAIL)


def mark_deliver(
    *,
    mark_id: int,
    trigger: str,
    attempt_id: int | None = None,
    session_email: str | None = None,
    use_breaker: bool = False,
) -> DeliveryOutcome:
    """Deliver one mark's current value once and record the outcome.

    The mark is claimed first (a lease with an expiry), so two processes never send the same
    mark at once; a mark claimed elsewhere is left alone. Raises nothing for Analyzer
    failures: they become the mark's status. Raises AnalyzerConfigError-free: sync being
    disabled is a skip.
    """
    now = timezone.now()
    owner = claim_owner(trigger)
    lease = now + timedelta(seconds=settings.ACADEMIC_ANALYZER_CLAIM_SECONDS)
    claimed = (
        TutorialMark.objects.filter(pk=mark_id).unclaimed(now=now).claim(owner=owner, until=lease)
    )
    if not claimed:
        logger.info("delivery skipped mark=%s outcome=busy: another process holds it", mark_id)
        return DeliveryOutcome(mark_id=mark_id, status="busy", reason="claimed_elsewhere")
    try:
        mark = TutorialMark.objects.select_related("student", "quiz__created_by").get(pk=mark_id)
    except BaseException:
        TutorialMark.objects.filter(pk=mark_id).held_by(owner).release()
        raise
    return _deliver_holding_claim(
        mark=mark,
        owner=owner,
        trigger=trigger,
        attempt_id=attempt_id,
        session_email=session_email,
        use_breaker=use_breaker,
    )


def _deliver_holding_claim(*, mark, owner, **context) -> DeliveryOutcome:
    """Deliver a mark ``owner`` has claimed; on any crash, release the claim and re-raise."""
    try:
        return _deliver_claimed(mark=mark, owner=owner, **context)
    except BaseException:
        TutorialMark.objects.filter(pk=mark.pk).held_by(owner).release()
        raise


def _clears(gate: InlineGate | None) -> bool:
    """Whether a success must clear the breaker and configuration state: only when the
    gate saw some (a healthy inline delivery then writes no state at all)."""
    return gate is None or gate.known_problem


def _deliver_claimed(*, mark, owner, trigger, attempt_id, session_email, use_breaker):
    ctx = {"trigger": trigger, "attempt_id": attempt_id}
    if not is_configured():
        _say_sync_disabled_once()
        return _skip(mark=mark, owner=owner, status=mark.status, reason=Reason.SYNC_DISABLED, **ctx)
    gate = None
    if use_breaker:
        # Inline only: the resync finds out for itself whether the Analyzer is back. One read
        # for the breaker, the configuration and the course; a due probe is claimed here.
        gate = inline_gate(course_id=mark.course_id)
        if gate.skip:
            status = Status.REJECTED if gate.skip == Reason.COURSE_NOT_FOUND else mark.status
            return _skip(mark=mark, owner=owner, status=status, reason=gate.skip, **ctx)
    elif course_is_known_missing(course_id=mark.course_id):
        return _skip(
            mark=mark, owner=owner, status=Status.REJECTED, reason=Reason.COURSE_NOT_FOUND, **ctx
        )
    try:
        sent = mark_send(mark=mark, session_email=session_email)
    except AnalyzerConfigError:
        # A broken setting (e.g. a malformed URL or token): the mark waits for the fix.
        logger.exception(
            "sync misconfigured mark=%s: fix the ACADEMIC_ANALYZER_* settings", mark.pk
        )
        return _skip(mark=mark, owner=owner, status=mark.status, reason=Reason.CONFIG_ERROR, **ctx)
    if gate is not None and sent.error is not None:
        if sent.requested or isinstance(sent.error, SyncTemporaryError | SyncConfigurationError):
            breaker_record(sent.error)  # a success closes it in the write-back, for resync too
        else:
            probes_release(gate)  # decided without a request: the next submission may probe

    recorded = marks_record_tries(
        tries=[sent],
        owner=owner,
        trigger=trigger,
        now=timezone.now(),
        clear_problems=_clears(gate),
    )
    outcome = DeliveryOutcome.from_try(
        sent, recorded.updates[mark.pk], attempts_settled=recorded.attempts_settled
    )
    log_delivery(mark=mark, outcome=outcome, trigger=trigger, attempt_id=attempt_id)
    return outcome


@dataclass
class SendTry:
    """One try of a mark's current value: what was sent and what came of it."""

    mark: TutorialMark
    version: int
    value: Decimal
    email: str = ""
    source: str = ""
    error: SyncError | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    requested: bool = False  # the POST went out (whatever came of it)

    @classmethod
    def failed(cls, *, mark: TutorialMark, error: SyncError) -> "SendTry":
        """A try of ``mark`` that ended with ``error`` before its own request went out."""
        return cls(
            mark=mark,
            version=mark.version,
            value=mark.value,
            error=error,
            http_status=error.status_code,
            duration_ms=error.duration_ms,
        )


def mark_send(
    *,
    mark: TutorialMark,
    session_email: str | None = None,
    course: CourseDetail | None = None,
) -> SendTry:
    """POST the mark's current value once; an Analyzer failure comes back on the SendTry.

    ``course`` is the course as checked in this run (resync); without it, a 500 answer gets
    one course lookup, because older Analyzers answer a deleted course with a 500 and a
    stack trace. Writes nothing. Raises AnalyzerConfigError for broken settings.
    """
    sent = SendTry(mark=mark, version=mark.version, value=mark.value)
    started = time.monotonic()
    result = None
    try:
        sent.email, sent.source = teacher_email_resolve(
            mark=mark, session_email=session_email, course=course
        )
        client = get_client()
        sent.requested = True
        result = client.update_student_marks(
            student_id=mark.student.username,
            course_id=mark.course_id,
            teacher_email=sent.email,
            tutorial_number=mark.tutorial_number,
            value=sent.value,
        )
    except SyncError as err:
        sent.error = err
        if course is None and _looks_like_a_crash(err):
            sent.error = _deleted_course_or(err, course_id=mark.course_id)
    answer = result or sent.error
    sent.duration_ms = answer.duration_ms
    if sent.duration_ms is None:
        sent.duration_ms = int((time.monotonic() - started) * 1000)
    sent.http_status = result.status_code if result else sent.error.status_code
    return sent


def _looks_like_a_crash(error: SyncError) -> bool:
    """A 500 with a stack trace rather than the Analyzer's JSON "Server error": how older
    Analyzers answer a deleted course."""
    return error.status_code == 500 and not (error.body or "").lstrip().startswith("{")


def _deleted_course_or(error: SyncError, *, course_id: str) -> SyncError:
    """The course-not-found rejection when the course is gone, else ``error`` unchanged."""
    try:
        course_detail_fetch(course_id=course_id)
    except SyncRejectedError as missing:
        if missing.reason == Reason.COURSE_NOT_FOUND:
            return missing
    except SyncError:
        pass
    return error


@dataclass(frozen=True)
class RecordedTries:
    """What writing tries back did: each mark's planned update, and which were superseded."""

    updates: dict[int, MarkUpdate]
    superseded: frozenset[int]  # a retake bumped the version meanwhile: still due
    attempts_settled: int


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
    One transaction; queries: one UPDATE, one history INSERT, one UPDATE settling attempts
    when something was delivered; a SELECT and an UPDATE or two more only when some tries
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
    with transaction.atomic():
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


def _unwritten(*, tries, owner, now) -> tuple[set[int], set[int]]:
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


def _per_mark(name: str, values: dict[int, Any], *, every_row: bool):
    """An update() value giving each mark (by pk) its own ``name``: one CASE, grouped by value.

    ``every_row``: the update touches only the marks in ``values``, so one value needs no CASE.
    """
    field = TutorialMark._meta.get_field(name)
    groups: dict[Any, list[int]] = defaultdict(list)
    for pk, value in values.items():
        groups[value].append(pk)
    if every_row and len(groups) == 1:
        return Value(next(iter(groups)), output_field=field)
    whens = [
        When(pk__in=pks, then=Value(value, output_field=field)) for value, pks in groups.items()
    ]
    return Case(*whens, default=F(name), output_field=field)


def _delivered_fields(delivered: Sequence[SendTry], now: datetime, *, every_row: bool) -> dict:
    if not delivered:
        return {}
    versions = {t.mark.pk: t.version for t in delivered}
    values = {t.mark.pk: t.value for t in delivered}
    return {
        "delivered_version": _per_mark("delivered_version", versions, every_row=every_row),
        "delivered_value": _per_mark("delivered_value", values, every_row=every_row),
        "delivered_at": _per_mark(
            "delivered_at", dict.fromkeys(versions, now), every_row=every_row
        ),
    }


def _write_outcomes(*, tries, updates, delivered, owner, now) -> int:
    """One conditional UPDATE: each mark's outcome where its version is still the one sent."""
    if not tries:
        return 0
    fields = {
        name: _per_mark(name, {pk: getattr(u, name) for pk, u in updates.items()}, every_row=True)
        for name in (
            "status",
            "reason",
            "last_error",
            "tries",
            "next_try_at",
            "failing_since",
            "unsettled_until",
        )
    }
    fields["teacher_email"] = _per_mark(
        "teacher_email", {t.mark.pk: t.email for t in tries}, every_row=True
    )
    fields["teacher_email_source"] = _per_mark(
        "teacher_email_source", {t.mark.pk: t.source for t in tries}, every_row=True
    )
    sent_versions = reduce(or_, (Q(pk=t.mark.pk, version=t.version) for t in tries))
    return (
        TutorialMark.objects.filter(sent_versions)
        .held_by(owner)
        .release(
            **fields,
            **_delivered_fields(delivered, now, every_row=len(delivered) == len(tries)),
            last_tried_at=now,
        )
    )


def _release_claims(*, owner, tries, delivered, now) -> None:
    """Release what ``owner`` still holds; superseded tries still record what they delivered."""
    pks = {t.mark.pk for t in tries}
    fields = _delivered_fields([t for t in delivered if t.mark.pk in pks], now, every_row=False)
    if pks:
        fields["last_tried_at"] = _per_mark(
            "last_tried_at", dict.fromkeys(pks, now), every_row=False
        )
    TutorialMark.objects.held_by(owner).release(**fields)


def _history_row(*, sent: SendTry, update: MarkUpdate, trigger: str, now) -> MarkDeliveryLog:
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


def attempts_settle(*, marks_versions: Iterable[tuple[TutorialMark, int]], now) -> int:
    """Mark every attempt included in a delivered version of its mark as synced, in one query.

    Returns how many attempts were settled; no query when nothing was delivered.
    """
    slots = [
        _slot_q(
            student_id=mark.student_id,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
        )
        & Q(mark_version__lte=version)
        for mark, version in marks_versions
    ]
    if not slots:
        return 0
    return QuizAttempt.objects.filter(reduce(or_, slots), marks_synced=False).update(
        marks_synced=True, last_sync_at=now
    )


_disabled_said = threading.Event()


def _say_sync_disabled_once() -> None:
    if not _disabled_said.is_set():
        _disabled_said.set()
        logger.warning(
            "Academic Analyzer sync is disabled (ACADEMIC_ANALYZER_URL is not set): tutorial "
            "marks are recorded and stay pending until it is configured"
        )


def _skip(*, mark, owner, status, reason, trigger, attempt_id) -> DeliveryOutcome:
    """Record why no request went out, keep the mark due (or rejected), release the claim."""
    TutorialMark.objects.filter(pk=mark.pk).held_by(owner).release(status=status, reason=reason)
    outcome = DeliveryOutcome(
        mark_id=mark.pk, status=status, reason=reason, version=mark.version, value=mark.value
    )
    log_delivery(mark=mark, outcome=outcome, trigger=trigger, attempt_id=attempt_id)
    return outcome


_LEVELS = {
    Status.DELIVERED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.REJECTED: logging.WARNING,
    Status.GIVEN_UP: logging.ERROR,
}


def _marks_url() -> str:
    try:
        return f"{get_client().display_url}/staff/update-student-marks" if is_configured() else "-"
    except AnalyzerConfigError:  # logging a misconfiguration must not fail on it again
        return "-"


def delivery_log_level(*, outcome: DeliveryOutcome) -> int:
    """The level of a delivery's log line: by outcome, ERROR for configuration problems."""
    if outcome.reason in CONFIGURATION_REASONS:
        return logging.ERROR
    if outcome.reason == Reason.SYNC_DISABLED:
        return logging.INFO  # said once at startup; not worth a warning per submission
    return _LEVELS.get(outcome.status, logging.WARNING if outcome.reason else logging.INFO)


def log_delivery(
    *, mark, outcome: DeliveryOutcome, trigger: str, attempt_id=None, level: int | None = None
) -> None:
    """One line per delivery, with everything needed to follow it without the database.

    ``level`` overrides the level chosen from the outcome (the resync keeps routine lines
    at DEBUG and says the counts once per run).
    """
    logger.log(
        level if level is not None else delivery_log_level(outcome=outcome),
        "mark delivery outcome=%s reason=%s sent=%s trigger=%s attempt=%s mark=%s student=%s "
        "course=%s tutorial=%s version=%s value=%s url=%s http_status=%s duration_ms=%s",
        outcome.status,
        outcome.reason or "-",
        outcome.sent,
        trigger,
        attempt_id or "-",
        mark.pk,
        mark.student.username,
        mark.course_id,
        mark.tutorial_number,
        outcome.version,
        outcome.value,
        _marks_url(),
        outcome.http_status or "-",
        outcome.duration_ms if outcome.duration_ms is not None else "-",
    )


@transaction.atomic
def attempts_delete(*, attempts) -> int:
    """Delete attempts (superusers, in admin) and recompute the marks they fed.

    A mark with completed attempts left gets their grade as a new version, due for delivery;
    one with none left keeps its value (the Analyzer has no way to clear a mark). Returns how
    many marks were recomputed. Queries do not grow with the number of attempts.
    """
    gone = list(
        attempts.filter(completed_at__isnull=False, quiz__quiz_type=Quiz.QuizType.TUTORIAL)
        .values_list("student_id", "quiz__course_id", "quiz__tutorial_number")
        .distinct()
    )
    attempts.delete()
    if not gone:
        return 0
    values = marks_recompute(slots=gone)
    logger.info("attempts deleted; marks recomputed count=%s", len(values))
    return len(values)


def marks_recompute(
    *, slots: Sequence[tuple[int, str, int]], only_changed: bool = False
) -> dict[tuple[int, str, int], int]:
    """Regrade the marks of (student id, course id, tutorial) slots from their completed
    attempts: each gets the grade as a new version, due for delivery as usual.

    Must run in a transaction (the marks are locked). A mark with no completed attempts
    left keeps its value (the Analyzer has no way to clear a mark); with ``only_changed``,
    a mark whose value stays the same is left alone. Returns {slot: new version}. Three
    queries (two when nothing changes), however many slots.
    """
    if not slots:
        return {}
    where = reduce(
        or_, (_slot_q(student_id=s, course_id=c, tutorial_number=t) for s, c, t in slots)
    )
    left = defaultdict(list)
    for student_id, course_id, number, completed_at, score in QuizAttempt.objects.filter(
        where
    ).values_list(
        "student_id", "quiz__course_id", "quiz__tutorial_number", "completed_at", "score"
    ):
        left[(student_id, course_id, number)].append((completed_at, score))
    marks = TutorialMark.objects.select_for_update(of=("self",)).select_related("quiz")
    marks = [
        m
        for m in marks.filter(
            reduce(or_, (Q(student_id=s, course_id=c, tutorial_number=t) for s, c, t in slots))
        )
        if left[(m.student_id, m.course_id, m.tutorial_number)]
    ]
    values = {
        m.pk: grade_attempts(
            method=m.quiz.grading_method,
            scores=left[(m.student_id, m.course_id, m.tutorial_number)],
        )
        for m in marks
    }
    if only_changed:
        values = {m.pk: values[m.pk] for m in marks if values[m.pk] != m.value}
    if values:
        TutorialMark.objects.filter(pk__in=values).update(
            value=_per_mark("value", values, every_row=True),
            version=F("version") + 1,
            status=Status.PENDING,
            reason="",
            next_try_at=None,
            tries=0,
            failing_since=None,
        )
    # Exact: we hold the rows' locks.
    return {
        (m.student_id, m.course_id, m.tutorial_number): m.version + 1
        for m in marks
        if m.pk in values
    }
