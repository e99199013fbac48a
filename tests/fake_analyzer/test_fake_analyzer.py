"""The bundled fake Academic Analyzer: contract rows, token modes, faults and plumbing.

No database: one in-process server per module, reset before every test.
"""

import http.client
import json
import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from fake_analyzer import (
    FakeAnalyzerControlError,
    demo_seed,
    running_fake_analyzer,
    start_fake_analyzer_process,
)

MARKS = "/api/staff/update-student-marks"
DETAIL = "/api/staff/course-detail"
VERIFY = "/api/staff/verify-email"
DASHBOARD = "/api/staff/dashboard"
BULK = "/api/staff/add-tut1-mark"
BULK_BODY = {"teacherEmail": "anand@college.edu", "courseId": "19XW51"}
GOOD = {
    "studentId": "21Z201",
    "courseId": "19XW51",
    "teacherEmail": "anand@college.edu",
    "marks": {"tutorial2": 7.5},
}
# A new enrolment's performance record: upstream's schema defaults, 0 for every mark.
NULL_MARKS = dict.fromkeys(
    ("tutorial1", "tutorial2", "tutorial3", "tutorial4", "CA1", "CA2", "assignmentPresentation"), 0
)
CONNECTION_DROPPED = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


@pytest.fixture(scope="module")
def server():
    with running_fake_analyzer() as handle:
        yield handle


@pytest.fixture
def fake(server):
    server.control.reset()
    return server


def connect(fake, timeout: float = 2.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", fake.analyzer.port, timeout=timeout)


def send(conn, method: str, path: str, body: Any = None, headers=None, raw=None) -> Reply:
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    return Reply(response.status, response.headers, response.read())


def call(fake, method: str, path: str, body: Any = None, *, timeout=2.0, **kwargs) -> Reply:
    conn = connect(fake, timeout)
    try:
        return send(conn, method, path, body, **kwargs)
    finally:
        conn.close()


def post_marks(fake, body: Any = None, **kwargs) -> Reply:
    return call(fake, "POST", MARKS, GOOD if body is None else body, **kwargs)


def express_404_page(method: str, path: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Error</title>\n</head>\n<body>\n"
        f"<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n"
    ).encode()


@pytest.fixture(params=["upstream", "legacy"])
def mode(request, fake):
    fake.control.set_profile(request.param)
    return request.param


# --- seed data -----------------------------------------------------------------------------


def test_demo_seed_gives_every_enrolled_student_empty_marks(fake):
    expected: dict[str, dict[str, Any]] = {}
    for course in demo_seed()["courses"]:
        for roll in course["students"]:
            expected.setdefault(roll, {})[course["course_id"]] = NULL_MARKS
    assert fake.control.marks() == expected


def test_seed_adds_and_reset_replaces(fake):
    fake.control.seed(
        {
            "teachers": ["new@college.edu"],
            "courses": [{"course_id": "X1", "name": "Extra", "students": ["99Z001"]}],
        }
    )
    marks = fake.control.marks()
    assert marks["99Z001"] == {"X1": NULL_MARKS}
    assert "19XW51" in marks["21Z201"]  # demo data kept

    fake.control.reset(seed={"courses": [{"course_id": "X1", "students": ["99Z001"]}]})
    assert fake.control.marks() == {"99Z001": {"X1": NULL_MARKS}}

    fake.control.reset()
    assert "99Z001" not in fake.control.marks()


def test_bad_seed_is_rejected_without_changes(fake):
    with pytest.raises(FakeAnalyzerControlError) as excinfo:
        fake.control.seed({"courses": [{"course_id": "X1", "students": "not-a-list"}]})
    assert excinfo.value.status == 400
    assert "X1" not in json.dumps(fake.control.marks())


# --- update-student-marks ----------------------------------------------------------------


def test_update_sets_only_the_given_marks(fake, mode):
    reply = post_marks(fake)
    assert reply.status == 200
    assert reply.json == {
        "success": True,
        "message": "Marks updated successfully for student Arun K",
    }

    post_marks(fake, {**GOOD, "marks": {"tutorial1": 3, "tutorial4": 10}})
    again = post_marks(fake)  # setting the same value twice is harmless
    assert again.status == 200
    assert fake.control.marks()["21Z201"]["19XW51"] == {
        **NULL_MARKS,
        "tutorial1": 3,
        "tutorial2": 7.5,
        "tutorial4": 10,
    }
    assert fake.control.marks()["21Z202"]["19XW51"] == NULL_MARKS


NO_RECORD_SEED = {
    "courses": [{"course_id": "NP1", "students": ["21Z201"], "no_performance": ["21Z201"]}]
}


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"teacherEmail": "nobody@college.edu", "studentId": "00X000"}, 404, "Teacher not found"),
        ({"studentId": "00X000", "courseId": "NOPE"}, 404, "Student not found"),
        ({"courseId": "NOPE"}, 404, "Course not found"),
        (
            {"studentId": "21Z204", "courseId": "19XW52"},
            400,
            "Student is not enrolled in this course",
        ),
        ({"courseId": "NP1"}, 404, "No performance record found for this student"),
        ({"teacherEmail": None}, 404, "Teacher not found"),
        ({"marks": None}, 500, "Server error updating marks"),
        ({"marks": {"tutorial1": "seven"}}, 500, "Server error updating marks"),
    ],
)
def test_update_failures_follow_the_documented_order(fake, mode, changes, status, message):
    fake.control.seed(NO_RECORD_SEED)
    before = fake.control.marks()
    reply = post_marks(fake, {**GOOD, **changes})
    assert reply.status == status
    assert reply.content_type.startswith("application/json")
    assert reply.json["success"] is False
    if message:
        assert reply.json["message"] == message
    assert fake.control.marks() == before


