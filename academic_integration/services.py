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
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pybreaker
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from academic_integration.breaker import get_breaker
from academic_integration.client import get_client, is_configured
from academic_integration.courses import (
    course_instructor_email,
    course_is_known_missing,
    course_mark_missing,
)
from academic_integration.exceptions import (
    AnalyzerConfigError,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
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


def slot_attempts(*, student_id: int, course_id: str, tutorial_number: int):
    """The student's completed attempts on a tutorial slot, across the slot's quizzes."""
    return QuizAttempt.objects.filter(
        student_id=student_id,
        quiz__quiz_type=Quiz.QuizType.TUTORIAL,
        quiz__course_id=course_id,
        quiz__tutorial_number=tutorial_number,
        completed_at__isnull=False,
    )


def mark_record_attempt(*, attempt: QuizAttempt, session_email: str | None = None) -> int:
    """Fold a just-completed tutorial attempt into its mark and schedule the delivery.

    Must run inside the submit transaction: the mark row is locked, its value recomputed by the
    quiz's grading method and its version bumped; `attempt.mark_version` is set (the caller
    saves it). The inline delivery runs only after commit. Returns the mark id.
    """
    quiz = attempt.quiz
    slot = dict(
        student_id=attempt.student_id,
        course_id=quiz.course_id,
        tutorial_number=quiz.tutorial_number,
    )
    mark = TutorialMark.objects.select_for_update().filter(**slot).first()
    scores = list(slot_attempts(**slot).exclude(pk=attempt.pk).values_list("completed_at", "score"))
    scores.append((attempt.completed_at, attempt.score))
    value = grade_attempts(method=quiz.grading_method, scores=scores)

    if mark is None:
        try:
            with transaction.atomic():
                mark = TutorialMark.objects.create(
                    **slot, quiz=quiz, value=value, due_since=attempt.completed_at
                )
            attempt.mark_version = mark.version
        except IntegrityError:  # a concurrent first submit created it: bump that one
            mark = TutorialMark.objects.select_for_update().get(**slot)
    if attempt.mark_version is None:
        fields = dict(
            value=value,
            version=F("version") + 1,
            quiz=quiz,
            status=Status.PENDING,
            reason="",
            next_try_at=None,
        )
        if mark.status in (Status.REJECTED, Status.GIVEN_UP):
            fields["tries"] = 0  # a new attempt is a natural "ask again"
        if mark.status == Status.DELIVERED or mark.due_since is None:
            fields["due_since"] = attempt.completed_at
        TutorialMark.objects.filter(pk=mark.pk).update(**fields)
        attempt.mark_version = mark.version + 1  # exact: we hold the row lock

    transaction.on_commit(
        partial(
            mark_deliver_inline, mark_id=mark.pk, attempt_id=attempt.pk, session_email=session_email
        )
    )
    return mark.pk


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


def mark_deliver_inline(
    *, mark_id: int, attempt_id: int | None = None, session_email: str | None = None
) -> DeliveryOutcome | None:
    """The post-commit delivery of a submission. Never raises: the student gets their result."""
    try:
        return mark_deliver(
            mark_id=mark_id,
            trigger=MarkDeliveryLog.Trigger.INLINE,
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
    *, mark: TutorialMark, session_email: str | None = None
) -> tuple[str, str]:
    """The teacher email to send, and which step of the fallback chain gave it.

    Raises SyncError from the course lookup, or SyncRejectedError(no_teacher_email).
    """
    creator_email = mark.quiz.created_by.email
    if creator_email:
        return creator_email, Source.QUIZ_CREATOR
    instructor = course_instructor_email(course_id=mark.course_id)
    if instructor:
        return instructor, Source.COURSE_INSTRUCTOR
    if session_email:
        return session_email, Source.SESSION
    domain = settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN
    if domain:
        return f"teacher_{mark.course_id.lower()}@{domain}", Source.GENERATED
    raise SyncRejectedError(reason="no_teacher_email")


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
        TutorialMark.objects.filter(pk=mark_id)
        .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now))
        .update(claimed_by=owner, claim_expires_at=lease)
    )
    if not claimed:
        logger.info("delivery skipped mark=%s outcome=busy: another process holds it", mark_id)
        return DeliveryOutcome(mark_id=mark_id, status="busy", reason="claimed_elsewhere")
    try:
        mark = TutorialMark.objects.select_related("student", "quiz__created_by").get(pk=mark_id)
        return _deliver_claimed(
            mark=mark,
            owner=owner,
            trigger=trigger,
            attempt_id=attempt_id,
            session_email=session_email,
            use_breaker=use_breaker,
        )
    except BaseException:
        TutorialMark.objects.filter(pk=mark_id, claimed_by=owner).update(
            claimed_by="", claim_expires_at=None
        )
        raise


