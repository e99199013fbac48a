"""The inline circuit breaker and the configurations known to be rejected, in the database.

Several consecutive temporary failures open the breaker for a cooling-off period, during
which submissions skip the call; one inline send cut off by its budget (the Analyzer silent)
opens it at once, so a hanging Analyzer costs one student the budget, not three, and makes
the first probe due at once (slow or silent? the probe finds out). After the cool-off (or that
first time, at once) exactly one caller, across all workers and hosts, gets the probe: a conditional
UPDATE moves ``next_probe_at`` one cool-off ahead, and only the caller whose UPDATE matched
probes. The probe is never the submit itself: the caller hands its mark to a background
sender (``services.delivery``) that sends it with the full timeouts after the response, so
nobody waits on it (docs/decisions/0003-probe-off-the-request.md). A success closes the
breaker; a failure keeps it open for another cool-off; a probe holder that dies frees the
probe after that cool-off too.

A rejected token or an address that is not the Analyzer (one HTML page from a proxy is
enough) is remembered per configuration (URL and token hashed, never stored) and re-probed
the same way: one inline call per cool-off, so inline delivery resumes on its own once the
Analyzer's administrator restores the token or the proxy recovers — no resync, no click.

Why the database and not Django's cache (the first design): the default file cache's
``add``/``incr`` are not atomic across processes, it is not shared across hosts, and a fresh
or restored database inherited "breaker open" from ``var/cache``. Every host already shares
the database, and its row locks make each transition atomic on SQLite and PostgreSQL alike.
The store being unreadable stops nothing: the state then counts as closed / unknown.

Why not pybreaker (tried before that): with shared storage, each of its per-process state
objects resets the shared failure counter when it notices a change made elsewhere, and its
half-open state lets every process through at once, so a hanging Analyzer got a herd of
requests every cooling-off period.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncError,
    SyncTemporaryError,
)
from academic_integration.models import SyncState
from academic_integration.reasons import Reason

logger = logging.getLogger(__name__)

BREAKER = "breaker"
#: A background probe's answer time (``failures``, in ms) that every process's inline budget
#: counts until ``expires_at``: an Analyzer found slow is not cut off again elsewhere.
ANSWER_TIME = "answer-time"
_CONFIG = "config:"
_BULK = "bulk:unsupported:"
_COURSE = "course:"
COURSE_MISSING = Reason.COURSE_NOT_FOUND


def _cool_off() -> timedelta:
    return timedelta(seconds=settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS)


def course_key(course_id: str) -> str:
    return f"{_COURSE}{course_id}"[:80]


def config_key() -> str:
    """Names the current URL and token without storing either (a hash)."""
    url = settings.ACADEMIC_ANALYZER_URL or ""
    token = settings.ACADEMIC_ANALYZER_TOKEN or ""
    return _CONFIG + hashlib.sha256(f"{url}\n{token}".encode()).hexdigest()[:24]


def state_rows(keys: list[str]) -> dict[str, SyncState]:
    """The state rows named ``keys`` in one query; {} (all closed / unknown) if unreadable."""
    return _read(keys)[0]


def _read(keys: list[str]) -> tuple[dict[str, SyncState], bool]:
    try:
        return {row.key: row for row in SyncState.objects.filter(key__in=keys)}, True
    except DatabaseError as err:
        logger.warning("sync state unreadable, counted as closed/unknown error=%s", err)
        return {}, False


def _quietly(what: str, write) -> None:
    """Run a state write; if the store fails, log it and go on (the marks are what matter)."""
    try:
        write()
    except DatabaseError as err:
        logger.warning("sync state not saved what=%s error=%s", what, err)


def _upsert(key: str, **fields) -> None:
    """Create or overwrite ``key``'s row in one statement (INSERT ... ON CONFLICT UPDATE)."""
    row = SyncState(key=key, updated_at=timezone.now(), **fields)
    SyncState.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["key"],
        update_fields=[*fields, "updated_at"],
    )


def _probe_due(row: SyncState, now: datetime) -> bool:
    return row.next_probe_at is None or row.next_probe_at <= now


def _claim_probe(key: str, now: datetime) -> bool:
    """Take the one probe of this cool-off for ``key``: True for exactly one caller."""
    try:
        return bool(
            SyncState.objects.filter(
                Q(next_probe_at__isnull=True) | Q(next_probe_at__lte=now), key=key
            ).update(next_probe_at=now + _cool_off())
        )
    except DatabaseError as err:
        logger.warning("sync state unreadable, probe taken key=%s error=%s", key, err)
        return True


# --- the inline gate: one read per submission -------------------------------------------------


