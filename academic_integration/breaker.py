"""The inline circuit breaker and the configurations known to be rejected: whether a
submission's inline call may go out.

Several consecutive temporary failures open the breaker for a cool-off, during which
submissions skip the call; one inline send cut off by its budget (the Analyzer silent) opens it
at once, with its first probe due at once. A configuration the Analyzer rejected (token, or an
address that is not the Analyzer) is gated the same way. Once a cool-off is over exactly one
caller, across all workers and hosts, wins the probe (``sync_state.probe_claim``) and hands its
mark to a background sender (docs/decisions/0003-probe-off-the-request.md); a success closes
the breaker and forgets the rejection, a failure keeps them another cool-off, and a probe
holder that dies frees the probe after that cool-off too. The state lives in ``sync_state``
(docs/decisions/0004-sync-state-in-the-database.md); unreadable, it counts as closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from academic_integration import sync_state
from academic_integration.exceptions import SyncConfigurationError, SyncError, SyncTemporaryError
from academic_integration.models import SyncState
from academic_integration.reasons import Reason

# Writers that callers (services, resync) import from here; they live in ``sync_state``.
from academic_integration.sync_state import answer_time_share as answer_time_share
from academic_integration.sync_state import bulk_unsupported_remember as bulk_unsupported_remember
from academic_integration.sync_state import bulk_unsupported_state as bulk_unsupported_state
from academic_integration.sync_state import config_rejection_remember as config_rejection_remember
from academic_integration.sync_state import problems_forget as problems_forget

logger = logging.getLogger(__name__)


def _probe_due(row: SyncState, now: datetime) -> bool:
    return row.next_probe_at is None or row.next_probe_at <= now


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
    config, course = sync_state.config_key(), sync_state.course_key(course_id)
    rows = sync_state.rows([sync_state.BREAKER, config, course, sync_state.ANSWER_TIME])
    missing = sync_state.live(rows.get(course), now)
    if missing is not None and missing.reason == Reason.COURSE_NOT_FOUND:
        return InlineGate(skip=Reason.COURSE_NOT_FOUND)
    timed = sync_state.live(rows.get(sync_state.ANSWER_TIME), now)
    shared_ms = timed.failures if timed is not None else None
    breaker = rows.get(sync_state.BREAKER)
    gating = [(config, rows[config].reason)] if config in rows else []
    if breaker is not None and breaker.opened_at is not None:
        gating.append((sync_state.BREAKER, Reason.BREAKER_OPEN))
    known_problem = config in rows or breaker is not None
    for key, reason in gating:
        if not _probe_due(rows[key], now):
            return InlineGate(skip=reason, known_problem=known_problem)
    probes = []
    for key, reason in gating:
        if not sync_state.probe_claim(key, now=now):
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
        sync_state.probes_free(gate.probes)


def breaker_record(error: SyncError | None) -> None:
    """Feed one inline call's result: a success or an answered rejection closes it, a
    temporary failure counts toward opening (a timeout opens it at once; a failed probe keeps
    it open another cool-off). A configuration problem is remembered per configuration by the
    write-back (``config_rejection_remember``), not here: a fixed token must not wait for the
    breaker. An error decided without a request frees the probe."""
    if error is None or (error.status_code is not None and not _is_failure(error)):
        sync_state.breaker_close()
    elif isinstance(error, SyncTemporaryError):
        sync_state.breaker_failure_count(open_now=error.reason == Reason.TIMEOUT)
    elif not isinstance(error, SyncConfigurationError):
        sync_state.probes_free([sync_state.BREAKER])


def _is_failure(error: SyncError) -> bool:
    return isinstance(error, SyncTemporaryError | SyncConfigurationError)


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
    ``sync_state.bulk_unsupported_state``)."""
    config, bulk = sync_state.config_key(), sync_state.bulk_key()
    rows, readable = sync_state.rows_read([sync_state.BREAKER, config, bulk])
    row = rows.get(sync_state.BREAKER)
    state = "closed" if readable else "unknown"
    if row is not None and row.opened_at is not None:
        state = "open" if not _probe_due(row, timezone.now()) else "half-open"
    rejected = rows.get(config)
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
        "bulk_unsupported": sync_state.bulk_unsupported(rows.get(bulk)),
    }