@pytest.mark.parametrize("raw", [b"{not json", b'"text"'])
def test_bodies_express_json_rejects_answer_its_400_html_page(fake, raw):
    reply = call(fake, "POST", MARKS, raw=raw)
    assert reply.status == 400
    assert reply.content_type.startswith("text/html")
    assert b"<pre>SyntaxError: " in reply.body
    assert fake.control.received()[-1]["status"] == 400


def test_an_array_body_destructures_to_nothing(fake):
    reply = call(fake, "POST", MARKS, raw=b"[1, 2]")
    assert (reply.status, reply.json) == (404, {"success": False, "message": "Teacher not found"})


def test_a_body_not_sent_as_json_is_undefined_and_a_500_page(fake):
    reply = call(fake, "POST", MARKS, raw=b"a=b", headers={"Content-Type": "text/plain"})
    assert reply.status == 500
    assert b"Cannot destructure property &#39;studentId&#39; of &#39;req.body&#39;" in reply.body


def test_bad_content_length_answers_400_and_server_survives(fake):
    with socket.create_connection(("127.0.0.1", fake.analyzer.port), timeout=2) as sock:
        sock.sendall(b"POST " + MARKS.encode() + b" HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        assert b" 400 " in sock.recv(4096).split(b"\r\n")[0]
    with socket.create_connection(("127.0.0.1", fake.analyzer.port), timeout=2) as sock:
        sock.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.")
    assert post_marks(fake).status == 200


# --- deleted courses -----------------------------------------------------------------------


def test_archived_course_is_404_everywhere_and_restore_keeps_marks(fake):
    post_marks(fake)
    archived_id = fake.control.archive_course("19XW51")
    assert len(archived_id) == 24
    assert "19XW51" not in fake.control.marks()["21Z201"]  # performance records deleted
    reply = post_marks(fake, {**GOOD, "marks": {"tutorial2": 1}})
    assert (reply.status, reply.json["message"]) == (404, "Course not found")
    bulk = call(fake, "POST", BULK, {**BULK_BODY, "studentInput": []})
    assert (bulk.status, bulk.json["message"]) == (404, "Teacher or Course not found")
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 404
    assert call(fake, "GET", f"{DASHBOARD}?email=anand@college.edu").json["courses"] == []

    fake.control.restore_course("19XW51")
    assert fake.control.marks()["21Z201"]["19XW51"] == {**NULL_MARKS, "tutorial2": 7.5}
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 200
    assert post_marks(fake).status == 200


def test_restore_assigns_only_the_teacher_who_archived(fake):
    fake.control.seed({"courses": [{"course_id": "19XW51", "teachers": ["priya@college.edu"]}]})

    def courses(email):
        reply = call(fake, "GET", f"{DASHBOARD}?email={email}")
        return [c["courseId"] for c in reply.json["courses"]]

    assert courses("priya@college.edu") == ["19XW52", "19XW51"]
    fake.control.archive_course("19XW51", teacher="priya@college.edu")
    fake.control.restore_course("19XW51")
    assert courses("priya@college.edu") == ["19XW52", "19XW51"]
    assert courses("anand@college.edu") == []
    assert fake.control.config()["courses"][-1]["teachers"] == ["priya@college.edu"]
    # No route checks the teacher: anand's marks are still accepted.
    assert post_marks(fake).status == 200


def test_archive_control_checks_the_teacher_and_the_course(fake):
    with pytest.raises(FakeAnalyzerControlError) as excinfo:
        fake.control.archive_course("19XW51", teacher="priya@college.edu")
    assert excinfo.value.status == 403
    fake.control.restore_course("19XW51")  # not archived: nothing to do
    assert fake.control.config()["courses"][0]["teachers"] == ["anand@college.edu"]
    with pytest.raises(FakeAnalyzerControlError) as excinfo:
        fake.control.restore_course("NOPE")
    assert excinfo.value.status == 404


def test_archived_course_is_a_500_stack_trace_in_the_legacy_profile(fake):
    fake.control.set_profile("legacy")
    fake.control.delete_course("19XW51")  # the old name of archive_course
    reply = post_marks(fake)
    assert reply.status == 500
    assert reply.content_type.startswith("text/html")
    assert b"TypeError: Cannot read properties of null" in reply.body
    assert b"    at updateStudentMarks" in reply.body
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 404
    never = post_marks(fake, {**GOOD, "courseId": "NEVER"})
    assert (never.status, never.json["message"]) == (404, "Course not found")


def test_unknown_course_control_call_is_404(fake):
    with pytest.raises(FakeAnalyzerControlError) as excinfo:
        fake.control.delete_course("NOPE")
    assert excinfo.value.status == 404


# --- course-detail and verify-email --------------------------------------------------------


def test_course_detail_is_the_roster(fake, mode):
    fake.control.seed({"courses": [{"course_id": "EMPTY", "name": "Nobody"}]})
    reply = call(fake, "GET", f"{DETAIL}?courseId=19XW52")
    assert reply.status == 200
    students = reply.json["students"]
    assert reply.json == {"success": True, "courseName": "Operating Systems", "students": students}
    assert [{k: v for k, v in s.items() if k != "_id"} for s in students] == [
        {"name": "Arun K", "rollno": "21Z201", "email": "21z201@college.edu"},
        {"name": "Bhavya S", "rollno": "21Z202", "email": "21z202@college.edu"},
        {"name": "Charan M", "rollno": "21Z203", "email": "21z203@college.edu"},
    ]
    assert all(len(s["_id"]) == 24 for s in students)
    assert call(fake, "GET", f"{DETAIL}?courseId=EMPTY").json["students"] == []
    missing = call(fake, "GET", f"{DETAIL}?courseId=NOPE")
    assert (missing.status, missing.json) == (
        404,
        {"success": False, "message": "Course not found"},
    )


def test_dashboard_lists_the_courses_a_teacher_handles(fake):
    reply = call(fake, "GET", f"{DASHBOARD}?email=priya@college.edu")
    assert reply.status == 200
    courses = reply.json["courses"]
    assert reply.json == {"success": True, "name": "Priya Nair", "courses": courses}
    assert [{k: v for k, v in c.items() if k != "_id"} for c in courses] == [
        {
            "courseName": "Operating Systems",
            "courseId": "19XW52",
            "courseCode": "19XW52",
            "batch": "",
        }
    ]
    missing = call(fake, "GET", f"{DASHBOARD}?email=ghost@college.edu")
    assert (missing.status, missing.json["message"]) == (404, "Teacher not found")


def test_seeded_ids_of_upstream_shape_give_code_and_batch(fake):
    fake.control.seed(
        {"courses": [{"course_id": "19XW51-2021", "teachers": ["anand@college.edu"]}]}
    )
    courses = call(fake, "GET", f"{DASHBOARD}?email=anand@college.edu").json["courses"]
    assert (courses[-1]["courseCode"], courses[-1]["batch"]) == ("19XW51", "2021")


def test_bulk_route_in_the_default_profile(fake):
    body = {**BULK_BODY, "studentInput": [{"rollno": "21Z201", "mark": 8}, {"rollno": "21Z299"}]}
    reply = call(fake, "POST", BULK, body)
    assert reply.status == 200
    assert reply.json["results"] == [
        {"email": "21z201@college.edu", "status": "success", "message": "tutorial1 updated to 8"},
        {"email": "21Z299", "status": "failed", "message": "Student not found"},
    ]
    assert fake.control.marks()["21Z201"]["19XW51"]["tutorial1"] == 8


@pytest.mark.parametrize("profile", ["no-bulk", "legacy", "legacy-front"])
def test_profiles_without_bulk_routes_answer_express_404(fake, profile):
    fake.control.set_profile(profile)
    reply = call(fake, "POST", BULK, {**BULK_BODY, "studentInput": []})
    assert reply.status == 404
    assert reply.body == express_404_page("POST", BULK)
    assert post_marks(fake).status == 200


def test_verify_email_only_in_the_custom_profile(fake):
    assert call(fake, "GET", f"{VERIFY}?email=anand@college.edu").body == express_404_page(
        "GET", VERIFY
    )
    fake.control.set_profile("custom")
    assert call(fake, "GET", f"{VERIFY}?email=anand@college.edu").json == {
        "success": True,
        "exists": True,
    }
    assert call(fake, "GET", f"{VERIFY}?email=ghost@college.edu").json["exists"] is False


def test_verify_email_does_not_exist_in_the_legacy_profile(fake):
    fake.control.set_legacy(True)
    reply = call(fake, "GET", f"{VERIFY}?email=anand@college.edu")
    assert reply.status == 404
    assert reply.body == express_404_page("GET", VERIFY)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/whatever"),
        ("GET", MARKS),
        ("POST", DETAIL),
        ("DELETE", "/api/staff/update-student-marks"),
        ("GET", "/"),
    ],
)
def test_other_routes_get_express_html_404(fake, mode, method, path):
    reply = call(fake, method, path, {} if method == "POST" else None)
    assert reply.status == 404
    assert reply.content_type.startswith("text/html")
    assert reply.body == express_404_page(method, path)


