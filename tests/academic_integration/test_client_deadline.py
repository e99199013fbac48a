"""Every Analyzer request ends within its total deadline and reads at most a bounded body,
however the answer arrives: a byte at a time (headers or body) or without end.

Integration tests run against the real fake Analyzer over loopback; the proof that a request
ended because of the deadline is its reason and cause, never a wall-clock measurement (the
bounds on ``duration_ms`` are loose sanity checks, far below what the fault would take).
"""

import json
import socket
import threading
import time
from decimal import Decimal

import pytest
import responses
import urllib3.response
from django.core.checks import Error

from academic_integration.checks import sync_settings_check
from academic_integration.client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AnalyzerClient,
    get_client,
    reset_client,
)
from academic_integration.client.deadline import _DeadlinePassed, _Watchdog
from academic_integration.exceptions import (
    REASONS,
    SyncTemporaryError,
    reason_next_step,
)

pytestmark = pytest.mark.timeout(30)


def push():
    return get_client().update_student_marks(
        student_id="21Z201",
        course_id="19XW51",
        teacher_email="anand@college.edu",
        tutorial_number=2,
        value=Decimal("7.5"),
    )


@pytest.fixture
def deadline(analyzer, settings):
    """Sync pointed at the fake, with a 1 s total deadline and a generous read timeout."""
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 1.0
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 10.0
    settings.ACADEMIC_ANALYZER_TOTAL_TIMEOUT = 1.0
    reset_client()
    yield analyzer
    reset_client()


@pytest.fixture
def body_reads(monkeypatch):
    """Bytes of body the client read from the socket, read by read."""
    reads: list[int] = []
    real = urllib3.response.HTTPResponse.read1

    def counting(self, *args, **kwargs):
        data = real(self, *args, **kwargs)
        reads.append(len(data))
        return data

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read1", counting)
    return reads


def stored(analyzer):
    return analyzer.control.marks()["21Z201"]["19XW51"]["tutorial2"]


# --- trickle ------------------------------------------------------------------------------


def test_a_trickled_body_ends_at_the_total_deadline_as_a_timeout(deadline, body_reads):
    # ~60 bytes at one per 100 ms would take ~6 s; the deadline is 1 s.
    deadline.control.set_fault("trickle", delay_ms=100)

    with pytest.raises(SyncTemporaryError) as info:
        push()

    err = info.value
    assert err.reason == "timeout"  # the retry policy's late-write window applies
    assert "did not finish answering within 1 s" in err.message
    assert "ACADEMIC_ANALYZER_TOTAL_TIMEOUT" in err.message
    assert 0 < sum(body_reads) < 40  # it was reading the trickle, a byte at a time
    assert err.duration_ms < 3000  # sanity only: the trickle alone would take ~6 s
    assert deadline.control.received()[-1]["fault"] == "trickle"
    assert stored(deadline) == 7.5  # the Analyzer did store it: a timeout, not a rejection


def test_a_read_blocked_past_the_deadline_is_cut_off_by_the_watchdog(deadline, body_reads):
    # The first body byte would come after 30 s, past the 10 s read timeout too: only the
    # watchdog can end this read at the 1 s deadline.
    deadline.control.set_fault("trickle", delay_ms=30_000)

    with pytest.raises(SyncTemporaryError) as info:
        push()

    err = info.value
    assert err.reason == "timeout"
    assert "within 1 s" in err.message
    # Not noticed between two reads: the blocked read itself failed (its socket shut down).
    assert not isinstance(err.__cause__, _DeadlinePassed)
    assert sum(body_reads) == 0
    assert err.duration_ms < 5000  # sanity only: the first byte alone would take 30 s


def test_trickled_headers_are_cut_off_at_the_deadline(deadline, settings):
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
            while not stop.wait(0.2):  # a header that never ends, one byte at a time
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    settings.ACADEMIC_ANALYZER_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/api"
    try:
        with pytest.raises(SyncTemporaryError) as info:
            push()
    finally:
        stop.set()
        thread.join(5)
        listener.close()

    assert info.value.reason == "timeout"
    assert "within 1 s" in info.value.message
    assert info.value.duration_ms < 5000  # sanity only: the headers would never end


