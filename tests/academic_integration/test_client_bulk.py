"""Unit tests of ``AnalyzerClient.tutorial_marks_bulk`` (POST /staff/add-tutN-mark): one
per row of upstream's answers, with matchers on what was sent."""

from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers

from academic_integration.client import (
    AnalyzerResult,
    MarkItemResult,
    get_client,
    reset_client,
    tutorial_marks_path,
)
from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncRejectedError,
    SyncRouteMissingError,
    SyncTemporaryError,
)

BASE = "http://analyzer.test/api"
TOKEN = "canary-tok-XYZ"
BULK_URL = f"{BASE}/staff/add-tut2-mark"
ITEMS = [("21Z201", Decimal("7.5")), ("21Z202", Decimal("10")), ("21Z203", Decimal("3.33"))]
BODY = {
    "teacherEmail": "anand@college.edu",
    "courseId": "19XW51",
    "studentInput": [
        {"rollno": "21Z201", "mark": 7.5},
        {"rollno": "21Z202", "mark": 10},
        {"rollno": "21Z203", "mark": 3.33},
    ],
}
NO_RECORD = "Performance record not found. Ensure student is enrolled via /add-student."
CANNOT_POST = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
    "</head>\n<body>\n<pre>Cannot POST /api/staff/add-tut2-mark</pre>\n</body>\n</html>\n"
)


@pytest.fixture(autouse=True)
def analyzer_settings(settings):
    settings.ACADEMIC_ANALYZER_URL = BASE
    settings.ACADEMIC_ANALYZER_TOKEN = TOKEN
    yield settings
    reset_client()


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock_:
        yield mock_


def bulk(items=ITEMS, *, tutorial=2):
    return get_client().tutorial_marks_bulk(
        course_id="19XW51",
        teacher_email="anand@college.edu",
        tutorial_number=tutorial,
        items=items,
    )


def item(status, message, email="21z201@college.edu"):
    return {"email": email, "status": status, "message": message}


def answer(*results):
    return {"success": True, "message": "tutorial2 update process complete.", "results": results}


def add(rsps, **response):
    rsps.add(
        responses.POST,
        BULK_URL,
        match=[
            matchers.json_params_matcher(BODY),
            matchers.header_matcher({"Authorization": f"Bearer {TOKEN}"}),
        ],
        **response,
    )


def test_all_stored_one_result_per_item_in_order(rsps):
    add(rsps, json=answer(*[item("success", "tutorial2 updated to 7.5")] * 3))

    result = bulk()

    assert isinstance(result, AnalyzerResult)
    assert (result.status_code, rsps.calls[0].request.url) == (200, BULK_URL)
    assert result.items == (
        MarkItemResult("21Z201"),
        MarkItemResult("21Z202"),
        MarkItemResult("21Z203"),
    )
    assert all(r.error is None for r in result.items)
    assert len(rsps.calls) == 1


def test_each_tutorial_has_its_own_route():
    assert [tutorial_marks_path(n) for n in (1, 2, 3, 4)] == [
        f"/staff/add-tut{n}-mark" for n in (1, 2, 3, 4)
    ]


def test_mixed_results_map_each_failed_item_to_its_reason(rsps):
    add(
        rsps,
        json=answer(
            item("success", "tutorial2 updated to 7.5"),
            item("failed", "Student not found", email="21Z202"),
            item("failed", NO_RECORD),
        ),
    )

    stored, missing, unenrolled = bulk().items

    assert stored.error is None
    assert (missing.roll_no, missing.error.reason) == ("21Z202", "student_not_found")
    assert (unenrolled.roll_no, unenrolled.error.reason) == ("21Z203", "no_performance_record")
    assert isinstance(missing.error, SyncRejectedError)
    assert "Student 21Z202 was not found" in missing.error.next_step
    assert "student 21Z203 in course 19XW51" in unenrolled.error.next_step
    assert missing.error.status_code == 200 and "Student not found" in str(missing.error)


def test_all_failed_with_200_success_true_is_every_item_refused(rsps):
    add(rsps, json=answer(*[item("failed", "Student not found")] * 3))

    result = bulk()

    assert [r.error.reason for r in result.items] == ["student_not_found"] * 3
    assert all(r.error is not None for r in result.items)


def test_an_unknown_item_message_is_rejected_other(rsps):
    add(
        rsps,
        json=answer(
            item("failed", "Mark locked by the exam cell"),
            item("success", "ok"),
            item("success", "ok"),
        ),
    )

    first = bulk().items[0]

    assert first.error.reason == "rejected_other"
    assert "Mark locked by the exam cell" in first.error.message


