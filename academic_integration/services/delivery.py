"""Delivering marks: ``mark_deliver_inline`` (a submission's mark, after the submit commits)
and the sends every delivery shares, ``mark_send`` and ``marks_send_bulk`` (they write nothing;
the resync calls them from worker threads)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connections
from django.utils import timezone

from academic_integration.client import (
    AnalyzerResult,
    CourseDetail,
    budget,
    get_client,
    is_configured,
    tutorial_marks_path,
)
from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    AnalyzerConfigError,
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncRouteMissingError,
    SyncTemporaryError,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.services.tries import DeliveryOutcome, NotSent, SendTry
from academic_integration.services.writeback import marks_write_back
from academic_integration.sync_state import (
    InlineGate,
    answer_time_share,
    answer_times,
    breaker_record,
    course_detail_fetch,
    course_teacher_email,
    inline_budget_ms,
    inline_gate,
    probes_free,
)

logger = logging.getLogger(__name__)

Status = TutorialMark.Status
Source = TutorialMark.EmailSource
INLINE = MarkDeliveryLog.Trigger.INLINE


def claim_owner(label: str) -> str:
    """A claim owner unique to this process, thread and call."""
    host = socket.gethostname()[:30]
    return f"{label}:{host}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"[:80]


def mark_deliver_inline(
    *,
    mark_id: int,
    attempt_id: int | None = None,
    session_email: str | None = None,
    claimed: TutorialMark | None = None,
) -> DeliveryOutcome | None:
    """The delivery of a submission's mark after the submit commits: send it once, within the
    inline budget and never while the breaker is open, and write the outcome back.

    ``claimed`` is the mark as the submit transaction wrote and claimed it; without it the
    mark is claimed and loaded here, and one claimed elsewhere is left alone
    (``NotSent.BUSY``). Never raises: a crash leaves the mark due (None).
    """
    marks = TutorialMark.objects.filter(pk=mark_id)
    try:
        if claimed is None:
            now = timezone.now()
            owner = claim_owner(INLINE)
            lease = now + timedelta(seconds=settings.ACADEMIC_ANALYZER_CLAIM_SECONDS)
            if not marks.unclaimed(now=now).claim(owner=owner, until=lease):
                logger.info("delivery skipped mark=%s outcome=busy: another holds it", mark_id)
                return DeliveryOutcome(
                    mark_id=mark_id, status=NotSent.BUSY, reason=Reason.CLAIMED_ELSEWHERE
                )
        else:
            owner = claimed.claimed_by
        try:
            mark = claimed or marks.select_related("student", "quiz__created_by").get()
            return _deliver_claimed(
                mark=mark, owner=owner, attempt_id=attempt_id, session_email=session_email
            )
        except BaseException:
            marks.held_by(owner).release()
            raise
    except Exception:
        logger.exception(
            "inline delivery crashed mark=%s attempt=%s: the mark stays due for resync",
            mark_id,
            attempt_id,
        )
        return None


_disabled_said = threading.Event()


def _deliver_claimed(
    *, mark: TutorialMark, owner: str, attempt_id: int | None, session_email: str | None
) -> DeliveryOutcome:
    if not is_configured():
        if not _disabled_said.is_set():
            _disabled_said.set()
            logger.warning(
                "Academic Analyzer sync is disabled (ACADEMIC_ANALYZER_URL is not set): tutorial "
                "marks are recorded and stay pending until it is configured"
            )
        return _skip(mark=mark, owner=owner, reason=Reason.SYNC_DISABLED, attempt_id=attempt_id)
    gate = inline_gate(course_id=mark.course_id)
    if gate.probes:
        # This submit won the cool-off's probe: a background sender keeps the claim and sends
        # it (docs/decisions/0003-probe-off-the-request.md); the mark stays due meanwhile.
        logger.info(
            "inline probe handed to the background mark=%s attempt=%s keys=%s",
            mark.pk,
            attempt_id or "-",
            ",".join(key.split(":")[0] for key in gate.probes),
        )
        probe_runner(
            partial(
                mark_probe_send,
                mark=mark,
                owner=owner,
                gate=gate,
                attempt_id=attempt_id,
                session_email=session_email,
            )
        )
        return DeliveryOutcome.of(mark, status=mark.status, reason=gate.probe_reason)
    if gate.skip:
        return _skip(mark=mark, owner=owner, reason=gate.skip, attempt_id=attempt_id)
    # A student waits: the budget, not the resync's timeouts, bounds the send.
    return _send(
        mark=mark,
        owner=owner,
        gate=gate,
        attempt_id=attempt_id,
        session_email=session_email,
        budget_ms=inline_budget_ms(shared_ms=gate.shared_ms),
    )


def _run_in_background(work: Callable[[], object]) -> None:
    """Run ``work`` on a daemon thread with its own database connection, closed after."""

    def run() -> None:
        try:
            work()
        finally:
            connections.close_all()  # this thread's connections only

    threading.Thread(target=run, name="analyzer-probe", daemon=True).start()


#: How a probe is sent: on a background thread, after the response. Tests and the drill
#: replace it to run the probe in place, deterministically.
probe_runner: Callable[[Callable[[], object]], None] = _run_in_background


def mark_probe_send(
    *,
    mark: TutorialMark,
    owner: str,
    gate: InlineGate,
    attempt_id: int | None,
    session_email: str | None,
) -> DeliveryOutcome | None:
    """The probe: send a claimed mark with the full timeouts (nobody waits on it) and write it
    back as an inline try. Never raises: a crash releases the claim, the mark stays due."""
    try:
        return _send(
            mark=mark,
            owner=owner,
            gate=gate,
            attempt_id=attempt_id,
            session_email=session_email,
            budget_ms=None,
        )
    except Exception:
        TutorialMark.objects.filter(pk=mark.pk).held_by(owner).release()
        logger.exception("inline probe crashed mark=%s: the mark stays due for resync", mark.pk)
        return None


def _send(
    *,
    mark: TutorialMark,
    owner: str,
    gate: InlineGate,
    attempt_id: int | None,
    session_email: str | None,
    budget_ms: int | None,
) -> DeliveryOutcome:
    """Send a claimed mark once, feed the breaker, write the try back and log it.

    ``budget_ms`` bounds the send while a student waits; None for the probe, whose answer
    time is shared with every process's budget (a slow Analyzer is not cut off again at once).
    """
    try:
        with budget(budget_ms / 1000) if budget_ms is not None else contextlib.nullcontext():
            sent = mark_send(mark=mark, session_email=session_email)
    except AnalyzerConfigError:
        probes_free(gate.probes)
        # A broken setting (e.g. a malformed URL or token): the mark waits for the fix.
        logger.exception(
            "sync misconfigured mark=%s: fix the ACADEMIC_ANALYZER_* settings", mark.pk
        )
        return _skip(mark=mark, owner=owner, reason=Reason.CONFIG_ERROR, attempt_id=attempt_id)
    error = sent.error
    # Refused, reset or cut off (no status): no answer time to learn from.
    if (
        sent.requested
        and sent.duration_ms is not None
        and (error is None or error.status_code is not None)
    ):
        answer_times.record(sent.duration_ms)  # feeds this process's inline budget
        if budget_ms is None:
            answer_time_share(sent.duration_ms)
    if error is not None:
        if budget_ms is not None and error.reason == Reason.TIMEOUT:
            logger.warning(
                "inline send cut off by the budget mark=%s budget_ms=%s: the breaker opens, "
                "the next probe goes in the background",
                mark.pk,
                budget_ms,
            )
        if sent.requested or isinstance(error, SyncTemporaryError | SyncConfigurationError):
            breaker_record(error)  # a success closes it in the write-back, for resync too
        else:
            probes_free(gate.probes)  # decided without a request: the next submission may probe
    written = marks_write_back(
        tries=[sent],
        owner=owner,
        trigger=INLINE,
        now=timezone.now(),
        # Only when the gate saw a problem: a healthy inline delivery writes no state at all.
        clear_problems=gate.known_problem,
    )
    outcome = written.outcomes[mark.pk]
    log_delivery(mark=mark, outcome=outcome, trigger=INLINE, attempt_id=attempt_id)
    return outcome


def _skip(
    *, mark: TutorialMark, owner: str, reason: str, attempt_id: int | None
) -> DeliveryOutcome:
    """Record why no request went out, keep the mark due (rejected when its course is
    missing), release the claim."""
    status = Status.REJECTED if reason == Reason.COURSE_NOT_FOUND else mark.status
    TutorialMark.objects.filter(pk=mark.pk).held_by(owner).release(status=status, reason=reason)
    outcome = DeliveryOutcome.of(mark, status=status, reason=reason)
    log_delivery(mark=mark, outcome=outcome, trigger=INLINE, attempt_id=attempt_id)
    return outcome


# --- the sends, shared with the resync -------------------------------------------------


def mark_send(
    *,
    mark: TutorialMark,
    session_email: str | None = None,
    course: CourseDetail | None = None,
    teacher: tuple[str, str] | None = None,
) -> SendTry:
    """POST the mark's current value once; an Analyzer failure comes back on the SendTry.

    ``course`` is the course as checked in this run (resync); without it, a 500 answer gets
    one course lookup. ``teacher`` is the (email, source) already resolved (the resync's
    workers have no database); without it the chain is followed here. Writes nothing.
    Raises AnalyzerConfigError for broken settings.
    """
    sent = SendTry(mark=mark, version=mark.version, value=mark.value)
    started = time.monotonic()
    result: AnalyzerResult | None = None
    try:
        sent.email, sent.source = teacher or teacher_email_resolve(
            mark=mark, session_email=session_email
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
        # A 500 with a stack trace, not the JSON "Server error": how older Analyzers answer
        # a deleted course.
        crashed = err.status_code == 500 and not (err.body or "").lstrip().startswith("{")
        if course is None and crashed:
            sent.error = _course_gone_or(err, course_id=mark.course_id)
    answer = result or sent.error
    if answer is not None:
        sent.duration_ms, sent.http_status = answer.duration_ms, answer.status_code
    if sent.duration_ms is None:
        sent.duration_ms = int((time.monotonic() - started) * 1000)
    return sent


def marks_send_bulk(
    *,
    marks: Sequence[TutorialMark],
    course: CourseDetail,
    teacher_email: str,
    email_source: str,
) -> list[SendTry]:
    """POST the marks' current values in one add-tutN-mark request; one SendTry per mark.

    The marks share ``course`` (as checked in this run), a tutorial and ``teacher_email``.
    Each try carries its item's outcome, or the whole request's error (a cut-off request
    is a timeout for every mark: it may have applied some). Writes nothing (safe in a worker
    thread). Raises ``SyncRouteMissingError`` when the Analyzer has no bulk route (nothing
    was stored), ``AnalyzerConfigError`` for broken settings.
    """
    tries = [
        SendTry(
            mark=mark,
            version=mark.version,
            value=mark.value,
            email=teacher_email,
            source=email_source,
            requested=True,
            bulk_items=len(marks),
        )
        for mark in marks
    ]
    started = time.monotonic()
    client = get_client()
    try:
        result = client.tutorial_marks_bulk(
            course_id=course.course_id,
            teacher_email=teacher_email,
            tutorial_number=marks[0].tutorial_number,
            items=[(sent.mark.student.username, sent.value) for sent in tries],
        )
    except SyncRouteMissingError:
        raise
    except SyncError as err:
        if err.reason == Reason.TEACHER_NOT_FOUND:  # "Teacher or Course not found": which?
            err = _course_gone_or(err, course_id=course.course_id, ask=client.course_detail)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        for sent in tries:
            sent.error, sent.http_status = err, err.status_code
            sent.duration_ms = elapsed_ms if err.duration_ms is None else err.duration_ms
        return tries
    for sent, item in zip(tries, result.items, strict=True):
        sent.error, sent.http_status = item.error, result.status_code
        sent.duration_ms = result.duration_ms
    return tries


def _course_gone_or(
    error: SyncError,
    *,
    course_id: str,
    ask: Callable[..., object] = course_detail_fetch,
) -> SyncError:
    """The course-not-found rejection when the course is gone, else ``error`` unchanged.
    ``ask`` looks the course up: by default the remembered lookup; from a worker thread (no
    database) the client's own."""
    try:
        ask(course_id=course_id)
    except SyncRejectedError as missing:
        if missing.reason == Reason.COURSE_NOT_FOUND:
            return missing
    except SyncError:
        pass
    return error