def test_an_answer_that_finishes_within_the_deadline_is_read_whole(deadline, settings):
    settings.ACADEMIC_ANALYZER_TOTAL_TIMEOUT = 10.0
    deadline.control.set_fault("trickle", delay_ms=5)

    result = push()

    assert result.data["success"] is True
    assert deadline.control.received()[-1]["fault"] == "trickle"


# --- flood --------------------------------------------------------------------------------


def test_an_endless_body_is_cut_off_after_the_cap(deadline, settings, body_reads):
    settings.ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES = 100_000
    deadline.control.set_fault("flood")

    with pytest.raises(SyncTemporaryError) as info:
        push()

    err = info.value
    assert err.reason == "response_too_large"
    assert err.status_code == 200
    assert "more than 100000 bytes" in err.message
    assert "ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES" in err.message
    assert sum(body_reads) == 100_001  # one byte past the cap tells it is too large
    assert deadline.control.received()[-1]["fault"] == "flood"


def test_a_declared_huge_body_is_refused_unread(deadline, body_reads):
    deadline.control.set_fault("flood", body_bytes=5 * 2**20)

    with pytest.raises(SyncTemporaryError) as info:
        push()

    assert info.value.reason == "response_too_large"
    assert f"{5 * 2**20} bytes" in info.value.message
    assert body_reads == []


def test_a_body_of_exactly_the_cap_is_read(deadline, settings):
    settings.ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES = 200_000
    deadline.control.set_fault("flood", body_bytes=200_000)

    assert push().data["success"] is True


# --- connections --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options", "reason"),
    [("flood", {}, "response_too_large"), ("trickle", {"delay_ms": 100}, "timeout")],
)
def test_connections_are_reused_and_one_cut_off_is_not(deadline, kind, options, reason):
    control = deadline.control
    control.clear_stats()
    for _ in range(3):
        push()
    assert control.stats()["connections"] == 1  # kept alive and reused

    control.set_fault(kind, **options)
    with pytest.raises(SyncTemporaryError) as info:
        push()
    assert info.value.reason == reason
    control.clear_faults()

    for _ in range(3):
        assert push().data["success"] is True
    # The cut-off connection was closed, not handed to the next request half-read.
    assert control.stats()["connections"] == 2
    assert control.stats()["requests"] == 7


# --- every caller: inline submit, resync, health -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "options", "reason"),
    [("trickle", {"delay_ms": 30_000}, "timeout"), ("flood", {}, "response_too_large")],
)
def test_a_submit_is_not_held_by_an_answer_without_end(
    deadline, student_client, teacher, django_capture_on_commit_callbacks, kind, options, reason
):
    from django.urls import reverse

    from academic_integration.models import MarkDeliveryLog, TutorialMark
    from quizzes.models import QuizAttempt
    from tests.factories import answers_for, make_quiz

    quiz = make_quiz(created_by=teacher.email, course_id="19XW51", tutorial_number=2)
    deadline.control.set_fault(kind, **options)
    student_client.get(quiz.get_absolute_url())
    attempt = QuizAttempt.objects.get(quiz=quiz)
    with django_capture_on_commit_callbacks(execute=True):
        response = student_client.post(
            reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz)
        )

    assert response.status_code == 302
    assert student_client.get(response["Location"]).status_code == 200
    mark = TutorialMark.objects.get()
    assert (mark.status, mark.reason) == ("retrying", reason)
    history = MarkDeliveryLog.objects.get()
    assert history.reason == reason
    assert history.duration_ms < 5000  # sanity only: the answer alone would never end


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "options", "reason"),
    [("trickle", {"delay_ms": 30_000}, "timeout"), ("flood", {}, "response_too_large")],
)
def test_resync_is_not_held_by_an_answer_without_end(deadline, teacher, kind, options, reason):
    from academic_integration.models import TutorialMark
    from academic_integration.resync import ResyncOptions, resync_run
    from tests.academic_integration.resync_fixtures import due_marks

    marks = due_marks(2, teacher=teacher, control=deadline.control)
    deadline.control.set_faults(
        [{"kind": kind, "paths": ["update-student-marks"], "count": 1, **options}]
    )

    summary = resync_run(ResyncOptions())

    rows = TutorialMark.objects.filter(pk__in=[m.pk for m in marks]).order_by("pk")
    assert sorted((m.status, m.reason) for m in rows) == [("delivered", ""), ("retrying", reason)]
    assert summary.delivered == 1


