"""An in-memory fake of the Academic Analyzer, served over real HTTP.

Two ThreadingHTTPServers share one `FakeAnalyzer`: the API port speaks the Analyzer's
contract (modern or legacy flavour, rough edges included); the control port lets tests
and the demo seed data, rotate the token, inject faults and read back what was received.
The control port is separate so the API port can really refuse connections. Only state
changes take the lock; latency and fault sleeps never do.
"""

from __future__ import annotations

import contextlib
import copy
import hmac
import html
import json
import logging
import math
import random
import selectors
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

logger = logging.getLogger(__name__)

TUTORIAL_KEYS = ("tutorial1", "tutorial2", "tutorial3", "tutorial4")
# refuse/reset drop the connection; hang never answers; slow answers (and stores) after
# delay_ms; 500/502/503/504/html/broken_json/success_false are canned answers that store
# nothing; trickle stores, sends the real headers, then the body one byte per delay_ms;
# flood stores, then answers 200 JSON of body_bytes, or without end when that is unset.
FAULT_KINDS = (
    "refuse",
    "hang",
    "slow",
    "500",
    "502",
    "503",
    "504",
    "html",
    "broken_json",
    "success_false",
    "reset",
    "trickle",
    "flood",
)
MAX_BODY_BYTES = 1 << 20
RECEIVED_LIMIT = 100_000  # bounds memory during long benchmarks
IDLE_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.05  # how quickly serve_forever notices shutdown()
FLOOD_CHUNK = 64 * 1024
FLOOD_PREFIX = b'{"success": true, "message": "Marks updated successfully", "padding": "'

_UNSET: Any = object()

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"

LEGACY_DELETED_COURSE_TRACE = (
    "TypeError: Cannot read properties of null (reading 'enrolledStudents')\n"
    "    at updateStudentMarks (/app/controllers/staff.js:212:31)\n"
    "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
)
LEGACY_FORBIDDEN_PAGE = (
    "<html>\n<head><title>403 Forbidden</title></head>\n<body>\n"
    "<center><h1>403 Forbidden</h1></center>\n</body>\n</html>\n"
)
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>Sign in - College SSO</title></head>\n<body>\n"
    '<form method="post" action="/sso/login">\n<input name="username">\n'
    '<input name="password" type="password">\n<button>Sign in</button>\n</form>\n'
    "</body>\n</html>\n"
)
PROXY_PAGES = {
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Time-out",
}


class ControlError(Exception):
    """A control request that cannot be honoured; answered with `status` and `message`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message


# --- responses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, json.dumps(payload).encode(), JSON_TYPE, headers)


def html_response(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, text.encode(), HTML_TYPE, headers)


def express_404(method: str, path: str) -> Response:
    """Express's finalhandler page for a route that does not exist."""
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Error</title>\n</head>\n<body>\n"
        f"<pre>Cannot {html.escape(method)} {html.escape(path)}</pre>\n</body>\n</html>\n"
    )
    return html_response(
        404,
        page,
        (("Content-Security-Policy", "default-src 'none'"), ("X-Content-Type-Options", "nosniff")),
    )


def _failure(status: int, message: str) -> Response:
    return json_response(status, {"success": False, "message": message})


# --- seed data ---------------------------------------------------------------------------


@dataclass
class Course:
    course_id: str
    name: str
    instructor: str | None
    students: set[str] = field(default_factory=set)
    deleted: bool = False


@dataclass(frozen=True)
class SeedCourse:
    course_id: str
    name: str
    instructor: str | None
    students: tuple[str, ...]
    no_performance: frozenset[str]


@dataclass(frozen=True)
class Seed:
    teachers: tuple[str, ...] = ()
    students: tuple[str, ...] = ()
    courses: tuple[SeedCourse, ...] = ()


def demo_seed() -> dict[str, Any]:
    """The demo data of `quizzes.demo_data`, in the control API's seed shape."""
    from quizzes import demo_data

    return {
        "teachers": [t["email"] for t in demo_data.TEACHERS],
        "students": [s["username"] for s in demo_data.STUDENTS],
        "courses": copy.deepcopy(demo_data.COURSES),
    }


