"""The sync service: record attempts onto marks and deliver them to the Analyzer.

Follow a mark through these modules, in order:

- ``recording``: ``mark_record_attempt`` folds a completed attempt into its mark inside the
  submit transaction (a new version, claimed for the inline delivery after commit);
  regrades and deletes recompute marks the same way.
- ``delivery``: ``mark_deliver`` (inline, admin) claims a mark and ``mark_send`` POSTs its
  current value once, with the teacher email from the fallback chain; ``marks_send_bulk``
  POSTs many marks of one course and tutorial in one add-tutN-mark request (resync).
- ``writeback``: ``marks_record_tries`` writes finished tries back in bulk, only where the
  version is still the one sent, fences tries that outlived their claim, settles attempts.
- ``tries``: the data of one try; ``logs``: one line per delivery; ``bulk``: shared SQL;
  ``commit``: the write-back's transaction, whose commit does not wait for the disk.

Retrying is the caller's business (``retry`` plans it, ``resync`` runs it): one call here is
at most one delivery. Import from this package; the modules are its layout, not its API.
"""

from academic_integration.services.delivery import (
    claim_owner,
    mark_deliver,
    mark_deliver_inline,
    mark_send,
    marks_send_bulk,
    teacher_email_resolve,
)
from academic_integration.services.logs import delivery_log_level, log_delivery
from academic_integration.services.recording import (
    INLINE_LEASE_MARGIN_SECONDS,
    attempts_delete,
    attempts_regraded_marks,
    mark_record_attempt,
    marks_recompute,
    marks_record_attempts,
    slot_attempts,
)
from academic_integration.services.tries import (
    DeliveryOutcome,
    NotSent,
    RecordedTries,
    SendTry,
)
from academic_integration.services.writeback import attempts_settle, marks_record_tries

__all__ = [
    "INLINE_LEASE_MARGIN_SECONDS",
    "DeliveryOutcome",
    "NotSent",
    "RecordedTries",
    "SendTry",
    "attempts_delete",
    "attempts_regraded_marks",
    "attempts_settle",
    "claim_owner",
    "delivery_log_level",
    "log_delivery",
    "mark_deliver",
    "mark_deliver_inline",
    "mark_record_attempt",
    "mark_send",
    "marks_recompute",
    "marks_record_attempts",
    "marks_record_tries",
    "marks_send_bulk",
    "slot_attempts",
    "teacher_email_resolve",
]
