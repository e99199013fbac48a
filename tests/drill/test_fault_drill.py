"""The short fault drill (`make drill` runs the long one), and proof that its checks can fail."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial

import pytest

import bench.drill
from bench.drill import (
    DETAIL_PATH,
    MARKS_PATH,
    DrillConfig,
    MarkState,
    Received,
    RequestTags,
    TokenWatch,
    _Drill,
    check_resync,
    check_submission,
    check_untouched,
    run_drill,
)

SHORT = DrillConfig()  # 20 rounds of 20 submissions: 400 submissions


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(180)
def test_fault_drill_loses_nothing_leaves_nothing_stale_and_sends_nothing_out_of_turn(analyzer):
    report = run_drill(config=SHORT, control=analyzer.control, api_url=analyzer.api_url)

    print(report.text())
    assert not report.problems, report.text()
    counts = report.counts
    assert counts["submissions"] == SHORT.rounds * SHORT.submissions_per_round
    assert counts["retakes"] > counts["submissions"] / 2
    assert counts["claims left by a dead process"] > 0
    assert counts["marks rejected at some point"] > 0
    assert counts["bulk mark requests"] > 0  # the resync sent in bulk, each item checked
    assert counts["marks given up at some point"] > 0
    # Killed between send and write-back: their marks came back after the lease, delivered.
    assert counts["resync runs killed between send and write-back"] >= SHORT.min_fault_firings
    assert counts["mark POSTs of killed runs"] > 0
    assert {"trickle", "flood", "hang", "slow", "reset"} <= set(report.faults)
    assert counts["rounds with the cache down"] == 4  # and it refused calls meanwhile:
    assert counts["cache calls refused while it was down"] == 1
    assert all(n >= SHORT.min_fault_firings for n in report.faults.values()), report.faults


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_the_drill_catches_a_resync_that_retries_rejected_marks_on_its_own(analyzer, monkeypatch):
    from academic_integration.resync import run as resync  # where the run looks it up

    real = resync.marks_due

    def sloppy(options, **kwargs):  # forgets that rejected marks wait to be asked again
        options.include_failed = True
        return real(options, **kwargs)

    monkeypatch.setattr(resync, "marks_due", sloppy)
    # Eight rounds: enough for some marks to be given up whatever the seed does to the faults.
    config = DrillConfig(rounds=8, course_deleted_rounds=(1, 4), token_rotated_rounds=(9, 9))
    report = run_drill(config=config, control=analyzer.control, api_url=analyzer.api_url)

    # Rejected as course_not_found, a mark may be put back (its course restored); the sloppy
    # run also takes the given-up marks and those rejected for any other reason.
    assert any(
        f"while {status} (not its business)" in v or ("sent" in v and f"while {status}" in v)
        for v in report.violations
        for status in ("rejected", "given_up")
    ), report.violations


# --- the checks themselves, on made-up observations -------------------------------------------

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SLOT = ("21Z201", "DRILLA", 1)


def state(status, *, next_try_at=None, claim=None, version=2, delivered=1, value="5.71"):
    return MarkState(status, next_try_at, claim, version, delivered, Decimal(value))


def post(slot=SLOT, value="5.71", *, authorized=True, time=0.0, status=200):
    return Received(
        time=time,
        method="POST",
        path=MARKS_PATH,
        authorized=authorized,
        status=status,
        fault=None,
        slot=slot,
        value=Decimal(value),
        course=slot[1],
    )


def resync_problems(before_state, received, *, include_failed=False, grade="5.71"):
    return check_resync(
        run="run",
        before={SLOT: before_state},
        now=NOW,
        received=received,
        grades={SLOT: Decimal(grade)},
        include_failed=include_failed,
    )


@pytest.mark.parametrize(
    ("before", "why"),
    [
        (state("rejected"), "while rejected"),
        (state("given_up"), "while given_up"),
        (state("delivered", delivered=2), "while delivered"),
        (state("retrying", next_try_at=NOW + timedelta(seconds=300)), "next try at"),
        (state("pending", claim=NOW + timedelta(seconds=60)), "claimed until"),
    ],
)
def test_a_resync_sending_a_mark_that_is_not_due_is_caught(before, why):
    (problem,) = resync_problems(before, [post()])
    assert why in problem


@pytest.mark.parametrize(
    "before",
    [
        state("pending"),
        state("retrying", next_try_at=NOW - timedelta(seconds=1)),
        state("pending", claim=NOW - timedelta(seconds=1)),  # a dead process's lease ended
    ],
)
def test_a_resync_sending_due_marks_passes(before):
    assert resync_problems(before, [post()]) == []


def test_asked_again_rejected_and_given_up_marks_may_be_sent():
    assert resync_problems(state("rejected"), [post()], include_failed=True) == []
    assert resync_problems(state("given_up"), [post()], include_failed=True) == []


def test_a_stale_value_a_second_send_and_a_second_course_check_are_caught():
    detail = Received(0.0, "GET", DETAIL_PATH, True, 200, None, course="DRILLA")
    problems = resync_problems(
        state("pending"), [post(value="4.29"), post(value="4.29"), detail, detail]
    )
    assert any(p.endswith("2 times") and "sent" in p for p in problems)
    assert any("the grade is 5.71" in p for p in problems)
    assert any("checked course DRILLA 2 times" in p for p in problems)


def test_a_change_to_a_mark_the_action_had_no_business_with_is_caught():
    other = ("21Z202", "DRILLA", 1)
    before = {SLOT: state("rejected"), other: state("pending")}
    after = {SLOT: state("retrying", next_try_at=NOW), other: state("delivered", delivered=2)}

    def due(slot, mark):
        return mark.status == "pending"

    (problem,) = check_untouched(action="run", before=before, after=after, may_change=due)
    assert "changed ('21Z201', 'DRILLA', 1) while rejected" in problem
    assert check_untouched(action="run", before=before, after=dict(before), may_change=due) == []


def test_a_submission_sending_when_cut_off_or_for_another_mark_or_twice_is_caught():
    other = ("21Z202", "DRILLA", 1)

    def problems(received, *, cut_off=False, before=None):
        return check_submission(
            slot=SLOT,
            cut_off=cut_off,
            before=before,
            now=NOW,
            received=received,
            grade=Decimal("5.71"),
        )

    assert problems([post()]) == []
    assert problems([]) == []
    assert "cut off" in problems([post()], cut_off=True)[0]
    assert (
        "another process held"
        in problems([post()], before=state("pending", claim=NOW + timedelta(seconds=5)))[0]
    )
    assert any("another mark" in p for p in problems([post(other)]))
    assert any("at most one" in p for p in problems([post(), post()]))
    assert any("the grade is 5.71" in p for p in problems([post(value="10")]))


def test_calls_with_a_rejected_token_beyond_the_one_that_finds_out_are_caught():
    def denied(t=0.0):
        return post(authorized=False, time=t, status=401)

    faulted = post(authorized=False, status=500)  # a fault answered first: not found out yet
    watch = TokenWatch()
    (problem,) = watch.check(action="a", trigger="inline", received=[denied()])
    assert "before it was rotated" in problem

    watch = TokenWatch(rotated=True)
    assert watch.check(action="s1", trigger="inline", received=[faulted]) == []
    assert watch.check(action="run1", trigger="resync", received=[faulted, denied()]) == []
    (problem,) = watch.check(action="s2", trigger="inline", received=[faulted])
    assert "inline although the token was known to be rejected" in problem
    assert watch.check(action="run2", trigger="resync", received=[denied()]) == []  # finds out
    (problem,) = watch.check(action="run3", trigger="resync", received=[denied(), faulted])
    assert "1 more calls after the token was rejected" in problem
    assert watch.rejections == 3

    watch.settings_updated()
    assert watch.check(action="s3", trigger="inline", received=[post()]) == []
    (problem,) = watch.check(action="s4", trigger="inline", received=[denied()])
    assert "after the settings fix" in problem


def test_a_killed_runs_401_does_not_move_the_probe_clock():
    """A resync run killed before its write-back found out but remembered nothing: the site
    probes on its own clock, and the watch follows the site's clock, not the dead run's."""
    from django.conf import settings

    cool_off = timedelta(seconds=settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS)
    denied = post(authorized=False, status=401)
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    watch = TokenWatch(rotated=True)
    assert watch.check(action="s1", trigger="inline", received=[denied], now=start) == []
    killed = start + cool_off - timedelta(seconds=5)
    assert (
        watch.check(
            action="run1 (killed)",
            trigger="resync",
            received=[denied],
            now=killed,
            remembered=False,
        )
        == []
    )
    # The site's probe is due one cool-off after what it remembered: allowed.
    probe = start + cool_off
    assert watch.check(action="s2", trigger="inline", received=[denied], now=probe) == []
    # A second inline call within the same cool-off is still caught.
    (problem,) = watch.check(
        action="s3", trigger="inline", received=[denied], now=probe + timedelta(seconds=1)
    )
    assert "no probe was due" in problem
    # Had the run remembered (the default), the probe clock would have moved with it.
    watch = TokenWatch(rotated=True)
    watch.check(action="s1", trigger="inline", received=[denied], now=start)
    watch.check(action="run1", trigger="resync", received=[denied], now=killed)
    (problem,) = watch.check(action="s2", trigger="inline", received=[denied], now=probe)
    assert "no probe was due" in problem


# --- which action a request belongs to ----------------------------------------------------


@pytest.fixture
def slow_fake(analyzer, monkeypatch):
    """The fake's handler for each POST waits until let go: as on a loaded machine, where its
    thread gets the CPU only after the client gave up on the request."""
    import threading

    from fake_analyzer import handlers

    go = threading.Event()
    real = handlers.ApiHandler._dispatch

    def dispatch(handler):
        if handler.command == "POST":
            go.wait(10)
        return real(handler)

    monkeypatch.setattr(handlers.ApiHandler, "_dispatch", dispatch)
    yield go
    go.set()


def _watching(analyzer):
    """A drill that only watches the fake (no students, no clock), with its requests tagged."""
    from academic_integration.client import reset_client

    reset_client()  # at the fake
    analyzer.control.clear_received()
    tags = RequestTags(analyzer.api_url)
    drill = _Drill(
        config=DrillConfig(), control=analyzer.control, clock=None, killed=None, tags=tags
    )
    return drill, tags


def _post(roll, value, *, within=None):
    """One mark POST, as a delivery sends it; ``within``: cut off by an inline budget."""
    from academic_integration.client import budget, get_client
    from academic_integration.exceptions import SyncError

    send = partial(
        get_client().update_student_marks,
        student_id=roll,
        course_id="CS101",
        teacher_email="t@college.edu",
        tutorial_number=1,
        value=Decimal(value),
    )
    try:
        if within is None:
            return send()
        with budget(within):
            return send()
    except SyncError:
        return None  # the client gave up: the fake may still log (and store) it later


def test_a_request_the_fake_logs_late_is_checked_with_the_submission_that_sent_it(
    analyzer, slow_fake
):
    """The failure seen once under load: a submission's send, cut off by the budget before
    the fake's handler ran, was logged during the next submission and charged to it ("2
    requests inline", "sent another mark")."""
    import threading

    drill, tags = _watching(analyzer)
    with tags:
        first = tags.begin("submission A")
        assert _post("21Z201", "5.71", within=0.1) is None  # cut off: the fake has not read it
        threading.Timer(0.3, slow_fake.set).start()  # its handler gets the CPU later
        mine = drill.take_received(first)
        second = tags.begin("submission B")
        theirs = drill.take_received(second)

    assert [(r.slot, r.value) for r in mine] == [(("21Z201", "CS101", 1), Decimal("5.71"))]
    assert theirs == []
    assert drill.counts["actions whose requests the fake logged after they ended"] == 1
    assert drill.report.violations == []