# --- tokens --------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_modern_token_check(fake):
    fake.control.set_token("s3cret")
    for headers in ({}, bearer("wrong"), {"Authorization": "s3cret"}):
        reply = post_marks(fake, headers=headers)
        assert reply.status == 401
        assert reply.json == {
            "success": False,
            "code": "invalid_token",
            "message": "Invalid or expired token",
        }
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 401
    assert fake.control.marks()["21Z201"]["19XW51"] == NULL_MARKS

    assert post_marks(fake, headers=bearer("s3cret")).status == 200
    received = fake.control.received()
    assert [r["authorized"] for r in received] == [False, False, False, False, True]
    assert "s3cret" not in json.dumps(received)


def test_legacy_token_check_is_a_bare_403_page(fake):
    fake.control.reset(token="s3cret", legacy=True)
    reply = post_marks(fake, headers=bearer("wrong"))
    assert reply.status == 403
    assert reply.content_type.startswith("text/html")
    assert b"token" not in reply.body.lower()
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 403
    assert post_marks(fake, headers=bearer("s3cret")).status == 200


def test_no_token_configured_ignores_the_header(fake, mode):
    assert post_marks(fake, headers=bearer("anything")).status == 200
    assert fake.control.received()[-1]["authorized"] is True


def test_token_rotation_stops_the_old_token_at_once(fake):
    fake.control.set_token("old")
    conn = connect(fake)  # same keep-alive connection throughout
    assert send(conn, "POST", MARKS, GOOD, headers=bearer("old")).status == 200
    fake.control.set_token("new")
    assert send(conn, "POST", MARKS, GOOD, headers=bearer("old")).status == 401
    assert send(conn, "POST", MARKS, GOOD, headers=bearer("new")).status == 200
    fake.control.set_token(None)
    assert send(conn, "POST", MARKS, GOOD).status == 200
    conn.close()