def _str_list(value: Any, what: str, key: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ControlError(f"{what} must be a list")
    out = []
    for item in value:
        # Accept demo_data-style dicts too, so its lists can be passed straight through.
        if isinstance(item, dict):
            item = item.get(key)
        if not isinstance(item, str) or not item:
            raise ControlError(f"{what} must hold non-empty strings")
        out.append(item)
    return out


def parse_seed(data: Any) -> Seed:
    """Validate a seed document; raise ControlError before anything is applied."""
    if data is None:
        return Seed()
    if not isinstance(data, dict):
        raise ControlError("seed must be an object")
    unknown = set(data) - {"teachers", "students", "courses"}
    if unknown:
        raise ControlError(f"unknown seed keys: {sorted(unknown)}")
    courses = []
    raw_courses = data.get("courses") or []
    if not isinstance(raw_courses, list):
        raise ControlError("seed courses must be a list")
    for raw in raw_courses:
        if not isinstance(raw, dict):
            raise ControlError("each seed course must be an object")
        unknown = set(raw) - {"course_id", "name", "instructor", "students", "no_performance"}
        if unknown:
            raise ControlError(f"unknown seed course keys: {sorted(unknown)}")
        course_id = raw.get("course_id")
        if not isinstance(course_id, str) or not course_id:
            raise ControlError("each seed course needs a non-empty course_id")
        name = raw.get("name", course_id)
        instructor = raw.get("instructor")
        if not isinstance(name, str) or not (instructor is None or isinstance(instructor, str)):
            raise ControlError("course name must be a string and instructor a string or null")
        courses.append(
            SeedCourse(
                course_id=course_id,
                name=name,
                instructor=instructor or None,
                students=tuple(_str_list(raw.get("students"), "course students", "username")),
                no_performance=frozenset(
                    _str_list(raw.get("no_performance"), "no_performance", "username")
                ),
            )
        )
    return Seed(
        teachers=tuple(_str_list(data.get("teachers"), "teachers", "email")),
        students=tuple(_str_list(data.get("students"), "students", "username")),
        courses=tuple(courses),
    )


# --- faults ------------------------------------------------------------------------------


def _number(value: Any, name: str, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"fault {name} must be a number")
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ControlError(f"fault {name} must be {bound}")
    return float(value)


@dataclass
class Fault:
    """One injected failure; see the control API's POST /faults."""

    kind: str
    fraction: float = 1.0
    retry_after: float | None = 1.0
    delay_ms: float = 1000.0
    paths: tuple[str, ...] = ()
    count: int | None = None
    #: "flood" only: the body's size; None sends one without end.
    body_bytes: int | None = None
    fired: int = 0

    FIELDS = frozenset(
        {"kind", "fraction", "retry_after", "delay_ms", "paths", "count", "body_bytes"}
    )

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise ControlError("each fault must be an object")
        unknown = set(data) - cls.FIELDS
        if unknown:
            raise ControlError(f"unknown fault keys: {sorted(unknown)}")
        kind = data.get("kind")
        kind = str(kind) if isinstance(kind, int) and not isinstance(kind, bool) else kind
        if kind not in FAULT_KINDS:
            raise ControlError(f"unknown fault kind {kind!r}; expected one of {list(FAULT_KINDS)}")
        fault = cls(kind=kind)
        fault.fraction = _number(data.get("fraction", 1), "fraction", 0, 1)
        if "retry_after" in data:
            # An explicit null means "send no Retry-After header at all".
            raw = data["retry_after"]
            fault.retry_after = None if raw is None else _number(raw, "retry_after", 0)
        fault.delay_ms = _number(data.get("delay_ms", 1000), "delay_ms", 0, 600_000)
        paths = data.get("paths")
        if paths is not None:
            if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
                raise ControlError("fault paths must be a list of non-empty strings")
            fault.paths = tuple(p.strip("/") for p in paths)
        count = data.get("count")
        if count is not None:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ControlError("fault count must be a non-negative integer")
            fault.count = count
        body_bytes = data.get("body_bytes")
        if body_bytes is not None:
            if (
                isinstance(body_bytes, bool)
                or not isinstance(body_bytes, int)
                or not len(FLOOD_PREFIX) + 2 <= body_bytes <= 1 << 40
            ):
                raise ControlError(
                    f"fault body_bytes must be an integer from {len(FLOOD_PREFIX) + 2} to 2**40"
                )
            fault.body_bytes = body_bytes
        return fault

    def matches(self, path: str) -> bool:
        if not self.paths:
            return True
        normalized = "/" + path.strip("/")
        return any(normalized.endswith("/" + p) for p in self.paths)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    @property
    def refuses_everything(self) -> bool:
        """Whether this fault closes the listening socket instead of resetting connections."""
        return (
            self.kind == "refuse" and self.fraction >= 1 and not self.paths and self.count is None
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fraction": self.fraction,
            "retry_after": self.retry_after,
            "delay_ms": self.delay_ms,
            "paths": list(self.paths) or None,
            "count": self.count,
            "body_bytes": self.body_bytes,
            "fired": self.fired,
        }


# --- state -------------------------------------------------------------------------------


class AnalyzerState:
    """Everything the fake knows; every change happens under `self.lock`."""

    def __init__(
        self,
        *,
        token: str | None = None,
        legacy: bool = False,
        latency_ms: float = 0,
        seed: bool | dict[str, Any] | None = True,
    ):
        self.lock = threading.Lock()
        # reset() returns to these, so a server started with --token/--legacy keeps them.
        self._initial = (token or None, bool(legacy), float(latency_ms))
        self.fault_generation = 0
        self._clear()
        self._apply_seed(self._initial_seed(seed))

    @staticmethod
    def _initial_seed(seed: bool | dict[str, Any] | None) -> Seed:
        if seed is True:
            return parse_seed(demo_seed())
        if not seed:
            return Seed()
        return parse_seed(seed)

    def _clear(self) -> None:
        self.token, self.legacy, self.latency_ms = self._initial
        self.teachers: set[str] = set()
        self.students: set[str] = set()
        self.courses: dict[str, Course] = {}
        self.performance: dict[tuple[str, str], dict[str, float | None]] = {}
        self.faults: list[Fault] = []
        self.fault_generation += 1  # releases requests held by a "hang"
        self.rng = random.Random()
        self.received: deque[dict[str, Any]] = deque(maxlen=RECEIVED_LIMIT)
        self._clear_stats()

    def _clear_stats(self) -> None:
        self.request_count = 0
        self.connection_count = 0
        self.by_status: Counter[str] = Counter()
        self.faults_fired: Counter[str] = Counter()

    def _apply_seed(self, seed: Seed) -> None:
        self.teachers.update(seed.teachers)
        self.students.update(seed.students)
        for sc in seed.courses:
            course = self.courses.get(sc.course_id)
            if course is None:
                course = self.courses[sc.course_id] = Course(sc.course_id, sc.name, sc.instructor)
            else:
                course.name, course.instructor = sc.name, sc.instructor
            course.students.update(sc.students)
            # Enrolled students and instructors are references in the real database, so
            # they always exist there too.
            self.students.update(sc.students)
            if sc.instructor:
                self.teachers.add(sc.instructor)
            for roll in sc.students:
                if roll not in sc.no_performance:
                    self.performance.setdefault((roll, sc.course_id), dict.fromkeys(TUTORIAL_KEYS))

    # control operations

    def reset(
        self,
        seed: Seed | None = None,
        *,
        token: str | None = _UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        seed = parse_seed(demo_seed()) if seed is None else seed
        with self.lock:
            self._clear()
            if token is not _UNSET:
                self.token = token or None
            if legacy is not None:
                self.legacy = legacy
            if latency_ms is not None:
                self.latency_ms = latency_ms
            self._apply_seed(seed)

    def seed(self, seed: Seed) -> None:
        with self.lock:
            self._apply_seed(seed)

    def set_course_deleted(self, course_id: str, deleted: bool) -> None:
        with self.lock:
            course = self.courses.get(course_id)
            if course is None:
                raise ControlError(f"no course {course_id!r}", status=404)
            course.deleted = deleted

    def set_token(self, token: str | None) -> None:
        with self.lock:
            self.token = token or None

    def set_legacy(self, enabled: bool) -> None:
        with self.lock:
            self.legacy = enabled

    def set_latency(self, ms: float) -> None:
        with self.lock:
            self.latency_ms = ms

    def set_faults(self, faults: list[Fault], seed: int | None = None) -> None:
        with self.lock:
            self.faults = faults
            self.rng = random.Random(seed)
            # Bumping the generation releases requests held by an earlier "hang".
            self.fault_generation += 1

    def refusing_everything(self) -> bool:
        with self.lock:
            return any(f.refuses_everything for f in self.faults)

    def clear_received(self) -> None:
        with self.lock:
            self.received.clear()

    def clear_stats(self) -> None:
        with self.lock:
            self._clear_stats()

    def snapshot_received(self) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.received))

    def snapshot_marks(self) -> dict[str, dict[str, dict[str, float | None]]]:
        with self.lock:
            out: dict[str, dict[str, dict[str, float | None]]] = {}
            for (roll, course_id), record in sorted(self.performance.items()):
                out.setdefault(roll, {})[course_id] = dict(record)
            return out

    def snapshot_stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.request_count,
                "by_status": dict(self.by_status),
                "faults": dict(self.faults_fired),
                "connections": self.connection_count,
            }

    def snapshot_config(self) -> dict[str, Any]:
        with self.lock:
            return {
                "legacy": self.legacy,
                "token_set": self.token is not None,
                "latency_ms": self.latency_ms,
                "faults": [f.to_json() for f in self.faults],
                "teachers": sorted(self.teachers),
                "students": sorted(self.students),
                "courses": [
                    {
                        "course_id": c.course_id,
                        "name": c.name,
                        "instructor": c.instructor,
                        "students": sorted(c.students),
                        "deleted": c.deleted,
                    }
                    for c in self.courses.values()
                ],
            }

    # request-time operations

    def _authorized(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def connection_accepted(self) -> bool:
        """Count a new API connection; True if a "refuse" fault says to abort it now."""
        with self.lock:
            self.connection_count += 1
            for fault in self.faults:
                if fault.kind != "refuse" or fault.paths or fault.exhausted:
                    continue
                if self.rng.random() < fault.fraction:
                    fault.fired += 1
                    self.faults_fired["refuse"] += 1
                    return True
            return False

    def begin_request(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        body: Any,
        authorization: str | None,
    ) -> dict[str, Any]:
        """Log a received API request; the entry's status is filled in when answered."""
        entry = {
            "time": time.time(),
            "method": method,
            "path": path,
            "query": query,
            "body": body,
            "authorized": False,
            "status": None,
            "fault": None,
        }
        with self.lock:
            entry["authorized"] = self._authorized(authorization)
            self.request_count += 1
            self.received.append(entry)
        return entry

    def pick_fault(
        self, entry: dict[str, Any], first_on_connection: bool
    ) -> tuple[Fault | None, int]:
        """The first fault that fires for this request, and the fault generation."""
        path = entry["path"]
        with self.lock:
            for fault in self.faults:
                if fault.exhausted or not fault.matches(path):
                    continue
                if fault.kind == "refuse" and not fault.paths and first_on_connection:
                    continue  # already drawn for when the connection was accepted
                if self.rng.random() < fault.fraction:
                    fault.fired += 1
                    self.faults_fired[fault.kind] += 1
                    entry["fault"] = fault.kind
                    return fault, self.fault_generation
            return None, self.fault_generation

    def finish(self, entry: dict[str, Any], status: int | None, fault: str | None) -> None:
        with self.lock:
            entry["status"] = status
            entry["fault"] = fault
            if status is not None:
                self.by_status[str(status)] += 1

    def respond(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        body: Any,
        body_ok: bool,
        authorization: str | None,
        entry: dict[str, Any],
    ) -> Response:
        """Answer an API request the way the real Analyzer would."""
        with self.lock:
            route = self._route(method, path)
            authorized = self._authorized(authorization)
            entry["authorized"] = authorized
            if route is None:
                return express_404(method, path)
            if not authorized:
                if self.legacy:
                    return html_response(403, LEGACY_FORBIDDEN_PAGE)
                return json_response(
                    401,
                    {
                        "success": False,
                        "code": "invalid_token",
                        "message": "Invalid or expired token",
                    },
                )
            return route(query, body, body_ok)

    def _route(self, method: str, path: str) -> Any:
        path = path.rstrip("/") or "/"
        if method == "POST" and path == "/api/staff/update-student-marks":
            return self._update_marks
        if method in ("GET", "HEAD") and path == "/api/staff/course-detail":
            return self._course_detail
        if method in ("GET", "HEAD") and path == "/api/staff/verify-email" and not self.legacy:
            return self._verify_email
        return None

    def _update_marks(self, query: dict[str, Any], body: Any, body_ok: bool) -> Response:
        if not body_ok:
            return _failure(400, "Invalid JSON body")
        body = {} if body is None else body
        if not isinstance(body, dict):
            return _failure(400, "Request body must be a JSON object")
        teacher, roll, course_id = (body.get(k) for k in ("teacherEmail", "studentId", "courseId"))
        if not isinstance(teacher, str) or teacher not in self.teachers:
            return _failure(404, "Teacher not found")
        if not isinstance(roll, str) or roll not in self.students:
            return _failure(404, "Student not found")
        course = self.courses.get(course_id) if isinstance(course_id, str) else None
        if course is None:
            return _failure(404, "Course not found")
        if course.deleted:
            if self.legacy:
                return Response(500, LEGACY_DELETED_COURSE_TRACE.encode(), HTML_TYPE)
            return _failure(404, "Course not found")
        if roll not in course.students:
            return _failure(400, "Student is not enrolled in this course")
        record = self.performance.get((roll, course_id))
        if record is None:
            return _failure(404, "No performance record found for this student")
        marks = body.get("marks")
        problem = _marks_problem(marks)
        if problem:
            return _failure(400, problem)
        record.update(marks)
        return json_response(
            200,
            {
                "success": True,
                "message": "Marks updated successfully",
                "performance": {"studentId": roll, "courseId": course_id, **record},
            },
        )

    def _course_detail(self, query: dict[str, Any], body: Any, body_ok: bool) -> Response:
        course_id = query.get("courseId")
        course = self.courses.get(course_id) if isinstance(course_id, str) else None
        if course is None or course.deleted:
            return _failure(404, "Course not found")
        instructor = {"email": course.instructor} if course.instructor else None
        return json_response(
            200,
            {
                "success": True,
                "course": {
                    "courseId": course.course_id,
                    "courseName": course.name,
                    "instructor": instructor,
                },
            },
        )

    def _verify_email(self, query: dict[str, Any], body: Any, body_ok: bool) -> Response:
        email = query.get("email")
        if not isinstance(email, str) or not email:
            return _failure(400, "Email is required")
        return json_response(200, {"success": True, "exists": email in self.teachers})


def _marks_problem(marks: Any) -> str | None:
    if not isinstance(marks, dict) or not marks:
        return "marks must be a non-empty object"
    for key, value in marks.items():
        if key not in TUTORIAL_KEYS:
            return f"Invalid marks field: {key}"
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= 10
        ):
            return f"Invalid value for {key}: marks must be numbers between 0 and 10"
    return None


