"""Resync: deliver every due tutorial mark to the Analyzer, in batches, many copies at once.

``resync_run`` is the work behind ``manage.py resync_tutorial_marks`` and the admin's "Resync
selected now". A run claims due marks in batches (``SELECT ... FOR UPDATE SKIP LOCKED`` and a
lease, so copies never take the same mark and a killed copy's marks come back when the lease
ends), checks each course once, sends with no transaction held from worker threads (a
course's marks for one tutorial in one add-tutN-mark request, or one POST per mark), and
writes each batch back with ``services.marks_write_back``. The inline breaker is not
consulted; a rejected token or an address that is not the Analyzer stops the run at once.
docs/follow-a-mark.md names each step.

Modules: ``selection`` (options, which marks are due), ``run`` (the loop),
``missing_courses`` (a course the Analyzer does not know: its due marks rejected in one UPDATE,
and put back once the course is back), ``summary`` (counts, problems, exit code).
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