@dataclass(frozen=True)
class InlineGate:
    """Whether an inline call may go out. ``skip``: the reason it may not ("" = go).

    ``probes``: the state keys whose probe this call holds (``probe_reason``: why they are
    probed): the send then belongs to a background sender, never to the request.
    ``known_problem``: the breaker or the configuration had state, so a success must clear it
    (else a success writes nothing).
    ``shared_ms``: a recent probe's answer time, for the inline budget (None: none).
    """

    skip: str = ""
    probes: tuple[str, ...] = ()
    known_problem: bool = False
    shared_ms: int | None = None
    probe_reason: str = ""


def inline_gate(*, course_id: str) -> InlineGate:
    """Read the breaker, the configuration and the course in one query and decide.

    A course known missing, a configuration known rejected or an open breaker skips the
    call, unless its cool-off is over and this caller wins the one probe.
    """
    now = timezone.now()
    config, course = config_key(), course_key(course_id)
    rows = state_rows([BREAKER, config, course, ANSWER_TIME])
    known = course in rows and rows[course].reason == COURSE_MISSING
    if known and rows[course].expires_at and rows[course].expires_at > now:
        return InlineGate(skip=COURSE_MISSING)
    timed = rows.get(ANSWER_TIME)
    shared_ms = timed.failures if timed and timed.expires_at and timed.expires_at > now else None
    breaker = rows.get(BREAKER)
    gating = [(config, rows[config].reason)] if config in rows else []
    if breaker is not None and breaker.opened_at is not None:
        gating.append((BREAKER, Reason.BREAKER_OPEN))
    known_problem = config in rows or breaker is not None
    for key, reason in gating:
        if not _probe_due(rows[key], now):
            return InlineGate(skip=reason, known_problem=known_problem)
    probes = []
    for key, reason in gating:
        if not _claim_probe(key, now):
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


def probes_release(gate: InlineGate) -> None:
    """No request went out (e.g. no teacher email): let the next caller probe at once."""
    if gate.probes:
        _quietly(
            "probe release",
            lambda: SyncState.objects.filter(key__in=gate.probes).update(
                next_probe_at=timezone.now()
            ),
        )


# --- the breaker ----------------------------------------------------------------------------


def breaker_allows() -> bool:
    """True when an inline call may go out now: closed, or this caller won the probe."""
    row = state_rows([BREAKER]).get(BREAKER)
    if row is None or row.opened_at is None:
        return True
    now = timezone.now()
    return _probe_due(row, now) and _claim_probe(BREAKER, now)


def breaker_record(error: SyncError | None) -> None:
    """Feed one inline call's result: a success or an answered rejection closes it, a
    temporary failure counts toward opening (a failed probe keeps it open another cool-off).

    A timeout opens it at once. A configuration problem is remembered per configuration by
    the write-back (see ``config_rejection_remember``), not here: a fixed token must not wait
    for the breaker.
    """
    if error is None or (error.status_code is not None and not _is_failure(error)):
        breaker_close()
    elif isinstance(error, SyncTemporaryError):
        # Silent past the budget: every other submit meanwhile would wait as long, so open.
        silent = error.reason == Reason.TIMEOUT
        _quietly("breaker failure", lambda: _count_failure(open_now=silent))
    elif not isinstance(error, SyncConfigurationError):
        # Decided without a request (no teacher email): nothing learnt, the probe is free.
        _quietly(
            "probe release",
            lambda: SyncState.objects.filter(key=BREAKER, opened_at__isnull=False).update(
                next_probe_at=timezone.now()
            ),
        )


def _is_failure(error: SyncError) -> bool:
    return isinstance(error, SyncTemporaryError | SyncConfigurationError)


def _count_failure(*, open_now: bool = False) -> None:
    """One more temporary failure in a row; open at the threshold (or at once, ``open_now``).
    Atomic: the UPDATE takes the row's lock (SQLite: the write lock) before the read that
    decides."""
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
        opened_at = row.opened_at or now
        # Opened by a cut-off, the first probe is due at once: a slow Analyzer answers it
        # (in the background) and inline resumes with a budget that fits; a silent one fails
        # it and the breaker stays open a cool-off.
        first_probe = now if open_now and row.opened_at is None else now + _cool_off()
        SyncState.objects.filter(key=BREAKER).update(opened_at=opened_at, next_probe_at=first_probe)
    if row.opened_at is None:
        logger.warning(
            "inline breaker opened failures=%s cool_off_s=%s: submissions skip the call; "
            "one probe after the cool-off",
            row.failures,
            settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS,
        )


def breaker_open() -> None:
    """Open for the configured cooling-off period (also used by tests and the drill)."""
    now = timezone.now()
    _upsert(BREAKER, opened_at=now, next_probe_at=now + _cool_off())


def breaker_close() -> None:
    """Closed: calls go out again. One DELETE, a no-op when already closed."""
    _quietly("breaker close", lambda: SyncState.objects.filter(key=BREAKER).delete())


def breaker_is_open() -> bool:
    """True while calls are skipped for cooling off."""
    return snapshot()["state"] == "open"


