"""The real upstream Academic Analyzer, run for tests (`upstream_analyzer` in conftest.py) and
for the bench (bench/resync_drain_upstream.py). It lives in bench/ so that both can import it
without the bench importing the test suite.

Upstream's code (Manikandan-K-S/Classroom_Connect, `academic-analyzer/`, commit e0d3100)
lives beside the repository in `../shared/upstream` (override: `UPSTREAM_ANALYZER_DIR`),
with a `run` script that starts it on Node against a local MongoDB-compatible database
(see that folder's README). One server runs per test session; tests share it and keep
apart by using fresh ids (`UpstreamAnalyzer.unique()`), never by restarting it.

    def test_something(upstream_analyzer):
        up = upstream_analyzer
        teacher = up.new_teacher()                         # a fresh teacher, no courses
        rolls = [up.unique("R") for _ in range(2)]
        course_id = up.create_course(teacher, rolls)       # students created and enrolled
        status, _, body = up.post("/staff/update-student-marks", {...})
        archived_id = up.archive_course(teacher, course_id)
        up.restore_course(teacher, archived_id)
        up.marks(teacher, rolls[0], course_id)             # {"tutorial1": 0, ..., "CA1": 0, ...}

Students get the name `Student <roll>` and the address `<roll in lower case>@college.edu`
unless given; `up.base_url` is the server's root (upstream mounts its routes at /staff).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]  # bench/upstream.py → the repository
DIR_ENV = "UPSTREAM_ANALYZER_DIR"
START_TIMEOUT_S = 300  # a first start installs node modules and a venv
TEACHER_BATCH = 8  # teachers made at once (upstream has no route: one node process each)


def upstream_dir() -> Path:
    """Where upstream's code and `run` script are: $UPSTREAM_ANALYZER_DIR or ../shared/upstream."""
    configured = os.environ.get(DIR_ENV)
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "upstream"


def skip_reason() -> str | None:
    """Why the upstream Analyzer cannot run here, or None when it can."""
    folder = upstream_dir()
    if not (folder / "run").is_file() or not (folder / "academic-analyzer").is_dir():
        return f"upstream Analyzer not found in {folder} (set {DIR_ENV})"
    missing = [tool for tool in ("node", "npm", "python3") if shutil.which(tool) is None]
    if missing:
        return f"the upstream Analyzer needs {' and '.join(missing)} on PATH"
    return None


class UpstreamError(RuntimeError):
    """Upstream refused a seeding call, or could not be started."""


