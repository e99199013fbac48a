"""The one writer of ``SyncState``: what sync knows beyond single marks, one row per key.

Every write of the table is a function here (a test walks the code for others); the breaker
(``breaker``), the courses and teachers the Analyzer knows (``courses``) and the last Analyzer
checks (``analyzer_check``) decide what to write and call them. The store failing stops
nothing: a read that fails counts as nothing known, a write that fails is logged and skipped
(the marks are what matter). See docs/decisions/0004-sync-state-in-the-database.md.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from academic_integration.models import SyncState
from academic_integration.reasons import Reason

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
    """Since and until when the bulk route is known missing; None when bulk is to be tried.
    One query."""
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


def _upsert(key: str, **fields: Any) -> None:
    """Create or overwrite ``key``'s row in one statement (INSERT ... ON CONFLICT UPDATE)."""
    row = SyncState(key=key, updated_at=timezone.now(), **fields)
    _quietly(
        key.split(":")[0],
        lambda: SyncState.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=[*fields, "updated_at"],
        ),
    )


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


def probes_free(keys: Iterable[str]) -> None:
    """No request went out: the next caller may probe these open keys at once."""
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


def breaker_close() -> None:
    """Closed: calls go out again. One DELETE, a no-op when already closed."""
    _forget(BREAKER)


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


def course_mark_missing(*, course_id: str) -> None:
    course_remember(course_id=course_id, missing=True)


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
    _quietly(
        "analyzer check",
        lambda: SyncState.objects.bulk_create(
            states,
            update_conflicts=True,
            unique_fields=["key"],
            update_fields=["reason", "data", "updated_at"],
        ),
    )