def test_404_teacher_or_course_is_rejected_teacher_not_found(rsps):
    add(rsps, status=404, json={"success": False, "message": "Teacher or Course not found"})

    with pytest.raises(SyncRejectedError) as info:
        bulk()

    assert info.value.reason == "teacher_not_found"
    assert "anand@college.edu" in info.value.next_step


def test_400_bad_student_input_is_rejected_other(rsps):
    add(
        rsps,
        status=400,
        json={"success": False, "message": "Invalid or missing studentInput format."},
    )

    with pytest.raises(SyncRejectedError) as info:
        bulk()

    assert (info.value.reason, info.value.status_code) == ("rejected_other", 400)


def test_html_cannot_post_is_route_missing_not_a_configuration_stop(rsps):
    add(rsps, status=404, body=CANNOT_POST, content_type="text/html; charset=utf-8")

    with pytest.raises(SyncRouteMissingError) as info:
        bulk()

    assert not isinstance(info.value, SyncConfigurationError)
    assert (info.value.reason, info.value.status_code) == ("route_missing", 404)
    assert not isinstance(info.value, SyncTemporaryError)


@pytest.mark.parametrize(
    "results",
    [
        [item("success", "ok")] * 2,  # too few
        [item("success", "ok")] * 4,  # too many
        [item("success", "ok"), item("done", "?"), item("success", "ok")],  # unknown status
        [item("success", "ok"), "21Z202", item("success", "ok")],  # not an object
        None,  # no results at all
    ],
)
def test_results_of_the_wrong_length_or_shape_are_a_bad_response(rsps, results):
    body = answer(*(results or []))
    if results is None:
        del body["results"]
    add(rsps, json=body)

    with pytest.raises(SyncTemporaryError) as info:
        bulk()

    assert info.value.reason == "bad_response"
    assert "for 3 marks" in info.value.message


def test_500_midway_is_temporary_for_the_whole_request(rsps):
    crash = {"success": False, "message": "Server error during tutorial2 update"}
    add(rsps, status=500, json=crash)

    with pytest.raises(SyncTemporaryError) as info:
        bulk()

    assert (info.value.reason, info.value.status_code) == ("server_error", 500)


def test_a_cut_off_request_is_a_timeout(rsps):
    add(rsps, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(SyncTemporaryError) as info:
        bulk()

    assert info.value.reason == "timeout"


@pytest.mark.parametrize(
    ("tutorial", "items"),
    [
        (5, ITEMS),
        (2, []),
        (2, [("21Z201", Decimal("10.5"))]),
        (2, [("21Z201", Decimal("-1"))]),
        (2, [("", Decimal("5"))]),
        (2, [("21Z201", Decimal("5")), ("21Z201", Decimal("6"))]),
    ],
)
def test_invalid_items_raise_value_error_without_request(rsps, tutorial, items):
    with pytest.raises(ValueError):
        bulk(items, tutorial=tutorial)

    assert len(rsps.calls) == 0


def test_the_token_never_appears_in_item_errors(rsps):
    add(rsps, json=answer(item("failed", f"bad Bearer {TOKEN}"), *[item("success", "ok")] * 2))

    err = bulk().items[0].error

    for text in (str(err), repr(err), err.body, err.message):
        assert TOKEN not in text


# --- the time a bulk request may take, over real HTTP ----------------------------------------


@pytest.mark.django_db
def test_a_bulk_request_gets_more_time_per_item_than_one_mark(analyzer, settings):
    """The fake answers after 800 ms; one mark's read timeout is 500 ms (the suite's). A bulk
    request of 4 items at 0.25 s each may take 1.5 s more, so it is answered, not cut off."""
    from tests.conftest import CANARY_TOKEN

    settings.ACADEMIC_ANALYZER_URL = analyzer.api_url
    settings.ACADEMIC_ANALYZER_TOKEN = CANARY_TOKEN  # the fake's; this module sets another
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 0.5
    settings.ACADEMIC_ANALYZER_BULK_SECONDS_PER_ITEM = 0.25
    reset_client()
    analyzer.control.set_latency(800)
    rolls = ["21Z201", "21Z202", "21Z203", "21Z204"]
    items = [(roll, Decimal("7")) for roll in rolls]

    with pytest.raises(SyncTemporaryError) as single:
        get_client().update_student_marks(
            student_id="21Z201",
            course_id="19XW51",
            teacher_email="anand@college.edu",
            tutorial_number=2,
            value=Decimal("7"),
        )
    result = get_client().tutorial_marks_bulk(
        course_id="19XW51", teacher_email="anand@college.edu", tutorial_number=2, items=items
    )

    assert single.value.reason == "timeout"
    assert [item.error for item in result.items] == [None] * 4
    assert {analyzer.control.marks()[roll]["19XW51"]["tutorial2"] for roll in rolls} == {7}