def teacher_email_resolve(
    *,
    mark: TutorialMark,
    session_email: str | None = None,
    course_teacher: Callable[[], str | None] | None = None,
) -> tuple[str, str]:
    """The teacher email to send, and which step of the fallback chain gave it: the quiz
    creator's; a course teacher the Analyzer lists (``course_teacher()``, by default the
    remembered ``sync_state.course_teacher_email``); the session's; a generated address when
    ``ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN`` is set. Raises SyncError from the teacher
    lookup, or SyncRejectedError(no_teacher_email).
    """
    creator_email = mark.quiz.created_by.email
    if creator_email:
        return creator_email, Source.QUIZ_CREATOR
    teacher = course_teacher() if course_teacher else course_teacher_email(course_id=mark.course_id)
    if teacher:
        return teacher, Source.COURSE_TEACHER
    if session_email:
        return session_email, Source.SESSION
    generated = generated_teacher_email(course_id=mark.course_id)
    if generated:
        return generated, Source.GENERATED
    raise SyncRejectedError(reason=Reason.NO_TEACHER_EMAIL)


def generated_teacher_email(*, course_id: str) -> str | None:
    """The chain's last step: ``teacher_<course>@ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN``;
    None when that setting is empty."""
    domain = settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN
    return f"teacher_{course_id.lower()}@{domain}" if domain else None


