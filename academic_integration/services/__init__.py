"""The delivery flow of a tutorial mark, outbox-style (docs/follow-a-mark.md): ``recording``
folds attempts into marks, ``delivery`` sends them (inline after commit; the sends the resync
shares), ``writeback`` writes the tries back, ``tries`` holds the results. Import from this
package; the modules are its layout, not its API.
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
from academic_integration.services.writeback import marks_write_back

__all__ = [
    "DeliveryOutcome",
    "NotSent",
    "SendTry",
    "WriteBack",
    "attempts_delete",
    "attempts_regraded_marks",
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