# --- HTTP plumbing -----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs under the concurrency tests (1 s retransmits).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, analyzer: FakeAnalyzer):
        self.analyzer = analyzer
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake analyzer: error serving %s", client_address, exc_info=sys.exc_info())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAcademicAnalyzer/1.0"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server: _Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Answer unparsable requests like Node does: an HTTP/1.1 status line, then close.
        # The stdlib would reply to them HTTP/0.9-style, with a body and no status line.
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._send(_failure(code, message or "Bad Request"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadRequest(400, "Invalid Content-Length") from None
        if length < 0:
            raise _BadRequest(400, "Invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request body too large")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequest(400, "Request body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Connection", "close" if self.close_connection else "keep-alive")
            # One write for head and body: two small writes meet Nagle/delayed-ACK stalls.
            self._headers_buffer.append(b"\r\n")
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)
            self.flush_headers()
        except OSError:
            self.close_connection = True

    def _abort(self) -> None:
        """Drop the connection with a TCP RST instead of an orderly close."""
        self.close_connection = True
        _linger_zero(self.connection)
        # rfile holds a reference to the socket: the RST only goes once both are closed.
        for closable in (self.rfile, self.connection):
            with contextlib.suppress(OSError):
                closable.close()


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_query(query: str) -> dict[str, Any]:
    return {
        key: values[0] if len(values) == 1 else values
        for key, values in parse_qs(query, keep_blank_values=True).items()
    }


class _ApiHandler(_Handler):
    def handle(self) -> None:
        analyzer = self.server.analyzer
        analyzer._track(self.connection)
        try:
            if analyzer.state.connection_accepted():
                self._abort()
                return
            self._first_on_connection = True
            super().handle()
        finally:
            analyzer._untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        analyzer = self.server.analyzer
        state = analyzer.state
        first = self._first_on_connection
        self._first_on_connection = False
        split = urlsplit(self.path)
        path, query = split.path, _parse_query(split.query)
        authorization = self.headers.get("Authorization")
        body, body_ok, bad = None, True, None
        try:
            raw = self._read_body()
            if raw.strip():
                body = json.loads(raw)
        except _BadRequest as exc:
            bad, body_ok = exc, False
            self.close_connection = True  # the rest of the stream cannot be trusted
        except (ValueError, RecursionError):
            body_ok = False
        entry = state.begin_request(self.command, path, query, body, authorization)
        if bad is not None:
            # Recorded before answering, so a client reading /received right after its
            # answer always sees the status.
            state.finish(entry, bad.status, None)
            self._send(_failure(bad.status, bad.message))
            return
        if state.latency_ms > 0 and analyzer.stopping.wait(state.latency_ms / 1000):
            return self._give_up(entry)

        fault, generation = state.pick_fault(entry, first)
        kind = fault.kind if fault else None
        if kind == "slow" and analyzer.stopping.wait(fault.delay_ms / 1000):
            return self._give_up(entry, kind)
        if kind in ("refuse", "reset"):
            self._abort()
            state.finish(entry, None, kind)
        elif kind == "hang":
            self._hang(generation)
            self.close_connection = True
            state.finish(entry, None, kind)
        elif kind in ("trickle", "flood"):
            # The Analyzer does the work (a mark is stored), then its answer crawls or never
            # ends: recorded before it is sent, like every answer.
            response = state.respond(self.command, path, query, body, body_ok, authorization, entry)
            state.finish(entry, response.status, kind)
            self.close_connection = True
            if kind == "trickle":
                self._trickle(response, fault.delay_ms / 1000, generation)
            else:
                self._flood(response, fault.body_bytes, generation)
        elif kind is not None and kind != "slow":
            response = _fault_response(fault)
            state.finish(entry, response.status, kind)
            self._send(response)
        else:
            response = state.respond(self.command, path, query, body, body_ok, authorization, entry)
            state.finish(entry, response.status, kind)
            self._send(response)

    def _head(self, response: Response, headers: list[tuple[str, str]]) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in [*response.headers, *headers, ("Connection", "close")]:
            self.send_header(name, value)
        self.end_headers()

    def _still_wanted(self, generation: int) -> bool:
        analyzer = self.server.analyzer
        return not analyzer.stopping.is_set() and analyzer.state.fault_generation == generation

    def _pause(self, seconds: float, generation: int) -> bool:
        """Wait `seconds`; False as soon as faults change or the server stops."""
        until = time.monotonic() + seconds
        while self._still_wanted(generation):
            left = until - time.monotonic()
            if left <= 0:
                return True
            self.server.analyzer.stopping.wait(min(left, POLL_INTERVAL_S))
        return False

    def _trickle(self, response: Response, interval: float, generation: int) -> None:
        """The real answer's headers at once, then its body one byte per `interval`, until it
        is all sent, the client leaves, faults change or the server stops."""
        try:
            self._head(response, [("Content-Length", str(len(response.body)))])
            for i in range(len(response.body)):
                if not self._pause(interval, generation):
                    return
                self.wfile.write(response.body[i : i + 1])
                self.wfile.flush()
        except OSError:
            return  # the client gave up

    def _flood(self, response: Response, size: int | None, generation: int) -> None:
        """A 200 JSON answer of `size` bytes (valid JSON if read to the end), or without end
        (chunked), until it is sent, the client leaves, faults change or the server stops."""
        filler = b"x" * FLOOD_CHUNK
        try:
            if size is None:
                self._head(response, [("Transfer-Encoding", "chunked")])
                frame = b"%x\r\n" % FLOOD_CHUNK + filler + b"\r\n"
                self.wfile.write(b"%x\r\n" % len(FLOOD_PREFIX) + FLOOD_PREFIX + b"\r\n")
                while self._still_wanted(generation):
                    self.wfile.write(frame)
                return
            self._head(response, [("Content-Length", str(size))])
            self.wfile.write(FLOOD_PREFIX)
            left = size - len(FLOOD_PREFIX) - 2
            while left > 0 and self._still_wanted(generation):
                self.wfile.write(filler[: min(left, FLOOD_CHUNK)])
                left -= FLOOD_CHUNK
            if left <= 0:
                self.wfile.write(b'"}')
        except OSError:
            return  # the client gave up

    def _give_up(self, entry: dict[str, Any], kind: str | None = None) -> None:
        self.close_connection = True
        self.server.analyzer.state.finish(entry, None, kind)

    def _hang(self, generation: int) -> None:
        """Hold the request until the client leaves, faults change or the server stops."""
        analyzer = self.server.analyzer
        sock = self.connection
        # A selector rather than select.select(), which fails for descriptors above 1023.
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(sock, selectors.EVENT_READ)
            except (OSError, ValueError):
                return
            while not analyzer.stopping.is_set() and analyzer.state.fault_generation == generation:
                try:
                    readable = bool(selector.select(POLL_INTERVAL_S))
                    if readable and not sock.recv(1, socket.MSG_PEEK):
                        return  # the client closed its end
                except (OSError, ValueError):
                    return
                if readable:
                    # Pipelined bytes keep the socket readable; do not spin on them.
                    analyzer.stopping.wait(POLL_INTERVAL_S)


def _fault_response(fault: Fault) -> Response:
    kind = fault.kind
    if kind == "500":
        return json_response(
            500,
            {
                "success": False,
                "message": "Server error",
                "error": "MongoServerSelectionError: connection timed out",
            },
        )
    if kind in ("502", "503", "504"):
        status = int(kind)
        title = PROXY_PAGES[status]
        headers: tuple[tuple[str, str], ...] = ()
        if status == 503 and fault.retry_after is not None:
            headers = (("Retry-After", str(math.ceil(fault.retry_after))),)
        page = (
            f"<html>\n<head><title>{title}</title></head>\n<body>\n"
            f"<center><h1>{title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
        )
        return html_response(status, page, headers)
    if kind == "html":
        return html_response(200, LOGIN_PAGE)
    if kind == "broken_json":
        return Response(200, b'{"success": tr', JSON_TYPE)
    if kind == "success_false":
        return json_response(200, {"success": False, "message": "Update not applied"})
    raise AssertionError(f"fault {kind} has no canned response")


class _ControlHandler(_Handler):
    def do_GET(self) -> None:
        try:
            raw = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._send(json_response(exc.status, {"ok": False, "error": exc.message}))
            return
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):
            self._send(json_response(400, {"ok": False, "error": "invalid JSON body"}))
            return
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            payload = self.server.analyzer.control(self.command, path, data)
        except ControlError as exc:
            self._send(json_response(exc.status, {"ok": False, "error": exc.message}))
            return
        except Exception:
            logger.exception("fake analyzer control request %s %s failed", self.command, path)
            self._send(json_response(500, {"ok": False, "error": "internal error"}))
            return
        self._send(json_response(200, payload))

    do_POST = do_PUT = do_DELETE = do_GET