@pytest.mark.parametrize(
    ("kind", "options", "says"),
    [
        ("trickle", {"delay_ms": 30_000}, "did not answer in time"),
        ("flood", {}, "answer was too large"),
    ],
)
def test_test_connection_is_not_held_by_an_answer_without_end(deadline, kind, options, says):
    from academic_integration.analyzer_check import connection_test

    deadline.control.set_fault(kind, **options)

    result = connection_test()

    assert says in result.message


# --- the watchdog itself ------------------------------------------------------------------


class _Conn:
    def __init__(self, sock):
        self.sock = sock


def test_the_watchdog_wakes_a_read_blocked_past_the_deadline():
    watchdog = _Watchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(10)
        with watchdog.guard(time.monotonic() + 0.2) as guard:
            watchdog.attach(_Conn(ours))
            data = ours.recv(10)  # nothing is ever sent: only a shutdown ends this
        assert data == b""
        assert guard.fired


def test_the_watchdog_never_touches_a_connection_given_back_in_time():
    watchdog = _Watchdog()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        conn = _Conn(ours)
        with watchdog.guard(time.monotonic() + 0.1) as guard:
            watchdog.attach(conn)
            assert watchdog.detach(conn) is False  # back to the pool before the deadline
            threading.Event().wait(0.3)  # the deadline passes while it sits in the pool
        theirs.sendall(b"still open")
        ours.settimeout(2)
        assert ours.recv(20) == b"still open"
        assert guard.fired  # the request itself overran, but its old connection is safe


# --- settings, unit level -----------------------------------------------------------------

BASE = "http://analyzer.test/api"


@pytest.fixture
def unit_settings(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 2.0
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 5.0
    settings.ACADEMIC_ANALYZER_TOTAL_TIMEOUT = None
    reset_client()
    yield settings
    reset_client()


def test_total_timeout_defaults_to_connect_plus_read(unit_settings):
    client = AnalyzerClient()
    assert client.total_timeout == 7.0
    assert client.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 2**20


def test_no_single_socket_wait_is_longer_than_the_total(unit_settings):
    unit_settings.ACADEMIC_ANALYZER_TOTAL_TIMEOUT = 1.5
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BASE + "/staff/update-student-marks", json={"success": True})
        push()
        assert rsps.calls[0].request.req_kwargs["timeout"] == (1.5, 1.5)
        assert rsps.calls[0].request.req_kwargs["stream"] is True


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
@pytest.mark.parametrize(("extra", "ok"), [(0, True), (1, False)], ids=["at-cap", "over-cap"])
def test_a_body_over_the_cap_is_response_too_large(unit_settings, declared, extra, ok):
    unit_settings.ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES = 2048
    body = json.dumps({"success": True, "pad": ""}).encode()
    body = body[:-2] + b"x" * (2048 + extra - len(body)) + b'"}'
    headers = {"Retry-After": "30"}
    if declared:
        headers["Content-Length"] = str(len(body))
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            BASE + "/staff/update-student-marks",
            body=body,
            content_type="application/json",
            headers=headers,
        )
        if ok:
            assert push().data["success"] is True
            return
        with pytest.raises(SyncTemporaryError) as info:
            push()
    assert info.value.reason == "response_too_large"
    assert info.value.retry_after == 30
    # Refused on its Content-Length, or found too large one byte past the cap.
    assert ("2049 bytes" if declared else "more than 2048 bytes") in info.value.message


def test_response_too_large_has_a_label_and_a_next_step():
    assert REASONS["response_too_large"].label
    assert "retried automatically" in reason_next_step("response_too_large")


@pytest.mark.parametrize(
    ("total", "cap", "ids"),
    [
        (None, 2**20, []),
        (7.0, 2**20, []),
        (0.5, 1024, []),
        (7.5, 2**20, ["academic_integration.E020"]),  # longer than the leases allow
        (-1.0, 2**20, ["academic_integration.E020"]),
        (None, 100, ["academic_integration.E021"]),
    ],
)
def test_the_system_check_keeps_the_deadline_within_the_leases(settings, total, cap, ids):
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 2.0
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 5.0
    settings.ACADEMIC_ANALYZER_TOTAL_TIMEOUT = total
    settings.ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES = cap
    errors = [
        e
        for e in sync_settings_check(None)
        if e.id in ("academic_integration.E020", "academic_integration.E021")
    ]
    assert [e.id for e in errors] == ids
    assert all(isinstance(e, Error) for e in errors)