def snapshot() -> dict:
    """The breaker as it stands, for the health page and the metrics endpoint. One query.

    ``state``: ``closed``, ``open`` (cooling off) or ``half-open`` (the next submission
    probes); ``unknown`` when the state cannot be read (delivery then proceeds as closed).
    ``is_open``: state is ``open``. ``failures``: temporary failures in a row (kept when it
    opens: the count that opened it, plus failed probes). ``opened_at`` / ``next_probe_at``:
    aware datetimes, or None while closed.
    """
    return overview()["breaker"]


def overview() -> dict:
    """The breaker (as ``snapshot``), this configuration's rejection (as
    ``config_rejection_state``, or None) and whether the bulk route is known missing (as
    ``bulk_unsupported_state``) in one query: the health page."""
    config, bulk = config_key(), bulk_key()
    rows, readable = _read([BREAKER, config, bulk])
    row = rows.get(BREAKER)
    state = "closed" if readable else "unknown"
    if row is not None and row.opened_at is not None:
        state = "open" if not _probe_due(row, timezone.now()) else "half-open"
    breaker = {
        "state": state,
        "is_open": state == "open",
        "failures": row.failures if row else 0,
        "opened_at": row.opened_at if row else None,
        "next_probe_at": row.next_probe_at if row and row.opened_at else None,
    }
    return {
        "breaker": breaker,
        "config_rejection": _rejection(rows.get(config)),
        "bulk_unsupported": _bulk_unsupported(rows.get(bulk)),
    }


def _rejection(row: SyncState | None) -> dict | None:
    if row is None:
        return None
    return {"reason": row.reason, "since": row.opened_at, "next_probe_at": row.next_probe_at}


#: The name the admin used before ``snapshot``; kept for callers.
breaker_state = snapshot


# --- a probe's answer time, for every process's inline budget ---------------------------------


def answer_time_share(duration_ms: int) -> None:
    """A background probe was answered in ``duration_ms``: every process's inline budget
    counts it for ``ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS`` (read with the gate)."""
    until = timezone.now() + timedelta(
        seconds=settings.ACADEMIC_ANALYZER_INLINE_BUDGET_MEMORY_SECONDS
    )
    _quietly(
        "answer time",
        lambda: _upsert(ANSWER_TIME, failures=max(0, int(duration_ms)), expires_at=until),
    )


# --- configuration known to be rejected ------------------------------------------------------


def config_rejection_remember(reason: str) -> None:
    """The Analyzer rejected this configuration (token, or not the Analyzer at all): inline
    calls with it stop, but one probe per cool-off."""
    now = timezone.now()
    _quietly(
        "config rejection",
        lambda: _upsert(
            config_key(), reason=reason, opened_at=now, next_probe_at=now + _cool_off()
        ),
    )


def config_rejection_reason() -> str | None:
    """Why the current configuration is known to be rejected, or None."""
    row = state_rows([config_key()]).get(config_key())
    return row.reason if row else None


def config_rejection_state() -> dict | None:
    """For the health page: reason, since, next probe; None when not known rejected."""
    return _rejection(state_rows([config_key()]).get(config_key()))


def config_rejection_forget() -> None:
    """A call with the current configuration worked (or someone fixed it): forget."""
    _quietly("config forget", lambda: SyncState.objects.filter(key=config_key()).delete())


def problems_forget() -> None:
    """The Analyzer accepted a call: close the breaker and forget this configuration's
    rejection, in one DELETE."""
    _quietly(
        "problems forget",
        lambda: SyncState.objects.filter(key__in=[BREAKER, config_key()]).delete(),
    )


# --- the bulk marks route known missing -------------------------------------------------------


def bulk_key() -> str:
    """Names the current Analyzer URL (hashed): a new address is tried in bulk at once."""
    url = settings.ACADEMIC_ANALYZER_URL or ""
    return _BULK + hashlib.sha256(url.encode()).hexdigest()[:24]


def bulk_unsupported_remember() -> None:
    """This Analyzer answered Express's 404 for add-tutN-mark: resync runs send one POST per
    mark until ``ACADEMIC_ANALYZER_BULK_RETRY_SECONDS`` have passed (it may be upgraded)."""
    now = timezone.now()
    expires = now + timedelta(seconds=settings.ACADEMIC_ANALYZER_BULK_RETRY_SECONDS)
    _quietly(
        "bulk unsupported",
        lambda: _upsert(bulk_key(), reason=Reason.ROUTE_MISSING, opened_at=now, expires_at=expires),
    )


def bulk_unsupported_state() -> dict | None:
    """For the resync and the health page: since and until when the bulk route is known
    missing; None when bulk is to be tried. One query."""
    return _bulk_unsupported(state_rows([bulk_key()]).get(bulk_key()))


def _bulk_unsupported(row: SyncState | None) -> dict | None:
    if row is None or row.expires_at is None or row.expires_at <= timezone.now():
        return None
    return {"since": row.opened_at, "until": row.expires_at}
