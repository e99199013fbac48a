"""One log line per delivery, at a level chosen by its outcome."""

import logging

from academic_integration.client import get_client, is_configured, tutorial_marks_path
from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    AnalyzerConfigError,
)
from academic_integration.models import TutorialMark
from academic_integration.reasons import Reason
from academic_integration.services.tries import DeliveryOutcome

logger = logging.getLogger(__name__)

Status = TutorialMark.Status


_LEVELS = {
    Status.DELIVERED: logging.INFO,
    Status.RETRYING: logging.WARNING,
    Status.REJECTED: logging.WARNING,
    Status.GIVEN_UP: logging.ERROR,
}


def _marks_url(*, outcome: DeliveryOutcome, tutorial_number: int) -> str:
    path = "/staff/update-student-marks"
    if outcome.bulk_items:
        path = tutorial_marks_path(tutorial_number)
    try:
        return f"{get_client().display_url}{path}" if is_configured() else "-"
    except AnalyzerConfigError:  # logging a misconfiguration must not fail on it again
        return "-"


def delivery_log_level(*, outcome: DeliveryOutcome) -> int:
    """The level of a delivery's log line: by outcome, ERROR for configuration problems."""
    if outcome.reason in CONFIGURATION_REASONS:
        return logging.ERROR
    if outcome.reason == Reason.SYNC_DISABLED:
        return logging.INFO  # said once at startup; not worth a warning per submission
    return _LEVELS.get(outcome.status, logging.WARNING if outcome.reason else logging.INFO)


def log_delivery(
    *,
    mark: TutorialMark,
    outcome: DeliveryOutcome,
    trigger: str,
    attempt_id: int | None = None,
    level: int | None = None,
) -> None:
    """One line per delivery, with everything needed to follow it without the database.

    ``level`` overrides the level chosen from the outcome (the resync keeps routine lines
    at DEBUG and says the counts once per run). ``bulk_items``: the request carried this
    many marks (an add-tutN-mark request); ``http_status`` and ``duration_ms`` are its.
    """
    logger.log(
        level if level is not None else delivery_log_level(outcome=outcome),
        "mark delivery outcome=%s reason=%s sent=%s trigger=%s attempt=%s mark=%s student=%s "
        "course=%s tutorial=%s version=%s value=%s url=%s http_status=%s duration_ms=%s "
        "bulk_items=%s",
        outcome.status,
        outcome.reason or "-",
        outcome.sent,
        trigger,
        attempt_id or "-",
        mark.pk,
        mark.student.username,
        mark.course_id,
        mark.tutorial_number,
        outcome.version,
        outcome.value,
        _marks_url(outcome=outcome, tutorial_number=mark.tutorial_number),
        outcome.http_status or "-",
        outcome.duration_ms if outcome.duration_ms is not None else "-",
        outcome.bulk_items or "-",
    )
