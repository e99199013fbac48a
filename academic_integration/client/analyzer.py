"""``AnalyzerClient``: one configured session, the four calls, and the per-process singleton.

Each call builds its payload (checked before sending), sends it (``_send``) and maps the answer
to a result or to the matching ``SyncError`` (``_result``, ``_error``: scrubbed of the token).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from ..exceptions import (
    REJECTED_REASONS,
    AnalyzerConfigError,
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncRouteMissingError,
    SyncTemporaryError,
)
from . import deadline as _deadline
from .deadline import _BodyTooLarge, _DeadlineAdapter, _DeadlinePassed

_E = TypeVar("_E", bound=SyncError)

# The package's logger name, whichever of its modules logs.
logger = logging.getLogger("academic_integration.client")

USER_AGENT = "quizsite-tutorial-sync/1.0 (+quiz site)"
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 5.0
#: What each item of a bulk request adds to its read timeout and deadline.
DEFAULT_BULK_SECONDS_PER_ITEM = 0.05
#: The most of an answer's body that is read; more is a temporary "response_too_large".
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
_READ_CHUNK = 64 * 1024
POOL_MAXSIZE = 32

TUTORIAL_NUMBERS = range(1, 5)
MAX_MARK = Decimal(10)
UPDATE_MARKS_PATH = "/staff/update-student-marks"
COURSE_DETAIL_PATH = "/staff/course-detail"
DASHBOARD_PATH = "/staff/dashboard"

_SCRUBBED = "[token scrubbed]"
#: The shortest piece of a secret that is scrubbed wherever it appears (a shorter secret is
#: scrubbed whole): long enough that ordinary text does not match a random token by chance.
SCRUB_FRAGMENT = 8
# Characters that would make requests reject the header and echo its value in the error.
_BAD_TOKEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")

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
#: What one item of a bulk request can be refused for; any other message is rejected_other.
_ITEM_REASONS = frozenset({Reason.STUDENT_NOT_FOUND, Reason.NO_PERFORMANCE_RECORD})
_TEMPORARY_STATUSES = {
    429: Reason.RATE_LIMITED,
    408: Reason.TIMEOUT,
    502: Reason.UNAVAILABLE,
    503: Reason.UNAVAILABLE,
    504: Reason.UNAVAILABLE,
}


@dataclass(frozen=True)
class MarkItemResult:
    """One item of a bulk marks request: stored (``error`` is None) or refused (``error``,
    whose reason is student_not_found, no_performance_record or rejected_other)."""

    roll_no: str
    error: SyncRejectedError | None = None


@dataclass(frozen=True)
class AnalyzerResult:
    """A successful Analyzer answer: ``data`` is the parsed JSON object; ``items`` has one
    ``MarkItemResult`` per mark of a bulk request, in the order sent."""

    status_code: int
    duration_ms: int
    data: dict[str, Any]
    items: tuple[MarkItemResult, ...] = ()


@dataclass(frozen=True)
class RosterEntry:
    """A student the Analyzer lists as enrolled in a course (course-detail's ``students``)."""

    roll_no: str
    name: str = ""


@dataclass(frozen=True)
class CourseDetail:
    """A course as the Analyzer knows it; ``students`` is None when the answer had no roster."""

    course_id: str
    name: str
    students: tuple[RosterEntry, ...] | None = None

    def roll_numbers(self) -> frozenset[str] | None:
        """The enrolled roll numbers (case-sensitive, as the Analyzer matches them)."""
        if self.students is None:
            return None
        return frozenset(entry.roll_no for entry in self.students)


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
    context: dict[str, Any]

    @property
    def is_json(self) -> bool:
        return isinstance(self.data, dict)


class AnalyzerClient:
    """Client for one Analyzer deployment, configured from Django settings.

    Raises ``AnalyzerConfigError`` when ``ACADEMIC_ANALYZER_URL`` is unset or not an
    http(s) URL, or when ``ACADEMIC_ANALYZER_TOKEN`` could not be sent as a header.
    """

    def __init__(self) -> None:
        self.base_url = self._base_url_from_settings()
        self._token = self._token_from_settings()
        self._secrets = _secrets_finder(self._token, urlsplit(self.base_url).password)
        self.timeout = (
            _setting("ACADEMIC_ANALYZER_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
            _setting("ACADEMIC_ANALYZER_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        )
        self.total_timeout = total_timeout_s()
        # The Analyzer answers a bulk request after storing every item (~35-80 a second).
        self.bulk_seconds_per_item = _setting(
            "ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM", DEFAULT_BULK_SECONDS_PER_ITEM
        )
        self.max_response_bytes = int(
            _setting("ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
        )
        self._session = self._build_session()

    @staticmethod
    def _base_url_from_settings() -> str:
        url = getattr(settings, "ACADEMIC_ANALYZER_URL", None)
        if not url:
            raise AnalyzerConfigError(
                "ACADEMIC_ANALYZER_URL is not set: set it to the Analyzer's API base URL, "
                "e.g. https://analyzer.example.edu/api."
            )
        url = str(url).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise AnalyzerConfigError(
                "ACADEMIC_ANALYZER_URL must start with http:// or https:// "
                f"(got {masked_url(url)!r})."
            )
        return url

    @staticmethod
    def _token_from_settings() -> str | None:
        # Secrets mounted from files often end in a newline; that is not part of the token.
        token = (getattr(settings, "ACADEMIC_ANALYZER_TOKEN", None) or "").strip() or None
        if token and (_BAD_TOKEN_CHARS.search(token) or not token.isascii()):
            raise AnalyzerConfigError(
                "ACADEMIC_ANALYZER_TOKEN contains whitespace, control or non-ASCII "
                "characters: set it to the token exactly as the Analyzer shows it."
            )
        return token

    def _build_session(self) -> requests.Session:
        session = requests.Session()
        # One pool shared by all worker threads; max_retries=0 because a silent retry
        # inside urllib3 would hammer a failing Analyzer behind the caller's back.
        adapter = _DeadlineAdapter(pool_connections=1, pool_maxsize=POOL_MAXSIZE, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self._adapter = adapter
        # identity: the answers are small, and a compressed one could not be capped as sent.
        session.headers.update(
            {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            }
        )
        if self._token:
            session.headers["Authorization"] = f"Bearer {self._token}"
        # Proxy settings from the environment are read once here, not on every request
        # (~0.2 ms of CPU each); netrc is not used: the token is ours.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.trust_env = False
        return session

    def close(self) -> None:
        """Close the session and its pooled connections."""
        self._session.close()

    def __repr__(self) -> str:
        return f"<AnalyzerClient {self.base_url} token={'set' if self._token else 'unset'}>"

    # --- the calls ---------------------------------------------------------------------

    def update_student_marks(
        self,
        *,
        student_id: str,
        course_id: str,
        teacher_email: str,
        tutorial_number: int,
        value: Decimal,
    ) -> AnalyzerResult:
        """Set tutorial ``tutorial_number`` of ``student_id`` in ``course_id`` to ``value``.

        Raises ``ValueError`` for a tutorial outside 1-4 or a value outside 0-10 (no
        request is made), else a ``SyncError`` subclass when the mark was not stored.
        """
        payload = {
            "studentId": student_id,
            "courseId": course_id,
            "teacherEmail": teacher_email,
            "marks": {f"tutorial{_tutorial(tutorial_number)}": _json_number(value)},
        }
        context = {
            "student_id": student_id,
            "course_id": course_id,
            "teacher_email": teacher_email,
            "tutorial_number": tutorial_number,
        }
        answer = self._send("POST", UPDATE_MARKS_PATH, json_body=payload, context=context)
        return self._result(answer)

    def tutorial_marks_bulk(
        self,
        *,
        course_id: str,
        teacher_email: str,
        tutorial_number: int,
        items: Sequence[tuple[str, Decimal]],
    ) -> AnalyzerResult:
        """Set tutorial ``tutorial_number`` in ``course_id`` for many students in one request
        (``POST /staff/add-tutN-mark``); ``items`` are (roll number, value) pairs.

        Returns one ``MarkItemResult`` per item in ``items``: the Analyzer answers 200 even when
        every item failed. Raises ``ValueError`` as ``update_student_marks`` does (and for no
        items or a blank or repeated roll number), without a request; ``SyncRouteMissingError``
        when the deployment has no such route (Express's HTML 404); ``SyncRejectedError``
        (teacher_not_found) for upstream's 404 "Teacher or Course not found", which cannot
        tell the two apart: a caller that has not just checked the course should ask
        ``course_detail``; else the usual ``SyncError`` subclass for the whole request, with
        ``SyncTemporaryError`` (bad_response) for results of the wrong length or shape.
        """
        path = tutorial_marks_path(tutorial_number)
        if not items:
            raise ValueError("items must not be empty")
        rolls = [roll for roll, _ in items]
        if not all(isinstance(roll, str) and roll.strip() for roll in rolls):
            raise ValueError("every item needs a roll number")
        if len(set(rolls)) != len(rolls):
            # Results are matched to items by position only; a repeat would hide which won.
            raise ValueError("a roll number appears twice")
        payload = {
            "teacherEmail": teacher_email,
            "courseId": course_id,
            # A list even of one: upstream accepts a single object only when keyed by email.
            "studentInput": [
                {"rollno": roll, "mark": _json_number(value)} for roll, value in items
            ],
        }
        context = {
            "course_id": course_id,
            "teacher_email": teacher_email,
            "tutorial_number": tutorial_number,
        }
        answer = self._send(
            "POST",
            path,
            json_body=payload,
            context=context,
            extra_seconds=self.bulk_extra_seconds(len(items)),
        )
        if answer.status_code == 404 and not answer.is_json and not answer.json_error:
            raise self._error(
                SyncRouteMissingError,
                Reason.ROUTE_MISSING,
                answer,
                message="The Analyzer has no such route (an older build)",
            )
        result = self._result(answer)
        results = result.data.get("results")
        return replace(result, items=self._item_results(answer, results, rolls))

    def course_detail(self, *, course_id: str) -> CourseDetail:
        """Return the Analyzer's view of ``course_id``: its name and roster.

        A success is a course that exists, whatever fields it lacks. Raises
        ``SyncRejectedError`` (course_not_found) for an unknown or archived course, or
        another ``SyncError`` subclass.
        """
        context = {"course_id": course_id}
        answer = self._send(
            "GET", COURSE_DETAIL_PATH, params={"courseId": course_id}, context=context
        )
        if answer.status_code == 404 and answer.is_json:
            raise self._error(SyncRejectedError, Reason.COURSE_NOT_FOUND, answer)
        data = self._result(answer).data
        students = data.get("students")
        roster = None
        if isinstance(students, list):  # else the roster is unknown
            roster = tuple(
                RosterEntry(str(entry["rollno"]), _text(entry.get("name")))
                for entry in students
                if isinstance(entry, dict) and isinstance(entry.get("rollno"), str | int)
            )
        return CourseDetail(course_id, _text(data.get("courseName")), roster)

    def teacher_courses(self, *, email: str) -> frozenset[str]:
        """Return the course ids the Analyzer lists for teacher ``email`` (``GET
        /staff/dashboard``); a course restored from the archive is listed only for the teacher
        who restored it.

        Raises ``SyncRejectedError`` (teacher_not_found) when it knows no such teacher, or
        another ``SyncError`` subclass.
        """
        context = {"teacher_email": email}
        answer = self._send("GET", DASHBOARD_PATH, params={"email": email}, context=context)
        data = self._result(answer).data
        courses = data.get("courses")
        return frozenset(
            _text(course.get("courseId"))
            for course in (courses if isinstance(courses, list) else [])
            if isinstance(course, dict) and _text(course.get("courseId"))
        )

    def bulk_extra_seconds(self, items: int) -> float:
        """How much longer than a single request a bulk request of ``items`` may take."""
        return items * self.bulk_seconds_per_item

    # --- sending -----------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        context: dict[str, Any],
        extra_seconds: float = 0.0,
    ) -> _Answer:
        # Build the full URL ourselves so errors raised before any response name it too.
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        started = time.monotonic()
        deadline = started + self.total_timeout + extra_seconds
        budget_until = _deadline.budget_until()
        budget_ms = None
        if budget_until is not None and budget_until < deadline:
            # Inline: the student's wait, not the resync's timeouts, bounds this request.
            deadline = max(budget_until, started + 0.001)
            budget_ms = round((deadline - started) * 1000)
        total = deadline - started
        connect, read = self.timeout
        with _deadline._watchdog.guard(deadline) as guard:
            try:
                response = self._request(
                    method,
                    url,
                    json_body=json_body,
                    timeout=(min(connect, total), min(read + extra_seconds, total)),
                )
                try:
                    self._read_body(response, deadline)
                    if guard.fired:
                        # Cut off mid-headers, an answer can look whole (headers end at EOF).
                        raise _DeadlinePassed
                    text = response.text
                finally:
                    # A body read to its end is back in the pool; one cut short is closed.
                    response.close()
            except _BodyTooLarge as err:
                duration_ms = self._log(method, url, Reason.RESPONSE_TOO_LARGE, started)
                raise SyncTemporaryError(
                    f"The Analyzer's answer is too large ({err}; at most {self.max_response_bytes}"
                    " are read, see ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES)",
                    reason=Reason.RESPONSE_TOO_LARGE,
                    status_code=response.status_code,
                    url=self._scrub(url),
                    duration_ms=duration_ms,
                    context=context,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                ) from None
            except (requests.RequestException, Urllib3Error, OSError, _DeadlinePassed) as err:
                cut_off = guard.fired or time.monotonic() >= deadline
                raise self._network_error(
                    err, cut_off, method, url, started, context, budget_ms
                ) from err
        duration_ms = self._log(method, url, response.status_code, started)
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
            context=context,
        )

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None,
        timeout: tuple[float, float],
    ) -> requests.Response:
        """Send one request on the session's adapter, as ``Session.request`` would with
        ``allow_redirects=False, stream=True``: a redirect means ACADEMIC_ANALYZER_URL is not
        the API's address, and the body is read by ``_read_body``. Skipping the session's
        merging, cookies and hooks saves a fifth of the client's own time (profiled)."""
        prepared = requests.Request(
            method, url, headers=self._session.headers, json=json_body
        ).prepare()
        return self._adapter.send(
            prepared,
            stream=True,
            timeout=timeout,
            # Session.verify is True unless set (nothing here sets it); Session.send hands
            # it over the same way, None included.
            verify=self._session.verify,  # type: ignore[arg-type]
            cert=self._session.cert,
            proxies=self._session.proxies,
        )

    def _read_body(self, response: requests.Response, deadline: float) -> None:
        """Read the body into ``response`` (as requests would), within the deadline and cap.

        Raises ``_BodyTooLarge`` past ``max_response_bytes`` (or when Content-Length says
        so), ``_DeadlinePassed`` when time runs out between reads. A read that blocks past
        the deadline is cut off by the watchdog and raises from urllib3.
        """
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge(f"{int(declared)} bytes")
        body = bytearray()
        raw = response.raw
        while True:
            # read1: whatever one socket read brings, so a trickle is checked between bytes.
            chunk = raw.read1(min(_READ_CHUNK, limit + 1 - len(body)), decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                raise _BodyTooLarge(f"more than {limit} bytes")
            if time.monotonic() >= deadline:
                raise _DeadlinePassed
        response._content = bytes(body)
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, not in its stubs

    # --- reading the answer ------------------------------------------------------------

    def _result(self, answer: _Answer) -> AnalyzerResult:
        """Return the result of a successful answer; raise the matching ``SyncError``."""
        status = answer.status_code
        if 200 <= status < 300:
            if answer.is_json and answer.data.get("success") is True:
                return AnalyzerResult(status, answer.duration_ms, answer.data)
            if answer.is_json and answer.data.get("success") is False:
                message = _message_of(answer.data)
                raise self._error(
                    SyncTemporaryError,
                    Reason.NOT_STORED,
                    answer,
                    message="The Analyzer answered but stored nothing"
                    + (f": {message}" if message else ""),
                )
            if answer.data is not None or answer.json_error or not answer.text.strip():
                # Broken JSON, JSON of another shape, or nothing at all: most likely a reply
                # cut short, and worth another try.
                raise self._error(SyncTemporaryError, Reason.BAD_RESPONSE, answer)
            raise self._error(
                SyncConfigurationError,
                Reason.NOT_THE_ANALYZER,
                answer,
                message="The Analyzer URL answered with a page, not the Analyzer API "
                f"({answer.content_type or 'no content type'})",
            )
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
            raise self._error(SyncConfigurationError, reason, answer, message=message)
        if status in _TEMPORARY_STATUSES:
            raise self._error(SyncTemporaryError, _TEMPORARY_STATUSES[status], answer)
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
            raise self._error(SyncTemporaryError, Reason.SERVER_ERROR, answer, message=message)
        if 400 <= status < 500 and answer.is_json:
            raise self._error(
                SyncRejectedError,
                _rejection_reason(answer.data) or Reason.REJECTED_OTHER,
                answer,
                message="The Analyzer refused the request: "
                + (_message_of(answer.data) or "no message"),
            )
        if 300 <= status < 400:
            raise self._error(
                SyncConfigurationError,
                Reason.NOT_THE_ANALYZER,
                answer,
                message="The Analyzer URL redirects elsewhere "
                f"({answer.location or 'no Location'}); set ACADEMIC_ANALYZER_URL to the "
                "final address",
            )
        # Any other non-JSON 4xx (an Express "Cannot POST" page, a proxy's page) or an
        # odd status: something other than the Analyzer API is answering.
        raise self._error(
            SyncConfigurationError,
            Reason.NOT_THE_ANALYZER,
            answer,
            message="Something other than the Analyzer API answered",
        )

    def _item_results(
        self, answer: _Answer, results: Any, rolls: Sequence[str]
    ) -> tuple[MarkItemResult, ...]:
        """One result per roll number sent, read from ``results`` by position (the items'
        ``email`` is the student's email or what was sent, so it cannot be matched on)."""
        if not (
            isinstance(results, list)
            and len(results) == len(rolls)
            and all(
                isinstance(r, dict) and r.get("status") in ("success", "failed") for r in results
            )
        ):
            count = len(results) if isinstance(results, list) else "no"
            raise self._error(
                SyncTemporaryError,
                Reason.BAD_RESPONSE,
                answer,
                message=f"The Analyzer's bulk answer has {count} readable results for "
                f"{len(rolls)} marks",
            )
        items = []
        for roll, item in zip(rolls, results, strict=True):
            error = None
            if item["status"] == "failed":
                reason = _rejection_reason(item)
                error = self._error(
                    SyncRejectedError,
                    reason if reason in _ITEM_REASONS else Reason.REJECTED_OTHER,
                    answer,
                    message="The Analyzer refused the mark: " + (_message_of(item) or "no message"),
                    context={**answer.context, "student_id": roll},
                    body=json.dumps(item),
                )
            items.append(MarkItemResult(roll, error))
        return tuple(items)

    # --- errors, scrubbing and logging -------------------------------------------------

    def _error(
        self,
        cls: type[_E],
        reason: str,
        answer: _Answer,
        *,
        message: str | None = None,
        context: dict[str, Any] | None = None,
        body: str | None = None,
    ) -> _E:
        # The single place an exception is built from an answer: everything that came
        # from the other side is scrubbed here, before it is truncated.
        kwargs: dict[str, Any] = {}
        if issubclass(cls, SyncTemporaryError):
            kwargs["retry_after"] = answer.retry_after
        return cls(
            self._scrub(message) if message else None,
            reason=reason,
            status_code=answer.status_code,
            url=self._scrub(answer.url),
            body=self._scrub(answer.text if body is None else body),
            duration_ms=answer.duration_ms,
            context=answer.context if context is None else context,
            **kwargs,
        )

    def _network_error(
        self,
        err: Exception,
        cut_off: bool,
        method: str,
        url: str,
        started: float,
        context: dict[str, Any],
        budget_ms: int | None,
    ) -> SyncTemporaryError:
        # A request cut off at its deadline is a timeout (docs/decisions/0014).
        timed_out = isinstance(err, requests.Timeout | Urllib3Timeout | TimeoutError)
        if budget_ms is not None and (cut_off or timed_out):
            what = (
                f"did not answer within the inline budget of {budget_ms} ms "
                "(ACADEMIC_ANALYZER_INLINE_BUDGET_*)"
            )
        elif cut_off:
            what = (
                f"did not finish answering within {self.total_timeout:g} s "
                "(ACADEMIC_ANALYZER_TOTAL_TIMEOUT)"
            )
        elif timed_out:
            what = f"did not answer in time ({type(err).__name__})"
        else:  # ConnectionError (refused, reset, DNS, TLS) and bodies cut off mid-way
            what = f"could not be reached ({type(err).__name__})"
        reason = Reason.TIMEOUT if cut_off or timed_out else Reason.CONNECTION_ERROR
        duration_ms = self._log(method, url, "deadline" if cut_off else reason, started)
        return SyncTemporaryError(
            self._scrub(f"The Analyzer {what}"),
            reason=reason,
            url=self._scrub(url),
            duration_ms=duration_ms,
            context=context,
        )

    def _scrub(self, text: str) -> str:
        """Return ``text`` with the token and any password in the base URL removed (see
        ``_secrets_finder``): an Analyzer or proxy may echo them truncated or lower-cased."""
        if not text or self._secrets is None:
            return text or ""
        masked = bytearray(len(text))
        for match in self._secrets.finditer(text):
            start, end = match.span(1)
            masked[start:end] = b"\x01" * (end - start)
        if not any(masked):
            return text
        out, start = [], 0
        for run in re.finditer(rb"\x01+", bytes(masked)):
            out += [text[start : run.start()], _SCRUBBED]
            start = run.end()
        out.append(text[start:])
        return "".join(out)

    @property
    def display_url(self) -> str:
        """The base URL safe to show or log: no credentials, query or fragment."""
        return masked_url(self.base_url)

    def _log(self, method: str, url: str, status: int | str, started: float) -> int:
        duration_ms = round((time.monotonic() - started) * 1000)
        logger.debug("Analyzer %s %s -> %s in %sms", method, self._scrub(url), status, duration_ms)
        return duration_ms


def tutorial_marks_path(tutorial_number: int) -> str:
    """The bulk route of one tutorial: ``/staff/add-tut1-mark`` … ``add-tut4-mark``."""
    return f"/staff/add-tut{_tutorial(tutorial_number)}-mark"


def _tutorial(tutorial_number: int) -> int:
    if tutorial_number not in TUTORIAL_NUMBERS:
        raise ValueError(f"tutorial_number must be 1-4, got {tutorial_number!r}")
    return tutorial_number


def _json_number(value: Decimal) -> int | float:
    """``value`` checked (0-10, else ``ValueError``) as a JSON number: whole marks go as ints
    (10), others as the float whose shortest repr is the same digits (3.33)."""
    value = value if isinstance(value, Decimal) else Decimal(str(value))
    if not value.is_finite() or not 0 <= value <= MAX_MARK:
        raise ValueError(f"mark must be a number from 0 to 10, got {value!r}")
    return int(value) if value == value.to_integral_value() else float(value)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds, or None.

    Accepts delta-seconds and HTTP-dates; a date in the past gives 0. Garbage gives None.
    """
    value = (value or "").strip()
    if not value:
        return None
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


def _secrets_finder(*secrets: str | None) -> re.Pattern[str] | None:
    """A pattern finding, case aside, every piece of ``secrets`` (raw, URL-quoted or
    slash-escaped) at least SCRUB_FRAGMENT long, or a whole shorter secret; None for none."""
    pieces = set()
    for secret in filter(None, secrets):
        for variant in {secret, quote(secret, safe=""), quote(secret), secret.replace("/", "\\/")}:
            size = min(SCRUB_FRAGMENT, len(variant))
            pieces |= {variant[i : i + size] for i in range(len(variant) - size + 1)}
    if not pieces:
        return None
    # A lookahead finds every start, overlapping ones included, so no tail of a match is left.
    alternatives = "|".join(map(re.escape, sorted(pieces, key=len, reverse=True)))
    return re.compile(f"(?=({alternatives}))", re.IGNORECASE)


def masked_url(url: str) -> str:
    """``url`` without user:password, query or fragment, which may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"••••@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _setting(name: str, default: float) -> float:
    """A number from the settings; unset, None or 0 means ``default``."""
    return float(getattr(settings, name, None) or 0) or default


def total_timeout_s() -> float:
    """The whole request's deadline; by default connect + read, which the leases on marks are
    sized from."""
    connect = _setting("ACADEMIC_ANALYZER_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)
    read = _setting("ACADEMIC_ANALYZER_READ_TIMEOUT", DEFAULT_READ_TIMEOUT)
    return _setting("ACADEMIC_ANALYZER_TOTAL_TIMEOUT", connect + read)


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""


# --- per-process singleton -----------------------------------------------------------------

_client: AnalyzerClient | None = None
_client_lock = threading.Lock()


def get_client() -> AnalyzerClient:
    """Return this process's shared client, creating it on first use.

    Raises ``AnalyzerConfigError`` when the settings are missing or invalid.
    """
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                _client = AnalyzerClient()
            client = _client
    return client


def reset_client() -> None:
    """Forget the shared client and close its session; the next use builds a new one."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()


def is_configured() -> bool:
    """True when ``ACADEMIC_ANALYZER_URL`` is set, i.e. sync is enabled."""
    return bool(getattr(settings, "ACADEMIC_ANALYZER_URL", None))


@receiver(setting_changed)
def _reset_on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    # override_settings must not keep talking to the old URL with the old token.
    if setting.startswith("ACADEMIC_ANALYZER_"):
        reset_client()


def _forget_client_in_child() -> None:
    # A forked worker must not share the parent's sockets (or a lock held mid-fork);
    # drop them without closing, which would also shut the parent's TLS streams.
    global _client, _client_lock
    _client = None
    _client_lock = threading.Lock()
    # Its thread did not survive the fork; its lock may be held.
    _deadline._watchdog = _deadline._Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_client_in_child)
