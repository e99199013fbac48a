"""The reason table and the exception tree that carries its codes.

Every reason has a stable code (stored on marks and history rows), a plain-words label and
a one-line next step for a teacher or operator; nothing else spells a reason code.
Members are strings (``Reason.COURSE_NOT_FOUND == "course_not_found"``). Every failure to
talk to the Analyzer is a ``SyncError`` carrying one:

    AnalyzerConfigError(ImproperlyConfigured)   not a SyncError: never swallowed as one
    SyncError
    ├── SyncTemporaryError        worth retrying later
    ├── SyncConfigurationError    our configuration is wrong (token, URL); the mark stays due
    ├── SyncRejectedError         the Analyzer said no and will say it again
    └── SyncRouteMissingError     this Analyzer build lacks an optional route (bulk marks)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# What to do once the cause is fixed depends on the mark's status: the admin offers Retry
# after fixing only for rejected and given-up marks; a pending or retrying mark is still due.
_RETRY_AFTER_FIX = "then use Retry after fixing."
_STILL_DUE = (
    "the marks stay due: the next resync sends them (or select them and use Resync selected now)."
)
#: Statuses of marks that are still due: no Retry after fixing for them.
_DUE_STATUSES = frozenset({"pending", "retrying"})


class Reason(StrEnum):
    """A reason code with its label and next-step template.

    The template may use ``{student_id}``, ``{course_id}``, ``{teacher_email}`` and
    ``{tutorial_number}``; missing ones are left out (see ``next_step``).
    """

    label: str
    next_step_template: str

    def __new__(cls, code: str, label: str, next_step_template: str) -> Reason:
        member = str.__new__(cls, code)
        member._value_ = code
        member.label = label
        member.next_step_template = next_step_template
        return member

    SYNC_ERROR = (
        "sync_error",
        "Sync failed",
        "See the error shown; the mark stays due and the resync command will try again.",
    )
    CONNECTION_ERROR = (
        "connection_error",
        "Could not reach the Academic Analyzer",
        "The Analyzer refused or dropped the connection; the mark stays due and is "
        "retried automatically. If it lasts, check the Analyzer server is running.",
    )
    TIMEOUT = (
        "timeout",
        "The Academic Analyzer did not answer in time",
        "The Analyzer was too slow to answer; the mark stays due and is retried "
        "automatically (resending is safe: the Analyzer sets marks, it does not add).",
    )
    SERVER_ERROR = (
        "server_error",
        "The Academic Analyzer had an internal error",
        "The mark stays due and is retried automatically; if it keeps failing, ask the "
        "Analyzer administrator to check its logs.",
    )
    UNAVAILABLE = (
        "unavailable",
        "The Academic Analyzer is unavailable (maintenance or proxy error)",
        "The mark stays due and is delivered once the Analyzer is back; nothing to do "
        "unless this lasts for hours.",
    )
    RATE_LIMITED = (
        "rate_limited",
        "The Academic Analyzer asked us to slow down",
        "The mark stays due and is retried automatically after the wait the Analyzer asked for.",
    )
    BAD_RESPONSE = (
        "bad_response",
        "The Academic Analyzer sent an unreadable answer",
        "The mark stays due and is retried automatically; if it keeps happening, check "
        "that ACADEMIC_ANALYZER_URL points at the Analyzer API.",
    )
    RESPONSE_TOO_LARGE = (
        "response_too_large",
        "The Academic Analyzer's answer was too large",
        "The answer was cut off unread past ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES; the mark "
        "stays due and is retried automatically. If it keeps happening, check that "
        "ACADEMIC_ANALYZER_URL points at the Analyzer API and ask its administrator why "
        "it answers so much.",
    )
    NOT_STORED = (
        "not_stored",
        "The Academic Analyzer answered but did not store the mark",
        "The mark stays due and is retried automatically; if it keeps happening, ask the "
        "Analyzer administrator to check its logs.",
    )
    CONFIG_ERROR = (
        "config_error",
        "Sync is misconfigured",
        "Fix the setting named in the error, restart the site; " + _STILL_DUE,
    )
    TOKEN_REJECTED = (
        "token_rejected",
        "The Academic Analyzer rejected our access token",
        "The Analyzer token was rejected (it may have been regenerated): set the current "
        "token in ACADEMIC_ANALYZER_TOKEN, restart the site; " + _STILL_DUE,
    )
    TOKEN_MISSING = (
        "token_missing",
        "No Academic Analyzer token is configured",
        "The Analyzer requires a token but none is configured: set "
        "ACADEMIC_ANALYZER_TOKEN, restart the site; " + _STILL_DUE,
    )
    NOT_THE_ANALYZER = (
        "not_the_analyzer",
        "The configured address is not the Academic Analyzer API",
        "Something other than the Analyzer API answered (the error says what: a page or a "
        "redirect). A page is most likely a proxy or single-sign-on login page in front of "
        "the Analyzer: the URL is then right, and whoever runs the proxy must let this site's "
        "requests through. Otherwise ACADEMIC_ANALYZER_URL points at a web page, not the API "
        "(its base URL ends in /api). To tell which, run curl -i "
        '"$ACADEMIC_ANALYZER_URL/staff/course-detail" on the site\'s server: a login form or '
        "a proxy's page is the first, the Analyzer's own web pages or a 404 page the second. "
        "Fix it, restart the site; " + _STILL_DUE,
    )
    TEACHER_NOT_FOUND = (
        "teacher_not_found",
        "Teacher not found in the Academic Analyzer",
        "Teacher {teacher_email} was not found in the Academic Analyzer: set the quiz "
        "creator's email to their Analyzer login email, " + _RETRY_AFTER_FIX,
    )
    STUDENT_NOT_FOUND = (
        "student_not_found",
        "Student not found in the Academic Analyzer",
        "Student {student_id} was not found in the Academic Analyzer: check the "
        "student's username matches their Analyzer roll number, " + _RETRY_AFTER_FIX,
    )
    COURSE_NOT_FOUND = (
        "course_not_found",
        "Course not found in the Academic Analyzer",
        "Course {course_id} was not found in the Academic Analyzer — it may have been "
        "deleted. Check the course id on the quiz, " + _RETRY_AFTER_FIX,
    )
    NOT_ENROLLED = (
        "not_enrolled",
        "Student not enrolled in the course",
        "Student {student_id} is not enrolled in course {course_id} in the Academic "
        "Analyzer: ask its administrator to enrol them, " + _RETRY_AFTER_FIX,
    )
    NO_PERFORMANCE_RECORD = (
        "no_performance_record",
        "No performance record for the student",
        "The Academic Analyzer has no performance record for student {student_id} in "
        "course {course_id}: ask its administrator to create one, " + _RETRY_AFTER_FIX,
    )
    REJECTED_OTHER = (
        "rejected_other",
        "The Academic Analyzer refused the mark",
        "The Analyzer refused the mark with a reason we do not recognise: read its "
        "message in the error, fix the cause, " + _RETRY_AFTER_FIX,
    )
    ROUTE_MISSING = (
        "route_missing",
        "The Academic Analyzer has no bulk marks route",
        "Nothing to do: this Analyzer build has no POST /staff/add-tutN-mark, so the resync "
        "sends one request per mark (slower after an outage); upgrading the Analyzer makes "
        "it send one request per course and tutorial again.",
    )
    SYNC_DISABLED = (
        "sync_disabled",
        "Sync is not configured",
        "Sync is not configured (ACADEMIC_ANALYZER_URL unset); marks wait and are "
        "delivered once it is set.",
    )
    CONFIRMING = (
        "confirming",
        "Delivered; sending once more to be sure",
        "Nothing to do: an earlier request for this mark timed out and could still arrive "
        "late, so the current value is sent once more after that can no longer happen.",
    )
    OVERLAP = (
        "overlap",
        "Sending again after overlapping deliveries",
        "Nothing to do: a delivery outlived its claim on the mark, so the current value is "
        "sent once more to make sure the Analyzer ends with it.",
    )
    BREAKER_OPEN = (
        "breaker_open",
        "Skipped while the Academic Analyzer was failing",
        "Skipped: the Analyzer was failing recently; the resync command will deliver it.",
    )
    NO_TEACHER_EMAIL = (
        "no_teacher_email",
        "No teacher email for the course",
        "No teacher email could be found for course {course_id}: set the quiz "
        "creator's email, " + _RETRY_AFTER_FIX,
    )
    CLAIMED_ELSEWHERE = (
        "claimed_elsewhere",
        "Being delivered by another process",
        "Nothing to do: another process (a resync run or another delivery) holds the mark "
        "and delivers it.",
    )
    GIVEN_UP = (
        "given_up",
        "Gave up after repeated temporary failures",
        "Gave up after repeated temporary failures; use Retry after fixing once the "
        "Analyzer is healthy.",
    )

    def next_step(self, *, status: str = "", **context: Any) -> str:
        """The one-line next step, filled in from ``context``, for a mark in ``status``.

        Placeholders without a value (or with ``None``) are dropped and the spacing tidied,
        so ``course_not_found`` without a course id reads "Course was not found ...". A mark
        still due (pending, retrying) is told it will be sent, not to use Retry after
        fixing: the admin offers that only for rejected and given-up marks.
        """
        template = self.next_step_template
        if status in _DUE_STATUSES and template.endswith(_RETRY_AFTER_FIX):
            template = template[: -len(_RETRY_AFTER_FIX)].rstrip(", ") + "; " + _STILL_DUE
        values = _BlankMissing({k: v for k, v in context.items() if v is not None and v != ""})
        text = template.format_map(values)
        text = re.sub(r"[ \t]{2,}", " ", text)
        return re.sub(r" +([,.:;])", r"\1", text).strip()


class _BlankMissing(dict[str, object]):
    # format_map() asks __missing__ for absent keys; a blank reads better than a KeyError.
    def __missing__(self, key: str) -> str:
        return ""


#: How much of a response body an exception keeps, and how much its ``str()`` shows.
BODY_LIMIT = 500
SNIPPET_LIMIT = 300


#: Code → row of the reason table, for codes as read back from the database.
REASONS: dict[str, Reason] = {reason.value: reason for reason in Reason}

#: Our configuration is wrong, not the mark: it stays due (``SyncConfigurationError``'s).
CONFIGURATION_REASONS = frozenset(
    {Reason.CONFIG_ERROR, Reason.TOKEN_REJECTED, Reason.TOKEN_MISSING, Reason.NOT_THE_ANALYZER}
)
#: The Analyzer said no and will say it again (``SyncRejectedError``'s).
REJECTED_REASONS = frozenset(
    {
        Reason.TEACHER_NOT_FOUND,
        Reason.STUDENT_NOT_FOUND,
        Reason.COURSE_NOT_FOUND,
        Reason.NOT_ENROLLED,
        Reason.NO_PERFORMANCE_RECORD,
        Reason.REJECTED_OTHER,
    }
)


def reason_label(code: str) -> str:
    """Return the plain-words label for ``code`` (the code itself when unknown)."""
    reason = REASONS.get(code)
    return reason.label if reason else code


def reason_next_step(code: str, *, status: str = "", **context: Any) -> str:
    """Return the one-line next step for ``code`` (unknown codes: sync_error's) for a mark in
    ``status``, filled in from ``context`` (``student_id``, ``course_id``, ``teacher_email``,
    ``tutorial_number``)."""
    return (REASONS.get(code) or Reason.SYNC_ERROR).next_step(status=status, **context)


def mark_next_step(code: str, *, status: str = "", **context: Any) -> str:
    """The next step for a mark in ``status`` whose reason is ``code``, as every page and the
    resync say it: a given-up mark's is given_up's, naming ``code`` as its last failure."""
    if status == Reason.GIVEN_UP:  # the status given_up and its reason share the code
        return f"{Reason.GIVEN_UP.next_step()} Last failure: {reason_label(code)}."
    return reason_next_step(code, status=status, **context)


class AnalyzerConfigError(ImproperlyConfigured):
    """The Analyzer client cannot start: a setting is missing or invalid (the message names
    it). Not a ``SyncError``."""

    reason = Reason.CONFIG_ERROR


class SyncError(Exception):
    """Base of every failure to deliver to (or read from) the Academic Analyzer.

    ``body`` must already have had the token scrubbed from it (the client does this);
    it is kept truncated to ``BODY_LIMIT`` characters. The HTTP response object itself is
    deliberately not kept: its request carries the Authorization header. ``retry_after``:
    the server's requested wait in seconds, when it sent one (temporary failures).
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
        retry_after: float | None = None,
    ) -> None:
        self.reason = reason or type(self).reason
        self.context = dict(context or {})
        self.next_step = next_step or reason_next_step(self.reason, **self.context)
        self.message = message or reason_label(self.reason)
        self.status_code = status_code
        self.url = url
        self.body = body[:BODY_LIMIT] if body else ""
        self.duration_ms = duration_ms
        self.retry_after = retry_after
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
    """A failure worth retrying later: network trouble, timeouts, 5xx, 429, bad bodies."""

    reason = Reason.SERVER_ERROR


class SyncConfigurationError(SyncError):
    """Our configuration is wrong (token, URL), not the mark; the mark stays due."""

    reason = Reason.CONFIG_ERROR


class SyncRejectedError(SyncError):
    """The Analyzer understood the request and refused it; it will refuse it again."""

    reason = Reason.REJECTED_OTHER


class SyncRouteMissingError(SyncError):
    """The deployment answers Express's HTML 404 for an optional route (``add-tutN-mark``):
    an older build. Not a configuration problem: the caller falls back to the single route.
    Nothing was stored."""

    reason = Reason.ROUTE_MISSING
