"""Delivering marks: the inline delivery of a submission's mark, and the sends every
delivery shares.

``mark_deliver_inline`` runs after a submit commits: breaker, inline budget, the probe in the
background (docs/decisions/0003-probe-off-the-request.md), then ``marks_write_back`` and one
log line. ``mark_send`` (one POST) and ``marks_send_bulk`` (one add-tutN-mark request) are the
sends, shared with the resync, which calls them from worker threads: they write nothing.
``teacher_email_resolve`` is the teacher-email chain (quiz creator, a course teacher the
Analyzer lists, session, generated).
"""

from __future__ import annotations

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
    probes_release,
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

    ``claimed`` is the mark as the submit transaction wrote and claimed it; without it (sync
    was off, or another process held the mark) the mark is claimed and loaded here, and one
    claimed elsewhere is left alone (``NotSent.BUSY``). Analyzer failures become the mark's
    status. Never raises: the student gets their result, and a crash leaves the mark due.
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


def _deliver_claimed(
    *, mark: TutorialMark, owner: str, attempt_id: int | None, session_email: str | None
) -> DeliveryOutcome:
    if not is_configured():
        _say_sync_disabled_once()
        return _skip(mark=mark, owner=owner, reason=Reason.SYNC_DISABLED, attempt_id=attempt_id)
    # One read for the breaker, the configuration and the course; a due probe is claimed here
    # and sent by a background sender: no student waits on a failing Analyzer.
    gate = inline_gate(course_id=mark.course_id)
    if gate.probes:
        return _probe_hand_off(
            mark=mark, owner=owner, gate=gate, attempt_id=attempt_id, session_email=session_email
        )
    if gate.skip:
        status = Status.REJECTED if gate.skip == Reason.COURSE_NOT_FOUND else mark.status
        return _skip(mark=mark, owner=owner, status=status, reason=gate.skip, attempt_id=attempt_id)
    # A student waits: the budget, not the resync's timeouts, bounds the send.
    budget_ms = inline_budget_ms(shared_ms=gate.shared_ms)
    try:
        with budget(budget_ms / 1000):
            sent = mark_send(mark=mark, session_email=session_email)
    except AnalyzerConfigError:
        return _misconfigured(mark=mark, owner=owner, attempt_id=attempt_id)
    answered = _answered_ms(sent)
    if answered is not None:
        answer_times.record(answered)  # feeds this process's inline budget
    if sent.error is not None and sent.error.reason == Reason.TIMEOUT:
        logger.warning(
            "inline send cut off by the budget mark=%s budget_ms=%s: the breaker opens, "
            "the next probe goes in the background",
            mark.pk,
            budget_ms,
        )
    return _write_back_one(mark=mark, sent=sent, gate=gate, owner=owner, attempt_id=attempt_id)


def _write_back_one(
    *, mark: TutorialMark, sent: SendTry, gate: InlineGate, owner: str, attempt_id: int | None
) -> DeliveryOutcome:
    """Feed the breaker, write the try back, log it: the end of every inline send."""
    if sent.error is not None:
        if sent.requested or isinstance(sent.error, SyncTemporaryError | SyncConfigurationError):
            breaker_record(sent.error)  # a success closes it in the write-back, for resync too
        else:
            probes_release(gate)  # decided without a request: the next submission may probe
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


def _answered_ms(sent: SendTry) -> int | None:
    """How long the Analyzer took to answer ``sent``; None when it did not answer."""
    if not sent.requested or sent.duration_ms is None:
        return None
    if sent.error is not None and sent.error.status_code is None:
        return None  # refused, reset or cut off: no answer time to learn from
    return sent.duration_ms


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


def _probe_hand_off(
    *,
    mark: TutorialMark,
    owner: str,
    gate: InlineGate,
    attempt_id: int | None,
    session_email: str | None,
) -> DeliveryOutcome:
    """This submit won the cool-off's probe: its mark goes to the background sender, which
    keeps the mark's claim; the submit returns at once with the mark still due."""
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


def mark_probe_send(
    *,
    mark: TutorialMark,
    owner: str,
    gate: InlineGate,
    attempt_id: int | None,
    session_email: str | None,
) -> DeliveryOutcome | None:
    """The probe: send a claimed mark with the full timeouts (nobody waits on it) and write it
    back as an inline try. Its answer time is shared with every process's budget, so an
    Analyzer that turned slow is not cut off again at once. Never raises."""
    try:
        try:
            sent = mark_send(mark=mark, session_email=session_email)
        except AnalyzerConfigError:
            probes_release(gate)
            return _misconfigured(mark=mark, owner=owner, attempt_id=attempt_id)
        answered = _answered_ms(sent)
        if answered is not None:
            answer_times.record(answered)
            answer_time_share(answered)
        return _write_back_one(mark=mark, sent=sent, gate=gate, owner=owner, attempt_id=attempt_id)
    except Exception:
        TutorialMark.objects.filter(pk=mark.pk).held_by(owner).release()
        logger.exception("inline probe crashed mark=%s: the mark stays due for resync", mark.pk)
        return None


