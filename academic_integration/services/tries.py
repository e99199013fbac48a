"""What one try of a mark is (SendTry), what writing tries back did (RecordedTries) and
what one delivery call did (DeliveryOutcome, whose status may be a ``NotSent``)."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from academic_integration.exceptions import (
    SyncError,
)
from academic_integration.models import TutorialMark
from academic_integration.retry import MarkUpdate


class NotSent(StrEnum):
    """The statuses of an outcome that is not a mark status: nothing was sent for the mark.

    Never stored; the mark keeps its own status. Members are strings (``NotSent.BUSY ==
    "busy"``), as they appear in outcomes, resync results and logs.
    """

    BUSY = "busy"  # another process holds the mark's claim (reason claimed_elsewhere)
    SKIPPED = "skipped"  # a resync left it due: stopped, or past its lease, before sending
    WOULD_SEND = "would_send"  # a dry run would send it now


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one delivery call did. `sent` is False when no request went out.

    ``status`` is the mark's status after the call, or a ``NotSent`` member."""

    mark_id: int
    status: str
    reason: str = ""
    sent: bool = False
    version: int | None = None
    value: Decimal | None = None
    http_status: int | None = None
    duration_ms: int | None = None
    attempts_settled: int = 0
    bulk_items: int = 0  # sent in an add-tutN-mark request of this many marks (0: its own)

    @classmethod
    def from_try(cls, sent: "SendTry", update: MarkUpdate, **fields: Any) -> "DeliveryOutcome":
        """The outcome of a finished try, with ``update`` its planned effect on the mark;
        ``fields`` are the rest of the (sub)class's fields, e.g. ``attempts_settled``."""
        return cls(
            mark_id=sent.mark.pk,
            status=update.status,
            reason=update.reason,
            sent=sent.requested,
            version=sent.version,
            value=sent.value,
            http_status=sent.http_status,
            duration_ms=sent.duration_ms,
            bulk_items=sent.bulk_items,
            **fields,
        )


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
    def failed(cls, *, mark: TutorialMark, error: SyncError) -> "SendTry":
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
class RecordedTries:
    """What writing tries back did: each mark's planned update, and which were superseded."""

    updates: dict[int, MarkUpdate]
    superseded: frozenset[int]  # a retake bumped the version meanwhile: still due
    attempts_settled: int
