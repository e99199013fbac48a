"""Unit tests of the Academic Analyzer client: one per contract row and rough edge."""

import json
import logging
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import formatdate
from unittest import mock

import pytest
import requests
import responses
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from responses import matchers
from responses.registries import OrderedRegistry

from academic_integration.client import (
    USER_AGENT,
    AnalyzerClient,
    AnalyzerResult,
    CourseDetail,
    RosterEntry,
    get_client,
    is_configured,
    parse_retry_after,
    reset_client,
)
from academic_integration.exceptions import (
    REASONS,
    AnalyzerConfigError,
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
    reason_label,
    reason_next_step,
)

BASE = "http://analyzer.test/api"
TOKEN = "canary-tok-XYZ"
MARKS_URL = f"{BASE}/staff/update-student-marks"
COURSE_URL = f"{BASE}/staff/course-detail"
DASHBOARD_URL = f"{BASE}/staff/dashboard"
OK = {"success": True, "message": "Marks updated successfully"}
CANNOT_POST = (
    "<!DOCTYPE html><html><body><pre>Cannot POST /api/staff/update-student-marks</pre>"
    "</body></html>"
)


@pytest.fixture(autouse=True)
def analyzer_settings(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    settings.ACADEMIC_ANALYZER_TOKEN = TOKEN
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 2.0
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 5.0
    yield settings
    reset_client()


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock_:
        yield mock_


def push(*, tutorial=2, value=Decimal("7.5")):
    return get_client().update_student_marks(
        student_id="21Z201",
        course_id="19XW51",
        teacher_email="anand@college.edu",
        tutorial_number=tutorial,
        value=value,
    )


def marks_body(tutorial=2, mark=7.5):
    return {
        "studentId": "21Z201",
        "courseId": "19XW51",
        "teacherEmail": "anand@college.edu",
        "marks": {f"tutorial{tutorial}": mark},
    }


def push_error(rsps, status, **response):
    rsps.add(responses.POST, MARKS_URL, status=status, **response)
    with pytest.raises(SyncError) as info:
        push()
    return info.value


def no_authorization(request):
    return "Authorization" not in request.headers, "an Authorization header was sent"


# --- success and what is sent ----------------------------------------------------------


def test_push_sends_contract_body_and_headers(rsps):
    rsps.add(
        responses.POST,
        MARKS_URL,
        json=OK,
        match=[
            matchers.json_params_matcher(marks_body()),
            matchers.header_matcher(
                {
                    "Authorization": f"Bearer {TOKEN}",
                    "User-Agent": USER_AGENT,
                    "Content-Type": "application/json",
                }
            ),
        ],
    )

    result = push()

    assert isinstance(result, AnalyzerResult)
    assert result.status_code == 200
    assert rsps.calls[0].request.url == MARKS_URL
    assert result.data == OK
    assert isinstance(result.duration_ms, int)


def test_push_without_token_sends_no_authorization_header(rsps, settings):
    settings.ACADEMIC_ANALYZER_TOKEN = None
    rsps.add(
        responses.POST,
        MARKS_URL,
        json=OK,
        match=[matchers.json_params_matcher(marks_body()), no_authorization],
    )

    assert push().status_code == 200


@pytest.mark.parametrize(
    ("value", "expected", "expected_type"),
    [(Decimal("3.33"), 3.33, float), (Decimal("10"), 10, int), (Decimal("10.00"), 10, int)],
)
def test_decimal_mark_is_sent_as_json_number(rsps, value, expected, expected_type):
    rsps.add(
        responses.POST,
        MARKS_URL,
        json=OK,
        match=[matchers.json_params_matcher(marks_body(tutorial=3, mark=expected))],
    )

    push(tutorial=3, value=value)

    sent = rsps.calls[0].request.body
    assert b'"3.33"' not in sent
    assert type(json.loads(sent)["marks"]["tutorial3"]) is expected_type


def test_timeouts_come_from_settings(rsps, settings):
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 1.5
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 7.0
    rsps.add(responses.POST, MARKS_URL, json=OK)

    push()

    assert rsps.calls[0].request.req_kwargs["timeout"] == (1.5, 7.0)


@pytest.mark.parametrize(
    ("tutorial", "value"),
    [(0, Decimal(5)), (5, Decimal(5)), (1, Decimal("10.5")), (1, Decimal(-1)), (1, Decimal("NaN"))],
)
def test_invalid_mark_raises_value_error_without_request(rsps, tutorial, value):
    with pytest.raises(ValueError):
        push(tutorial=tutorial, value=value)

    assert len(rsps.calls) == 0


# --- 200 answers that are not a success ------------------------------------------------


def test_200_success_false_is_temporary_not_stored(rsps):
    err = push_error(rsps, 200, json={"success": False, "message": "Could not save"})

    assert type(err) is SyncTemporaryError
    assert err.reason == "not_stored"
    assert isinstance(err, SyncTemporaryError)
    assert err.status_code == 200


def test_200_html_page_is_not_the_analyzer(rsps):
    page = "<html><body><form>Sign in to the campus proxy</form></body></html>"
    err = push_error(rsps, 200, body=page, content_type="text/html")

    assert type(err) is SyncConfigurationError
    assert isinstance(err, SyncConfigurationError)
    assert err.reason == "not_the_analyzer"
    assert "ACADEMIC_ANALYZER_URL" in err.next_step
    assert not isinstance(err, SyncTemporaryError)


def test_200_broken_json_is_temporary_bad_response(rsps):
    err = push_error(rsps, 200, body='{"success": tr', content_type="application/json")

    assert type(err) is SyncTemporaryError
    assert err.reason == "bad_response"


# --- the contract's error table ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "reason", "in_next_step"),
    [
        (404, "Teacher not found", "teacher_not_found", "anand@college.edu"),
        (404, "Student not found", "student_not_found", "21Z201"),
        (404, "Course not found", "course_not_found", "Course 19XW51 was not found"),
        (400, "Student is not enrolled in this course", "not_enrolled", "21Z201"),
        (404, "No performance record found for this student", "no_performance_record", "19XW51"),
        (404, "  COURSE  NOT FOUND. ", "course_not_found", "19XW51"),
    ],
)
def test_contract_rejections(rsps, status, message, reason, in_next_step):
    err = push_error(rsps, status, json={"success": False, "message": message})

    assert type(err) is SyncRejectedError
    assert err.reason == reason
    assert in_next_step in err.next_step
    assert not isinstance(err, SyncTemporaryError)