def test_reset_restores_startup_state(fake):
    fake.control.set_token("t")
    fake.control.set_legacy(True)
    fake.control.set_latency(50)
    fake.control.set_fault("500")
    post_marks(fake, headers=bearer("t"))
    fake.control.reset()
    config = fake.control.config()
    assert (config["legacy"], config["token_set"], config["latency_ms"]) == (False, False, 0)
    assert config["profile"]["name"] == "upstream"
    assert config["faults"] == []
    assert fake.control.received() == []
    assert fake.control.stats()["requests"] == 0
    assert post_marks(fake).status == 200


def test_service_time_is_timed_per_answer_latency_included_and_cleared_with_stats(fake):
    """What the benchmarks credit to the Analyzer: its own time per answered request."""
    assert fake.control.stats()["service_ms"] == {"n": 0, "p50": None, "p95": None}
    fake.control.set_latency(30)
    for _ in range(3):
        assert post_marks(fake).status == 200
    timed = fake.control.stats()["service_ms"]
    assert timed["n"] == 3
    assert 30 <= timed["p50"] <= timed["p95"] < 1000
    fake.control.set_fault("hang", count=1)
    with pytest.raises(TimeoutError):
        post_marks(fake, timeout=0.3)  # never answered: nothing to time
    assert fake.control.stats()["service_ms"]["n"] == 3
    fake.control.clear_stats()
    assert fake.control.stats()["service_ms"]["n"] == 0


