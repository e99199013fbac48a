"""Reading an Analyzer answer and mapping it to a result or to the typed ``SyncError``s.

``_AnswerMapping`` is the part of ``AnalyzerClient`` that turns a response (or a network
failure) into an ``AnalyzerResult`` or the matching exception from ``exceptions.py``; every
exception is built in ``_error`` / ``_network_error`` / ``_too_large``, where everything that
came from the other side is scrubbed of the token first.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from academic_integration.exceptions import Reason

from ..exceptions import (
    REJECTED_REASONS,
    SyncAuthError,
    SyncError,
    SyncNotAnalyzerError,
    SyncRejectedError,
    SyncRouteMissingError,
    SyncTemporaryError,
)
from .deadline import _BodyTooLarge

# The Analyzer tells its rejections apart only by message text; match loosely
# (case, spacing, trailing punctuation, wording around the key phrase) and in this order.
_REJECTION_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in [
        (r"\bperformance\s+record\b", Reason.NO_PERFORMANCE_RECORD),
        (r"\bnot\s+enrol+ed\b", Reason.NOT_ENROLLED),
        (r"\bteacher\b.*\bnot\s+found\b", Reason.TEACHER_NOT_FOUND),
        (r"\bstudent\b.*\bnot\s+found\b", Reason.STUDENT_NOT_FOUND),
        (r"\bcourse\b.*\bnot\s+found\b", Reason.COURSE_NOT_FOUND),
    ]
)


_ITEM_STATUSES = ("success", "failed")
#: What one item of a bulk request can be refused for; any other message is rejected_other.
_ITEM_REASONS = frozenset({Reason.STUDENT_NOT_FOUND, Reason.NO_PERFORMANCE_RECORD})


@dataclass(frozen=True)
class AnalyzerResult:
    """A successful Analyzer answer: ``data`` is the parsed JSON object."""

    status_code: int
    duration_ms: int
    url: str
    data: dict[str, Any]


@dataclass(frozen=True)
class RosterEntry:
    """A student the Analyzer lists as enrolled in a course (course-detail's ``students``)."""

    roll_no: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True)
