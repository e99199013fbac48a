"""Test-only ways to set and read the sync state directly (the product writes it only through
``academic_integration.sync_state``)."""

from django.utils import timezone

from academic_integration import sync_state
from academic_integration.models import SyncState
from academic_integration.sync_state import courses_known_missing, inline_gate, snapshot


def breaker_open() -> None:
    """Open the breaker for the configured cool-off, as enough failures would."""
    now = timezone.now()
    SyncState.objects.update_or_create(
        key=sync_state.BREAKER,
        defaults={"opened_at": now, "next_probe_at": now + sync_state.cool_off()},
    )


def course_is_known_missing(*, course_id: str) -> bool:
    return bool(courses_known_missing(course_ids=[course_id]))


def breaker_is_open() -> bool:
    """True while calls are skipped for cooling off."""
    return snapshot()["is_open"]


def breaker_allows() -> bool:
    """True when an inline call may go out now: closed, or this caller won the probe (as the
    gate decides it for a course nobody knows)."""
    return not inline_gate(course_id="ANY-COURSE").skip


def config_rejection_reason() -> str | None:
    """Why the current configuration is known to be rejected, or None."""
    row = sync_state.rows([sync_state.config_key()]).get(sync_state.config_key())
    return row.reason if row else None