def test_unrecognised_json_4xx_is_rejected_other(rsps):
    err = push_error(rsps, 422, json={"success": False, "message": "Marks must be numbers"})

    assert type(err) is SyncRejectedError
    assert err.reason == "rejected_other"
    assert "Marks must be numbers" in str(err)


def test_401_invalid_token_is_token_rejected(rsps):
    body = {"success": False, "code": "invalid_token", "message": "Invalid token"}
    err = push_error(rsps, 401, json=body)

    assert type(err) is SyncConfigurationError
    assert err.reason == "token_rejected"
    assert "ACADEMIC_ANALYZER_TOKEN" in err.next_step


def test_401_without_configured_token_is_token_missing(rsps, settings):
    settings.ACADEMIC_ANALYZER_TOKEN = None
    err = push_error(rsps, 401, json={"success": False, "code": "invalid_token"})

    assert type(err) is SyncConfigurationError
    assert err.reason == "token_missing"
    assert "no token is configured" in str(err)
    assert "ACADEMIC_ANALYZER_TOKEN" in str(err)


def test_legacy_403_html_is_token_rejected(rsps):
    err = push_error(rsps, 403, body="<html><h1>Forbidden</h1></html>", content_type="text/html")

    assert type(err) is SyncConfigurationError
    assert err.reason == "token_rejected"


def test_express_html_404_is_not_the_analyzer(rsps):
    err = push_error(rsps, 404, body=CANNOT_POST, content_type="text/html")

    assert type(err) is SyncConfigurationError
    assert "Cannot POST" in str(err)


def test_other_non_json_4xx_is_not_the_analyzer(rsps):
    err = push_error(rsps, 405, body="Method Not Allowed", content_type="text/plain")

    assert err.reason == "not_the_analyzer"


def test_redirect_is_not_followed_and_is_not_the_analyzer(rsps):
    headers = {"Location": "https://sso.college.edu/login"}
    err = push_error(rsps, 302, body="", headers=headers)

    assert type(err) is SyncConfigurationError
    assert "sso.college.edu" in str(err)
    assert len(rsps.calls) == 1


