"""The sync health page's non-database parts: configuration shown safely, Test connection.

The token is never shown, not even in part: the page says only whether one is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from academic_integration.breaker import problems_forget
from academic_integration.client import get_client, is_configured, masked_url
from academic_integration.exceptions import (
    AnalyzerConfigError,
    SyncAuthError,
    SyncError,
    SyncNotAnalyzerError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.reasons import Reason

logger = logging.getLogger(__name__)

#: Asked about when the user has no tutorial quiz: any answer but 401/403 proves the token.
PROBE_COURSE_ID = "CONNECTION-TEST"
SET_MASKED = "set (••••)"


@dataclass(frozen=True)
class SyncConfiguration:
    enabled: bool
    url: str  # credentials and query removed
    token: str  # "set (••••)" or "not set", never the token
    problem: str  # why the client cannot start, or ""


def sync_configuration() -> SyncConfiguration:
    """How sync is configured, safe to show to staff."""
    url = (getattr(settings, "ACADEMIC_ANALYZER_URL", None) or "").strip()
    token = (getattr(settings, "ACADEMIC_ANALYZER_TOKEN", None) or "").strip()
    problem = ""
    if url:
        try:
            get_client()
        except AnalyzerConfigError as err:
            problem = str(err) if not token or token not in str(err) else "invalid settings"
    return SyncConfiguration(
        enabled=bool(url),
        url=masked_url(url) if url else "",
        token=SET_MASKED if token else "not set",
        problem=problem,
    )


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to Test connection. ``token_accepted`` is None when it could not be told."""

    reachable: bool
    token_accepted: bool | None
    message: str

    @property
    def ok(self) -> bool:
        return self.reachable and self.token_accepted is True


_REACHED = ConnectionTest(
    True, True, "Reachable, and the token was accepted: the Academic Analyzer answered."
)


def _reached() -> ConnectionTest:
    # Proven working: inline deliveries need not wait for a probe or a resync to find out.
    problems_forget()
    return _REACHED


def connection_test(*, course_id: str | None = None) -> ConnectionTest:
    """Make one harmless read (course detail) and say whether the Analyzer and token work.

    A "course not found" answer still proves both: the Analyzer checks the token first.
    """
    if not is_configured():
        return ConnectionTest(
            False, None, "Sync is not configured: set ACADEMIC_ANALYZER_URL, then restart."
        )
    try:
        get_client().course_detail(course_id=course_id or PROBE_COURSE_ID)
    except AnalyzerConfigError as err:
        return ConnectionTest(False, None, f"Sync is misconfigured: {err}")
    except SyncRejectedError:
        return _reached()
    except SyncAuthError as err:
        return ConnectionTest(True, False, f"Reachable, but {_lower(err.label)}. {err.next_step}")
    except SyncNotAnalyzerError as err:
        return ConnectionTest(True, None, f"{err.label}. {err.next_step}")
    except SyncTemporaryError as err:
        if err.reason == Reason.CONNECTION_ERROR:
            return ConnectionTest(False, None, _UNREACHABLE + "refused or dropped the connection.")
        if err.reason == Reason.TIMEOUT:
            return ConnectionTest(False, None, _UNREACHABLE + "did not answer in time.")
        return ConnectionTest(True, None, f"Reachable, but it is failing: {_lower(err.label)}.")
    except SyncError as err:  # pragma: no cover - every subclass is handled above
        return ConnectionTest(False, None, err.label)
    return _reached()


_UNREACHABLE = (
    "Not reachable: check that the Academic Analyzer is running and that "
    "ACADEMIC_ANALYZER_URL is its address. It "
)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]