def _misconfigured(*, mark: TutorialMark, owner: str, attempt_id: int | None) -> DeliveryOutcome:
    # A broken setting (e.g. a malformed URL or token): the mark waits for the fix. Called
    # from the handler of AnalyzerConfigError: the traceback is logged.
    logger.exception(  # noqa: LOG004
        "sync misconfigured mark=%s: fix the ACADEMIC_ANALYZER_* settings", mark.pk
    )
    return _skip(mark=mark, owner=owner, reason=Reason.CONFIG_ERROR, attempt_id=attempt_id)


_disabled_said = threading.Event()


def _say_sync_disabled_once() -> None:
    if not _disabled_said.is_set():
        _disabled_said.set()
        logger.warning(
            "Academic Analyzer sync is disabled (ACADEMIC_ANALYZER_URL is not set): tutorial "
            "marks are recorded and stay pending until it is configured"
        )


def _skip(
    *,
    mark: TutorialMark,
    owner: str,
    reason: str,
    attempt_id: int | None,
    status: str | None = None,
) -> DeliveryOutcome:
    """Record why no request went out, keep the mark due (or rejected), release the claim."""
    status = status or mark.status
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
    one course lookup, because older Analyzers answer a deleted course with a 500 and a
    stack trace. ``teacher`` is the (email, source) already resolved (the resync resolves
    them on its own thread: this may run in a worker with no database); without it the chain
    is followed here. Writes nothing. Raises AnalyzerConfigError for broken settings.
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
        if course is None and _looks_like_a_crash(err):
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
    is a timeout for every mark: it may have applied some). Upstream's "Teacher or Course
    not found" is told apart with one course lookup. Writes nothing (safe in a worker
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
        if err.reason == Reason.TEACHER_NOT_FOUND:
            err = _course_gone_or(err, course_id=course.course_id, ask=get_client().course_detail)
        for sent in tries:
            sent.error, sent.http_status = err, err.status_code
            sent.duration_ms = err.duration_ms
            if sent.duration_ms is None:
                sent.duration_ms = int((time.monotonic() - started) * 1000)
        return tries
    for sent, item in zip(tries, result.items, strict=True):
        sent.error, sent.http_status, sent.duration_ms = (
            item.error,
            result.status_code,
            result.duration_ms,
        )
    return tries


def _looks_like_a_crash(error: SyncError) -> bool:
    """A 500 with a stack trace rather than the Analyzer's JSON "Server error": how older
    Analyzers answer a deleted course."""
    return error.status_code == 500 and not (error.body or "").lstrip().startswith("{")


def _course_gone_or(
    error: SyncError,
    *,
    course_id: str,
    ask: Callable[..., object] = course_detail_fetch,
) -> SyncError:
    """The course-not-found rejection when the course is gone (archived since it was
    checked), else ``error`` unchanged. ``ask`` looks the course up: by default the lookup
    that remembers its answer; from a worker thread (no database) the client's own."""
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
    """The teacher email to send, and which step of the fallback chain gave it.

    The chain: the quiz creator's email; then a teacher of the course here whom the
    Analyzer's dashboard lists as handling it (``course_teacher()``, by default the remembered
    lookup ``sync_state.course_teacher_email``; the resync passes its own, asked once per course
    and run); then the staff email in the session; then a generated address when
    ``ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN`` is set. Raises SyncError from the dashboard
    lookup, or SyncRejectedError(no_teacher_email).
    """
    creator_email = mark.quiz.created_by.email
    if creator_email:
        return creator_email, Source.QUIZ_CREATOR
    if course_teacher is None:
        teacher = course_teacher_email(course_id=mark.course_id)
    else:
        teacher = course_teacher()
    if teacher:
        return teacher, Source.COURSE_TEACHER
    if session_email:
        return session_email, Source.SESSION
    domain = settings.ACADEMIC_ANALYZER_FALLBACK_EMAIL_DOMAIN
    if domain:
        return f"teacher_{mark.course_id.lower()}@{domain}", Source.GENERATED
    raise SyncRejectedError(reason=Reason.NO_TEACHER_EMAIL)


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

    ``level`` overrides the level chosen from the outcome (the resync keeps routine lines
    at DEBUG and says the counts once per run). ``bulk_items``: the request carried this
    many marks (an add-tutN-mark request); ``http_status`` and ``duration_ms`` are its.
    """
    logger.log(
        level if level is not None else _log_level(outcome),
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
        _marks_url(outcome=outcome, tutorial_number=mark.tutorial_number),
        outcome.http_status or "-",
        outcome.duration_ms if outcome.duration_ms is not None else "-",
        outcome.bulk_items or "-",
    )


def _log_level(outcome: DeliveryOutcome) -> int:
    """By outcome; ERROR for configuration problems."""
    if outcome.reason in CONFIGURATION_REASONS:
        return logging.ERROR
    if outcome.reason == Reason.SYNC_DISABLED:
        return logging.INFO  # said once at startup; not worth a warning per submission
    return _LEVELS.get(outcome.status, logging.WARNING if outcome.reason else logging.INFO)


def _marks_url(*, outcome: DeliveryOutcome, tutorial_number: int) -> str:
    path = "/staff/update-student-marks"
    if outcome.bulk_items:
        path = tutorial_marks_path(tutorial_number)
    try:
        return f"{get_client().display_url}{path}" if is_configured() else "-"
    except AnalyzerConfigError:  # logging a misconfiguration must not fail on it again
        return "-"
