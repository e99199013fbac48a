"""Exceptions raised when talking to the Academic Analyzer, and the table of reason codes.

Every failure carries a stable ``reason`` code. ``REASONS`` gives each code a plain-words
label and a one-line next step for a teacher or operator. The tree:

    AnalyzerConfigError(ImproperlyConfigured)   outside the tree on purpose
    SyncError
    ├── SyncTemporaryError        worth retrying later
    ├── SyncConfigurationError    our configuration is wrong; the mark stays due
    │   ├── SyncAuthError
    │   └── SyncNotAnalyzerError
    └── SyncRejectedError         the Analyzer said no and will say it again

``AnalyzerConfigError`` is not a ``SyncError`` so that code which catches sync errors
to record them on a mark can never swallow a broken deployment.

This module deliberately does not import ``requests``: only the client does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

#: How much of a response body an exception keeps, and how much its ``str()`` shows.
BODY_LIMIT = 500
SNIPPET_LIMIT = 300


@dataclass(frozen=True)
class Reason:
    """One reason code with its plain-words label and a next-step template.

    The template may use ``{student_id}``, ``{course_id}``, ``{teacher_email}``
    and ``{tutorial_number}``; missing ones are left out.
    """

    code: str
    label: str
    next_step_template: str


_RETRY_AFTER_FIX = "then use Retry after fixing."

REASONS: dict[str, Reason] = {
    reason.code: reason
    for reason in [
        Reason(
            "sync_error",
            "Sync failed",
            "See the error shown; the mark stays due and the resync command will try again.",
        ),
        # --- temporary: the mark stays due and is retried automatically ---
        Reason(
            "connection_error",
            "Could not reach the Academic Analyzer",
            "The Analyzer refused or dropped the connection; the mark stays due and is "
            "retried automatically. If it lasts, check the Analyzer server is running.",
        ),
        Reason(
            "timeout",
            "The Academic Analyzer did not answer in time",
            "The Analyzer was too slow to answer; the mark stays due and is retried "
            "automatically (resending is safe: the Analyzer sets marks, it does not add).",
        ),
        Reason(
            "server_error",
            "The Academic Analyzer had an internal error",
            "The mark stays due and is retried automatically; if it keeps failing, ask the "
            "Analyzer administrator to check its logs.",
        ),
        Reason(
            "unavailable",
            "The Academic Analyzer is unavailable (maintenance or proxy error)",
            "The mark stays due and is delivered once the Analyzer is back; nothing to do "
            "unless this lasts for hours.",
        ),
        Reason(
            "rate_limited",
            "The Academic Analyzer asked us to slow down",
            "The mark stays due and is retried automatically after the wait the Analyzer "
            "asked for.",
        ),
        Reason(
            "bad_response",
            "The Academic Analyzer sent an unreadable answer",
            "The mark stays due and is retried automatically; if it keeps happening, check "
            "that ACADEMIC_ANALYZER_URL points at the Analyzer API.",
        ),
        Reason(
            "response_too_large",
            "The Academic Analyzer's answer was too large",
            "The answer was cut off unread past ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES; the mark "
            "stays due and is retried automatically. If it keeps happening, check that "
            "ACADEMIC_ANALYZER_URL points at the Analyzer API and ask its administrator why "
            "it answers so much.",
        ),
        Reason(
            "not_stored",
            "The Academic Analyzer answered but did not store the mark",
            "The mark stays due and is retried automatically; if it keeps happening, ask the "
            "Analyzer administrator to check its logs.",
        ),
        # --- configuration: our side is wrong; the mark stays due ---
        Reason(
            "config_error",
            "Sync is misconfigured",
            "Fix the setting named in the error, restart the site, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "token_rejected",
            "The Academic Analyzer rejected our access token",
            "The Analyzer token was rejected (it may have been regenerated): set the current "
            "token in ACADEMIC_ANALYZER_TOKEN, restart the site, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "token_missing",
            "No Academic Analyzer token is configured",
            "The Analyzer requires a token but none is configured: set "
            "ACADEMIC_ANALYZER_TOKEN, restart the site, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "not_the_analyzer",
            "The configured address is not the Academic Analyzer API",
            "Something other than the Analyzer API answered: check ACADEMIC_ANALYZER_URL "
            "(the Analyzer's base URL, ending in /api), restart the site, " + _RETRY_AFTER_FIX,
        ),
        # --- rejected: the Analyzer said no and will say it again ---
        Reason(
            "teacher_not_found",
            "Teacher not found in the Academic Analyzer",
            "Teacher {teacher_email} was not found in the Academic Analyzer: set the quiz "
            "creator's email to their Analyzer login email, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "student_not_found",
            "Student not found in the Academic Analyzer",
            "Student {student_id} was not found in the Academic Analyzer: check the "
            "student's username matches their Analyzer roll number, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "course_not_found",
            "Course not found in the Academic Analyzer",
            "Course {course_id} was not found in the Academic Analyzer — it may have been "
            "deleted. Check the course id on the quiz, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "not_enrolled",
            "Student not enrolled in the course",
            "Student {student_id} is not enrolled in course {course_id} in the Academic "
            "Analyzer: ask its administrator to enrol them, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "no_performance_record",
            "No performance record for the student",
            "The Academic Analyzer has no performance record for student {student_id} in "
            "course {course_id}: ask its administrator to create one, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "rejected_other",
            "The Academic Analyzer refused the mark",
            "The Analyzer refused the mark with a reason we do not recognise: read its "
            "message in the error, fix the cause, " + _RETRY_AFTER_FIX,
        ),
        # --- decided by the sync layer, never by an HTTP answer ---
        Reason(
            "sync_disabled",
            "Sync is not configured",
            "Sync is not configured (ACADEMIC_ANALYZER_URL unset); marks wait and are "
            "delivered once it is set.",
        ),
        Reason(
            "confirming",
            "Delivered; sending once more to be sure",
            "Nothing to do: an earlier request for this mark timed out and could still arrive "
            "late, so the current value is sent once more after that can no longer happen.",
        ),
        Reason(
            "overlap",
            "Sending again after overlapping deliveries",
            "Nothing to do: a delivery outlived its claim on the mark, so the current value is "
            "sent once more to make sure the Analyzer ends with it.",
        ),
        Reason(
            "breaker_open",
            "Skipped while the Academic Analyzer was failing",
            "Skipped: the Analyzer was failing recently; the resync command will deliver it.",
        ),
        Reason(
            "no_teacher_email",
            "No teacher email for the course",
            "No teacher email could be found for course {course_id}: set the quiz "
            "creator's email, " + _RETRY_AFTER_FIX,
        ),
        Reason(
            "max_tries_exceeded",
            "Gave up after repeated temporary failures",
            "Gave up after repeated temporary failures; use Retry after fixing once the "
            "Analyzer is healthy.",
        ),
        Reason(
            "given_up",
            "Gave up after repeated temporary failures",
            "Gave up after repeated temporary failures; use Retry after fixing once the "
            "Analyzer is healthy.",
        ),
    ]
}

TEMPORARY_REASONS = frozenset(
    {
        "connection_error",
        "timeout",
        "server_error",
        "unavailable",
        "rate_limited",
        "bad_response",
        "response_too_large",
        "not_stored",
    }
)
AUTH_REASONS = frozenset({"token_rejected", "token_missing"})
NOT_ANALYZER_REASONS = frozenset({"not_the_analyzer"})
CONFIGURATION_REASONS = frozenset({"config_error"}) | AUTH_REASONS | NOT_ANALYZER_REASONS
REJECTED_REASONS = frozenset(
    {
        "teacher_not_found",
        "student_not_found",
        "course_not_found",
        "not_enrolled",
        "no_performance_record",
        "rejected_other",
    }
)
#: Codes the sync layer records without any HTTP answer (config_error is also here:
#: it is what the sync layer records when it catches an AnalyzerConfigError).
SYNC_LAYER_REASONS = frozenset(
    {
        "sync_disabled",
        "breaker_open",
        "confirming",
        "overlap",
        "no_teacher_email",
        "config_error",
        "max_tries_exceeded",
        "given_up",
    }
)


class _BlankMissing(dict):
    # format_map() asks __missing__ for absent keys; a blank reads better than a KeyError.
    def __missing__(self, key: str) -> str:
        return ""


def reason_label(code: str) -> str:
    """Return the plain-words label for ``code`` (the code itself when unknown)."""
    reason = REASONS.get(code)
    return reason.label if reason else code


def reason_next_step(code: str, **context: Any) -> str:
    """Return the one-line next step for ``code``, filled in from ``context``.

    Placeholders without a value (or with ``None``) are dropped and the spacing tidied,
    so ``course_not_found`` without a course id reads "Course was not found ...".
    """
    reason = REASONS.get(code) or REASONS["sync_error"]
    values = _BlankMissing({k: v for k, v in context.items() if v is not None and v != ""})
    text = reason.next_step_template.format_map(values)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r" +([,.:;])", r"\1", text).strip()


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class AnalyzerConfigError(ImproperlyConfigured):
    """The Analyzer client cannot start: a setting is missing or invalid.

    The message names the setting. Deliberately not a ``SyncError``.
    """

    reason = "config_error"


class SyncError(Exception):
    """Base of every failure to deliver to (or read from) the Academic Analyzer.

    ``body`` must already have had the token scrubbed from it (the client does this);
    it is kept truncated to ``BODY_LIMIT`` characters. The HTTP response object itself is
    deliberately not kept: its request carries the Authorization header.
    """

    reason: str = "sync_error"
    next_step: str = reason_next_step("sync_error")
    _retryable: ClassVar[bool] = False

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

    @property
    def label(self) -> str:
        """Plain-words label of this error's reason."""
        return reason_label(self.reason)

    @property
    def retryable(self) -> bool:
        """True when sending the same request later may well succeed."""
        return self._retryable

    def __str__(self) -> str:
        text = self.message
        if self.status_code is not None:
            text += f" (HTTP {self.status_code})"
        snippet = _one_line(self.body, SNIPPET_LIMIT)
        return f"{text}: {snippet}" if snippet else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, status_code={self.status_code!r}, "
            f"url={self.url!r}, duration_ms={self.duration_ms!r}, message={self.message!r})"
        )


class SyncTemporaryError(SyncError):
    """A failure worth retrying later: network trouble, timeouts, 5xx, 429, bad bodies.

    ``retry_after`` is the server's requested wait in seconds, when it sent one.
    """

    reason = "server_error"
    next_step = reason_next_step("server_error")
    _retryable = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class SyncConfigurationError(SyncError):
    """Our configuration is wrong (token, URL), not the mark; the mark stays due."""

    reason = "config_error"
    next_step = reason_next_step("config_error")


class SyncAuthError(SyncConfigurationError):
    """The Analyzer refused our token, or wants one and none is configured."""

    reason = "token_rejected"
    next_step = reason_next_step("token_rejected")


class SyncNotAnalyzerError(SyncConfigurationError):
    """Something other than the Analyzer API answered: a wrong URL or a proxy page."""

    reason = "not_the_analyzer"
    next_step = reason_next_step("not_the_analyzer")


class SyncRejectedError(SyncError):
    """The Analyzer understood the request and refused it; it will refuse it again."""

    reason = "rejected_other"
    next_step = reason_next_step("rejected_other")
