"""One table of the Analyzer's answers, each pinned to the upstream code it comes from, run
over real HTTP against the bundled fake (default profile) AND against upstream's own code.

Upstream: Manikandan-K-S/Classroom_Connect, `academic-analyzer/`, commit e0d3100. Each row
names the file and function its answer comes from. The two targets get the same world (a
fresh teacher, a course `<code>-2021` created by that teacher with two enrolled students, a
third student not enrolled, and a teacher who handles nothing), seeded through the fake's
control API and through upstream's own routes. What legitimately differs is normalised:
Mongo ids and timestamps, the fake's `/api` prefix, and stack-trace details (an HTML answer
is compared by the first line of its <pre>). The upstream half skips when node/npm or the
upstream folder are missing (CI's E2E_REQUIRED=1 turns that skip into a failure).
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fake_analyzer import running_fake_analyzer

CTRL = "controllers/staffController.js"
ROUTES = "routes/staffRoutes.js"
UPD = (CTRL, "updateStudentMarks (live, 2nd definition, ~line 1189)")
BULK = (CTRL, "createMarkUpdateHandler (add-tutN-mark, ~line 552)")
ROSTER = (CTRL, "getCourseRoster (GET course-detail)")
DASH = (CTRL, "getStaffDashboard (GET dashboard)")
ARCH = (CTRL, "archiveCourse")
REST = (CTRL, "restoreCourse")
ARCHIVED = (CTRL, "getArchivedCourses")
EXPRESS = ("server.js + express finalhandler", "no route / body-parser / thrown error")
ZERO = {
    "tutorial1": 0,
    "tutorial2": 0,
    "tutorial3": 0,
    "tutorial4": 0,
    "CA1": 0,
    "CA2": 0,
    "assignmentPresentation": 0,
}
ID = "<id>"
DATE = "<date>"


@dataclass
class World:
    teacher: str
    stranger: str
    code: str
    s1: str
    s2: str
    s3: str  # exists, not enrolled
    archived_id: str | None = None

    @property
    def course_id(self) -> str:
        return f"{self.code}-2021"

    @staticmethod
    def name(roll: str) -> str:
        return f"Student {roll}"

    @staticmethod
    def email(roll: str) -> str:
        return f"{roll.lower()}@college.edu"

    @staticmethod
    def teacher_name(email: str) -> str:
        return f"Teacher {email.split('@')[0]}"

    def roster_entry(self, roll: str) -> dict[str, str]:
        return {"_id": ID, "name": self.name(roll), "rollno": roll, "email": self.email(roll)}

    def course_entry(self) -> dict[str, str]:
        return {
            "_id": ID,
            "courseName": self.code,
            "courseId": self.course_id,
            "courseCode": self.code,
            "batch": "2021",
        }


@dataclass(frozen=True)
class Html:
    """An HTML answer whose <pre> (Express's error page) starts with `text`."""

    text: str


@dataclass(frozen=True)
class Case:
    id: str
    source: tuple[str, str]
    method: str
    path: str  # formatted with the world's fields, under /staff/
    status: int
    expect: Callable[[World], Any]  # the JSON answer, or an Html
    body: Callable[[World], Any] | None = None
    raw: bytes | None = None
    setup: tuple[str, ...] = ()  # "archive", "restore", in order
    marks: Callable[[World], dict[str, dict[str, Any]]] | None = None  # {roll: subset}
    upstream: bool = True  # False: a state upstream's routes cannot make
    content_type: str = "application/json"


def ok(message: str) -> dict[str, Any]:
    return {"success": True, "message": message}


def fail(message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


def marks_body(w: World, marks: Any = None, **changes: Any) -> dict[str, Any]:
    body = {"studentId": w.s1, "courseId": w.course_id, "teacherEmail": w.teacher, **changes}
    if marks is not None:
        body["marks"] = marks
    return body


def bulk_body(w: World, student_input: Any = None, **changes: Any) -> dict[str, Any]:
    body = {"teacherEmail": w.teacher, "courseId": w.course_id, **changes}
    if student_input is not None:
        body["studentInput"] = student_input
    return body


def done(w: World, roll: str, message: str, field: str = "tutorial1") -> dict[str, Any]:
    return {"email": w.email(roll), "status": "success", "message": f"{field} {message}"}


NO_RECORD = "Performance record not found. Ensure student is enrolled via /add-student."
BAD_INPUT = (
    "Invalid or missing studentInput format. Expected single { email, mark } or array of objects."
)

CASES = [
    # --- POST /staff/update-student-marks -----------------------------------------------
    Case(
        "marks-success",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"tutorial2": 7.5}),
        marks=lambda w: {w.s1: {**ZERO, "tutorial2": 7.5}, w.s2: ZERO},
    ),
    Case(
        "marks-any-teacher-may-write",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, teacherEmail=w.stranger),
        marks=lambda w: {w.s1: {"tutorial1": 4}},
    ),
    Case(
        "marks-unknown-teacher-first",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Teacher not found"),
        body=lambda w: marks_body(
            w, {"tutorial1": 4}, teacherEmail="ghost@college.edu", studentId="NOPE", courseId="NOPE"
        ),
    ),
    Case(
        "marks-no-teacher",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Teacher not found"),
        body=lambda w: {"studentId": w.s1, "courseId": w.course_id, "marks": {"tutorial1": 1}},
    ),
    Case(
        "marks-unknown-student-before-course",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Student not found"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, studentId="NOPE", courseId="NOPE"),
    ),
    Case(
        "marks-roll-number-is-case-sensitive",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Student not found"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, studentId=w.s1.lower()),
    ),
    Case(
        "marks-unknown-course",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Course not found"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, courseId="NOPE-2021"),
    ),
    Case(
        "marks-not-enrolled",
        UPD,
        "POST",
        "update-student-marks",
        400,
        lambda w: fail("Student is not enrolled in this course"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, studentId=w.s3),
    ),
    Case(
        "marks-missing",
        UPD,
        "POST",
        "update-student-marks",
        500,
        lambda w: fail("Server error updating marks"),
        body=lambda w: marks_body(w),
    ),
    Case(
        "marks-null",
        UPD,
        "POST",
        "update-student-marks",
        500,
        lambda w: fail("Server error updating marks"),
        body=lambda w: marks_body(w, marks=None) | {"marks": None},
    ),
    Case(
        "marks-not-an-object-changes-nothing",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, "7"),
        marks=lambda w: {w.s1: ZERO},
    ),
    Case(
        "marks-only-known-keys-applied",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"tutorial1": 2, "CA1": 5, "tutorial5": 3, "x": "abc"}),
        marks=lambda w: {w.s1: {**ZERO, "tutorial1": 2}},
    ),
    Case(
        "marks-ca-and-assignment-keys",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"ca1": 11, "ca2": 12, "assignment": 13}),
        marks=lambda w: {w.s1: {**ZERO, "CA1": 11, "CA2": 12, "assignmentPresentation": 13}},
    ),
    Case(
        "marks-cast-and-no-range-check",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(
            w, {"tutorial1": "9", "tutorial2": True, "tutorial3": -4, "tutorial4": 999}
        ),
        marks=lambda w: {w.s1: {"tutorial1": 9, "tutorial2": 1, "tutorial3": -4, "tutorial4": 999}},
    ),
    Case(
        "marks-null-value-stored",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"tutorial1": None, "tutorial2": 3}),
        marks=lambda w: {w.s1: {"tutorial1": None, "tutorial2": 3}},
    ),
    Case(
        "marks-non-numeric-is-500-and-nothing-stored",
        UPD,
        "POST",
        "update-student-marks",
        500,
        lambda w: fail("Server error updating marks"),
        body=lambda w: marks_body(w, {"tutorial1": 5, "tutorial2": "abc"}),
        marks=lambda w: {w.s1: ZERO},
    ),
    Case(
        "marks-archived-course",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Course not found"),
        body=lambda w: marks_body(w, {"tutorial1": 4}),
        setup=("archive",),
    ),
    Case(
        "marks-restored-course-accepts-again",
        UPD,
        "POST",
        "update-student-marks",
        200,
        lambda w: ok(f"Marks updated successfully for student {w.name(w.s1)}"),
        body=lambda w: marks_body(w, {"tutorial1": 4}),
        setup=("archive", "restore"),
        marks=lambda w: {w.s1: {**ZERO, "tutorial1": 4}},
    ),
    Case(
        "marks-no-performance-record",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("No performance record found for this student"),
        body=lambda w: marks_body(w, {"tutorial1": 4}, studentId=w.s2),
        setup=("drop-s2-record",),
        upstream=False,  # upstream's routes always create the record with the enrolment
    ),
    Case(
        "marks-array-body",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Teacher not found"),
        raw=b"[1, 2]",
    ),
    Case(
        "marks-empty-json-body-is-an-empty-object",
        UPD,
        "POST",
        "update-student-marks",
        404,
        lambda w: fail("Teacher not found"),
        raw=b"",
    ),
    Case(
        "marks-non-json-body-is-undefined",
        EXPRESS,
        "POST",
        "update-student-marks",
        500,
        lambda w: Html(
            "TypeError: Cannot destructure property &#39;studentId&#39; of "
            "&#39;req.body&#39; as it is undefined."
        ),
        raw=b"a=b",
        content_type="application/x-www-form-urlencoded",
    ),
    Case(
        "marks-malformed-json",
        EXPRESS,
        "POST",
        "update-student-marks",
        400,
        lambda w: Html("SyntaxError: "),
        raw=b"{nope",
    ),
    Case(
        "marks-json-string-body",
        EXPRESS,
        "POST",
        "update-student-marks",
        400,
        lambda w: Html("SyntaxError: "),
        raw=b'"text"',
    ),
    Case(
        "marks-get-is-no-route",
        ROUTES,
        "GET",
        "update-student-marks",
        404,
        lambda w: Html("Cannot GET /staff/update-student-marks"),
    ),
    # --- POST /staff/add-tutN-mark ------------------------------------------------------
    Case(
        "bulk-items-in-order",
        BULK,
        "POST",
        "add-tut1-mark",
        200,
        lambda w: {
            "success": True,
            "message": "tutorial1 update process complete.",
            "results": [
                done(w, w.s1, "updated to 7.5"),
                done(w, w.s2, "updated to 6"),
                {"email": "NOPE1", "status": "failed", "message": "Student not found"},
                {"email": "ghost@x.edu", "status": "failed", "message": "Student not found"},
                {"email": w.email(w.s3), "status": "failed", "message": NO_RECORD},
                {"status": "failed", "message": "Student not found"},
            ],
        },
        body=lambda w: bulk_body(
            w,
            [
                {"rollno": w.s1, "mark": 7.5},
                {"email": w.email(w.s2), "mark": 6},
                {"rollno": "NOPE1", "mark": 1},
                {"email": "ghost@x.edu", "mark": 1},
                {"rollno": w.s3, "mark": 1},
                {},
            ],
        ),
        marks=lambda w: {w.s1: {**ZERO, "tutorial1": 7.5}, w.s2: {**ZERO, "tutorial1": 6}},
    ),
    Case(
        "bulk-single-object-by-email",
        BULK,
        "POST",
        "add-tut3-mark",
        200,
        lambda w: {
            "success": True,
            "message": "tutorial3 update process complete.",
            "results": [done(w, w.s1, "updated to 8", "tutorial3")],
        },
        body=lambda w: bulk_body(w, {"email": w.email(w.s1), "mark": 8}),
        marks=lambda w: {w.s1: {**ZERO, "tutorial3": 8}},
    ),
    Case(
        "bulk-single-object-needs-email",
        BULK,
        "POST",
        "add-tut1-mark",
        400,
        lambda w: fail(BAD_INPUT),
        body=lambda w: bulk_body(w, {"rollno": w.s1, "mark": 8}),
    ),
    Case(
        "bulk-missing-student-input",
        BULK,
        "POST",
        "add-tut2-mark",
        400,
        lambda w: fail(BAD_INPUT),
        body=lambda w: bulk_body(w),
    ),
    Case(
        "bulk-empty-list",
        BULK,
        "POST",
        "add-tut4-mark",
        200,
        lambda w: {"success": True, "message": "tutorial4 update process complete.", "results": []},
        body=lambda w: bulk_body(w, []),
    ),
    Case(
        "bulk-unknown-course",
        BULK,
        "POST",
        "add-tut1-mark",
        404,
        lambda w: fail("Teacher or Course not found"),
        body=lambda w: bulk_body(w, [], courseId="NOPE-2021"),
    ),
    Case(
        "bulk-unknown-teacher",
        BULK,
        "POST",
        "add-tut1-mark",
        404,
        lambda w: fail("Teacher or Course not found"),
        body=lambda w: bulk_body(w, [], teacherEmail="ghost@college.edu"),
    ),
    Case(
        "bulk-any-teacher-may-write",
        BULK,
        "POST",
        "add-tut2-mark",
        200,
        lambda w: {
            "success": True,
            "message": "tutorial2 update process complete.",
            "results": [done(w, w.s1, "updated to 3", "tutorial2")],
        },
        body=lambda w: bulk_body(w, [{"rollno": w.s1, "mark": 3}], teacherEmail=w.stranger),
        marks=lambda w: {w.s1: {"tutorial2": 3}},
    ),
    Case(
        "bulk-non-numeric-is-500-after-earlier-items",
        BULK,
        "POST",
        "add-tut1-mark",
        500,
        lambda w: fail("Server error during tutorial1 update"),
        body=lambda w: bulk_body(w, [{"rollno": w.s2, "mark": 6}, {"rollno": w.s1, "mark": "x"}]),
        marks=lambda w: {w.s1: ZERO, w.s2: {**ZERO, "tutorial1": 6}},
    ),
    Case(
        "bulk-null-item-is-500",
        BULK,
        "POST",
        "add-tut1-mark",
        500,
        lambda w: fail("Server error during tutorial1 update"),
        body=lambda w: bulk_body(w, [None]),
    ),
    Case(
        "bulk-cast-missing-and-null-marks",
        BULK,
        "POST",
        "add-tut1-mark",
        200,
        lambda w: {
            "success": True,
            "message": "tutorial1 update process complete.",
            "results": [
                done(w, w.s1, "updated to 9"),
                done(w, w.s2, "updated to undefined"),
                done(w, w.s2, "updated to null"),
            ],
        },
        body=lambda w: bulk_body(
            w, [{"rollno": w.s1, "mark": "9"}, {"rollno": w.s2}, {"rollno": w.s2, "mark": None}]
        ),
        marks=lambda w: {w.s1: {"tutorial1": 9}, w.s2: {"tutorial1": None}},
    ),
    Case(
        "bulk-archived-course",
        BULK,
        "POST",
        "add-tut1-mark",
        404,
        lambda w: fail("Teacher or Course not found"),
        body=lambda w: bulk_body(w, [{"rollno": w.s1, "mark": 1}]),
        setup=("archive",),
    ),
    Case(
        "bulk-empty-json-body-is-an-empty-object",
        BULK,
        "POST",
        "add-tut1-mark",
        404,
        lambda w: fail("Teacher or Course not found"),
        raw=b"",
    ),
    Case(
        "bulk-non-json-body-is-undefined",
        EXPRESS,
        "POST",
        "add-tut1-mark",
        500,
        lambda w: Html(
            "TypeError: Cannot destructure property &#39;teacherEmail&#39; of "
            "&#39;req.body&#39; as it is undefined."
        ),
        raw=b"a=b",
        content_type="application/x-www-form-urlencoded",
    ),
    # --- GET /staff/course-detail -------------------------------------------------------
    Case(
        "roster",
        ROSTER,
        "GET",
        "course-detail?courseId={course_id}",
        200,
        lambda w: {
            "success": True,
            "courseName": w.code,
            "students": [w.roster_entry(w.s1), w.roster_entry(w.s2)],
        },
    ),
    Case(
        "roster-unknown-course",
        ROSTER,
        "GET",
        "course-detail?courseId=NOPE-2021",
        404,
        lambda w: fail("Course not found"),
    ),
    Case(
        "roster-archived-course",
        ROSTER,
        "GET",
        "course-detail?courseId={course_id}",
        404,
        lambda w: fail("Course not found"),
        setup=("archive",),
    ),
    # --- GET /staff/dashboard -----------------------------------------------------------
    Case(
        "dashboard",
        DASH,
        "GET",
        "dashboard?email={teacher}",
        200,
        lambda w: {
            "success": True,
            "name": w.teacher_name(w.teacher),
            "courses": [w.course_entry()],
        },
    ),
    Case(
        "dashboard-unknown-teacher",
        DASH,
        "GET",
        "dashboard?email=ghost@college.edu",
        404,
        lambda w: fail("Teacher not found"),
    ),
    Case(
        "dashboard-after-archive",
        DASH,
        "GET",
        "dashboard?email={teacher}",
        200,
        lambda w: {"success": True, "name": w.teacher_name(w.teacher), "courses": []},
        setup=("archive",),
    ),
    Case(
        "dashboard-after-restore",
        DASH,
        "GET",
        "dashboard?email={teacher}",
        200,
        lambda w: {
            "success": True,
            "name": w.teacher_name(w.teacher),
            "courses": [w.course_entry()],
        },
        setup=("archive", "restore"),
    ),
    # --- archive / restore --------------------------------------------------------------
    Case(
        "archive",
        ARCH,
        "POST",
        "archive-course",
        200,
        lambda w: {
            "success": True,
            "message": "Course archived successfully",
            "archivedCourseId": ID,
        },
        body=lambda w: {"email": w.teacher, "courseId": w.course_id},
    ),
    Case(
        "archive-by-a-teacher-who-does-not-handle-it",
        ARCH,
        "POST",
        "archive-course",
        403,
        lambda w: fail("Unauthorized to archive this course"),
        body=lambda w: {"email": w.stranger, "courseId": w.course_id},
    ),
    Case(
        "archived-courses",
        ARCHIVED,
        "GET",
        "archived-courses?email={teacher}",
        200,
        lambda w: {
            "success": True,
            "archivedCourses": [
                {
                    "id": ID,
                    "courseId": w.course_id,
                    "courseName": w.code,
                    "courseCode": w.code,
                    "batch": "2021",
                    "archivedAt": DATE,
                    "studentCount": 2,
                }
            ],
        },
        setup=("archive",),
    ),
    Case(
        "restore-by-another-teacher",
        REST,
        "POST",
        "restore-course",
        403,
        lambda w: fail("Unauthorized to restore this course"),
        body=lambda w: {"email": w.stranger, "archivedCourseId": w.archived_id},
        setup=("archive",),
    ),
    Case(
        "restore-unknown-archive",
        REST,
        "POST",
        "restore-course",
        404,
        lambda w: fail("Archived course not found"),
        body=lambda w: {"email": w.teacher, "archivedCourseId": "0" * 24},
    ),
    Case(
        "restore-bad-archive-id",
        REST,
        "POST",
        "restore-course",
        500,
        lambda w: fail("Server error while restoring course"),
        body=lambda w: {"email": w.teacher, "archivedCourseId": "nope"},
    ),
    Case(
        "restore-brings-marks-back",
        REST,
        "POST",
        "restore-course",
        200,
        lambda w: {
            "success": True,
            "message": "Course restored successfully",
            "courseId": w.course_id,
        },
        body=lambda w: {"email": w.teacher, "archivedCourseId": w.archived_id},
        setup=("mark-s1", "archive"),
        marks=lambda w: {w.s1: {**ZERO, "tutorial4": 5}, w.s2: ZERO},
    ),
    # --- routes upstream does not have --------------------------------------------------
    Case(
        "no-verify-email",
        ROUTES,
        "GET",
        "verify-email?email={teacher}",
        404,
        lambda w: Html("Cannot GET /staff/verify-email"),
    ),
    Case(
        "unknown-route",
        ROUTES,
        "POST",
        "nothing",
        404,
        lambda w: Html("Cannot POST /staff/nothing"),
        body=lambda w: {},
    ),
]


