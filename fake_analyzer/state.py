"""Everything the fake knows, and the Analyzer contract it speaks (routes and marks).

The routes answer as upstream's code does (Manikandan-K-S/Classroom_Connect,
`academic-analyzer/`, commit e0d3100: `routes/staffRoutes.js`, `controllers/staffController.js`);
each handler names the upstream function it follows. The active profile (see `profiles`)
adds what deployments in the field put in front of it or leave out.
"""

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
from .profiles import get_profile, profile_for_flags
from .responses import (
    HTML_TYPE,
    LEGACY_DELETED_COURSE_TRACE,
    LEGACY_FORBIDDEN_PAGE,
    ControlError,
    Response,
    body_syntax_error,
    body_undefined_error,
    express_404,
    failure,
    html_response,
    json_response,
)
from .seed import (
    ArchivedCourse,
    Course,
    Seed,
    Student,
    Teacher,
    default_email,
    demo_seed,
    new_marks,
    object_id,
    parse_seed,
    split_course_id,
)

RECEIVED_LIMIT = 100_000  # bounds memory during long benchmarks
SERVICE_TIMES_LIMIT = 100_000

UNSET: Any = object()
PREFIX = "/api/staff/"  # the fake serves upstream's /staff routes behind a proxy's /api

# update-student-marks applies these body keys, to these schema fields, and no others.
UPDATE_MARK_KEYS = {
    "tutorial1": "tutorial1",
    "tutorial2": "tutorial2",
    "tutorial3": "tutorial3",
    "tutorial4": "tutorial4",
    "ca1": "CA1",
    "ca2": "CA2",
    "assignment": "assignmentPresentation",
}
BULK_ROUTES = {f"add-tut{n}-mark": f"tutorial{n}" for n in range(1, 5)}
BAD_STUDENT_INPUT = (
    "Invalid or missing studentInput format. Expected single { email, mark } or array of objects."
)
NO_PERFORMANCE = "Performance record not found. Ensure student is enrolled via /add-student."


class _CastError(Exception):
    """mongoose could not cast a value to Number (upstream answers its handler's 500)."""


# --- state -----------------------------------------------------------------------------


