"""``AnalyzerClient``: one configured session, the four calls, and the per-process singleton."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from academic_integration.exceptions import Reason

from ..exceptions import AnalyzerConfigError, SyncRejectedError
from . import deadline as _deadline
from .answers import (
    AnalyzerResult,
    CourseDetail,
    RosterEntry,
    TeacherCourses,
    TutorialMarksResult,
    _Answer,
    _AnswerMapping,
    _elapsed_ms,
)
from .deadline import _BodyTooLarge, _DeadlineAdapter, _DeadlinePassed
from .request import (
    COURSE_DETAIL_PATH,
    DASHBOARD_PATH,
    UPDATE_MARKS_PATH,
    marks_payload,
    tutorial_marks_path,
    tutorial_marks_payload,
)

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

_SCRUBBED = "[token scrubbed]"
#: The shortest piece of a secret that is scrubbed wherever it appears (a shorter secret is
#: scrubbed whole): long enough that ordinary text does not match a random token by chance.
SCRUB_FRAGMENT = 8


def scrub_fragments(text: str, secrets: set[str]) -> str:
    """``text`` with every run of characters that is, case aside, a piece of one of
    ``secrets`` at least SCRUB_FRAGMENT long (or a whole shorter secret) replaced."""
    pieces = set()
    for secret in filter(None, secrets):
        size = min(SCRUB_FRAGMENT, len(secret))
        pieces |= {secret[i : i + size] for i in range(len(secret) - size + 1)}
    if not pieces or not text:
        return text
    # A lookahead finds every start, overlapping ones included, so no tail of a match is left.
    finder = re.compile(
        "(?=(" + "|".join(map(re.escape, sorted(pieces, key=len, reverse=True))) + "))",
        re.IGNORECASE,
    )
    masked = bytearray(len(text))
    for match in finder.finditer(text):
        masked[match.start() : match.start() + len(match.group(1))] = b"\x01" * len(match.group(1))
    if not any(masked):
        return text
    out, start = [], 0
    for run in re.finditer(rb"\x01+", bytes(masked)):
        out += [text[start : run.start()], _SCRUBBED]
        start = run.end()
    out.append(text[start:])
    return "".join(out)


# Characters that would make requests reject the header and echo its value in the error.
_BAD_TOKEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


class AnalyzerClient(_AnswerMapping):
    """Client for one Analyzer deployment, configured from Django settings.

    Raises ``AnalyzerConfigError`` when ``ACADEMIC_ANALYZER_URL`` is unset or not an
    http(s) URL, or when ``ACADEMIC_ANALYZER_TOKEN`` could not be sent as a header.
    """

    def __init__(self) -> None:
        self.base_url = self._base_url_from_settings()
        self._token = self._token_from_settings()
        self.timeout = (
            _setting("ACADEMIC_ANALYZER_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT),
            _setting("ACADEMIC_ANALYZER_READ_TIMEOUT", DEFAULT_READ_TIMEOUT),
        )
        # The whole request, answer included; by default the connect and read timeouts added,
        # which is also what the leases on marks are sized from (a system check keeps it so).
        self.total_timeout = _setting("ACADEMIC_ANALYZER_TOTAL_TIMEOUT", sum(self.timeout))
        # A bulk request's answer comes after the Analyzer has stored every item: upstream looks
        # each one up in turn (~35-80 a second measured here), so each item adds to its time.
        self.bulk_seconds_per_item = _setting(
            "ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM", DEFAULT_BULK_SECONDS_PER_ITEM
        )
        self.max_response_bytes = int(
            _setting("ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
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
        # Proxy settings from the environment (HTTP_PROXY, NO_PROXY …) still apply, read
        # once here: requests would otherwise rescan os.environ on every request (~0.2 ms of
        # CPU each, measurable in resync throughput). netrc is not used: the token is ours.
        session.proxies = requests.utils.get_environ_proxies(self.base_url)
        session.trust_env = False
        return session

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
        payload = marks_payload(
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

    def tutorial_marks_bulk(
        self,
        *,
        course_id: str,
        teacher_email: str,
        tutorial_number: int,
        items: Sequence[tuple[str, Decimal]],
    ) -> TutorialMarksResult:
        """Set tutorial ``tutorial_number`` in ``course_id`` for many students in one request
        (``POST /staff/add-tutN-mark``); ``items`` are (roll number, value) pairs.

        Returns one ``MarkItemResult`` per item, in order: the Analyzer answers 200 even when
        every item failed. Raises ``ValueError`` as ``update_student_marks`` does (and for no
        items or a repeated roll number), without a request; ``SyncRouteMissingError`` when
        the deployment has no such route (Express's HTML 404); ``SyncRejectedError``
        (teacher_not_found) for upstream's 404 "Teacher or Course not found", which cannot
        tell the two apart: a caller that has not just checked the course should ask
        ``course_detail``; else the usual ``SyncError`` subclass for the whole request, with
        ``SyncTemporaryError`` (bad_response) for results of the wrong length or shape.
        """
        payload = tutorial_marks_payload(
            course_id=course_id,
            teacher_email=teacher_email,
            tutorial_number=tutorial_number,
            items=items,
        )
        context = {
            "course_id": course_id,
            "teacher_email": teacher_email,
            "tutorial_number": tutorial_number,
        }
        answer = self._send(
            "POST",
            tutorial_marks_path(tutorial_number),
            json_body=payload,
            context=context,
            extra_seconds=self.bulk_extra_seconds(len(items)),
        )
        missing = self._route_missing(answer, context)
        if missing is not None:
            raise missing
        result = self._result(answer, context=context)
        return TutorialMarksResult(
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            url=result.url,
            items=self._item_results(
                answer, result, rolls=[roll for roll, _ in items], context=context
            ),
        )

    def course_detail(self, *, course_id: str) -> CourseDetail:
        """Return the Analyzer's view of ``course_id``: its name and roster.

        Upstream answers ``{"success": true, "courseName", "students": [{rollno, name,
        email}]}`` (``getCourseRoster``); a success is a course that exists, whatever fields it
        lacks. Raises ``SyncRejectedError`` (course_not_found) for an unknown or archived
        course, or another ``SyncError`` subclass.
        """
        context = {"course_id": course_id}
        answer = self._send(
            "GET", COURSE_DETAIL_PATH, params={"courseId": course_id}, context=context
        )
        if answer.status_code == 404 and answer.is_json:
            raise self._error(SyncRejectedError, Reason.COURSE_NOT_FOUND, answer, context=context)
        data = self._result(answer, context=context).data
        return CourseDetail(
            course_id=course_id,
            name=_text(data.get("courseName")),
            students=_roster(data.get("students")),
        )

    def teacher_courses(self, *, email: str) -> TeacherCourses:
        """Return the courses the Analyzer lists for teacher ``email`` (``GET /staff/dashboard``).

        Raises ``SyncRejectedError`` (teacher_not_found) when it knows no such teacher, or
        another ``SyncError`` subclass.
        """
        context = {"teacher_email": email}
        answer = self._send("GET", DASHBOARD_PATH, params={"email": email}, context=context)
        data = self._result(answer, context=context).data
        courses = data.get("courses")
        course_ids = frozenset(
            _text(course.get("courseId"))
            for course in (courses if isinstance(courses, list) else [])
            if isinstance(course, dict) and _text(course.get("courseId"))
        )
        return TeacherCourses(email=email, name=_text(data.get("name")), course_ids=course_ids)

    # --- steps (building the payload: request.py; reading the answer: answers.py) --------

    def bulk_extra_seconds(self, items: int) -> float:
        """How much longer than a single request a bulk request of ``items`` may take."""
        return items * self.bulk_seconds_per_item

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
        # extra_seconds: the answer of a request that asks for more work comes later (bulk).
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
                # No redirects: a redirect means ACADEMIC_ANALYZER_URL is not the API's real
                # address, and following one would turn the POST into a GET. stream=True: the
                # body is read here, against the deadline and the size cap.
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
                    # A body read to its end already went back to the pool (reused); one cut
                    # short is closed here, never returned half-read.
                    response.close()
            except _BodyTooLarge as err:
                duration_ms = self._log(method, url, Reason.RESPONSE_TOO_LARGE, started)
                raise self._too_large(err, response, url, duration_ms, context) from None
            except (requests.RequestException, Urllib3Error, OSError, _DeadlinePassed) as err:
                if guard.fired or time.monotonic() >= deadline:
                    reason = "deadline"
                elif isinstance(err, requests.Timeout | Urllib3Timeout | TimeoutError):
                    reason = Reason.TIMEOUT
                else:  # ConnectionError (refused, reset, DNS, TLS) and bodies cut off mid-way
                    reason = Reason.CONNECTION_ERROR
                self._log(method, url, reason, started)
                raise self._network_error(
                    reason, url, started, context, err, budget_ms=budget_ms
                ) from err
        duration_ms = self._log(method, url, response.status_code, started)
        return self._answer(response, url=url, text=text, duration_ms=duration_ms)

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None,
        timeout: tuple[float, float],
    ) -> requests.Response:
        """Send one request on the session's adapter (its pool), as ``Session.request``
        would with ``allow_redirects=False, stream=True``, minus what this client never uses:
        merging per-request settings, cookies kept between calls, hooks, redirects. That
        machinery cost a fifth of the client's own time per request (profiled)."""
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
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, not in its stubs

    # --- scrubbing and logging -----------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Return ``text`` with the token and any password in the base URL removed: raw,
        URL-quoted or slash-escaped, whole or any fragment of ``SCRUB_FRAGMENT`` characters,
        in any case (an Analyzer or proxy may echo it truncated or lower-cased)."""
        if not text:
            return ""
        variants = set()
        for secret in (self._token, urlsplit(self.base_url).password):
            if secret:
                variants |= {secret, quote(secret, safe=""), quote(secret)}
                variants.add(secret.replace("/", "\\/"))
        return scrub_fragments(text, variants)

    @property
    def display_url(self) -> str:
        """The base URL safe to show or log: no credentials, query or fragment."""
        return masked_url(self.base_url)

    def _log(self, method: str, url: str, status: int | str, started: float) -> int:
        duration_ms = _elapsed_ms(started)
        logger.debug("Analyzer %s %s -> %s in %sms", method, self._scrub(url), status, duration_ms)
        return duration_ms


def _setting(name: str, default: float) -> float:
    """A number from the settings; unset, None or 0 means ``default``."""
    return float(getattr(settings, name, None) or 0) or default


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) else ""


def _roster(students: Any) -> tuple[RosterEntry, ...] | None:
    """course-detail's ``students``; None when absent or not a list (roster unknown)."""
    if not isinstance(students, list):
        return None
    return tuple(
        RosterEntry(
            roll_no=str(entry["rollno"]),
            name=_text(entry.get("name")),
            email=_text(entry.get("email")),
        )
        for entry in students
        if isinstance(entry, dict) and isinstance(entry.get("rollno"), str | int)
    )


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
    global _client, _client_lock
    _client = None
    _client_lock = threading.Lock()
    # Its thread did not survive the fork; its lock may be held.
    _deadline._watchdog = _deadline._Watchdog()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_client_in_child)
