"""HTTP client for the Academic Analyzer API (marks push, course detail, email check).

The only module in the project that imports ``requests``. One ``AnalyzerClient`` per
process (``get_client()``) owns one ``requests.Session`` so connections are reused and
worker threads share its pool. Each call is small steps — build payload, send, parse,
raise — and makes exactly one HTTP request: retrying belongs to the caller that
schedules work, never to this module (so no urllib3 retries either).

Every request ends within ``ACADEMIC_ANALYZER_TOTAL_TIMEOUT`` however the answer arrives
(requests' own timeouts bound each socket read, not the request: an Analyzer sending a byte a
second would hold it for ever), and at most ``ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES`` of a body
are read. See ``_Watchdog`` and ``AnalyzerClient._read_body``.

Every failure is a ``SyncError`` subclass from ``exceptions.py``; a missing or invalid
setting is an ``AnalyzerConfigError``. The token never appears in exception text or logs.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import math
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from academic_integration.reasons import Reason

from .exceptions import (
    REJECTED_REASONS,
    AnalyzerConfigError,
    SyncAuthError,
    SyncError,
    SyncNotAnalyzerError,
    SyncRejectedError,
    SyncTemporaryError,
)

logger = logging.getLogger(__name__)

USER_AGENT = "quizsite-tutorial-sync/1.0 (+quiz site)"
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 5.0
#: The most of an answer's body that is read; more is a temporary "response_too_large".
DEFAULT_MAX_RESPONSE_BYTES = 1 << 20
_READ_CHUNK = 64 * 1024
POOL_MAXSIZE = 32
TUTORIAL_NUMBERS = range(1, 5)
MAX_MARK = Decimal(10)

UPDATE_MARKS_PATH = "/staff/update-student-marks"
COURSE_DETAIL_PATH = "/staff/course-detail"
VERIFY_EMAIL_PATH = "/staff/verify-email"

_SCRUBBED = "[token scrubbed]"
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


@dataclass(frozen=True)
class AnalyzerResult:
    """A successful Analyzer answer: ``data`` is the parsed JSON object."""

    status_code: int
    duration_ms: int
    url: str
    data: dict[str, Any]


@dataclass(frozen=True)
class CourseDetail:
    """A course as the Analyzer knows it; ``instructor_email`` is None without instructor."""

    course_id: str
    name: str
    instructor_email: str | None


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


def _json_number(value: Decimal) -> int | float:
    # json cannot encode Decimal; whole marks go as ints (10), others as the float whose
    # shortest repr is the same digits (3.33), so the Analyzer receives a number.
    return int(value) if value == value.to_integral_value() else float(value)


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


# --- the deadline of each request ------------------------------------------------------------


class _Guard:
    """One request's deadline, and the pooled connection it is using meanwhile."""

    __slots__ = ("conn", "deadline", "done", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.conn: HTTPConnection | None = None
        self.done = False  # the request ended: the watchdog leaves it alone
        self.fired = False  # the deadline passed first: its socket was shut down


def _shutdown(conn: HTTPConnection) -> None:
    # shutdown(), unlike close(), wakes a read blocked in another thread at once; the base
    # class's method works on the descriptor of a TLS socket too without touching its state.
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Cuts off every request that outlives its deadline, however slowly its answer comes.

    A request registers its deadline (``guard()``); the connection it takes from the pool is
    attached to it (``_DeadlinePool``). One daemon thread per process sleeps until the
    earliest deadline and shuts down the socket of a request still running then, so a read
    blocked on a trickling or endless answer fails at once. A connection is detached, under
    the same lock, before it goes back to the pool: the thread never touches a connection
    another request has taken meanwhile. Requests that end in time cost a heap push and two
    lock round trips; the thread wakes about once per deadline period, not per request.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def guard(self, deadline: float):
        guard = _Guard(deadline)
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._seq), guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="analyzer-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is guard:
                self._cond.notify()  # earlier than what the thread sleeps towards
        self._local.guard = guard
        try:
            yield guard
        finally:
            self._local.guard = None
            with self._cond:
                guard.done = True
                guard.conn = None

    def attach(self, conn: HTTPConnection) -> None:
        """``conn`` now carries this thread's guarded request."""
        guard = getattr(self._local, "guard", None)
        if guard is None:
            return
        with self._cond:
            if not guard.done:
                guard.conn = conn
                if guard.fired:
                    _shutdown(conn)

    def connected(self, conn: HTTPConnection) -> None:
        """``conn`` has just opened its socket (the deadline may have passed meanwhile)."""
        guard = getattr(self._local, "guard", None)
        if guard is None:
            return
        with self._cond:
            if guard.conn is conn and guard.fired:
                _shutdown(conn)

    def detach(self, conn: HTTPConnection) -> bool:
        """``conn`` goes back to the pool; True when the deadline cut it off."""
        guard = getattr(self._local, "guard", None)
        if guard is None:
            return False
        with self._cond:
            if guard.conn is not conn:
                return False
            guard.conn = None
            return guard.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    guard = heapq.heappop(self._heap)[2]
                    if not guard.done:
                        guard.fired = True
                        if guard.conn is not None:
                            _shutdown(guard.conn)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()