# --- the log line ----------------------------------------------------------------------

_LEVELS: dict[str, int] = {
    Status.DELIVERED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.REJECTED: logging.WARNING,
    Status.GIVEN_UP: logging.ERROR,
}


def log_delivery(
    *,
    mark: TutorialMark,
    outcome: DeliveryOutcome,
    trigger: str,
    attempt_id: int | None = None,
    level: int | None = None,
) -> None:
    """One line per delivery, with everything needed to follow it without the database.

    ``level`` overrides the level chosen from the outcome (ERROR for configuration problems).
    ``bulk_items``: the request carried this many marks (an add-tutN-mark request).
    """
    if level is None:
        level = _LEVELS.get(outcome.status, logging.WARNING if outcome.reason else logging.INFO)
        if outcome.reason in CONFIGURATION_REASONS:
            level = logging.ERROR
        elif outcome.reason == Reason.SYNC_DISABLED:
            level = logging.INFO  # said once at startup; not worth a warning per submission
    path = "/staff/update-student-marks"
    if outcome.bulk_items:
        path = tutorial_marks_path(mark.tutorial_number)
    try:
        url = f"{get_client().display_url}{path}" if is_configured() else "-"
    except AnalyzerConfigError:  # logging a misconfiguration must not fail on it again
        url = "-"
    logger.log(
        level,
        "mark delivery outcome=%s reason=%s sent=%s trigger=%s attempt=%s mark=%s student=%s "
        "course=%s tutorial=%s version=%s value=%s url=%s http_status=%s duration_ms=%s "
        "bulk_items=%s",
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
        url,
        outcome.http_status or "-",
        outcome.duration_ms if outcome.duration_ms is not None else "-",
        outcome.bulk_items or "-",
    )