def test_an_answer_still_being_written_across_a_clear_is_not_counted_after_it():
    """A test's last answer may finish writing after the next test cleared the stats."""
    from fake_analyzer.state import AnalyzerState

    state = AnalyzerState(seed=False)
    before = state.stats_period
    state.clear_stats()
    state.record_service_time(4.0, period=before)  # began before the clear
    assert state.snapshot_stats()["service_ms"]["n"] == 0
    state.record_service_time(5.0, period=state.stats_period)
    assert state.snapshot_stats()["service_ms"] == {"n": 1, "p50": 5.0, "p95": 5.0}


# --- faults --------------------------------------------------------------------------------


def test_refuse_closes_the_port_and_clearing_reopens_it(fake):
    idle = connect(fake)
    assert send(idle, "GET", f"{DETAIL}?courseId=19XW51").status == 200
    fake.control.set_fault("refuse")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", fake.analyzer.port), timeout=1)
    with pytest.raises((*CONNECTION_DROPPED, ConnectionRefusedError)):
        send(idle, "GET", f"{DETAIL}?courseId=19XW51")  # the server took it down too
    idle.close()

    fake.control.clear_faults()
    assert post_marks(fake).status == 200
    assert fake.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5


def test_partial_refuse_resets_new_connections(fake):
    fake.control.set_fault("refuse", count=1)
    with pytest.raises(CONNECTION_DROPPED):
        post_marks(fake)
    assert post_marks(fake).status == 200
    stats = fake.control.stats()
    assert stats["faults"] == {"refuse": 1}
    assert stats["connections"] == 2
    assert len(fake.control.received()) == 1  # the aborted connection sent nothing we read


def test_hang_respects_client_timeout_and_records_nothing(fake):
    fake.control.set_fault("hang")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        post_marks(fake, timeout=0.3)
    assert time.monotonic() - started < 1
    entry = fake.control.received()[-1]
    assert (entry["fault"], entry["status"], entry["body"]) == ("hang", None, GOOD)
    assert fake.control.marks()["21Z201"]["19XW51"] == NULL_MARKS


def test_clearing_faults_releases_hanging_requests(fake):
    fake.control.set_fault("hang")
    outcome: list[Any] = []

    def hang():
        try:
            outcome.append(post_marks(fake, timeout=5))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    fake.control.clear_faults()
    thread.join(3)
    assert time.monotonic() - started < 1
    assert isinstance(outcome[0], CONNECTION_DROPPED)  # released without an answer
    assert post_marks(fake).status == 200


