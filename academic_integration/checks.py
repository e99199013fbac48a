"""System checks: settings that would make sync silently misbehave fail `manage.py check`."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register

from academic_integration.resync import LEASE_MARGIN_SECONDS


@register()
def sync_settings_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Error]:
    """A claim must outlast a request, or a delivery could go out after losing its claim."""
    errors: list[Error] = []
    connect = settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT
    read = settings.ACADEMIC_ANALYZER_READ_TIMEOUT
    claim = settings.ACADEMIC_ANALYZER_CLAIM_SECONDS
    bulk = settings.ACADEMIC_ANALYZER_BULK_SIZE * settings.ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM
    floor = connect + read + bulk + LEASE_MARGIN_SECONDS + 30
    if claim < floor:
        errors.append(
            Error(
                f"ACADEMIC_ANALYZER_CLAIM_SECONDS is {claim}: it must be at least {floor:g} "
                "(connect + read timeouts, the time a full bulk request may take, margins), "
                "or resync could not send anything.",
                id="academic_integration.E001",
            )
        )
    for name in ("CONNECT_TIMEOUT", "READ_TIMEOUT"):
        if getattr(settings, f"ACADEMIC_ANALYZER_{name}") <= 0:
            errors.append(
                Error(f"ACADEMIC_ANALYZER_{name} must be > 0.", id="academic_integration.E002")
            )
    # The leases on marks (inline, resync, the breaker's trial) are sized from connect + read:
    # a longer total deadline would let a request outlive its lease.
    total = getattr(settings, "ACADEMIC_ANALYZER_TOTAL_TIMEOUT", None)
    if total is not None and not 0 < total <= connect + read:
        errors.append(
            Error(
                f"ACADEMIC_ANALYZER_TOTAL_TIMEOUT is {total:g}: it must be > 0 and at most the "
                f"connect + read timeouts ({connect + read:g}), which the leases on marks are "
                "sized from. Unset it to use that sum.",
                id="academic_integration.E020",
            )
        )
    cap = getattr(settings, "ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES", None)
    if cap is not None and cap < 1024:
        errors.append(
            Error(
                f"ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES is {cap}: it must be at least 1024 "
                "(the Analyzer's answers are a few hundred bytes).",
                id="academic_integration.E021",
            )
        )
    return errors
