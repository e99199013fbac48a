"""Resync: deliver every due tutorial mark to the Analyzer, in batches, many copies at once.

``resync_run`` is the work behind ``manage.py resync_tutorial_marks`` and the admin's "Resync
selected now". One run:

1. claims due marks in batches: a short transaction picks them with ``SELECT ... FOR UPDATE
   SKIP LOCKED`` (PostgreSQL) and a conditional UPDATE gives them a lease (``claimed_by`` /
   ``claim_expires_at``), so copies running at once never take the same mark and a killed
   copy's marks come back when its lease expires;
2. checks each course once per run (``GET /staff/course-detail``): a course the Analyzer does
   not know has all its due marks rejected in one query, and no POST goes out for them;
3. sends with no transaction or lock held, from ``workers`` threads sharing the client's
   connection pool, at most ``max_rate`` requests a second: a course's marks for one
   tutorial in one add-tutN-mark request (``bulk_size``), or one POST per mark where the
   Analyzer has no such route (found out once, remembered in ``SyncState``);
4. writes each batch back in bulk (``services.marks_write_back``): outcomes only where the
   version is still the one sent, history rows, settled attempts.

A rejected token or an address that is not the Analyzer stops the run at once and leaves the
marks due. The inline circuit breaker is not consulted: the run finds out by its own rule
(``FAILING_STREAK``) whether the Analyzer is back. What happens to a failed mark next
(backoff, Retry-After, the give-up cap) is decided by ``retry.plan_outcome``, as inline.

Modules: ``selection`` (options, which marks are due), ``run`` (the loop above),
``rejection`` (a course the Analyzer does not know: its due marks rejected in one UPDATE),
``summary`` (what a run did, problems with next steps, the exit code).
"""

from academic_integration.resync.run import FAILING_STREAK, LEASE_MARGIN_SECONDS, resync_run
from academic_integration.resync.selection import (
    BATCH_SIZE,
    ResyncOptions,
    marks_backing_off,
    marks_due,
    resync_due_count,
)
from academic_integration.resync.summary import (
    CONFIGURATION_STOPS,
    BackingOff,
    ProblemGroup,
    ResyncSummary,
)

__all__ = [
    "BATCH_SIZE",
    "CONFIGURATION_STOPS",
    "FAILING_STREAK",
    "LEASE_MARGIN_SECONDS",
    "BackingOff",
    "ProblemGroup",
    "ResyncOptions",
    "ResyncSummary",
    "marks_backing_off",
    "marks_due",
    "resync_due_count",
    "resync_run",
]
