"""The results of the delivery flow, one per stage: a send gives a ``SendTry`` per mark;
``retry.plan_outcome`` turns it into a ``MarkUpdate``; the write-back gives a
``DeliveryOutcome`` per mark (``WriteBack`` for a batch). A delivery that sent nothing gives
a ``DeliveryOutcome`` too, whose status may be a ``NotSent``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from academic_integration.exceptions import SyncError
from academic_integration.models import TutorialMark
from academic_integration.retry import MarkUpdate


class NotSent(StrEnum):
    """The statuses of an outcome that is not a mark status: nothing was sent for the mark.

    Never stored; the mark keeps its own status. Members are strings (``NotSent.BUSY ==
    "busy"``), as they appear in outcomes, resync summaries and logs.
    """

    BUSY = "busy"  # another process holds the mark's claim (reason claimed_elsewhere)
    SKIPPED = "skipped"  # a resync left it due: stopped, or past its lease, before sending
    WOULD_SEND = "would_send"  # a dry run would send it now


@dataclass
class SendTry:
    """One try of a mark's current value: what was sent and what came of it."""

    mark: TutorialMark
    version: int
    value: Decimal
    email: str = ""
    source: str = ""
    error: SyncError | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    requested: bool = False  # the POST went out (whatever came of it)
    bulk_items: int = 0  # the POST was an add-tutN-mark request of this many marks (0: its own)

    @classmethod
    def failed(cls, *, mark: TutorialMark, error: SyncError) -> SendTry:
        """A try of ``mark`` that ended with ``error`` before its own request went out."""
        return cls(
            mark=mark,
            version=mark.version,
            value=mark.value,
            error=error,
            http_status=error.status_code,
            duration_ms=error.duration_ms,
        )


@dataclass(frozen=True)
class DeliveryOutcome:
    """What the delivery flow did with one mark: inline, admin or resync alike.

    ``status`` is the mark's status afterwards, or a ``NotSent`` member; ``sent`` is False
    when no request went out. ``reached``: the Analyzer stored the value sent;
    ``superseded``: it did, but a retake's newer value is due now.
    """

    mark_id: int
    status: str
    reason: str = ""
    sent: bool = False
    reached: bool = False
    version: int | None = None
    value: Decimal | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    attempts_settled: int = 0
    bulk_items: int = 0  # sent in an add-tutN-mark request of this many marks (0: its own)
    student: str = ""
    course_id: str = ""
    tutorial_number: int = 0
    superseded: bool = False
    next_try_at: datetime | None = None
    error: str = ""

    @classmethod
    def of(
        cls, mark: TutorialMark, *, status: str, reason: str = "", error: str = ""
    ) -> DeliveryOutcome:
        """The outcome for ``mark`` when no try was written back (skipped, would send)."""
        return cls(
            mark_id=mark.pk,
            status=status,
            reason=reason,
            version=mark.version,
            value=mark.value,
            student=mark.student.username,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
            error=error,
        )

    @classmethod
    def from_try(
        cls,
        sent: SendTry,
        update: MarkUpdate,
        *,
        superseded: bool = False,
        attempts_settled: int = 0,
    ) -> DeliveryOutcome:
        """The outcome of a try written back, with ``update`` its planned effect on the mark."""
        mark = sent.mark
        return cls(
            mark_id=mark.pk,
            status=update.status,
            reason=update.reason,
            sent=sent.requested,
            reached=update.reached,
            version=sent.version,
            value=sent.value,
            http_status=sent.http_status,
            duration_ms=sent.duration_ms,
            attempts_settled=attempts_settled,
            bulk_items=sent.bulk_items,
            student=mark.student.username,
            course_id=mark.course_id,
            tutorial_number=mark.tutorial_number,
            superseded=superseded,
            next_try_at=update.next_try_at,
            error=update.last_error,
        )


@dataclass(frozen=True)
class WriteBack:
    """What one write-back did: an outcome per try (by mark id), and how many attempts it
    settled in all (one UPDATE for the batch: not counted per mark)."""

    outcomes: dict[int, DeliveryOutcome]
    attempts_settled: int