def _deliver_claimed(*, mark, owner, trigger, attempt_id, session_email, use_breaker):
    ctx = {"trigger": trigger, "attempt_id": attempt_id}
    if not is_configured():
        _say_sync_disabled_once()
        return _skip(mark=mark, owner=owner, status=mark.status, reason="sync_disabled", **ctx)
    if course_is_known_missing(course_id=mark.course_id):
        return _skip(
            mark=mark, owner=owner, status=Status.REJECTED, reason="course_not_found", **ctx
        )

    sent_version, sent_value = mark.version, mark.value
    email = source = ""

    def send():
        nonlocal email, source
        email, source = teacher_email_resolve(mark=mark, session_email=session_email)
        return get_client().update_student_marks(
            student_id=mark.student.username,
            course_id=mark.course_id,
            teacher_email=email,
            tutorial_number=mark.tutorial_number,
            value=sent_value,
        )

    started = time.monotonic()
    error = result = None
    try:
        result = get_breaker().call(send) if use_breaker else send()
    except pybreaker.CircuitBreakerError:
        return _skip(mark=mark, owner=owner, status=mark.status, reason="breaker_open", **ctx)
    except AnalyzerConfigError:
        # A broken setting (e.g. a malformed URL or token): the mark waits for the fix.
        logger.exception(
            "sync misconfigured mark=%s: fix the ACADEMIC_ANALYZER_* settings", mark.pk
        )
        return _skip(mark=mark, owner=owner, status=mark.status, reason="config_error", **ctx)
    except SyncError as err:
        error = err
        if err.reason == "course_not_found":
            course_mark_missing(course_id=mark.course_id)
        if use_breaker and isinstance(err, SyncConfigurationError):
            get_breaker().open()  # every other submission would fail the same way
    duration_ms = (result or error).duration_ms
    if duration_ms is None:
        duration_ms = int((time.monotonic() - started) * 1000)
    http_status = result.status_code if result else error.status_code

    now = timezone.now()
    update = plan_outcome(tries=mark.tries, due_since=mark.due_since, error=error, now=now)
    settled = _write_outcome(
        mark=mark,
        owner=owner,
        update=update,
        now=now,
        email=email,
        source=source,
        sent_version=sent_version,
        sent_value=sent_value,
    )
    MarkDeliveryLog.objects.create(
        mark=mark,
        tried_at=now,
        trigger=trigger,
        version=sent_version,
        value=sent_value,
        outcome=update.status,
        reason=update.reason,
        http_status=http_status,
        duration_ms=duration_ms,
        teacher_email=email,
        teacher_email_source=source,
        error=update.last_error,
    )
    outcome = DeliveryOutcome(
        mark_id=mark.pk,
        status=update.status,
        reason=update.reason,
        sent=True,
        version=sent_version,
        value=sent_value,
        http_status=http_status,
        duration_ms=duration_ms,
        attempts_settled=settled,
    )
    log_delivery(mark=mark, outcome=outcome, trigger=trigger, attempt_id=attempt_id)
    return outcome


def _write_outcome(
    *, mark, owner, update: MarkUpdate, now, email, source, sent_version, sent_value
):
    """Write the outcome only if the version is still the one sent; settle included attempts."""
    delivered = update.status == Status.DELIVERED
    release = dict(claimed_by="", claim_expires_at=None, last_tried_at=now)
    reached = (
        dict(delivered_version=sent_version, delivered_value=sent_value, delivered_at=now)
        if delivered
        else {}
    )
    written = TutorialMark.objects.filter(
        pk=mark.pk, version=sent_version, claimed_by=owner
    ).update(
        status=update.status,
        reason=update.reason,
        last_error=update.last_error,
        tries=update.tries,
        next_try_at=update.next_try_at,
        teacher_email=email,
        teacher_email_source=source,
        **reached,
        **release,
    )
    if not written:
        # A retake bumped the version mid-delivery: the mark stays due, the newer value goes next.
        TutorialMark.objects.filter(pk=mark.pk, claimed_by=owner).update(**reached, **release)
    if not delivered:
        return 0
    return mark_settle_attempts(mark=mark, version=sent_version, now=now)


def mark_settle_attempts(*, mark: TutorialMark, version: int, now) -> int:
    """Mark every attempt included in a delivered version as synced; returns how many."""
    return (
        slot_attempts(
            student_id=mark.student_id,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
        )
        .filter(marks_synced=False, mark_version__lte=version)
        .update(marks_synced=True, last_sync_at=now)
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
    TutorialMark.objects.filter(pk=mark.pk, claimed_by=owner).update(
        status=status, reason=reason, claimed_by="", claim_expires_at=None
    )
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
_CONFIGURATION_REASONS = {"token_rejected", "token_missing", "not_the_analyzer", "config_error"}


def log_delivery(*, mark, outcome: DeliveryOutcome, trigger: str, attempt_id=None) -> None:
    """One line per delivery, with everything needed to follow it without the database."""
    if outcome.reason in _CONFIGURATION_REASONS:
        level = logging.ERROR
    elif outcome.reason == "sync_disabled":
        level = logging.INFO  # said once at startup; not worth a warning per submission
    else:
        level = _LEVELS.get(outcome.status, logging.WARNING if outcome.reason else logging.INFO)
    logger.log(
        level,
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
        f"{get_client().base_url}/staff/update-student-marks" if is_configured() else "-",
        outcome.http_status or "-",
        outcome.duration_ms if outcome.duration_ms is not None else "-",
    )