def test_429_is_rate_limited_with_retry_after(rsps):
    err = push_error(rsps, 429, json={"success": False}, headers={"Retry-After": "30"})

    assert type(err) is SyncTemporaryError
    assert err.reason == "rate_limited"
    assert err.retry_after == 30.0


def test_500_json_server_error_is_temporary(rsps):
    body = {"success": False, "message": "Server error", "error": "E11000 duplicate key"}
    err = push_error(rsps, 500, json=body)

    assert type(err) is SyncTemporaryError
    assert err.reason == "server_error"
    assert "Server error" in str(err)


def test_500_stack_trace_hints_at_deleted_course(rsps):
    trace = "TypeError: Cannot read properties of null (reading '_id')\n    at updateMarks"
    err = push_error(rsps, 500, body=trace, content_type="text/html")

    assert err.reason == "server_error"
    assert "older Analyzers answer a deleted course this way" in str(err)
    assert "Cannot read properties of null" in str(err)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_proxy_errors_are_unavailable(rsps, status):
    err = push_error(rsps, status, body="<html>Bad Gateway</html>", content_type="text/html")

    assert type(err) is SyncTemporaryError
    assert err.reason == "unavailable"
    assert err.retry_after is None


def test_503_retry_after_http_date(rsps):
    headers = {"Retry-After": formatdate(time.time() + 120, usegmt=True)}
    err = push_error(rsps, 503, body="<html>Maintenance</html>", headers=headers)

    assert err.reason == "unavailable"
    assert 100 < err.retry_after <= 120


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-5", 0.0),
        ("Wed, 01 Jan 2025 00:02:00 GMT", 120.0),
        ("Tue, 31 Dec 2024 23:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    now = datetime(2025, 1, 1, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == expected


def test_unexpected_5xx_is_server_error(rsps):
    err = push_error(rsps, 507, body="Insufficient Storage", content_type="text/plain")

    assert err.reason == "server_error"


# --- network failures ------------------------------------------------------------------


def test_connection_refused_is_temporary_connection_error(rsps):
    refused = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    rsps.add(responses.POST, MARKS_URL, body=refused)

    with pytest.raises(SyncTemporaryError) as info:
        push()

    err = info.value
    assert err.reason == "connection_error"
    assert err.__cause__ is refused
    assert err.status_code is None
    assert err.url == MARKS_URL
    assert isinstance(err.duration_ms, int)


@pytest.mark.parametrize(
    "timeout", [requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout]
)
def test_timeouts_are_temporary_timeout(rsps, timeout):
    rsps.add(responses.POST, MARKS_URL, body=timeout("timed out"))

    with pytest.raises(SyncTemporaryError) as info:
        push()

    assert info.value.reason == "timeout"
    assert isinstance(info.value.__cause__, timeout)


def test_each_call_is_one_request_500_500_200():
    with responses.RequestsMock(registry=OrderedRegistry) as rsps:
        rsps.add(responses.POST, MARKS_URL, status=500, json={"success": False})
        rsps.add(responses.POST, MARKS_URL, status=500, json={"success": False})
        rsps.add(responses.POST, MARKS_URL, json=OK)

        for _ in range(2):
            with pytest.raises(SyncTemporaryError):
                push()
        result = push()

        assert result.status_code == 200
        assert len(rsps.calls) == 3


# --- the token never leaks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "response"),
    [
        (200, {"body": f"<html>Welcome {TOKEN}</html>", "content_type": "text/html"}),
        (200, {"json": {"success": False, "message": f"bad Bearer {TOKEN}"}}),
        (401, {"json": {"success": False, "code": "invalid_token", "message": TOKEN}}),
        (404, {"json": {"success": False, "message": f"who is {TOKEN}?"}}),
        (500, {"body": f"Error\n  headers: {{authorization: 'Bearer {TOKEN}'}}"}),
        (503, {"body": "x" * 490 + TOKEN, "content_type": "text/html"}),
    ],
)
def test_token_never_appears_in_exceptions_or_logs(rsps, caplog, status, response):
    caplog.set_level(logging.DEBUG, logger="academic_integration.client")

    err = push_error(rsps, status, **response)

    for text in (str(err), repr(err), repr(err.args), repr(vars(err)), caplog.text):
        assert TOKEN not in text
        assert "canary-tok" not in text