class MarkItemResult:
    """One item of a bulk marks request: stored (``error`` is None) or refused by the
    Analyzer (``error``, whose reason is student_not_found, no_performance_record or
    rejected_other)."""

    roll_no: str
    error: SyncRejectedError | None = None

    @property
    def stored(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class TutorialMarksResult:
    """An answered bulk marks request: one ``MarkItemResult`` per item sent, in order."""

    status_code: int
    duration_ms: int
    url: str
    items: tuple[MarkItemResult, ...]


@dataclass(frozen=True)
class CourseDetail:
    """A course as the Analyzer knows it (``GET /staff/course-detail``).

    ``students`` is its roster, or None when the answer carried none (an answer that says
    success is a course that exists, whatever fields it lacks).
    """

    course_id: str
    name: str
    students: tuple[RosterEntry, ...] | None = None

    def roll_numbers(self) -> frozenset[str] | None:
        """The enrolled roll numbers (case-sensitive, as the Analyzer matches them)."""
        if self.students is None:
            return None
        return frozenset(entry.roll_no for entry in self.students)


@dataclass(frozen=True)
class TeacherCourses:
    """A teacher as the Analyzer knows them (``GET /staff/dashboard``): the courses they
    handle. A course restored from the archive is handled only by the teacher who restored it."""

    email: str
    name: str
    course_ids: frozenset[str]


@dataclass(frozen=True)
class _Answer:
    # What the parse step needs from a response, without keeping the response (its
    # request carries the Authorization header).
    status_code: int
    url: str
    duration_ms: int
    text: str
    content_type: str
    data: Any
    json_error: bool
    retry_after: float | None
    location: str

    @property
    def is_json(self) -> bool:
        return isinstance(self.data, dict)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds, or None.

    Accepts delta-seconds and HTTP-dates; a date in the past gives 0. Garbage gives None.
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _rejection_reason(data: dict[str, Any]) -> str | None:
    code = data.get("code")
    if isinstance(code, str) and code in REJECTED_REASONS:
        return code
    message = _message_of(data)
    for pattern, reason in _REJECTION_PATTERNS:
        if pattern.search(message):
            return reason
    return None


def _message_of(data: dict[str, Any]) -> str:
    message = data.get("message") or data.get("error") or ""
    return " ".join(str(message).split())


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


class _AnswerMapping:
    """Mapping answers to results and typed errors; mixed into ``AnalyzerClient``, whose
    ``_scrub``, ``_token``, ``total_timeout`` and ``max_response_bytes`` it uses."""

    _token: str | None
    total_timeout: float
    max_response_bytes: int
    _scrub: Callable[[str], str]

    @staticmethod
    def _answer(response: requests.Response, *, url: str, text: str, duration_ms: int) -> _Answer:
        content_type = response.headers.get("Content-Type", "").lower()
        data, json_error = None, False
        if "json" in content_type or text.lstrip().startswith("{"):
            try:
                data = response.json()
            except ValueError:
                json_error = "json" in content_type
        return _Answer(
            status_code=response.status_code,
            url=url,
            duration_ms=duration_ms,
            text=text,
            content_type=content_type,
            data=data,
            json_error=json_error,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            location=response.headers.get("Location", ""),
        )

    def _result(self, answer: _Answer, *, context: dict[str, Any]) -> AnalyzerResult:
        """Return the result of a successful answer; raise the matching ``SyncError``."""
        if 200 <= answer.status_code < 300:
            if answer.is_json and answer.data.get("success") is True:
                return AnalyzerResult(
                    status_code=answer.status_code,
                    duration_ms=answer.duration_ms,
                    url=answer.url,
                    data=answer.data,
                )
            raise self._success_status_error(answer, context)
        raise self._status_error(answer, context)

    def _success_status_error(self, answer: _Answer, context: dict[str, Any]) -> SyncError:
        if answer.is_json and answer.data.get("success") is False:
            message = _message_of(answer.data)
            return self._error(
                SyncTemporaryError,
                Reason.NOT_STORED,
                answer,
                message="The Analyzer answered but stored nothing"
                + (f": {message}" if message else ""),
                context=context,
            )
        if answer.data is not None or answer.json_error or not answer.text.strip():
            # Broken JSON, JSON of another shape, or nothing at all: most likely a reply
            # cut short, and worth another try.
            return self._error(SyncTemporaryError, Reason.BAD_RESPONSE, answer, context=context)
        return self._error(
            SyncNotAnalyzerError,
            Reason.NOT_THE_ANALYZER,
            answer,
            message="The Analyzer URL answered with a page, not the Analyzer API "
            f"({answer.content_type or 'no content type'})",
            context=context,
        )

    def _status_error(self, answer: _Answer, context: dict[str, Any]) -> SyncError:
        status = answer.status_code
        if status in (401, 403):
            if self._token:
                reason = Reason.TOKEN_REJECTED
                message = "The Analyzer rejected the configured ACADEMIC_ANALYZER_TOKEN"
            else:
                reason = Reason.TOKEN_MISSING
                message = (
                    "The Analyzer requires a token but no token is configured "
                    "(set ACADEMIC_ANALYZER_TOKEN)"
                )
            return self._error(SyncAuthError, reason, answer, message=message, context=context)
        if status == 429:
            return self._error(SyncTemporaryError, Reason.RATE_LIMITED, answer, context=context)
        if status == 408:
            return self._error(SyncTemporaryError, Reason.TIMEOUT, answer, context=context)
        if status in (502, 503, 504):
            return self._error(SyncTemporaryError, Reason.UNAVAILABLE, answer, context=context)
        if status >= 500:
            message = ""
            if answer.is_json:
                message = "The Analyzer had a server error: " + (
                    _message_of(answer.data) or "no message"
                )
            elif not answer.json_error:
                message = (
                    "The Analyzer crashed with a non-JSON server error (older Analyzers "
                    "answer a deleted course this way)"
                )
            return self._error(
                SyncTemporaryError, Reason.SERVER_ERROR, answer, message=message, context=context
            )
        if 400 <= status < 500 and answer.is_json:
            message = _message_of(answer.data)
            return self._error(
                SyncRejectedError,
                _rejection_reason(answer.data) or Reason.REJECTED_OTHER,
                answer,
                message="The Analyzer refused the request: " + (message or "no message"),
                context=context,
            )
        if 300 <= status < 400:
            return self._error(
                SyncNotAnalyzerError,
                Reason.NOT_THE_ANALYZER,
                answer,
                message="The Analyzer URL redirects elsewhere "
                f"({answer.location or 'no Location'}); set ACADEMIC_ANALYZER_URL to the "
                "final address",
                context=context,
            )
        # Any other non-JSON 4xx (an Express "Cannot POST" page, a proxy's page) or an
        # odd status: something other than the Analyzer API is answering.
        return self._error(
            SyncNotAnalyzerError,
            Reason.NOT_THE_ANALYZER,
            answer,
            message="Something other than the Analyzer API answered",
            context=context,
        )

    def _route_missing(self, answer: _Answer, context: dict[str, Any]) -> SyncError | None:
        """The error for an optional route this deployment lacks (Express's HTML 404), or
        None when the answer is something else."""
        if answer.status_code != 404 or answer.is_json or answer.json_error:
            return None
        return self._error(
            SyncRouteMissingError,
            Reason.ROUTE_MISSING,
            answer,
            message="The Analyzer has no such route (an older build)",
            context=context,
        )

    def _item_results(
        self,
        answer: _Answer,
        result: AnalyzerResult,
        *,
        rolls: Sequence[str],
        context: dict[str, Any],
    ) -> tuple[MarkItemResult, ...]:
        """One result per roll number sent, read from ``results`` by position (the items'
        ``email`` is the student's email or what was sent, so it cannot be matched on).

        Raises ``SyncTemporaryError`` (bad_response) when ``results`` is not a list of
        ``{"status": "success" | "failed"}`` objects of the same length as the items.
        """
        results = result.data.get("results")
        if not (
            isinstance(results, list)
            and len(results) == len(rolls)
            and all(isinstance(r, dict) and r.get("status") in _ITEM_STATUSES for r in results)
        ):
            count = len(results) if isinstance(results, list) else "no"
            raise self._error(
                SyncTemporaryError,
                Reason.BAD_RESPONSE,
                answer,
                message=f"The Analyzer's bulk answer has {count} readable results for "
                f"{len(rolls)} marks",
                context=context,
            )
        return tuple(
            MarkItemResult(roll, self._item_error(answer, item, roll=roll, context=context))
            for roll, item in zip(rolls, results, strict=True)
        )

    def _item_error(
        self, answer: _Answer, item: dict[str, Any], *, roll: str, context: dict[str, Any]
    ) -> SyncRejectedError | None:
        if item["status"] == "success":
            return None
        message = _message_of(item)
        reason = _rejection_reason(item)
        if reason not in _ITEM_REASONS:
            reason = Reason.REJECTED_OTHER
        return SyncRejectedError(
            self._scrub("The Analyzer refused the mark: " + (message or "no message")),
            reason=reason,
            status_code=answer.status_code,
            url=self._scrub(answer.url),
            body=self._scrub(json.dumps(item)),
            duration_ms=answer.duration_ms,
            context={**context, "student_id": roll},
        )

    # --- errors and logging --------------------------------------------------------------

    def _error(
        self,
        cls: type[SyncError],
        reason: str,
        answer: _Answer,
        *,
        message: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> SyncError:
        # The single place an exception is built from a response: everything that came
        # from the other side is scrubbed here, before it is truncated.
        kwargs: dict[str, Any] = {}
        if issubclass(cls, SyncTemporaryError):
            kwargs["retry_after"] = answer.retry_after
        return cls(
            self._scrub(message) if message else None,
            reason=reason,
            status_code=answer.status_code,
            url=self._scrub(answer.url),
            body=self._scrub(answer.text),
            duration_ms=answer.duration_ms,
            context=context,
            **kwargs,
        )

    def _network_error(
        self,
        reason: str,
        url: str,
        started: float,
        context: dict[str, Any],
        err: Exception,
        budget_ms: int | None = None,
    ) -> SyncTemporaryError:
        if budget_ms is not None and reason in ("deadline", Reason.TIMEOUT):
            # Cut off by the inline budget: a timeout too (it may be applied late).
            reason = Reason.TIMEOUT
            what = (
                f"did not answer within the inline budget of {budget_ms} ms "
                "(ACADEMIC_ANALYZER_INLINE_BUDGET_*)"
            )
        elif reason == "deadline":
            # Still a timeout for everything downstream: the request may have been applied
            # (or be applied late), which is what "timeout" means to the retry policy.
            reason = Reason.TIMEOUT
            what = (
                f"did not finish answering within {self.total_timeout:g} s "
                "(ACADEMIC_ANALYZER_TOTAL_TIMEOUT)"
            )
        elif reason == Reason.TIMEOUT:
            what = f"did not answer in time ({type(err).__name__})"
        else:
            what = f"could not be reached ({type(err).__name__})"
        return SyncTemporaryError(
            self._scrub(f"The Analyzer {what}"),
            reason=reason,
            url=self._scrub(url),
            duration_ms=_elapsed_ms(started),
            context=context,
        )

    def _too_large(
        self,
        err: _BodyTooLarge,
        response: requests.Response,
        url: str,
        duration_ms: int,
        context: dict[str, Any],
    ) -> SyncTemporaryError:
        size = f"{err.size} bytes" if err.declared else f"more than {self.max_response_bytes} bytes"
        return SyncTemporaryError(
            f"The Analyzer's answer is too large ({size}; at most {self.max_response_bytes} "
            "are read, see ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES)",
            reason=Reason.RESPONSE_TOO_LARGE,
            status_code=response.status_code,
            url=self._scrub(url),
            duration_ms=duration_ms,
            context=context,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
