"""What sync knows about the Analyzer beyond single marks, and the one writer of ``SyncState``.

One row per key: the inline breaker and the configurations it rejected, the answer times the
inline budget shares, the courses and teachers the Analyzer knows, the bulk route's absence
and the last Analyzer checks. Every write of the table is a function here (a test walks the
code for others). The store failing stops nothing: a read that fails counts as nothing known
(the breaker closed), a write that fails is logged and skipped.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from academic_integration.client import CourseDetail, get_client, total_timeout_s
from academic_integration.exceptions import (
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.models import SyncState

logger = logging.getLogger(__name__)

BREAKER = "breaker"
#: A background probe's answer time (``failures``, in ms) that every process's inline budget
#: counts until ``expires_at``: an Analyzer found slow is not cut off again elsewhere.
ANSWER_TIME = "answer-time"
#: ``check:<course id>``: a course's last Analyzer check (``data``; ``updated_at`` when).
CHECK = "check:"


def cool_off() -> timedelta:
    return timedelta(seconds=settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS)


def _hashed(*parts: str, length: int) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:length]


def config_key() -> str:
    """Names the current URL and token without storing either (a hash)."""
    url = settings.ACADEMIC_ANALYZER_URL or ""
    return "config:" + _hashed(url, settings.ACADEMIC_ANALYZER_TOKEN or "", length=24)


def bulk_key() -> str:
    """Names the current Analyzer URL (hashed): a new address is tried in bulk at once."""
    return "bulk:unsupported:" + _hashed(settings.ACADEMIC_ANALYZER_URL or "", length=24)


def course_key(course_id: str) -> str:
    return f"course:{course_id}"[:80]


def teacher_key(email: str) -> str:
    """Names a teacher's row without storing the email in the key (emails run to 254)."""
    return "teacher:" + _hashed(email.strip().lower(), length=32)


# --- reads ------------------------------------------------------------------------------------


def rows(keys: Iterable[str]) -> dict[str, SyncState]:
    """The rows named ``keys`` in one query; {} (nothing known) if the store is unreadable."""
    return rows_read(keys)[0]


def rows_read(keys: Iterable[str]) -> tuple[dict[str, SyncState], bool]:
    """``rows``, and whether the store could be read."""
    try:
        return {row.key: row for row in SyncState.objects.filter(key__in=list(keys))}, True
    except DatabaseError as err:
        logger.warning("sync state unreadable, counted as closed/unknown error=%s", err)
        return {}, False


def live(row: SyncState | None, now: datetime | None = None) -> SyncState | None:
    """``row`` while its ``expires_at`` is ahead, else None."""
    now = now or timezone.now()
    return row if row is not None and row.expires_at and row.expires_at > now else None


def bulk_unsupported_state() -> dict[str, datetime | None] | None:
    """Since and until when the bulk route is known missing (one query); None: try bulk."""
    return bulk_unsupported(rows([bulk_key()]).get(bulk_key()))


def bulk_unsupported(row: SyncState | None) -> dict[str, datetime | None] | None:
    row = live(row)
    return None if row is None else {"since": row.opened_at, "until": row.expires_at}


# --- writes -----------------------------------------------------------------------------------


def _quietly(what: str, write: Callable[[], object]) -> None:
    try:
        write()
    except DatabaseError as err:
        logger.warning("sync state not saved what=%s error=%s", what, err)


def _save(what: str, states: list[SyncState], fields: Iterable[str]) -> None:
    """Create or overwrite the rows in one statement (INSERT ... ON CONFLICT UPDATE)."""
    _quietly(
        what,
        lambda: SyncState.objects.bulk_create(
            states,
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=[*fields, "updated_at"],
        ),
    )


def _upsert(key: str, **fields: Any) -> None:
    _save(key.split(":")[0], [SyncState(key=key, updated_at=timezone.now(), **fields)], fields)


def _forget(*keys: str) -> None:
    _quietly("forget", lambda: SyncState.objects.filter(key__in=keys).delete())


def probe_claim(key: str, *, now: datetime) -> bool:
    """Take the one probe of this cool-off for ``key``: True for exactly one caller, across
    processes and hosts (a conditional UPDATE moves ``next_probe_at`` one cool-off ahead)."""
    try:
        due = Q(next_probe_at__isnull=True) | Q(next_probe_at__lte=now)
        return bool(SyncState.objects.filter(due, key=key).update(next_probe_at=now + cool_off()))
    except DatabaseError as err:
        logger.warning("sync state unreadable, probe taken key=%s error=%s", key, err)
        return True