class AnalyzerState:
    """Everything the fake knows; every change happens under `self.lock`."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        token: str | None = None,
        legacy: bool = False,
        latency_ms: float = 0,
        seed: bool | dict[str, Any] | None = True,
    ):
        self.lock = threading.Lock()
        # A profile named explicitly wins; else the old flags pick one (--token alone: token).
        chosen = (
            get_profile(profile)
            if profile is not None
            else profile_for_flags(token=token, legacy=legacy)
        )
        # reset() returns to these, so a server started with a profile or token keeps them.
        self._initial = (chosen, token or None, float(latency_ms))
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
        self.profile, self.token, self.latency_ms = self._initial
        self.teachers: dict[str, Teacher] = {}
        self.students: dict[str, Student] = {}
        self.courses: dict[str, Course] = {}
        self.performance: dict[tuple[str, str], dict[str, float | int | None]] = {}
        self.archived: dict[str, ArchivedCourse] = {}
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

    # data

    def _teacher(self, email: str, name: str | None = None) -> Teacher:
        teacher = self.teachers.get(email)
        if teacher is None:
            teacher = self.teachers[email] = Teacher(email, name or email)
        elif name:
            teacher.name = name
        return teacher

    def _student(self, rollno: str, name: str | None = None, email: str | None = None) -> Student:
        student = self.students.get(rollno)
        if student is None:
            student = Student(rollno, name or rollno, email or default_email(rollno))
            self.students[rollno] = student
        else:
            student.name = name or student.name
            student.email = email or student.email
        return student

    def _student_by_email(self, email: str) -> Student | None:
        return next((s for s in self.students.values() if s.email == email), None)

    def _assign(self, course: Course, email: str) -> None:
        teacher = self._teacher(email)
        if email not in course.teachers:
            course.teachers.append(email)
        if course.course_id not in teacher.courses_handled:
            teacher.courses_handled.append(course.course_id)

    def _apply_seed(self, seed: Seed) -> None:
        for t in seed.teachers:
            self._teacher(t.email, t.name)
        for s in seed.students:
            self._student(s.rollno, s.name, s.email)
        for sc in seed.courses:
            course = self.courses.get(sc.course_id)
            if course is None:
                code, batch = split_course_id(sc.course_id)
                course = Course(sc.course_id, sc.name or sc.course_id, code, batch)
                self.courses[sc.course_id] = course
            course.name = sc.name or course.name
            course.course_code = sc.course_code or course.course_code
            course.batch = sc.batch if sc.batch is not None else course.batch
            for email in sc.teachers:
                self._assign(course, email)
            for s in sc.students:
                self._student(s.rollno, s.name, s.email)
                if s.rollno not in course.students:
                    course.students.append(s.rollno)
                if s.rollno not in sc.no_performance:
                    self.performance.setdefault((s.rollno, sc.course_id), new_marks())

    def _archive(self, course_id: str, teacher: str | None) -> ArchivedCourse:
        """Upstream's archiveCourse, once its checks passed: snapshot, then delete."""
        course = self.courses.pop(course_id)
        marks: dict[str, dict[str, float | int | None]] = {}
        for roll in course.students:
            record = self.performance.get((roll, course_id))
            if record is not None:
                # The snapshot stores `mark || 0`: a null mark comes back as 0.
                marks[roll] = {k: (v or 0) for k, v in record.items()}
        for key in [k for k in self.performance if k[1] == course_id]:
            del self.performance[key]
        for t in self.teachers.values():
            if course_id in t.courses_handled:
                t.courses_handled.remove(course_id)
        archived = ArchivedCourse(object_id(), course, teacher, marks)
        self.archived[archived.oid] = archived
        return archived

    def _restore(self, archived: ArchivedCourse) -> Course:
        """Upstream's restoreCourse: new ids, marks back, only the restoring teacher."""
        del self.archived[archived.oid]
        old = archived.course
        course = Course(old.course_id, old.name, old.course_code, old.batch)
        course.students = list(old.students)
        self.courses[course.course_id] = course
        if archived.teacher is not None:
            self._assign(course, archived.teacher)
        for roll, marks in archived.marks.items():
            self.performance[(roll, course.course_id)] = dict(marks)
        return course

    def _archived_by_course(self, course_id: str) -> ArchivedCourse | None:
        return next((a for a in self.archived.values() if a.course.course_id == course_id), None)

    # control operations

    def reset(
        self,
        seed: Seed | None = None,
        *,
        profile: str | None = None,
        token: str | None = UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        seed = parse_seed(demo_seed()) if seed is None else seed
        chosen = None if profile is None else get_profile(profile)
        with self.lock:
            self._clear()
            if token is not UNSET:
                self._set_token(token, switch_profile=chosen is None and legacy is None)
            if legacy is not None and chosen is None:
                self._set_legacy(legacy)
            if chosen is not None:
                self.profile = chosen
            if latency_ms is not None:
                self.latency_ms = latency_ms
            self._apply_seed(seed)

    def seed(self, seed: Seed) -> None:
        with self.lock:
            self._apply_seed(seed)

    def archive_course(self, course_id: str, teacher: str | None = None) -> str:
        """Archive as `teacher` (default: the course's first teacher); the archive's id."""
        with self.lock:
            course = self.courses.get(course_id)
            if course is None:
                raise ControlError(f"no course {course_id!r}", status=404)
            if teacher is None:
                teacher = course.teachers[0] if course.teachers else None
            elif teacher not in course.teachers:
                raise ControlError(f"{teacher!r} does not handle {course_id!r}", status=403)
            if self._archived_by_course(course_id) is not None:
                raise ControlError(f"{course_id!r} is archived already", status=409)
            return self._archive(course_id, teacher).oid

    def restore_course(self, course_id: str) -> None:
        """Restore the archived `course_id`, with only the teacher who archived it."""
        with self.lock:
            archived = self._archived_by_course(course_id)
            if archived is None and course_id in self.courses:
                return  # not archived: nothing to do (the old delete/restore pair allowed it)
            if archived is None:
                raise ControlError(f"no archived course {course_id!r}", status=404)
            if course_id in self.courses:
                raise ControlError(f"{course_id!r} exists already", status=409)
            self._restore(archived)

    def set_profile(self, name: object) -> None:
        profile = get_profile(name)
        with self.lock:
            self.profile = profile

    def _set_token(self, token: str | None, *, switch_profile: bool = True) -> None:
        self.token = token or None
        # Compatibility with the old flags: setting a token puts a front in.
        if self.token and switch_profile and self.profile.front is None:
            self.profile = get_profile("token")

    def set_token(self, token: str | None) -> None:
        with self.lock:
            self._set_token(token)

    def _set_legacy(self, enabled: bool) -> None:
        if enabled:
            self.profile = get_profile("legacy")
        elif self.profile.name == "legacy":
            self.profile = get_profile("token" if self.token else "upstream")

    def set_legacy(self, enabled: bool) -> None:
        with self.lock:
            self._set_legacy(enabled)

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

    def snapshot_marks(self) -> dict[str, dict[str, dict[str, float | int | None]]]:
        with self.lock:
            out: dict[str, dict[str, dict[str, float | int | None]]] = {}
            for (roll, course_id), record in sorted(self.performance.items()):
                out.setdefault(roll, {})[course_id] = dict(record)
            return out

    def snapshot_stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "profile": self.profile.name,
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
                "profile": self.profile.to_json(),
                "legacy": self.profile.name == "legacy",
                "token_set": self.token is not None,
                "token_checked": self.token is not None and self.profile.front is not None,
                "latency_ms": self.latency_ms,
                "faults": [f.to_json() for f in self.faults],
                "teachers": [
                    {"email": t.email, "name": t.name, "courses": list(t.courses_handled)}
                    for t in self.teachers.values()
                ],
                "students": [
                    {"rollno": s.rollno, "name": s.name, "email": s.email}
                    for s in self.students.values()
                ],
                "courses": [_course_json(c) for c in self.courses.values()],
                "archived": [
                    {"id": a.oid, "teacher": a.teacher, **_course_json(a.course)}
                    for a in self.archived.values()
                ],
            }

    # request-time operations

    def _authorized(self, authorization: str | None) -> bool:
        if self.token is None or self.profile.front is None:
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
        *,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Log a received API request; the entry's status is filled in when answered.
        ``request_id``: the caller's X-Request-Id header, if it sent one."""
        entry = {
            "time": time.time(),
            "request_id": request_id,
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
        """Answer an API request the way the Analyzer of the active profile would.

        `body` is the parsed JSON body, or None when there was none (or it was not sent as
        JSON): upstream's `req.body` is then undefined. `body_ok` is False for a body
        express.json() rejects (malformed, or not an object or array).
        """
        with self.lock:
            authorized = self._authorized(authorization)
            entry["authorized"] = authorized
            if not authorized:
                # A token front answers before the request reaches the Analyzer's routes.
                if self.profile.front == "html403":
                    return html_response(403, LEGACY_FORBIDDEN_PAGE)
                return json_response(
                    401,
                    {
                        "success": False,
                        "code": "invalid_token",
                        "message": "Invalid or expired token",
                    },
                )
            route = self._route(method, path)
            if route is None:
                return express_404(method, path)
            handler, first_key, name = route
            if first_key is not None:  # a POST route: express.json() reads the body first
                if not body_ok:
                    return body_syntax_error()
                if body is None:
                    return body_undefined_error(first_key, name)
            return handler(query, body)

    def _route(self, method: str, path: str) -> tuple[Any, str | None, str] | None:
        """(handler, first key it destructures from req.body or None, upstream name)."""
        path = path.rstrip("/") or "/"
        if not path.startswith(PREFIX):
            return None
        name = path.removeprefix(PREFIX)
        get = method in ("GET", "HEAD")
        if method == "POST" and name == "update-student-marks":
            return self._update_marks, "studentId", "updateStudentMarks"
        if method == "POST" and name in BULK_ROUTES and self.profile.bulk_routes:
            field = BULK_ROUTES[name]

            def bulk(query: dict[str, Any], body: Any) -> Response:
                return self._bulk_marks(field, body)

            return bulk, "teacherEmail", "createMarkUpdateHandler"
        if method == "POST" and name == "student-detail":
            return self._student_detail, "teacherEmail", "getStudentPerformanceDetail"
        if get and name == "course-detail":
            return self._course_detail, None, "getCourseRoster"
        if get and name == "dashboard":
            return self._dashboard, None, "getStaffDashboard"
        if method == "POST" and name == "archive-course":
            return self._archive_route, "email", "archiveCourse"
        if method == "POST" and name == "restore-course":
            return self._restore_route, "email", "restoreCourse"
        if get and name == "archived-courses":
            return self._archived_courses, None, "getArchivedCourses"
        if get and name == "verify-email" and self.profile.verify_email:
            return self._verify_email, None, "verifyEmail (customised builds only)"
        return None

    # the routes, each after the upstream function it names

    def _update_marks(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `updateStudentMarks` (the live, 2nd definition)."""
        body = _fields(body)
        teacher, roll, course_id = (body.get(k) for k in ("teacherEmail", "studentId", "courseId"))
        if _lookup(self.teachers, teacher) is None:
            return failure(404, "Teacher not found")
        student = _lookup(self.students, roll)
        course = _lookup(self.courses, course_id)
        if student is None:
            return failure(404, "Student not found")
        if course is None:
            if self.profile.deleted_course_trace and self._archived_by_course(course_id):
                return Response(500, LEGACY_DELETED_COURSE_TRACE.encode(), HTML_TYPE)
            return failure(404, "Course not found")
        if student.rollno not in course.students:
            return failure(400, "Student is not enrolled in this course")
        record = self.performance.get((student.rollno, course.course_id))
        if record is None:
            return failure(404, "No performance record found for this student")
        marks = body.get("marks")
        if marks is None:  # `marks.tutorial1` of undefined or null throws
            return failure(500, "Server error updating marks")
        updates = {}
        if isinstance(marks, dict):
            try:
                for key, schema_field in UPDATE_MARK_KEYS.items():
                    if key in marks:
                        updates[schema_field] = _cast_number(marks[key])
            except _CastError:
                return failure(500, "Server error updating marks")
        record.update(updates)
        return json_response(
            200,
            {"success": True, "message": f"Marks updated successfully for student {student.name}"},
        )

    def _bulk_marks(self, field: str, body: Any) -> Response:
        """controllers/staffController.js `createMarkUpdateHandler(field)` (add-tutN-mark)."""
        body = _fields(body)
        course = _lookup(self.courses, body.get("courseId"))
        if _lookup(self.teachers, body.get("teacherEmail")) is None or course is None:
            return failure(404, "Teacher or Course not found")
        student_input = body.get("studentInput")
        if isinstance(student_input, list):
            items = student_input
        elif (
            isinstance(student_input, dict)
            and _truthy(student_input.get("email"))
            and "mark" in student_input
        ):
            items = [student_input]
        else:
            return failure(400, BAD_STUDENT_INPUT)
        results = []
        for item in items:
            if item is None:  # destructuring null throws, after the earlier items were written
                return failure(500, f"Server error during {field} update")
            fields = _fields(item)
            email, rollno = fields.get("email"), fields.get("rollno")
            student = None
            if _truthy(email) and isinstance(email, str):
                student = self._student_by_email(email)
            if student is None and _truthy(rollno):
                student = _lookup(self.students, rollno)
            if student is None:
                results.append(_result(email or rollno, "failed", "Student not found"))
                continue
            record = self.performance.get((student.rollno, course.course_id))
            shown = email if _truthy(email) else student.email
            if record is None:
                results.append(_result(shown, "failed", NO_PERFORMANCE))
                continue
            if "mark" in fields:
                try:
                    record[field] = _cast_number(fields["mark"])
                except _CastError:
                    return failure(500, f"Server error during {field} update")
            mark = _js_string(fields["mark"]) if "mark" in fields else "undefined"
            results.append(_result(shown, "success", f"{field} updated to {mark}"))
        return json_response(
            200,
            {"success": True, "message": f"{field} update process complete.", "results": results},
        )

    def _course_detail(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `getCourseRoster` (GET /staff/course-detail)."""
        course = _lookup(self.courses, query.get("courseId"))
        if course is None:
            return failure(404, "Course not found")
        students = [self.students[roll] for roll in course.students]
        return json_response(
            200,
            {
                "success": True,
                "courseName": course.name,
                "students": [
                    {"_id": s.oid, "name": s.name, "rollno": s.rollno, "email": s.email}
                    for s in students
                ],
            },
        )

    def _student_detail(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `getStudentPerformanceDetail` (POST student-detail)."""
        body = _fields(body)
        course = _lookup(self.courses, body.get("courseId"))
        if _lookup(self.teachers, body.get("teacherEmail")) is None or course is None:
            return failure(404, "Teacher or Course not found")
        email = body.get("studentEmail")
        student = self._student_by_email(email) if isinstance(email, str) else None
        if student is None:
            return failure(404, "Student not found")
        record = self.performance.get((student.rollno, course.course_id))
        if record is None:
            return failure(404, "Performance record not found for this student in this course.")
        return json_response(
            200,
            {
                "success": True,
                "studentName": student.name,
                "rollno": student.rollno,
                "courseName": course.name,
                "marks": dict(record),
            },
        )

    def _dashboard(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `getStaffDashboard` (GET /staff/dashboard)."""
        teacher = _lookup(self.teachers, query.get("email"))
        if teacher is None:
            return failure(404, "Teacher not found")
        courses = [self.courses[c] for c in teacher.courses_handled if c in self.courses]
        return json_response(
            200,
            {
                "success": True,
                "name": teacher.name,
                "courses": [
                    {
                        "_id": c.oid,
                        "courseName": c.name,
                        "courseId": c.course_id,
                        "courseCode": c.course_code,
                        "batch": c.batch,
                    }
                    for c in courses
                ],
            },
        )

    def _archive_route(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `archiveCourse` (POST /staff/archive-course)."""
        body = _fields(body)
        teacher = _lookup(self.teachers, body.get("email"))
        if teacher is None:
            return failure(404, "Teacher not found")
        course = _lookup(self.courses, body.get("courseId"))
        if course is None:
            return failure(404, "Course not found")
        if course.course_id not in teacher.courses_handled:
            return failure(403, "Unauthorized to archive this course")
        if self._archived_by_course(course.course_id) is not None:
            return failure(500, "Server error while archiving course")  # unique courseId
        archived = self._archive(course.course_id, teacher.email)
        return json_response(
            200,
            {
                "success": True,
                "message": "Course archived successfully",
                "archivedCourseId": archived.oid,
            },
        )

    def _restore_route(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `restoreCourse` (POST /staff/restore-course)."""
        body = _fields(body)
        email = body.get("email")
        if _lookup(self.teachers, email) is None:
            return failure(404, "Teacher not found")
        archived_id = body.get("archivedCourseId")
        if not _is_object_id(archived_id):  # findById's CastError
            return failure(500, "Server error while restoring course")
        archived = self.archived.get(archived_id.lower())
        if archived is None:
            return failure(404, "Archived course not found")
        if archived.teacher != email:
            return failure(403, "Unauthorized to restore this course")
        if archived.course.course_id in self.courses:
            return failure(400, "A course with this ID already exists in active courses")
        course = self._restore(archived)
        return json_response(
            200,
            {
                "success": True,
                "message": "Course restored successfully",
                "courseId": course.course_id,
            },
        )

    def _archived_courses(self, query: dict[str, Any], body: Any) -> Response:
        """controllers/staffController.js `getArchivedCourses` (GET /staff/archived-courses)."""
        email = query.get("email")
        if _lookup(self.teachers, email) is None:
            return failure(404, "Teacher not found")
        mine = [a for a in reversed(self.archived.values()) if a.teacher == email]
        return json_response(
            200,
            {
                "success": True,
                "archivedCourses": [
                    {
                        "id": a.oid,
                        "courseId": a.course.course_id,
                        "courseName": a.course.name,
                        "courseCode": a.course.course_code,
                        "batch": a.course.batch,
                        "archivedAt": a.archived_at,
                        "studentCount": len(a.course.students),
                    }
                    for a in mine
                ],
            },
        )

    def _verify_email(self, query: dict[str, Any], body: Any) -> Response:
        """Not upstream: what customised builds add (the `custom` profile only)."""
        email = query.get("email")
        if not isinstance(email, str) or not email:
            return failure(400, "Email is required")
        return json_response(200, {"success": True, "exists": email in self.teachers})


def _course_json(course: Course) -> dict[str, Any]:
    return {
        "course_id": course.course_id,
        "name": course.name,
        "course_code": course.course_code,
        "batch": course.batch,
        "teachers": list(course.teachers),
        "students": list(course.students),
    }


def _fields(value: Any) -> dict[str, Any]:
    """What JavaScript's destructuring finds in `value`: only an object's own keys."""
    return value if isinstance(value, dict) else {}


def _lookup(table: dict[str, Any], key: Any) -> Any:
    """`Model.findOne({field: key})`: strings match exactly; numbers are cast to strings."""
    if isinstance(key, bool) or not isinstance(key, str | int | float):
        return None
    return table.get(key if isinstance(key, str) else _js_string(key))


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness for a JSON value."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _result(email: Any, status: str, message: str) -> dict[str, Any]:
    # JSON.stringify leaves out a key whose value is undefined (`email || rollno` of nothing).
    out: dict[str, Any] = {"email": email} if _truthy(email) else {}
    return {**out, "status": status, "message": message}


def _js_string(value: Any) -> str:
    """JavaScript's `${value}` for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else _js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _cast_number(value: Any) -> float | int | None:
    """mongoose's cast to Number: "9" → 9, true → 1, "" or null → null, "abc" → error."""
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise _CastError(value) from None
        if not math.isfinite(number):
            raise _CastError(value)
        return int(number) if number.is_integer() else number
    raise _CastError(value)


def _is_object_id(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 24
        and all(c in "0123456789abcdefABCDEF" for c in value)
    )


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