def test_slow_answers_normally_after_the_delay(fake):
    fake.control.set_fault("slow", delay_ms=200)
    started = time.monotonic()
    reply = post_marks(fake)
    assert time.monotonic() - started >= 0.2
    assert reply.status == 200
    assert fake.control.received()[-1]["fault"] == "slow"
    assert fake.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5


@pytest.mark.parametrize(
    ("kind", "status", "content_type", "body_check"),
    [
        ("500", 500, "application/json", lambda b: json.loads(b)["message"] == "Server error"),
        ("503", 503, "text/html", lambda b: b"Service Unavailable" in b),
        ("html", 200, "text/html", lambda b: b"<form" in b),
        ("broken_json", 200, "application/json", lambda b: b == b'{"success": tr'),
        ("success_false", 200, "application/json", lambda b: json.loads(b)["success"] is False),
    ],
)
def test_canned_fault_answers_store_nothing(fake, kind, status, content_type, body_check):
    fake.control.set_fault(kind, retry_after=7)
    reply = post_marks(fake)
    assert reply.status == status
    assert reply.content_type.startswith(content_type)
    assert body_check(reply.body)
    if kind == "503":
        assert reply.headers["Retry-After"] == "7"
    assert fake.control.marks()["21Z201"]["19XW51"] == NULL_MARKS
    entry = fake.control.received()[-1]
    assert (entry["fault"], entry["status"]) == (kind, status)
    assert fake.control.stats()["faults"] == {kind: 1}


def test_reset_fault_drops_the_connection_after_reading(fake):
    fake.control.set_fault("reset")
    with pytest.raises(CONNECTION_DROPPED):
        post_marks(fake)
    entry = fake.control.received()[-1]
    assert (entry["fault"], entry["status"], entry["body"]) == ("reset", None, GOOD)
    assert fake.control.marks()["21Z201"]["19XW51"] == NULL_MARKS


