"""plan_outcome (services/tries.py) as a table: what one try does to a mark, inline and by
resync.

The inline try right after submit does not count toward backoff or the tries cap: its
temporary failure leaves the mark due for the next resync at once."""

from datetime import UTC, datetime, timedelta

import pytest

from academic_integration.exceptions import (
    SyncConfigurationError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.services.tries import plan_outcome

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BASE, CAP, MAX_TRIES, LATE = 60, 3600, 12, 60


class Highest:
    """Jitter at its top: the delay is the full exponential ceiling."""

    @staticmethod
    def uniform(low, high):
        return high


@pytest.fixture(autouse=True)
def _policy(settings):
    settings.ACADEMIC_ANALYZER_RETRY_BASE_SECONDS = BASE
    settings.ACADEMIC_ANALYZER_RETRY_MAX_DELAY_SECONDS = CAP
    settings.ACADEMIC_ANALYZER_MAX_TRIES = MAX_TRIES
    settings.ACADEMIC_ANALYZER_MAX_AGE_HOURS = 72
    settings.ACADEMIC_ANALYZER_LATE_WRITE_SECONDS = LATE


def _401():
    return SyncConfigurationError(reason="token_rejected", status_code=401)


def _503(retry_after=None):
    return SyncTemporaryError(reason="unavailable", status_code=503, retry_after=retry_after)


S = timedelta(seconds=1)
# (id, inline, tries before, error, status, reason, tries after, next try after NOW)
TABLE = [
    ("delivered", False, 3, None, "delivered", "", 0, None),
    ("inline-500-due-now", True, 0, SyncTemporaryError(status_code=500), "retrying",
     "server_error", 0, 0 * S),
    ("inline-503-retry-after-still-due-now", True, 0, _503(120), "retrying", "unavailable",
     0, 0 * S),
    ("inline-timeout-due-now", True, 0, SyncTemporaryError(reason="timeout"), "retrying",
     "timeout", 0, 0 * S),
    ("inline-after-resync-tries-keeps-them", True, 5, _503(), "retrying", "unavailable", 5,
     0 * S),
    ("inline-rejected", True, 0, SyncRejectedError(reason="not_enrolled", status_code=400),
     "rejected", "not_enrolled", 1, None),
    ("inline-token", True, 0, _401(), "pending", "token_rejected", 0,
     None),
    ("resync-first-try", False, 0, _503(), "retrying", "unavailable", 1, BASE * S),
    ("resync-second-try", False, 1, _503(), "retrying", "unavailable", 2, 2 * BASE * S),
    ("resync-fifth-try", False, 4, _503(), "retrying", "unavailable", 5, 16 * BASE * S),
    ("resync-capped", False, 10, _503(), "retrying", "unavailable", 11, CAP * S),
    ("resync-retry-after-wins", False, 0, _503(500), "retrying", "unavailable", 1, 500 * S),
    ("resync-timeout-waits-out-late-writes", False, 0, SyncTemporaryError(reason="timeout"),
     "retrying", "timeout", 1, BASE * S),
    ("resync-past-the-tries-cap", False, MAX_TRIES - 1, _503(), "given_up", "unavailable",
     MAX_TRIES, None),
    ("resync-token", False, 2, _401(), "pending", "token_rejected", 2,
     None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("inline", "tries", "error", "status", "reason", "tries_after", "next_in"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_plan_outcome(inline, tries, error, status, reason, tries_after, next_in):
    update = plan_outcome(tries=tries, error=error, now=NOW, inline=inline, rng=Highest)
    assert (update.status, update.reason, update.tries) == (status, reason, tries_after)
    assert update.next_try_at == (None if next_in is None else NOW + next_in)


def test_an_inline_timeout_still_guards_against_its_late_write():
    update = plan_outcome(
        tries=0, error=SyncTemporaryError(reason="timeout"), now=NOW, inline=True, rng=Highest
    )
    assert update.unsettled_until == NOW + timedelta(seconds=LATE)
    # Delivered again before then: confirmed once more after it.
    later = plan_outcome(
        tries=0, error=None, now=NOW + 5 * S, unsettled_until=update.unsettled_until
    )
    assert (later.status, later.reason, later.next_try_at) == (
        "retrying",
        "confirming",
        update.unsettled_until,
    )


def test_the_resync_after_an_inline_failure_starts_the_backoff_from_its_first_step():
    inline = plan_outcome(tries=0, error=_503(), now=NOW, inline=True, rng=Highest)
    first = plan_outcome(
        tries=inline.tries, failing_since=inline.failing_since, error=_503(), now=NOW,
        rng=Highest,
    )  # fmt: skip
    assert (first.tries, first.next_try_at) == (1, NOW + BASE * S)
    assert first.failing_since == NOW  # the age cap still counts from the first failure


H = timedelta(hours=1)
# Every field of the MarkUpdate, for the cases the table above does not spell out:
# (id, tries before, failing since, unsettled until, error,
#  status, reason, tries, next try, reached, failing since after, unsettled until after)
FIELDS_TABLE = [
    ("delivered-settled", 2, NOW - H, None, None,
     "delivered", "", 0, None, True, None, None),
    ("delivered-after-the-late-window", 0, None, NOW - S, None,
     "delivered", "", 0, None, True, None, None),
    ("delivered-inside-the-late-window-is-confirmed", 0, None, NOW + 30 * S, None,
     "retrying", "confirming", 0, NOW + 30 * S, True, None, NOW + 30 * S),
    ("rejected-keeps-the-late-window", 1, NOW - H, NOW + 30 * S,
     SyncRejectedError(reason="course_not_found", status_code=404),
     "rejected", "course_not_found", 2, None, False, None, NOW + 30 * S),
    ("configuration-keeps-tries", 3, None, None, _401(),
     "pending", "token_rejected", 3, None, False, None, None),
    ("temporary-keeps-the-first-failure", 1, NOW - H, None, _503(),
     "retrying", "unavailable", 2, NOW + 2 * BASE * S, False, NOW - H, None),
    ("temporary-starts-failing-now", 0, None, None, _503(),
     "retrying", "unavailable", 1, NOW + BASE * S, False, NOW, None),
    ("past-the-age-cap", 0, NOW - 72 * H, None, _503(),
     "given_up", "unavailable", 1, None, False, None, None),
    ("timeout-waits-for-its-late-write", 0, None, None, SyncTemporaryError(reason="timeout"),
     "retrying", "timeout", 1, NOW + LATE * S, False, NOW, NOW + LATE * S),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tries", "failing_since", "unsettled_until", "error", "expected"),
    [(row[1], row[2], row[3], row[4], row[5:]) for row in FIELDS_TABLE],
    ids=[row[0] for row in FIELDS_TABLE],
)
def test_plan_outcome_fields(tries, failing_since, unsettled_until, error, expected):
    update = plan_outcome(
        tries=tries,
        failing_since=failing_since,
        unsettled_until=unsettled_until,
        error=error,
        now=NOW,
        rng=Highest,
    )
    assert (
        update.status,
        update.reason,
        update.tries,
        update.next_try_at,
        update.reached,
        update.failing_since,
        update.unsettled_until,
    ) == expected
