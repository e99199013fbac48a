"""The health page's settings (the token never shown, not even in part) and Test connection
(analyzer_check.py), in the reason table's words."""

import re

import pytest
from django.test import Client

from academic_integration.client import masked_url as url_masked
from academic_integration.exceptions import Reason
from tests.academic_integration.admin_fixtures import (
    HEALTH_URL,
    TEST_CONNECTION_URL,
    client_for,
    health,
    section,
)
from tests.conftest import CANARY_TOKEN

pytestmark = pytest.mark.django_db


# --- configuration: the URL, the token masked ------------------------------------------------


def test_the_url_is_shown_and_the_token_only_as_set(anand_client, settings):
    settings.ACADEMIC_ANALYZER_URL = "https://analyzer.example.edu/api"
    page = section(health(anand_client), "sync-configuration")
    assert "<code>https://analyzer.example.edu/api</code>" in page
    assert "token: set (••••)" in page
    assert (
        CANARY_TOKEN not in page and CANARY_TOKEN[:6] not in page and CANARY_TOKEN[-4:] not in page
    )


def test_credentials_and_query_in_the_url_are_masked(anand_client, settings):
    settings.ACADEMIC_ANALYZER_URL = (
        f"https://sync:{CANARY_TOKEN}@analyzer.example.edu:8443/api?key={CANARY_TOKEN}"
    )
    page = section(health(anand_client), "sync-configuration")
    assert "<code>https://••••@analyzer.example.edu:8443/api</code>" in page
    assert url_masked("http://h/api") == "http://h/api"


def test_no_token_and_sync_off(anand_client, settings):
    settings.ACADEMIC_ANALYZER_TOKEN = None
    page = section(health(anand_client), "sync-configuration")
    assert "token: not set" in page
    assert "Not set — sync is off (ACADEMIC_ANALYZER_URL)" in page


def test_a_broken_token_setting_is_reported_without_the_token(anand_client, settings):
    settings.ACADEMIC_ANALYZER_URL = "https://analyzer.example.edu/api"
    settings.ACADEMIC_ANALYZER_TOKEN = f"{CANARY_TOKEN} trailing words"
    page = section(health(anand_client), "sync-configuration")
    assert "ACADEMIC_ANALYZER_TOKEN contains whitespace, control or non-ASCII characters" in page


# --- Test connection -------------------------------------------------------------------------


def connection_test_message(client) -> tuple[str, str]:
    response = client.post(TEST_CONNECTION_URL, follow=True)
    assert response.redirect_chain[-1][0] == HEALTH_URL
    [message] = list(response.context["messages"])
    return message.level_tag, message.message


def test_test_connection_reachable_and_token_accepted(analyzer, anand_client, anand_quiz):
    level, text = connection_test_message(anand_client)
    assert (level, text) == (
        "success",
        "Test connection: Reachable, and the token was accepted: the Academic Analyzer answered.",
    )
    (asked,) = analyzer.control.received()
    assert (asked["method"], asked["path"], asked["query"]) == (
        "GET",
        "/api/staff/course-detail",
        {"courseId": "19XW51"},
    )
    assert asked["authorized"]


def test_test_connection_without_a_quiz_still_proves_the_token(analyzer, anand_client):
    level, text = connection_test_message(anand_client)  # asks about a course that does not exist
    assert level == "success" and "the token was accepted" in text


@pytest.mark.parametrize("legacy", [False, True], ids=["401", "legacy-403"])
def test_test_connection_token_rejected(analyzer, anand_client, legacy):
    if legacy:
        analyzer.control.set_legacy()
    analyzer.control.set_token("regenerated-elsewhere")
    level, text = connection_test_message(anand_client)
    assert level == "error"
    assert text.startswith(
        "Test connection: Reachable, but the Academic Analyzer rejected our access token."
    )
    assert "ACADEMIC_ANALYZER_TOKEN" in text


def test_test_connection_token_missing(analyzer, anand_client, settings):
    settings.ACADEMIC_ANALYZER_TOKEN = None
    level, text = connection_test_message(anand_client)
    assert level == "error"
    assert "Reachable, but no Academic Analyzer token is configured" in text


@pytest.mark.parametrize(
    ("fault", "reason"), [("refuse", Reason.CONNECTION_ERROR), ("hang", Reason.TIMEOUT)]
)
def test_test_connection_unreachable(analyzer, anand_client, fault, reason):
    analyzer.control.set_fault(fault)
    level, text = connection_test_message(anand_client)
    assert (level, text) == ("error", f"Test connection: {reason.label}. {reason.next_step()}")


def test_test_connection_not_the_analyzer(analyzer, anand_client):
    analyzer.control.set_fault("html")
    level, text = connection_test_message(anand_client)
    assert level == "error"
    assert text.startswith(
        "Test connection: Reachable, but the configured address is not the Academic Analyzer API. "
    )
    assert text.endswith(Reason.NOT_THE_ANALYZER.next_step())


def test_test_connection_analyzer_failing(analyzer, anand_client):
    analyzer.control.set_fault("500")
    level, text = connection_test_message(anand_client)
    assert (level, text) == (
        "error",
        "Test connection: Reachable, but the Academic Analyzer had an internal error. "
        + Reason.SERVER_ERROR.next_step(),
    )


def test_test_connection_with_sync_off(anand_client):
    level, text = connection_test_message(anand_client)
    assert level == "error"
    assert text == f"Test connection: {Reason.SYNC_DISABLED.next_step()}"
    assert "Sync is not configured (ACADEMIC_ANALYZER_URL unset)" in text


def test_test_connection_is_post_only_with_csrf(analyzer, teacher):
    client = client_for(teacher)
    assert client.get(TEST_CONNECTION_URL).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(teacher)
    assert strict.post(TEST_CONNECTION_URL).status_code == 403
    page = strict.get(HEALTH_URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert strict.post(TEST_CONNECTION_URL, {"csrfmiddlewaretoken": token}).status_code == 302
    assert len(analyzer.control.received()) == 1  # only the accepted POST asked