def test_tags_still_charge_an_action_with_every_request_it_sent_itself(analyzer):
    """Attribution by tag hides nothing: a submission that sends another mark in its own turn
    (or twice) is still caught."""
    drill, tags = _watching(analyzer)
    with tags:
        turn = tags.begin("submission A")
        _post("21Z201", "5.71")
        _post("21Z202", "4.29")  # out of turn: another student's mark
        received = drill.take_received(turn)

    problems = check_submission(
        slot=("21Z201", "CS101", 1),
        cut_off=False,
        before=None,
        now=NOW,
        received=received,
        grade=Decimal("5.71"),
    )
    assert any("at most one" in p for p in problems)
    assert any("sent another mark ('21Z202', 'CS101', 1)" in p for p in problems)
    assert any("sent 4.29, the grade is 5.71" in p for p in problems)


def test_a_request_logged_after_the_drill_stopped_waiting_is_reported_not_dropped(
    analyzer, slow_fake, monkeypatch
):
    import time

    monkeypatch.setattr(bench.drill, "LOG_WAIT_SECONDS", 0.05)
    drill, tags = _watching(analyzer)
    with tags:
        first = tags.begin("submission A")
        _post("21Z201", "5.71", within=0.1)
        assert drill.take_received(first) == []  # not logged within the (shortened) wait
        slow_fake.set()
        time.sleep(0.3)
        second = tags.begin("submission B")
        assert drill.take_received(second) == []  # not B's
    (problem,) = drill.report.violations
    assert problem.startswith("submission A: POST /api/staff/update-student-marks reached")
    assert "only during submission B" in problem