class _DeadlineConnectionMixin:
    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watchdog.connected(self)  # type: ignore[arg-type]


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlinePoolMixin:
    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        _watchdog.attach(conn)
        return conn

    def _put_conn(self, conn: HTTPConnection | None) -> None:
        if conn is not None and _watchdog.detach(conn):
            conn.close()  # cut off mid-answer: never reused
        super()._put_conn(conn)  # type: ignore[misc]


class _DeadlineHTTPPool(_DeadlinePoolMixin, HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(_DeadlinePoolMixin, HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """An adapter whose pools attach their connections to the request's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)
        return manager


class _BodyTooLarge(Exception):
    def __init__(self, size: int, declared: bool) -> None:
        super().__init__(size)
        self.size = size
        self.declared = declared


class _DeadlinePassed(Exception):
    pass


class AnalyzerClient:
    """Client for one Analyzer deployment, configured from Django settings.

    Raises ``AnalyzerConfigError`` when ``ACADEMIC_ANALYZER_URL`` is unset or not an
    http(s) URL, or when ``ACADEMIC_ANALYZER_TOKEN`` could not be sent as a header.
    """

    def __init__(self) -> None:
        self.base_url = self._base_url_from_settings()
        self._token = self._token_from_settings()
        self.timeout = (
            float(getattr(settings, "ACADEMIC_ANALYZER_CONNECT_TIMEOUT", None) or 0)
            or DEFAULT_CONNECT_TIMEOUT,
            float(getattr(settings, "ACADEMIC_ANALYZER_READ_TIMEOUT", None) or 0)
            or DEFAULT_READ_TIMEOUT,
        )
        # The whole request, answer included; by default the connect and read timeouts added,
        # which is also what the leases on marks are sized from (a system check keeps it so).
        self.total_timeout = float(
            getattr(settings, "ACADEMIC_ANALYZER_TOTAL_TIMEOUT", None) or 0
        ) or sum(self.timeout)
        self.max_response_bytes = (
            int(getattr(settings, "ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES", None) or 0)
            or DEFAULT_MAX_RESPONSE_BYTES
        )
        self._session = self._build_session()

    # --- configuration -------------------------------------------------------------

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
            # HTTP headers carry ASCII only: requests would fail on every call otherwise.
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
        # Proxy settings from the environment (HTTP_PROXY, NO_PROXY …) still apply, read
        # once here: requests would otherwise rescan os.environ on every request (~0.2 ms of
        # CPU each, measurable in resync throughput). netrc is not used: the token is ours.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.trust_env = False
        return session

    @property
    def has_token(self) -> bool:
        """True when a token is configured (the token itself is never exposed)."""
        return self._token is not None

    def close(self) -> None:
        """Close the session and its pooled connections."""
        self._session.close()

    def __repr__(self) -> str:
        return f"<AnalyzerClient {self.base_url} token={'set' if self._token else 'unset'}>"

    # --- public API ------------------------------------------------------------------

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
        payload = self._marks_payload(
            student_id=student_id,
            course_id=course_id,
            teacher_email=teacher_email,
            tutorial_number=tutorial_number,
            value=value,
        )
        context = {
            "student_id": student_id,
            "course_id": course_id,
            "teacher_email": teacher_email,
            "tutorial_number": tutorial_number,
        }
        answer = self._send("POST", UPDATE_MARKS_PATH, json_body=payload, context=context)
        return self._result(answer, context=context)

    def course_detail(self, *, course_id: str) -> CourseDetail:
        """Return the Analyzer's view of ``course_id``.

        Raises ``SyncRejectedError`` (course_not_found) for an unknown or deleted course,
        or another ``SyncError`` subclass.
        """
        context = {"course_id": course_id}
        answer = self._send(
            "GET", COURSE_DETAIL_PATH, params={"courseId": course_id}, context=context
        )
        if answer.status_code == 404 and answer.is_json:
            raise self._error(SyncRejectedError, Reason.COURSE_NOT_FOUND, answer, context=context)
        course = self._result(answer, context=context).data.get("course")
        if not isinstance(course, dict):
            raise self._error(
                SyncTemporaryError,
                Reason.BAD_RESPONSE,
                answer,
                message="The Analyzer's course detail has no course object",
                context=context,
            )
        instructor = course.get("instructor")
        email = instructor.get("email") if isinstance(instructor, dict) else None
        return CourseDetail(
            course_id=str(course.get("courseId") or course_id),
            name=str(course.get("courseName") or ""),
            instructor_email=(str(email).strip() or None) if email else None,
        )

    def verify_email(self, *, email: str) -> bool | None:
        """Return whether the Analyzer knows a teacher with ``email``.

        Returns None when the deployment predates the route (an HTML 404); raises a
        ``SyncError`` subclass for any other failure.
        """
        answer = self._send("GET", VERIFY_EMAIL_PATH, params={"email": email}, context={})
        if answer.status_code == 404 and not answer.is_json:
            return None
        data = self._result(answer, context={}).data
        if not isinstance(data.get("exists"), bool):
            raise self._error(
                SyncTemporaryError,
                Reason.BAD_RESPONSE,
                answer,
                message="The Analyzer's verify-email answer has no 'exists' flag",
            )
        return data["exists"]

    # --- steps -------------------------------------------------------------------------

    @staticmethod
    def _marks_payload(
        *,
        student_id: str,
        course_id: str,
        teacher_email: str,
        tutorial_number: int,
        value: Decimal,
    ) -> dict[str, Any]:
        if tutorial_number not in TUTORIAL_NUMBERS:
            raise ValueError(f"tutorial_number must be 1-4, got {tutorial_number!r}")
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        if not value.is_finite() or not 0 <= value <= MAX_MARK:
            raise ValueError(f"mark must be a number from 0 to 10, got {value!r}")
        return {
            "studentId": student_id,
            "courseId": course_id,
            "teacherEmail": teacher_email,
            "marks": {f"tutorial{tutorial_number}": _json_number(value)},
        }

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
        context: dict[str, Any],
    ) -> _Answer:
        # Build the full URL ourselves so errors raised before any response name it too.
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        started = time.monotonic()
        deadline = started + self.total_timeout
        connect, read = self.timeout
        with _watchdog.guard(deadline) as guard:
            try:
                # No redirects: a redirect means ACADEMIC_ANALYZER_URL is not the API's real
                # address, and following one would turn the POST into a GET. stream=True: the
                # body is read here, against the deadline and the size cap.
                response = self._session.request(
                    method,
                    url,
                    json=json_body,
                    timeout=(min(connect, self.total_timeout), min(read, self.total_timeout)),
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    self._read_body(response, deadline)
                    if guard.fired:
                        # Cut off mid-headers, an answer can look whole (headers end at EOF).
                        raise _DeadlinePassed
                    text = response.text
                finally:
                    # A body read to its end already went back to the pool (reused); one cut
                    # short is closed here, never returned half-read.
                    response.close()
            except _BodyTooLarge as err:
                duration_ms = self._log(method, url, Reason.RESPONSE_TOO_LARGE, started)
                raise self._too_large(err, response, url, duration_ms, context) from None
            except (requests.RequestException, Urllib3Error, OSError, _DeadlinePassed) as err:
                if guard.fired or time.monotonic() >= deadline:
                    self._log(method, url, "deadline", started)
                    raise self._network_error("deadline", url, started, context, err) from err
                if isinstance(err, requests.Timeout | Urllib3Timeout | TimeoutError):
                    self._log(method, url, Reason.TIMEOUT, started)
                    raise self._network_error(Reason.TIMEOUT, url, started, context, err) from err
                # ConnectionError (refused, reset, DNS, TLS) and bodies cut off mid-way.
                self._log(method, url, Reason.CONNECTION_ERROR, started)
                raise self._network_error(
                    Reason.CONNECTION_ERROR, url, started, context, err
                ) from err
        duration_ms = self._log(method, url, response.status_code, started)
        return self._answer(response, url=url, text=text, duration_ms=duration_ms)

    def _read_body(self, response: requests.Response, deadline: float) -> None:
        """Read the body into ``response`` (as requests would), within the deadline and cap.

        Raises ``_BodyTooLarge`` past ``max_response_bytes`` (or when Content-Length says
        so), ``_DeadlinePassed`` when time runs out between reads. A read that blocks past
        the deadline is cut off by the watchdog and raises from urllib3.
        """
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge(int(declared), declared=True)
        body = bytearray()
        raw = response.raw
        while True:
            # read1: whatever one socket read brings, so a trickle is checked between bytes.
            chunk = raw.read1(min(_READ_CHUNK, limit + 1 - len(body)), decode_content=True)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
                raise _BodyTooLarge(len(body), declared=False)
            if time.monotonic() >= deadline:
                raise _DeadlinePassed
        response._content = bytes(body)
        response._content_consumed = True

    @staticmethod
    def _answer(response: requests.Response, *, url: str, text: str, duration_ms: int):
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
            if not self._token:
                return self._error(
                    SyncAuthError,
                    Reason.TOKEN_MISSING,
                    answer,
                    message="The Analyzer requires a token but no token is configured "
                    "(set ACADEMIC_ANALYZER_TOKEN)",
                    context=context,
                )
            return self._error(
                SyncAuthError,
                Reason.TOKEN_REJECTED,
                answer,
                message="The Analyzer rejected the configured ACADEMIC_ANALYZER_TOKEN",
                context=context,
            )
        if status == 429:
            return self._error(SyncTemporaryError, Reason.RATE_LIMITED, answer, context=context)
        if status == 408:
            return self._error(SyncTemporaryError, Reason.TIMEOUT, answer, context=context)
        if status in (502, 503, 504):
            return self._error(SyncTemporaryError, Reason.UNAVAILABLE, answer, context=context)
        if status >= 500:
            message = None
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

    # --- errors and logging --------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Return ``text`` with the token and any password in the base URL removed (raw,
        URL-quoted or slash-escaped)."""
        if not text:
            return ""
        variants = set()
        for secret in (self._token, urlsplit(self.base_url).password):
            if secret:
                variants |= {secret, quote(secret, safe=""), quote(secret)}
                variants.add(secret.replace("/", "\\/"))
        # Longest first, so a variant that contains another is not left half-replaced.
        for variant in sorted(variants, key=len, reverse=True):
            text = text.replace(variant, _SCRUBBED)
        return text

    @property
    def display_url(self) -> str:
        """The base URL safe to show or log: no credentials, query or fragment."""
        return masked_url(self.base_url)

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
    ) -> SyncTemporaryError:
        if reason == "deadline":
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

    def _log(self, method: str, url: str, status: int | str, started: float) -> int:
        duration_ms = _elapsed_ms(started)
        logger.debug("Analyzer %s %s -> %s in %sms", method, self._scrub(url), status, duration_ms)
        return duration_ms


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- per-process singleton -----------------------------------------------------------------

_client: AnalyzerClient | None = None
_client_lock = threading.Lock()


def masked_url(url: str) -> str:
    """``url`` without user:password, query or fragment, which may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username or parts.password:
        host = f"••••@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


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
    # override_settings in tests (and anything else changing these at runtime) must not
    # keep talking to the old URL with the old token.
    if setting.startswith("ACADEMIC_ANALYZER_"):
        reset_client()


def _forget_client_in_child() -> None:
    # A forked worker must not share the parent's sockets (or a lock held mid-fork);
    # drop them without closing, which would also shut the parent's TLS streams.
    global _client, _client_lock, _watchdog
    _client = None
    _client_lock = threading.Lock()
    _watchdog = _Watchdog()  # its thread did not survive the fork; its lock may be held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_client_in_child)
