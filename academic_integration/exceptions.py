"""Exceptions raised when talking to the Academic Analyzer.

Every failure carries a stable ``reason`` code from the table in ``reasons`` (its kind,
plain-words label and one-line next step for a teacher or operator). The tree:

    AnalyzerConfigError(ImproperlyConfigured)   outside the tree on purpose
    SyncError
    ├── SyncTemporaryError        worth retrying later
    ├── SyncConfigurationError    our configuration is wrong; the mark stays due
    │   ├── SyncAuthError
    │   └── SyncNotAnalyzerError
    ├── SyncRejectedError         the Analyzer said no and will say it again
    └── SyncRouteMissingError     this Analyzer build lacks an optional route (bulk marks)

``AnalyzerConfigError`` is not a ``SyncError`` so that code which catches sync errors
to record them on a mark can never swallow a broken deployment.

This module deliberately does not import ``requests``: only the client does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, Unpack

from django.core.exceptions import ImproperlyConfigured

from academic_integration.reasons import Kind, Reason

#: How much of a response body an exception keeps, and how much its ``str()`` shows.
BODY_LIMIT = 500
SNIPPET_LIMIT = 300


#: Code → row of the reason table, for codes as read back from the database.
REASONS: dict[str, Reason] = {reason.value: reason for reason in Reason}

# Derived from the table's kinds; no code is spelled here.
TEMPORARY_REASONS = Reason.of_kind(Kind.TEMPORARY)
CONFIGURATION_REASONS = Reason.of_kind(Kind.CONFIGURATION)
REJECTED_REASONS = Reason.of_kind(Kind.REJECTED)
#: Codes the sync layer records without any HTTP answer (config_error is also here:
#: it is what the sync layer records when it catches an AnalyzerConfigError).
SYNC_LAYER_REASONS = Reason.of_kind(Kind.SYNC_LAYER) | {Reason.CONFIG_ERROR}


def reason_label(code: str) -> str:
    """Return the plain-words label for ``code`` (the code itself when unknown)."""
    reason = REASONS.get(code)
    return reason.label if reason else code


def reason_next_step(code: str, *, status: str = "", **context: Any) -> str:
    """Return the one-line next step for ``code`` (unknown codes: sync_error's) for a mark in
    ``status``, filled in from ``context`` (``student_id``, ``course_id``, ``teacher_email``,
    ``tutorial_number``)."""
    return (REASONS.get(code) or Reason.SYNC_ERROR).next_step(status=status, **context)


class AnalyzerConfigError(ImproperlyConfigured):
    """The Analyzer client cannot start: a setting is missing or invalid.

    The message names the setting. Deliberately not a ``SyncError``.
    """

    reason = Reason.CONFIG_ERROR


class _ErrorFields(TypedDict, total=False):
    """`SyncError`'s keyword arguments, for subclasses that pass them on."""

    reason: str | None
    status_code: int | None
    url: str | None
    body: str | None
    duration_ms: int | None
    context: Mapping[str, Any] | None
    next_step: str | None


class SyncError(Exception):
    """Base of every failure to deliver to (or read from) the Academic Analyzer.

    ``body`` must already have had the token scrubbed from it (the client does this);
    it is kept truncated to ``BODY_LIMIT`` characters. The HTTP response object itself is
    deliberately not kept: its request carries the Authorization header.
    """

    reason: str = Reason.SYNC_ERROR
    next_step: str

    def __init__(
        self,
        message: str | None = None,
        *,
        reason: str | None = None,
        status_code: int | None = None,
        url: str | None = None,
        body: str | None = None,
        duration_ms: int | None = None,
        context: Mapping[str, Any] | None = None,
        next_step: str | None = None,
    ) -> None:
        self.reason = reason or type(self).reason
        self.context = dict(context or {})
        self.next_step = next_step or reason_next_step(self.reason, **self.context)
        self.message = message or reason_label(self.reason)
        self.status_code = status_code
        self.url = url
        self.body = body[:BODY_LIMIT] if body else ""
        self.duration_ms = duration_ms
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message
        if self.status_code is not None:
            text += f" (HTTP {self.status_code})"
        snippet = " ".join(self.body.split())
        if len(snippet) > SNIPPET_LIMIT:
            snippet = snippet[: SNIPPET_LIMIT - 1] + "…"
        return f"{text}: {snippet}" if snippet else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={str.__str__(self.reason)!r}, "
            f"status_code={self.status_code!r}, url={self.url!r}, "
            f"duration_ms={self.duration_ms!r}, message={self.message!r})"
        )


class SyncTemporaryError(SyncError):
    """A failure worth retrying later: network trouble, timeouts, 5xx, 429, bad bodies.

    ``retry_after`` is the server's requested wait in seconds, when it sent one.
    """

    reason = Reason.SERVER_ERROR

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        **kw: Unpack[_ErrorFields],
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class SyncConfigurationError(SyncError):
    """Our configuration is wrong (token, URL), not the mark; the mark stays due."""

    reason = Reason.CONFIG_ERROR


class SyncAuthError(SyncConfigurationError):
    """The Analyzer refused our token, or wants one and none is configured."""

    reason = Reason.TOKEN_REJECTED


class SyncNotAnalyzerError(SyncConfigurationError):
    """Something other than the Analyzer API answered: a wrong URL or a proxy page."""

    reason = Reason.NOT_THE_ANALYZER


class SyncRejectedError(SyncError):
    """The Analyzer understood the request and refused it; it will refuse it again."""

    reason = Reason.REJECTED_OTHER


class SyncRouteMissingError(SyncError):
    """The deployment answers Express's HTML 404 for an optional route (``add-tutN-mark``):
    an older build. Not a configuration problem: the caller falls back to the single route.
    Nothing was stored."""

    reason = Reason.ROUTE_MISSING