def probes_free(keys: Collection[str]) -> None:
    """No request went out (e.g. no teacher email): the next caller may probe these open keys
    (an ``InlineGate``'s ``probes``) at once."""
    if not keys:
        return
    _quietly(
        "probe release",
        lambda: SyncState.objects.filter(key__in=list(keys), opened_at__isnull=False).update(
            next_probe_at=timezone.now()
        ),
    )


def breaker_failure_count(*, open_now: bool = False) -> None:
    """One more temporary failure in a row; open the breaker at the threshold (or at once,
    ``open_now``). Atomic: the UPDATE takes the row's lock (SQLite: the write lock) before the
    read that decides."""
    _quietly("breaker failure", lambda: _failure_count(open_now=open_now))


def _failure_count(*, open_now: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        if not SyncState.objects.filter(key=BREAKER).update(failures=F("failures") + 1):
            try:
                with transaction.atomic():
                    SyncState.objects.create(key=BREAKER, failures=1)
            except IntegrityError:  # created by another process meanwhile
                SyncState.objects.filter(key=BREAKER).update(failures=F("failures") + 1)
        row = SyncState.objects.get(key=BREAKER)
        threshold = settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX
        if row.opened_at is None and row.failures < threshold and not open_now:
            return
        # Opened by a cut-off, the first probe is due at once: a slow Analyzer answers it (in
        # the background) and inline resumes with a budget that fits; a silent one fails it.
        first_probe = now if open_now and row.opened_at is None else now + cool_off()
        SyncState.objects.filter(key=BREAKER).update(
            opened_at=row.opened_at or now, next_probe_at=first_probe
        )
    if row.opened_at is None:
        logger.warning(
            "inline breaker opened failures=%s cool_off_s=%s: submissions skip the call; "
            "one probe after the cool-off",
            row.failures,
            settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS,
        )


def problems_forget() -> None:
    """The Analyzer accepted a call: close the breaker and forget this configuration's
    rejection, in one DELETE."""
    _forget(BREAKER, config_key())


def config_rejection_remember(reason: str) -> None:
    """The Analyzer rejected this configuration (token, or not the Analyzer at all): inline
    calls with it stop, but one probe per cool-off."""
    now = timezone.now()
    _upsert(config_key(), reason=reason, opened_at=now, next_probe_at=now + cool_off())


def answer_time_share(duration_ms: int) -> None:
    """A background probe was answered in ``duration_ms``: every process's inline budget
    counts it for ``ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS`` (read with the gate)."""
    memory = timedelta(seconds=settings.ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS)
    _upsert(ANSWER_TIME, failures=max(0, int(duration_ms)), expires_at=timezone.now() + memory)


def bulk_unsupported_remember() -> None:
    """This Analyzer answered Express's 404 for add-tutN-mark: resync runs send one POST per
    mark until ``ACADEMIC_ANALYZER_BULK_RETRY_SECONDS`` have passed (it may be upgraded)."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.ACADEMIC_ANALYZER_BULK_RETRY_SECONDS)
    _upsert(bulk_key(), reason=Reason.ROUTE_MISSING, opened_at=now, expires_at=until)


def _remembered_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS)


def course_remember(*, course_id: str, missing: bool) -> None:
    """The Analyzer has the course, or said it is missing: remembered for
    ``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``."""
    reason = Reason.COURSE_NOT_FOUND if missing else ""
    _upsert(course_key(course_id), reason=reason, expires_at=_remembered_until())


def course_forget(*, course_ids: Iterable[str]) -> None:
    """Drop what we know about these courses (after someone fixed them)."""
    _forget(*(course_key(c) for c in course_ids))


def teacher_remember(*, email: str, courses: Iterable[str] | None) -> None:
    """The course ids the Analyzer's dashboard lists for ``email`` (None: no such teacher),
    remembered for ``ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS``."""
    reason, data = (
        (Reason.TEACHER_NOT_FOUND, {}) if courses is None else ("", {"courses": sorted(courses)})
    )
    _upsert(teacher_key(email), reason=reason, data=data, expires_at=_remembered_until())


def course_checks_remember(
    *, checks: Mapping[str, tuple[str, dict[str, Any]]], at: datetime
) -> None:
    """Keep each course's last Analyzer check, ``{course id: (worst problem's code, its
    JSON)}``, checked ``at``; one statement. The next check of the course replaces it."""
    states = [
        SyncState(key=f"{CHECK}{course_id}", reason=reason, data=data, updated_at=at)
        for course_id, (reason, data) in checks.items()
    ]
    _save("analyzer check", states, ["reason", "data"])


# --- the inline gate and the breaker ----------------------------------------------------


def _probe_due(row: SyncState, now: datetime) -> bool:
    return row.next_probe_at is None or row.next_probe_at <= now


@dataclass(frozen=True)
class InlineGate:
    """Whether an inline call may go out. ``skip``: the reason it may not ("" = go).

    ``probes``: the state keys whose probe this call holds (``probe_reason``: why): the send
    then belongs to a background sender, never to the request. ``known_problem``: there was
    state that a success must clear. ``shared_ms``: a recent probe's answer time, or None.
    """

    skip: str = ""
    probes: tuple[str, ...] = ()
    known_problem: bool = False
    shared_ms: int | None = None
    probe_reason: str = ""


def inline_gate(*, course_id: str) -> InlineGate:
    """Read the breaker, the configuration and the course in one query and decide: a course
    known missing, a configuration known rejected or an open breaker skips the call, unless
    its cool-off is over and this caller wins the one probe (across processes and hosts)."""
    now = timezone.now()
    config, course = config_key(), course_key(course_id)
    found = rows([BREAKER, config, course, ANSWER_TIME])
    missing = live(found.get(course), now)
    if missing is not None and missing.reason == Reason.COURSE_NOT_FOUND:
        return InlineGate(skip=Reason.COURSE_NOT_FOUND)
    timed = live(found.get(ANSWER_TIME), now)
    shared_ms = timed.failures if timed is not None else None
    breaker = found.get(BREAKER)
    gating = [(config, found[config].reason)] if config in found else []
    if breaker is not None and breaker.opened_at is not None:
        gating.append((BREAKER, Reason.BREAKER_OPEN))
    known_problem = config in found or breaker is not None
    for key, reason in gating:
        if not _probe_due(found[key], now):
            return InlineGate(skip=reason, known_problem=known_problem)
    probes = []
    for key, reason in gating:
        if not probe_claim(key, now=now):
            return InlineGate(skip=reason, known_problem=known_problem)
        probes.append(key)
    if probes:
        logger.info("inline probe taken keys=%s", ",".join(k.split(":")[0] for k in probes))
        return InlineGate(
            probes=tuple(probes),
            known_problem=True,
            shared_ms=shared_ms,
            probe_reason=gating[-1][1],
        )
    return InlineGate(known_problem=known_problem, shared_ms=shared_ms)


def breaker_record(error: SyncError | None) -> None:
    """Feed one inline call's result: a success or an answered rejection closes it, a
    temporary failure counts toward opening (a timeout opens it at once; a failed probe keeps
    it open another cool-off). A configuration problem is left to the write-back
    (``config_rejection_remember``). An error decided without a request frees the probe."""
    failure = isinstance(error, SyncTemporaryError | SyncConfigurationError)
    if error is None or (error.status_code is not None and not failure):
        _forget(BREAKER)  # closed: calls go out again
    elif isinstance(error, SyncTemporaryError):
        breaker_failure_count(open_now=error.reason == Reason.TIMEOUT)
    elif not isinstance(error, SyncConfigurationError):
        probes_free([BREAKER])


def snapshot() -> dict[str, Any]:
    """The breaker as it stands, for the health page and the metrics endpoint. One query.

    ``state``: ``closed``, ``open`` (cooling off) or ``half-open`` (the next submission
    probes); ``unknown`` when the state cannot be read (delivery then proceeds as closed).
    ``is_open``: state is ``open``. ``failures``: temporary failures in a row (kept when it
    opens: the count that opened it, plus failed probes). ``opened_at`` / ``next_probe_at``:
    aware datetimes, or None while closed.
    """
    breaker: dict[str, Any] = overview()["breaker"]
    return breaker


def overview() -> dict[str, Any]:
    """For the health page, in one query: ``breaker`` (as ``snapshot``), ``config_rejection``
    (this configuration's reason, since, next probe; or None) and ``bulk_unsupported`` (as
    ``bulk_unsupported_state``)."""
    config, bulk = config_key(), bulk_key()
    found, readable = rows_read([BREAKER, config, bulk])
    row = found.get(BREAKER)
    state = "closed" if readable else "unknown"
    if row is not None and row.opened_at is not None:
        state = "open" if not _probe_due(row, timezone.now()) else "half-open"
    rejected = found.get(config)
    return {
        "breaker": {
            "state": state,
            "is_open": state == "open",
            "failures": row.failures if row else 0,
            "opened_at": row.opened_at if row else None,
            "next_probe_at": row.next_probe_at if row and row.opened_at else None,
        },
        "config_rejection": None
        if rejected is None
        else {
            "reason": rejected.reason,
            "since": rejected.opened_at,
            "next_probe_at": rejected.next_probe_at,
        },
        "bulk_unsupported": bulk_unsupported(found.get(bulk)),
    }


# --- the inline budget: answer times kept per process (a deque append, never a query) ---------


class AnswerTimes:
    """The last few answer times (ms) of this process, safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._times: deque[int] = deque(maxlen=1)

    def record(self, duration_ms: int) -> None:
        size = max(1, int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_SAMPLES))
        with self._lock:
            if self._times.maxlen != size:
                self._times = deque(self._times, maxlen=size)
            self._times.append(max(0, int(duration_ms)))

    def p95(self) -> int | None:
        """The 95th percentile (nearest rank) of the recorded times; None before any."""
        with self._lock:
            times = sorted(self._times)
        if not times:
            return None
        return times[min(len(times) - 1, -(-95 * len(times) // 100) - 1)]

    def clear(self) -> None:
        with self._lock:
            self._times.clear()


answer_times = AnswerTimes()


def inline_budget_ms(*, shared_ms: int | None = None) -> int:
    """The budget of the next inline send, in ms: the recent p95 (or ``shared_ms``, a probe's
    answer time, if larger) times the factor, within the floor and the cap; the cap when
    nothing has been observed yet. Never more than the client's total timeout."""
    floor = int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_FLOOR_MS)
    cap = max(floor, int(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_CAP_MS))
    seen = [t for t in (answer_times.p95(), shared_ms) if t is not None]
    budget = cap
    if seen:
        factor = float(settings.ACADEMIC_ANALYZER_INLINE_BUDGET_FACTOR)
        budget = min(cap, max(floor, round(max(seen) * factor)))
    return min(budget, round(total_timeout_s() * 1000))


# --- courses and teachers: asked, then remembered -------------------------------------------


def course_detail_fetch(*, course_id: str) -> CourseDetail:
    """Ask the Analyzer for a course (with its roster), remember whether it exists, return it.
    Raises the client's SyncError subclasses."""
    try:
        detail = get_client().course_detail(course_id=course_id)
    except SyncRejectedError as err:
        if err.reason == Reason.COURSE_NOT_FOUND:
            course_remember(course_id=course_id, missing=True)
        raise
    course_remember(course_id=course_id, missing=False)
    return detail


def courses_known_missing(*, course_ids: Iterable[str]) -> set[str]:
    """Those of ``course_ids`` the Analyzer said are missing, still within the cache period."""
    keys = {course_key(course_id): course_id for course_id in course_ids}
    return {
        keys[key]
        for key, row in rows(keys).items()
        if row.reason == Reason.COURSE_NOT_FOUND and live(row)
    }


def teacher_courses_known(*, email: str) -> frozenset[str] | None:
    """The course ids the Analyzer lists for teacher ``email`` (remembered); None when the
    Analyzer knows no such teacher. Raises the client's other SyncError subclasses."""
    key = teacher_key(email)
    row = live(rows([key]).get(key))
    if row is None:
        return teacher_courses_fetch(email=email)
    if row.reason == Reason.TEACHER_NOT_FOUND:
        return None
    return frozenset((row.data or {}).get("courses") or ())


def teacher_courses_fetch(*, email: str) -> frozenset[str] | None:
    """Ask the Analyzer's dashboard for teacher ``email`` now, remember the answer, return the
    course ids it lists (None: no such teacher). Raises the client's other SyncError
    subclasses."""
    try:
        found = get_client().teacher_courses(email=email)
    except SyncRejectedError as err:
        if err.reason != Reason.TEACHER_NOT_FOUND:
            raise
        teacher_remember(email=email, courses=None)
        return None
    teacher_remember(email=email, courses=found)
    return found


def course_teacher_email(*, course_id: str) -> str | None:
    """The email of one of the course's teachers here whom the Analyzer lists as handling
    the course (the first by account age), or None. One dashboard lookup per teacher asked,
    remembered; raises the client's SyncError subclasses when the Analyzer cannot be asked."""
    from quizzes.models import Course

    emails = (
        Course.teachers.through.objects.filter(course_id=course_id)
        .exclude(user__email="")
        .order_by("user_id")
        .values_list("user__email", flat=True)
    )
    for email in emails:
        handled = teacher_courses_known(email=email)
        if handled is not None and course_id in handled:
            return email
    return None