# --- targets -----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


class Target:
    prefix = ""
    host = "127.0.0.1"
    port = 0

    def world(self, own_teacher: bool = True) -> World:
        raise NotImplementedError

    def drop_record(self, w: World, roll: str) -> None:
        raise NotImplementedError

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {"Connection": "close"}
        if data is not None:
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, f"{self.prefix}/staff/{path}", body=data, headers=headers)
            response = conn.getresponse()
            return Reply(response.status, response.getheader("Content-Type", ""), response.read())
        finally:
            conn.close()

    def marks(self, w: World, roll: str) -> dict[str, Any]:
        body = {"teacherEmail": w.teacher, "studentEmail": w.email(roll), "courseId": w.course_id}
        reply = self.call("POST", "student-detail", body)
        assert reply.status == 200, reply.body
        return json.loads(reply.body)["marks"]


class FakeTarget(Target):
    prefix = "/api"

    def __init__(self, handle: Any):
        self.handle = handle
        self.port = handle.analyzer.port
        self._ids = itertools.count(1)
        self.stranger = "stranger@college.edu"
        handle.control.seed(
            {"teachers": [{"email": self.stranger, "name": World.teacher_name(self.stranger)}]}
        )

    def world(self, own_teacher: bool = True) -> World:
        n = next(self._ids)
        teacher = f"t{n:04d}@college.edu"
        w = World(teacher, self.stranger, f"C{n:04d}", f"R{n:04d}A", f"R{n:04d}B", f"R{n:04d}C")
        students = [{"rollno": r, "name": w.name(r), "email": w.email(r)} for r in (w.s1, w.s2)]
        self.handle.control.seed(
            {
                "teachers": [{"email": teacher, "name": w.teacher_name(teacher)}],
                "students": [{"rollno": w.s3, "name": w.name(w.s3), "email": w.email(w.s3)}],
                "courses": [
                    {
                        "course_id": w.course_id,
                        "name": w.code,
                        "teachers": [teacher],
                        "students": students,
                    }
                ],
            }
        )
        return w

    def drop_record(self, w: World, roll: str) -> None:
        # A state upstream's routes cannot make: reseed the roll without a record.
        self.handle.analyzer.state.performance.pop((roll, w.course_id))


