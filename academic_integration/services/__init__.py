"""The delivery flow of a tutorial mark, outbox-style: record, deliver after commit, write back.

- ``recording``: ``mark_record_attempt`` folds a completed attempt into its mark inside the
  submit transaction (a new version, claimed for the delivery after commit); regrades and
  deletes recompute marks the same way (``marks_recompute``).
- ``delivery``: ``mark_deliver_inline`` delivers a submission's mark after commit;
  ``mark_send`` and ``marks_send_bulk`` are the sends (one POST, one add-tutN-mark request)
  the resync shares; ``log_delivery`` is the one line per delivery. Every other delivery
  (the admin's, the scheduled one) is a resync run: ``academic_integration.resync``.
- ``writeback``: ``marks_write_back`` writes tries back, one mark or a batch alike.
- ``tries``: the results, one per stage (``SendTry``, ``DeliveryOutcome``, ``WriteBack``).

Retrying is the caller's business (``tries`` plans it, ``resync`` runs it): one call here is
at most one delivery. docs/follow-a-mark.md follows one mark through all of it. Import from
this package; the modules are its layout, not its API.
"""

from academic_integration.services.delivery import (
    claim_owner,
    log_delivery,
    mark_deliver_inline,
    mark_send,
    marks_send_bulk,
    teacher_email_resolve,
)
from academic_integration.services.recording import (
    attempts_delete,
    attempts_regraded_marks,
    mark_record_attempt,
    marks_record_attempts,
)
from academic_integration.services.tries import DeliveryOutcome, NotSent, SendTry, WriteBack
from academic_integration.services.writeback import attempts_settle, marks_write_back

__all__ = [
    "DeliveryOutcome",
    "NotSent",
    "SendTry",
    "WriteBack",
    "attempts_delete",
    "attempts_regraded_marks",
    "attempts_settle",
    "claim_owner",
    "log_delivery",
    "mark_deliver_inline",
    "mark_record_attempt",
    "mark_send",
    "marks_record_attempts",
    "marks_send_bulk",
    "marks_write_back",
    "teacher_email_resolve",
]
