"""The inline gate and the breaker's transitions (sync_state.py). Several temporary failures
in a row (or one timeout) open it, one caller across processes probes after the cool-off, a
success closes it, and an error decided without a request neither closes nor counts."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from academic_integration.exceptions import SyncRejectedError, SyncTemporaryError
from academic_integration.models import TutorialMark
from academic_integration.sync_state import breaker_record, inline_gate, snapshot
from tests.academic_integration.sync_state_fixtures import (
    breaker_allows,
    breaker_is_open,
    breaker_open,
)
from tests.academic_integration.test_inline_sync import submit
from tests.factories import make_student

pytestmark = pytest.mark.django_db


def later(seconds):
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)


# --- one caller probes after the cool-off ----------------------------------------------------


def test_after_cooling_off_exactly_one_caller_gets_the_trial(settings):
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    breaker_open()
    assert [breaker_allows() for _ in range(3)] == [False, False, False]
    with later(31):
        assert snapshot()["state"] == "half-open"
        # Every worker asks at once: one trial goes out, the others keep skipping.
        assert [breaker_allows() for _ in range(5)] == [True, False, False, False, False]
        breaker_record(None)  # the trial worked
        assert snapshot()["state"] == "closed"
        assert all(breaker_allows() for _ in range(3))


def test_a_failed_trial_reopens_at_once(settings):
    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3
    breaker_open()
    with later(31):
        assert breaker_allows()
        breaker_record(SyncTemporaryError(reason="timeout"))
        assert breaker_is_open()
        assert not breaker_allows()


def test_failures_count_across_callers_and_a_success_resets_them(settings):
    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3
    for _ in range(2):
        breaker_record(SyncTemporaryError(reason="server_error", status_code=500))
    breaker_record(None)
    for _ in range(2):
        breaker_record(SyncTemporaryError(reason="server_error", status_code=500))
    assert not breaker_is_open()
    breaker_record(SyncTemporaryError(reason="server_error", status_code=500))
    assert breaker_is_open()


def test_a_local_rejection_neither_closes_nor_counts(settings):
    breaker_open()
    with later(31):
        assert breaker_allows()
        breaker_record(SyncRejectedError(reason="no_teacher_email"))  # no request went out
        assert snapshot()["state"] == "half-open"
        assert breaker_allows()  # the trial was freed for the next caller


def test_an_answered_rejection_is_a_healthy_analyzer(settings):
    breaker_record(SyncTemporaryError(reason="server_error", status_code=500))
    breaker_record(SyncRejectedError(reason="not_enrolled", status_code=400))
    assert snapshot()["failures"] == 0


# --- counting failures, opening at once on a timeout -----------------------------------------


@pytest.mark.django_db
def test_the_breaker_keeps_the_failure_count_that_opened_it(settings):
    from academic_integration.exceptions import SyncTemporaryError
    from academic_integration.sync_state import breaker_record

    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    for _ in range(2):
        breaker_record(SyncTemporaryError(reason="server_error"))
    assert snapshot()["state"] == "closed"  # answered failures count up to the threshold
    breaker_record(SyncTemporaryError(reason="connection_error"))
    state = snapshot()
    assert (state["state"], state["failures"]) == ("open", 3)
    assert state["next_probe_at"] - state["opened_at"] == timedelta(seconds=30)
    with later(31):
        assert inline_gate(course_id="19XW51").probes  # the probe
        breaker_record(SyncTemporaryError(reason="timeout"))  # ... failed
        assert (snapshot()["state"], snapshot()["failures"]) == ("open", 4)


@pytest.mark.django_db
def test_one_timeout_opens_the_breaker_at_once(settings):
    """A send cut off by its budget: every submit meanwhile would wait as long, so the first
    one is the only one."""
    from academic_integration.exceptions import SyncTemporaryError
    from academic_integration.sync_state import breaker_record

    settings.ACADEMIC_ANALYZER_BREAKER_FAIL_MAX = 3
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    breaker_record(SyncTemporaryError(reason="timeout"))
    state = snapshot()
    assert (state["failures"], state["opened_at"] is not None) == (1, True)
    # Slow or silent? One probe at once, in the background; everyone else skips.
    gates = [inline_gate(course_id="19XW51") for _ in range(3)]
    assert [bool(g.probes) for g in gates] == [True, False, False]
    assert [g.skip for g in gates[1:]] == ["breaker_open", "breaker_open"]
    breaker_record(SyncTemporaryError(reason="timeout"))  # the probe failed: a cool-off now
    state = snapshot()
    assert state["state"] == "open"
    assert state["next_probe_at"] - timezone.now() > timedelta(seconds=29)


# --- self-healing ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_open_breaker_heals_with_one_probe_once_the_analyzer_is_back(
    analyzer, enrol, settings, client, quiz, django_capture_on_commit_callbacks
):
    settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS = 30
    students = enrol(*[make_student() for _ in range(3)])
    breaker_open()
    with later(31):
        # The cool-off is over: exactly one caller probes, the rest keep skipping.
        gates = [inline_gate(course_id="19XW51") for _ in range(4)]
        assert [g.skip for g in gates] == ["", "breaker_open", "breaker_open", "breaker_open"]
        assert [bool(g.probes) for g in gates] == [True, False, False, False]
    with later(62):
        for student in students:  # the next probe, then everyone: healed, no resync, no click
            client.force_login(student)
            submit(client, quiz, django_capture_on_commit_callbacks)
    assert set(TutorialMark.objects.values_list("status", flat=True)) == {"delivered"}
    assert snapshot()["state"] == "closed"
    assert len(analyzer.control.received()) == 3