# --- the server --------------------------------------------------------------------------


class FakeAnalyzer:
    """The fake Analyzer: state plus an API server and a control server.

    Use `start()`/`stop()` or a `with` block. Ports default to ephemeral ones; the API
    port is kept when the listener is closed and reopened for a "refuse" fault.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int = 0,
        token: str | None = None,
        legacy: bool = False,
        latency_ms: float = 0,
        seed: bool | dict[str, Any] | None = True,
    ):
        self.host = host
        self.port = port
        self.control_port = control_port
        self.state = AnalyzerState(token=token, legacy=legacy, latency_ms=latency_ms, seed=seed)
        self.stopping = threading.Event()
        self._listener_lock = threading.Lock()
        self._api_server: _Server | None = None
        self._control_server: _Server | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # lifecycle

    def start(self) -> FakeAnalyzer:
        api = _Server((self.host, self.port), _ApiHandler, self)
        try:
            control = _Server((self.host, self.control_port), _ControlHandler, self)
        except OSError:
            api.server_close()
            raise
        self.port = api.server_address[1]
        self.control_port = control.server_address[1]
        self._api_server, self._control_server = api, control
        _serve_in_thread(api, "fake-analyzer-api")
        _serve_in_thread(control, "fake-analyzer-control")
        logger.debug("fake analyzer listening on %s, control %s", self.api_url, self.control_url)
        return self

    def stop(self) -> None:
        """Stop both servers and drop open connections; hanging requests are released."""
        self.stopping.set()
        with self._listener_lock:
            servers = [self._api_server, self._control_server]
            self._api_server = self._control_server = None
        for server in servers:
            if server is not None:
                server.shutdown()
                server.server_close()
        self._drop_connections()

    def __enter__(self) -> FakeAnalyzer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}/api"

    @property
    def control_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.control_port}"

    # operations (also reachable through the control API)

    def reset(
        self,
        seed: dict[str, Any] | None = None,
        *,
        token: str | None = _UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        self.state.reset(
            None if seed is None else parse_seed(seed),
            token=token,
            legacy=legacy,
            latency_ms=latency_ms,
        )
        self._sync_listener()

    def set_faults(self, faults: list[dict[str, Any]], seed: int | None = None) -> None:
        if not isinstance(faults, list):
            raise ControlError("faults must be a list")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError("seed must be an integer")
        self.state.set_faults([Fault.from_json(f) for f in faults], seed)
        self._sync_listener()

    def control(self, method: str, path: str, data: Any) -> dict[str, Any]:
        """Run one control API request; raise ControlError for a bad one."""
        if not isinstance(data, dict):
            raise ControlError("the body must be a JSON object")
        state = self.state
        parts = [unquote(part) for part in path.strip("/").split("/")]
        route = (method, path)
        if route == ("GET", "/health"):
            return {"ok": True}
        if route == ("POST", "/reset"):
            _check_keys(data, {"seed", "token", "legacy", "latency_ms"})
            self.reset(
                data.get("seed"),
                token=_token_arg(data["token"]) if "token" in data else _UNSET,
                legacy=_bool_arg(data["legacy"], "legacy") if "legacy" in data else None,
                latency_ms=_latency_arg(data["latency_ms"]) if "latency_ms" in data else None,
            )
        elif route == ("POST", "/seed"):
            state.seed(parse_seed(data))
        elif method == "POST" and len(parts) == 3 and parts[0] == "courses":
            if parts[2] not in ("delete", "restore"):
                raise ControlError(f"no control route {method} {path}", status=404)
            state.set_course_deleted(parts[1], parts[2] == "delete")
        elif route == ("POST", "/token"):
            _check_keys(data, {"token"})
            state.set_token(_token_arg(data.get("token")))
        elif route == ("POST", "/legacy"):
            _check_keys(data, {"enabled"})
            state.set_legacy(_bool_arg(data.get("enabled", True), "enabled"))
        elif route == ("POST", "/latency"):
            _check_keys(data, {"ms"})
            state.set_latency(_latency_arg(data.get("ms", 0)))
        elif route == ("POST", "/faults"):
            _check_keys(data, {"faults", "seed"})
            self.set_faults(data.get("faults", []), data.get("seed"))
        elif route == ("DELETE", "/faults"):
            self.set_faults([])
        elif route == ("GET", "/faults"):
            return {"ok": True, "faults": state.snapshot_config()["faults"]}
        elif route == ("GET", "/received"):
            return {"ok": True, "received": state.snapshot_received()}
        elif route == ("DELETE", "/received"):
            state.clear_received()
        elif route == ("GET", "/marks"):
            return {"ok": True, "marks": state.snapshot_marks()}
        elif route == ("GET", "/stats"):
            stats = state.snapshot_stats()
            with self._connections_lock:
                stats["open_connections"] = len(self._connections)
            return {"ok": True, "stats": stats}
        elif route == ("DELETE", "/stats"):
            state.clear_stats()
        elif route == ("GET", "/config"):
            return {"ok": True, "config": state.snapshot_config()}
        else:
            raise ControlError(f"no control route {method} {path}", status=404)
        return {"ok": True}

    # listener and connection management

    def _sync_listener(self) -> None:
        """Close the API listener while a refuse-everything fault is active, else reopen it."""
        with self._listener_lock:
            if self.stopping.is_set():
                return
            refuse = self.state.refusing_everything()
            if refuse and self._api_server is not None:
                server, self._api_server = self._api_server, None
                server.shutdown()
                server.server_close()
                # A server that goes down takes its open connections with it.
                self._drop_connections()
            elif not refuse and self._api_server is None:
                self._api_server = self._rebind_api()
                _serve_in_thread(self._api_server, "fake-analyzer-api")

    def _rebind_api(self) -> _Server:
        deadline = time.monotonic() + 2
        while True:
            try:
                return _Server((self.host, self.port), _ApiHandler, self)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _track(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(sock)

    def _drop_connections(self) -> None:
        with self._connections_lock:
            sockets = list(self._connections)
        for sock in sockets:
            _linger_zero(sock)
            # Wakes the handler blocked on this socket; the close that follows sends RST.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _linger_zero(sock: socket.socket) -> None:
    """Make the next close send RST rather than FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _serve_in_thread(server: _Server, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name
    )
    thread.daemon = True
    thread.start()
    return thread


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping a wildcard bind to a reachable URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _check_keys(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ControlError(f"unknown keys: {sorted(unknown)}")


def _token_arg(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ControlError("token must be a string or null")
    return value or None


def _bool_arg(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ControlError(f"{name} must be true or false")
    return value


def _latency_arg(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError("latency must be a number of milliseconds")
    if not 0 <= value <= 600_000:
        raise ControlError("latency must be between 0 and 600000 ms")
    return float(value)
