"""The delivery flow of a tutorial mark, outbox-style (docs/follow-a-mark.md): ``recording``
folds attempts into marks, ``delivery`` sends them (inline after commit; the sends the resync
shares), ``writeback`` writes the tries back, ``tries`` holds the results. Import from this
package; the modules are its layout, not its API.
"""

# `X as X`: re-exported under mypy's implicit_reexport = false.
from .delivery import claim_owner as claim_owner
from .delivery import generated_teacher_email as generated_teacher_email
from .delivery import log_delivery as log_delivery
from .delivery import mark_deliver_inline as mark_deliver_inline
from .delivery import mark_send as mark_send
from .delivery import marks_send_bulk as marks_send_bulk
from .delivery import teacher_email_resolve as teacher_email_resolve
from .recording import attempts_delete as attempts_delete
from .recording import attempts_regraded_marks as attempts_regraded_marks
from .recording import mark_record_attempt as mark_record_attempt
from .recording import marks_record_attempts as marks_record_attempts
from .tries import DeliveryOutcome as DeliveryOutcome
from .tries import NotSent as NotSent
from .tries import SendTry as SendTry
from .tries import WriteBack as WriteBack
from .writeback import marks_write_back as marks_write_back