def test_client_repr_hides_token():
    assert TOKEN not in repr(get_client())


# --- course detail (the roster) and the teacher dashboard --------------------------------


def test_course_detail_reads_upstreams_roster(rsps):
    # controllers/staffController.js, getCourseRoster: courseName and the enrolled students.
    body = {
        "success": True,
        "courseName": "Compilers",
        "students": [
            {"_id": "66a1", "name": "Asha", "rollno": "21Z201", "email": "21z201@college.edu"},
            {"_id": "66a2", "name": "Bala", "rollno": "21Z202", "email": "21z202@college.edu"},
        ],
    }
    rsps.add(
        responses.GET,
        COURSE_URL,
        json=body,
        match=[
            matchers.query_param_matcher({"courseId": "19XW51"}),
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
        ],
    )

    detail = get_client().course_detail(course_id="19XW51")

    assert detail == CourseDetail(
        "19XW51",
        "Compilers",
        (
            RosterEntry("21Z201", "Asha"),
            RosterEntry("21Z202", "Bala"),
        ),
    )
    assert detail.roll_numbers() == {"21Z201", "21Z202"}


@pytest.mark.parametrize(
    "body",
    [
        {"success": True},  # no courseName, no students: still a course that exists
        {"success": True, "courseName": None, "students": "n/a"},
        {"success": True, "course": {"courseId": "19XW51"}},  # our old reading of it
    ],
)
def test_a_successful_course_detail_is_never_unreadable_for_a_missing_field(rsps, body):
    rsps.add(responses.GET, COURSE_URL, json=body)

    detail = get_client().course_detail(course_id="19XW51")

    assert detail.course_id == "19XW51"
    assert detail.students is None  # roster unknown: nobody is refused for it
    assert detail.roll_numbers() is None


def test_course_detail_skips_roster_entries_without_a_roll_number(rsps):
    students = [{"name": "No roll"}, "junk", {"rollno": "21Z203", "name": "Chitra"}]
    rsps.add(responses.GET, COURSE_URL, json={"success": True, "students": students})

    detail = get_client().course_detail(course_id="19XW51")

    assert detail.roll_numbers() == {"21Z203"}


def test_course_detail_404_is_course_not_found(rsps):
    body = {"success": False, "message": "Course not found"}
    rsps.add(responses.GET, COURSE_URL, status=404, json=body)

    with pytest.raises(SyncRejectedError) as info:
        get_client().course_detail(course_id="19XW51")

    assert info.value.reason == "course_not_found"
    assert "19XW51" in info.value.next_step


def test_teacher_courses_reads_the_dashboard(rsps):
    # getStaffDashboard: the teacher's coursesHandled, populated with courseId and names.
    body = {
        "success": True,
        "name": "Anand",
        "courses": [
            {"_id": "1", "courseName": "Compilers", "courseId": "19XW51", "courseCode": "19XW51"},
            {"_id": "2", "courseName": "OS", "courseId": "19XW52-2021", "batch": "2021"},
            {"_id": "3"},
        ],
    }
    rsps.add(
        responses.GET,
        DASHBOARD_URL,
        json=body,
        match=[matchers.query_param_matcher({"email": "anand@college.edu"})],
    )

    found = get_client().teacher_courses(email="anand@college.edu")

    assert found == frozenset({"19XW51", "19XW52-2021"})


def test_teacher_courses_of_an_unknown_teacher_is_teacher_not_found(rsps):
    body = {"success": False, "message": "Teacher not found"}
    rsps.add(responses.GET, DASHBOARD_URL, status=404, json=body)

    with pytest.raises(SyncRejectedError) as info:
        get_client().teacher_courses(email="nobody@college.edu")

    assert info.value.reason == "teacher_not_found"


def test_teacher_courses_without_a_course_list_handles_none(rsps):
    rsps.add(responses.GET, DASHBOARD_URL, json={"success": True, "name": "Anand"})

    assert get_client().teacher_courses(email="anand@college.edu") == frozenset()