class UpstreamAnalyzer:
    """A running upstream Analyzer: plain HTTP calls and seeding through its own routes."""

    def __init__(self, folder: Path, state_dir: Path, base_url: str):
        self.folder = folder
        self.state_dir = state_dir
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self._ids = itertools.count(1)
        self._stamp = f"{int(time.time()) % 100000:05d}"
        self._teachers: list[str] = []
        self._lock = threading.Lock()
        self.start_seconds: float | None = None

    # plain HTTP

    def request(
        self, method: str, path: str, body: Any = None, *, raw: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-cased headers, body bytes) of one request to `path` (e.g. /staff/…)."""
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        headers = {"Connection": "close"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def post(self, path: str, body: Any) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body)

    def get(self, path: str, **query: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", f"{path}?{urlencode(query)}" if query else path)

    def _ok(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, _, raw = self.post(path, body)
        answer = json.loads(raw) if raw.startswith(b"{") else {}
        if status != 200 or answer.get("success") is not True:
            raise UpstreamError(f"POST {path} {body}: {status} {raw[:300]!r}")
        return answer

    # seeding, through upstream's own routes

    def unique(self, prefix: str = "X") -> str:
        """A fresh id for this session: roll numbers, course codes, addresses."""
        return f"{prefix}{self._stamp}{next(self._ids):04d}"

    def add_teachers(self, emails: list[str]) -> None:
        """Create teachers (`run teacher`: upstream has no route), several at a time."""

        def one(email: str) -> None:
            self._run("teacher", str(self.state_dir), email, f"Teacher {email.split('@')[0]}")

        with ThreadPoolExecutor(max_workers=TEACHER_BATCH) as pool:
            list(pool.map(one, emails))

    def new_teacher(self) -> str:
        """A fresh teacher who handles nothing yet (named `Teacher <local part>`)."""
        with self._lock:
            if not self._teachers:
                batch = [f"{self.unique('t').lower()}@college.edu" for _ in range(TEACHER_BATCH)]
                self.add_teachers(batch)
                self._teachers.extend(batch)
            return self._teachers.pop()

    def create_student(
        self,
        teacher: str,
        rollno: str,
        name: str | None = None,
        email: str | None = None,
        batch: str = "2021",
    ) -> None:
        self._ok(
            "/staff/create-student",
            {
                "teacherEmail": teacher,
                "studentName": name or f"Student {rollno}",
                "rollno": rollno,
                "studentEmail": email or f"{rollno.lower()}@college.edu",
                "batch": batch,
            },
        )

    def create_course(
        self,
        teacher: str,
        students: Sequence[str] = (),
        *,
        code: str | None = None,
        name: str | None = None,
        batch: str = "2021",
        create_students: bool = True,
    ) -> str:
        """A course created by `teacher` (so assigned to them alone), with `students` (roll
        numbers) created (unless `create_students=False`) and enrolled, each with a
        performance record of zeros. Returns upstream's course id, `<code>-<batch>`."""
        code = code or self.unique("C")
        course_id = self._ok(
            "/staff/create-course",
            {
                "teacherEmail": teacher,
                "courseName": name or code,
                "courseCode": code,
                "batch": batch,
            },
        )["courseId"]
        for roll in students:
            if create_students:
                self.create_student(teacher, roll)
            self.enrol(teacher, course_id, roll)
        return course_id

    def enrol(self, teacher: str, course_id: str, rollno: str) -> None:
        self._ok(
            "/staff/add-student", {"teacherEmail": teacher, "courseId": course_id, "rollno": rollno}
        )

    def archive_course(self, teacher: str, course_id: str) -> str:
        """Archive (upstream deletes the course and its marks); returns the archive's id."""
        answer = self._ok("/staff/archive-course", {"email": teacher, "courseId": course_id})
        return answer["archivedCourseId"]

    def restore_course(self, teacher: str, archived_id: str) -> None:
        """Restore as `teacher` (who must be the one who archived it)."""
        self._ok("/staff/restore-course", {"email": teacher, "archivedCourseId": archived_id})

    def marks(self, teacher: str, rollno: str, course_id: str) -> dict[str, Any]:
        """A student's marks in a course (upstream's POST /staff/student-detail)."""
        email = f"{rollno.lower()}@college.edu"
        return self._ok(
            "/staff/student-detail",
            {"teacherEmail": teacher, "studentEmail": email, "courseId": course_id},
        )["marks"]

    # process

    def _run(self, *args: str) -> str:
        done = subprocess.run(
            [str(self.folder / "run"), *args],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise UpstreamError(f"run {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout


@contextlib.contextmanager
def running_upstream_analyzer(state_dir: Path) -> Iterator[UpstreamAnalyzer]:
    """Start upstream (`run start state_dir`), yield it, and stop it on exit."""
    folder = upstream_dir()
    started = time.monotonic()
    probe = UpstreamAnalyzer(folder, state_dir, "http://127.0.0.1:1")
    try:
        output = probe._run("start", str(state_dir))
        base_url = next(
            (line.split("=", 1)[1] for line in output.splitlines() if line.startswith("BASE_URL=")),
            None,
        )
        if base_url is None:
            raise UpstreamError(f"run start printed no BASE_URL:\n{output}")
        analyzer = UpstreamAnalyzer(folder, state_dir, base_url)
        analyzer.start_seconds = time.monotonic() - started
        yield analyzer
    finally:
        with contextlib.suppress(UpstreamError, subprocess.TimeoutExpired):
            probe._run("stop", str(state_dir))
