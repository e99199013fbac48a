"""The sync health page's non-database parts: configuration shown safely, Test connection.

The token is never shown, not even in part: the page says only whether one is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings

from academic_integration.client import get_client, is_configured, masked_url
from academic_integration.exceptions import (
    REASONS,
    AnalyzerConfigError,
    Reason,
    SyncAuthError,
    SyncError,
    SyncRejectedError,
)
from academic_integration.sync_state import problems_forget

logger = logging.getLogger(__name__)

#: Asked about when the user has no tutorial quiz: any answer but 401/403 proves the token.
PROBE_COURSE_ID = "CONNECTION-TEST"


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
            problem = config_problem(err)
    return SyncConfiguration(
        enabled=bool(url),
        url=masked_url(url) if url else "",
        token="set (••••)" if token else "not set",
        problem=problem,
    )


def config_problem(err: AnalyzerConfigError) -> str:
    """The settings error's message, unless it would show the token."""
    token = (getattr(settings, "ACADEMIC_ANALYZER_TOKEN", None) or "").strip()
    return str(err) if not token or token not in str(err) else "invalid settings"


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to Test connection. ``token_accepted`` is None when it could not be told."""

    reachable: bool
    token_accepted: bool | None
    message: str

    @property
    def ok(self) -> bool:
        return self.reachable and self.token_accepted is True


#: Reasons for which no answer came back at all.
_UNREACHED = frozenset({Reason.CONNECTION_ERROR, Reason.TIMEOUT})


def connection_test(*, course_id: str | None = None) -> ConnectionTest:
    """Make one harmless read (course detail) and say whether the Analyzer and token work,
    in the reason table's words.

    A "course not found" answer still proves both: the Analyzer checks the token first.
    """
    if not is_configured():
        return _failed(Reason.SYNC_DISABLED)
    try:
        get_client().course_detail(course_id=course_id or PROBE_COURSE_ID)
    except AnalyzerConfigError as err:
        return _failed(Reason.CONFIG_ERROR, detail=config_problem(err))
    except SyncRejectedError:
        pass
    except SyncError as err:
        reason = REASONS.get(err.reason, Reason.SYNC_ERROR)
        return _failed(
            reason, reached=reason not in _UNREACHED, token_rejected=isinstance(err, SyncAuthError)
        )
    # Proven working: inline deliveries need not wait for a probe or a resync to find out.
    problems_forget()
    return ConnectionTest(
        True, True, "Reachable, and the token was accepted: the Academic Analyzer answered."
    )


def _failed(
    reason: Reason, *, reached: bool = False, token_rejected: bool = False, detail: str = ""
) -> ConnectionTest:
    """The reason's label (with ``detail``) and next step; "Reachable, but ..." when the
    Analyzer answered."""
    label = f"{reason.label}: {detail}" if detail else reason.label
    step = reason.next_step()
    if reached:
        label = f"Reachable, but {lower_first(label)}"
    text = step if step.startswith(label) else f"{label}. {step}"
    return ConnectionTest(reached, False if token_rejected else None, text)


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