def test_the_client_no_longer_has_verify_email():
    # Not an upstream route (Express answers its HTML 404): nothing may rely on it.
    assert not hasattr(get_client(), "verify_email")


# --- configuration, singleton, logging -------------------------------------------------------


@pytest.mark.parametrize("url", [None, ""])
def test_missing_url_raises_config_error_at_first_use(settings, url):
    settings.ACADEMIC_ANALYZER_URL = url

    assert not is_configured()
    with pytest.raises(AnalyzerConfigError, match="ACADEMIC_ANALYZER_URL") as info:
        get_client()
    assert isinstance(info.value, ImproperlyConfigured)
    assert not isinstance(info.value, SyncError)


def test_url_without_scheme_raises_config_error(settings):
    settings.ACADEMIC_ANALYZER_URL = "analyzer.test/api"

    with pytest.raises(AnalyzerConfigError, match="ACADEMIC_ANALYZER_URL"):
        get_client()


def test_token_with_inner_whitespace_raises_config_error_without_echoing_it(settings):
    settings.ACADEMIC_ANALYZER_TOKEN = "canary tok"

    with pytest.raises(AnalyzerConfigError) as info:
        get_client()

    assert "ACADEMIC_ANALYZER_TOKEN" in str(info.value)
    assert "canary" not in str(info.value)


def test_singleton_reuses_one_session(rsps):
    rsps.add(responses.POST, MARKS_URL, json=OK)
    rsps.add(responses.POST, MARKS_URL, json=OK)
    client = get_client()
    session = client._session

    push()
    push()

    assert get_client() is client
    assert client._session is session


def test_session_pool_is_shared_and_never_retries():
    adapter = get_client()._session.get_adapter(BASE)

    assert adapter._pool_maxsize == 32
    assert adapter.max_retries.total == 0


def test_get_client_is_one_instance_across_threads():
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(get_client())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(client) for client in seen}) == 1


def test_override_settings_resets_the_client():
    first = get_client()

    with override_settings(ACADEMIC_ANALYZER_URL="http://other.test/api"):
        assert get_client() is not first
        assert get_client().base_url == "http://other.test/api"

    assert get_client().base_url == BASE


def test_reset_client_closes_the_session():
    get_client()

    with mock.patch.object(AnalyzerClient, "close") as close:
        reset_client()

    close.assert_called_once_with()


def test_one_debug_line_per_request_without_headers(rsps, caplog):
    caplog.set_level(logging.DEBUG, logger="academic_integration.client")
    rsps.add(responses.POST, MARKS_URL, json=OK)

    push()

    [record] = [r for r in caplog.records if r.name == "academic_integration.client"]
    assert record.levelno == logging.DEBUG
    assert "POST" in record.getMessage()
    assert MARKS_URL in record.getMessage()
    assert "200" in record.getMessage()
    assert "Bearer" not in record.getMessage()


# --- the reason table and the exception tree ----------------------------------------------


def test_every_reason_code_has_label_and_next_step():
    codes = set(Reason)

    assert codes <= REASONS.keys()
    for code in codes:
        assert reason_label(code) != code
        assert reason_next_step(code).endswith(".")
        assert "{" not in reason_next_step(code)


def test_next_step_without_context_reads_cleanly():
    assert reason_next_step("course_not_found").startswith("Course was not found")
    assert "Course 19XW51 was" in reason_next_step("course_not_found", course_id="19XW51")


def test_unknown_reason_falls_back():
    assert reason_label("mystery") == "mystery"
    assert reason_next_step("mystery") == reason_next_step("sync_error")


def test_sync_error_str_and_body_truncation():
    err = SyncTemporaryError("Boom", reason="server_error", status_code=500, body="y" * 2000)

    assert str(err).startswith("Boom (HTTP 500): yyy")
    assert len(err.body) == 500


@pytest.mark.parametrize(
    ("cls", "reason", "temporary"),
    [
        (SyncTemporaryError, "server_error", True),
        (SyncConfigurationError, "config_error", False),
        (SyncRejectedError, "rejected_other", False),
    ],
)
def test_class_defaults(cls, reason, temporary):
    err = cls()

    assert err.reason == reason
    assert isinstance(err, SyncTemporaryError) is temporary
    assert err.next_step == reason_next_step(reason)
