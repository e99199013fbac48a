"""Resync: deliver every due tutorial mark to the Analyzer, in batches, many copies at once.

``resync_run`` is the work behind ``manage.py resync_tutorial_marks`` and the admin's "Resync
selected now". Claims take ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease: copies never
take the same mark, and a killed copy's marks come back when the lease ends. Modules:
``selection`` (options, which marks are due), ``run`` (the loop, courses the Analyzer does not
know), ``summary`` (counts, problems, exit code). docs/follow-a-mark.md names each step.
"""

from academic_integration.resync.run import LEASE_MARGIN_SECONDS, resync_run
from academic_integration.resync.selection import BATCH_SIZE, ResyncOptions, resync_due_count
from academic_integration.resync.summary import CONFIGURATION_STOPS, ResyncSummary

__all__ = [
    "BATCH_SIZE",
    "CONFIGURATION_STOPS",
    "LEASE_MARGIN_SECONDS",
    "ResyncOptions",
    "ResyncSummary",
    "resync_due_count",
    "resync_run",
]