class UpstreamTarget(Target):
    def __init__(self, upstream: Any):
        self.upstream = upstream
        self.port = upstream.port
        self.stranger = upstream.new_teacher()
        self.shared = upstream.new_teacher()

    def world(self, own_teacher: bool = True) -> World:
        up = self.upstream
        # `run teacher` costs a node process: only cases reading a teacher's own course
        # lists (dashboard, archives) get a fresh one.
        teacher = up.new_teacher() if own_teacher else self.shared
        rolls = [up.unique("R") for _ in range(3)]
        code = up.unique("C")
        up.create_student(teacher, rolls[2])
        up.create_course(teacher, rolls[:2], code=code, name=code)
        return World(teacher, self.stranger, code, *rolls)


@pytest.fixture(scope="module")
def fake_target():
    with running_fake_analyzer(seed=False) as handle:
        yield FakeTarget(handle)


@pytest.fixture(scope="module")
def upstream_target(upstream_analyzer):
    return UpstreamTarget(upstream_analyzer)


# --- running a case ----------------------------------------------------------------------

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
ISO_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def normalise(value: Any) -> Any:
    """Mongo ids and timestamps differ between any two runs: replace them by markers."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and OBJECT_ID.match(value):
        return ID
    if isinstance(value, str) and ISO_DATE.match(value):
        return DATE
    return value


def pre_text(body: bytes, prefix: str) -> str:
    """The <pre> of an Express error page, without a proxy prefix (the fake's /api)."""
    found = re.search(rb"<pre>(.*?)</pre>", body, re.S)
    assert found, body[:300]
    text = found.group(1).decode()
    return text.replace(f"{prefix}/staff/", "/staff/") if prefix else text


OWN_TEACHER_ROUTES = ("dashboard", "archive-course", "restore-course", "archived-courses")


def run_case(target: Target, case: Case) -> None:
    w = target.world(own_teacher=bool(case.setup) or case.path.startswith(OWN_TEACHER_ROUTES))
    for step in case.setup:
        if step == "archive":
            reply = target.call(
                "POST", "archive-course", {"email": w.teacher, "courseId": w.course_id}
            )
            assert reply.status == 200, reply.body
            w.archived_id = json.loads(reply.body)["archivedCourseId"]
        elif step == "restore":
            body = {"email": w.teacher, "archivedCourseId": w.archived_id}
            assert target.call("POST", "restore-course", body).status == 200
        elif step == "mark-s1":
            body = marks_body(w, {"tutorial4": 5})
            assert target.call("POST", "update-student-marks", body).status == 200
        elif step == "drop-s2-record":
            target.drop_record(w, w.s2)
        else:
            raise AssertionError(step)
    body = case.body(w) if case.body else None
    reply = target.call(
        case.method,
        case.path.format(**vars(w), course_id=w.course_id),
        body,
        case.raw,
        case.content_type,
    )
    expected = case.expect(w)
    where = f"{case.source[0]} {case.source[1]}"
    assert reply.status == case.status, f"{where}: {reply.status} {reply.body[:300]!r}"
    if isinstance(expected, Html):
        assert reply.content_type.startswith("text/html"), where
        assert pre_text(reply.body, target.prefix).startswith(expected.text), where
    else:
        assert reply.content_type.startswith("application/json"), where
        assert normalise(json.loads(reply.body)) == expected, where
    if case.marks:
        for roll, subset in case.marks(w).items():
            held = target.marks(w, roll)
            assert {k: held[k] for k in subset} == subset, f"{where}: marks of {roll}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fake_answers_as_upstream(fake_target, case):
    run_case(fake_target, case)


UPSTREAM_CASES = [c for c in CASES if c.upstream]


@pytest.mark.parametrize("case", UPSTREAM_CASES, ids=[c.id for c in UPSTREAM_CASES])
def test_upstream_answers_as_the_table_says(upstream_target, case):
    run_case(upstream_target, case)


def test_the_table_covers_every_route_we_call():
    paths = {c.path.split("?")[0] for c in CASES}
    assert {
        "update-student-marks",
        "add-tut1-mark",
        "course-detail",
        "dashboard",
        "archive-course",
        "restore-course",
        "archived-courses",
    } <= paths
    assert all(c.source[0] and c.source[1] for c in CASES)
    assert len({c.id for c in CASES}) == len(CASES)
