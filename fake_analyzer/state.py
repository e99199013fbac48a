"""Everything the fake knows, and the Analyzer contract it speaks (routes and marks)."""

from __future__ import annotations

import copy
import hmac
import math
import random
import threading
import time
from collections import Counter, deque
from typing import Any

from .faults import Fault
from .responses import (
    HTML_TYPE,
    LEGACY_DELETED_COURSE_TRACE,
    LEGACY_FORBIDDEN_PAGE,
    ControlError,
    Response,
    express_404,
    failure,
    html_response,
    json_response,
)
from .seed import TUTORIAL_KEYS, Course, Seed, demo_seed, parse_seed

RECEIVED_LIMIT = 100_000  # bounds memory during long benchmarks
SERVICE_TIMES_LIMIT = 100_000

UNSET: Any = object()

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
        # A request answered across a clear (a test's last answer still being written when
        # the next test resets) must not count in the new period: its time is dropped.
        self.stats_period = getattr(self, "stats_period", 0) + 1
        self.request_count = 0
        self.connection_count = 0
        self.by_status: Counter[str] = Counter()
        self.faults_fired: Counter[str] = Counter()
        # Per answered API request: ms from its head parsed to its answer written (the
        # Analyzer's own time, latency included; what the benchmarks credit to the Analyzer).
        self.service_ms: deque[float] = deque(maxlen=SERVICE_TIMES_LIMIT)

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
        token: str | None = UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        seed = parse_seed(demo_seed()) if seed is None else seed
        with self.lock:
            self._clear()
            if token is not UNSET:
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
                "service_ms": _service_summary(self.service_ms),
            }

    def record_service_time(self, ms: float, *, period: int) -> None:
        """Count an answer's service time, unless the stats were cleared since it began."""
        with self.lock:
            if period == self.stats_period:
                self.service_ms.append(ms)

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
            return failure(400, "Invalid JSON body")
        body = {} if body is None else body
        if not isinstance(body, dict):
            return failure(400, "Request body must be a JSON object")
        teacher, roll, course_id = (body.get(k) for k in ("teacherEmail", "studentId", "courseId"))
        if not isinstance(teacher, str) or teacher not in self.teachers:
            return failure(404, "Teacher not found")
        if not isinstance(roll, str) or roll not in self.students:
            return failure(404, "Student not found")
        course = self.courses.get(course_id) if isinstance(course_id, str) else None
        if course is None:
            return failure(404, "Course not found")
        if course.deleted:
            if self.legacy:
                return Response(500, LEGACY_DELETED_COURSE_TRACE.encode(), HTML_TYPE)
            return failure(404, "Course not found")
        if roll not in course.students:
            return failure(400, "Student is not enrolled in this course")
        record = self.performance.get((roll, course_id))
        if record is None:
            return failure(404, "No performance record found for this student")
        marks = body.get("marks")
        problem = _marks_problem(marks)
        if problem:
            return failure(400, problem)
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
            return failure(404, "Course not found")
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
            return failure(400, "Email is required")
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


def _service_summary(samples: deque[float]) -> dict[str, float | int | None]:
    """Count, median and p95 of the service times (None when nothing was answered)."""
    ordered = sorted(samples)
    if not ordered:
        return {"n": 0, "p50": None, "p95": None}

    def pct(p: float) -> float:
        rank = (len(ordered) - 1) * p / 100
        low, high = math.floor(rank), math.ceil(rank)
        return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 3)

    return {"n": len(ordered), "p50": pct(50), "p95": pct(95)}