def _open_marks_post(fake, timeout: float) -> http.client.HTTPResponse:
    conn = connect(fake, timeout)
    conn.request("POST", MARKS, body=json.dumps(GOOD), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    conn.close()  # the response keeps the socket open until it is closed itself
    return response


def test_trickle_stores_then_sends_headers_and_one_body_byte_per_interval(fake):
    fake.control.set_fault("trickle", delay_ms=20)
    response = _open_marks_post(fake, timeout=2.0)
    # The work is done and the real headers come at once; the body takes its time.
    assert response.status == 200
    assert fake.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5
    assert fake.control.received()[-1]["fault"] == "trickle"
    length = int(response.headers["Content-Length"])
    chunks = [response.read1(length) for _ in range(3)]
    assert [len(c) for c in chunks] == [1, 1, 1]  # each read brings the one byte there is
    body = b"".join(chunks) + response.read()
    assert json.loads(body)["success"] is True
    assert len(body) == length
    assert fake.control.stats()["faults"] == {"trickle": 1}


def test_trickle_outlasts_any_read_timeout_longer_than_its_interval(fake):
    fake.control.set_fault("trickle", delay_ms=300)
    response = _open_marks_post(fake, timeout=0.6)  # a timeout per read, as requests has
    assert response.status == 200
    assert response.read1(100) == b"{"  # one byte per read, each within the read timeout
    response.close()


def test_trickle_stops_when_faults_change(fake):
    fake.control.set_fault("trickle", delay_ms=30_000)
    response = _open_marks_post(fake, timeout=5.0)
    fake.control.clear_faults()
    with pytest.raises(http.client.IncompleteRead):
        response.read()


def test_endless_flood_is_a_200_json_body_without_end(fake):
    fake.control.set_fault("flood")
    response = _open_marks_post(fake, timeout=2.0)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert fake.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5
    first = response.read(100)
    assert first.startswith(b'{"success": true')
    read = len(first)
    while read < 8 * 2**20:
        read += len(response.read(2**20))
    response.close()  # the client leaves; the fake stops writing
    for _ in range(100):
        if fake.control.stats()["open_connections"] == 0:
            break
        time.sleep(0.02)
    assert fake.control.stats()["open_connections"] == 0
    assert fake.control.received()[-1]["fault"] == "flood"


def test_flood_of_a_given_size_is_valid_json_of_that_size(fake):
    fake.control.set_fault("flood", body_bytes=3 * 2**20 + 5)
    reply = post_marks(fake, timeout=5.0)
    assert reply.status == 200
    assert int(reply.headers["Content-Length"]) == len(reply.body) == 3 * 2**20 + 5
    assert json.loads(reply.body)["success"] is True
    assert fake.control.faults()[0]["body_bytes"] == 3 * 2**20 + 5


def test_fault_paths_and_count(fake):
    fake.control.set_faults([{"kind": "500", "paths": ["update-student-marks"], "count": 2}])
    assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 200
    assert [post_marks(fake).status for _ in range(4)] == [500, 500, 200, 200]
    assert fake.control.faults()[0]["fired"] == 2


def test_seeded_fraction_is_reproducible(fake):
    def pattern() -> list[int]:
        fake.control.set_faults(
            [{"kind": "500", "fraction": 0}, {"kind": "success_false", "fraction": 0.5}], seed=7
        )
        return [post_marks(fake).json["success"] for _ in range(16)]

    first = pattern()
    assert first == pattern()
    rng = random.Random(7)
    # One draw per applicable fault, in order: the never-firing fault draws too.
    expected = []
    for _ in range(16):
        rng.random()
        expected.append(not rng.random() < 0.5)
    assert first == expected
    assert True in first and False in first


def test_bad_faults_are_rejected(fake):
    for faults in (
        [{"kind": "explode"}],
        [{"kind": "500", "fraction": 2}],
        [{"kind": "500", "x": 1}],
        [{"kind": "flood", "body_bytes": 10}],
        [{"kind": "flood", "body_bytes": "big"}],
    ):
        with pytest.raises(FakeAnalyzerControlError) as excinfo:
            fake.control.set_faults(faults)
        assert excinfo.value.status == 400
    assert fake.control.faults() == []


# --- connections, latency, control plumbing ------------------------------------------------


def test_keep_alive_reuses_one_connection(fake):
    conn = connect(fake)
    replies = [send(conn, "POST", MARKS, GOOD) for _ in range(5)]
    replies.append(send(conn, "GET", f"{DETAIL}?courseId=19XW51"))
    conn.close()
    assert all(r.status == 200 for r in replies)
    assert all(r.headers["Content-Length"] for r in replies)
    stats = fake.control.stats()
    assert (stats["requests"], stats["connections"]) == (6, 1)
    assert stats["by_status"] == {"200": 6}


def test_connection_close_is_honoured(fake):
    with socket.create_connection(("127.0.0.1", fake.analyzer.port), timeout=2) as sock:
        request = f"GET {DETAIL}?courseId=19XW51 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(4096):
            data += chunk  # ends only because the server closes
    assert b"Connection: close" in data
    assert data.endswith(b"}")


def test_latency_is_added_without_serialising_requests(fake):
    fake.control.set_latency(150)
    durations: list[float] = []

    def one():
        started = time.monotonic()
        assert call(fake, "GET", f"{DETAIL}?courseId=19XW51").status == 200
        durations.append(time.monotonic() - started)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(durations) == 10
    assert min(durations) >= 0.15
    assert time.monotonic() - started < 0.8  # 10 x 150 ms would be 1.5 s if serialised


def test_control_api_rejects_garbage(fake):
    conn = http.client.HTTPConnection("127.0.0.1", fake.analyzer.control_port, timeout=2)
    assert send(conn, "POST", "/faults", raw=b"{nope").status == 400
    assert send(conn, "POST", "/latency", {"ms": "fast"}).status == 400
    assert send(conn, "GET", "/nowhere").status == 404
    conn.close()
    assert fake.control.health()


def test_received_log_and_clear(fake):
    post_marks(fake, headers={"X-Request-Id": "drill-7"})  # the caller's name for it, kept
    call(fake, "GET", f"{DETAIL}?courseId=19XW51")
    received = fake.control.received()
    assert [(r["method"], r["path"]) for r in received] == [("POST", MARKS), ("GET", DETAIL)]
    assert received[0]["body"] == GOOD
    assert received[1]["query"] == {"courseId": "19XW51"}
    assert [r["request_id"] for r in received] == ["drill-7", None]
    assert {r["status"] for r in received} == {200}
    assert set(received[0]) == {
        "time",
        "request_id",
        "method",
        "path",
        "query",
        "body",
        "authorized",
        "status",
        "fault",
    }
    fake.control.clear_received()
    assert fake.control.received() == []


def test_stop_releases_hanging_requests_quickly():
    with running_fake_analyzer(seed=False) as handle:
        handle.control.set_fault("hang")
        conn = http.client.HTTPConnection("127.0.0.1", handle.analyzer.port, timeout=5)
        conn.request("GET", DETAIL)
        time.sleep(0.1)
        started = time.monotonic()
    assert time.monotonic() - started < 1
    with pytest.raises(CONNECTION_DROPPED):
        conn.getresponse()
    conn.close()


def test_run_fake_analyzer_process():
    process = start_fake_analyzer_process(token="s3cret", legacy=True)
    try:
        assert process.control.health()
        assert process.api_url.endswith("/api")
        host_port = process.api_url.removeprefix("http://").removesuffix("/api")
        conn = http.client.HTTPConnection(host_port, timeout=2)
        assert send(conn, "POST", MARKS, GOOD).status == 403
        assert send(conn, "POST", MARKS, GOOD, headers=bearer("s3cret")).status == 200
        conn.close()
        assert process.control.marks()["21Z201"]["19XW51"]["tutorial2"] == 7.5
    finally:
        code = process.terminate()
    assert code == 0
    assert "token: set" in process.output
    assert "s3cret" not in process.output


# --- profiles ------------------------------------------------------------------------------


def test_profile_is_shown_in_config_and_stats_and_reset_returns_to_the_startup_one(fake):
    assert fake.control.config()["profile"]["name"] == "upstream"
    assert fake.control.stats()["profile"] == "upstream"
    fake.control.set_profile("no-bulk")
    assert fake.control.stats()["profile"] == "no-bulk"
    fake.control.reset(profile="legacy-front")
    assert fake.control.config()["profile"]["name"] == "legacy"
    fake.control.reset()
    assert fake.control.config()["profile"]["name"] == "upstream"
    with pytest.raises(FakeAnalyzerControlError) as excinfo:
        fake.control.set_profile("nginx")
    assert excinfo.value.status == 400
    assert {p["name"] for p in fake.control.profiles()} == {
        "upstream",
        "token",
        "legacy",
        "no-bulk",
        "custom",
    }


def test_upstream_profile_checks_no_token_even_when_one_is_given(fake):
    fake.control.reset(profile="upstream", token="s3cret")
    assert post_marks(fake, headers=bearer("wrong")).status == 200
    config = fake.control.config()
    assert (config["token_set"], config["token_checked"]) == (True, False)
    fake.control.reset(token="s3cret")  # a token alone means the token profile
    assert fake.control.config()["profile"]["name"] == "token"
    assert post_marks(fake, headers=bearer("wrong")).status == 401


def test_server_started_with_a_profile_keeps_it_across_resets():
    with running_fake_analyzer(profile="no-bulk", seed=False) as handle:
        handle.control.reset()
        assert handle.control.stats()["profile"] == "no-bulk"
    with running_fake_analyzer(token="t", seed=False) as handle:
        assert handle.control.stats()["profile"] == "token"
    with running_fake_analyzer(token="t", legacy=True, seed=False) as handle:
        assert handle.control.stats()["profile"] == "legacy"


def test_run_fake_analyzer_process_with_a_profile():
    process = start_fake_analyzer_process(profile="no-bulk", seed=False)
    try:
        assert process.control.stats()["profile"] == "no-bulk"
    finally:
        assert process.terminate() == 0
    assert "profile no-bulk" in process.output
