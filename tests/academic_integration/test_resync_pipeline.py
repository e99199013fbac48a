"""The resync pipeline (several workers): the next batch is claimed and sent while the one
before is written back, on the run's own thread and connection, at five queries a batch;
fencing, exactly-once and the stop rules hold with two batches on their way."""

import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.backends.signals import connection_created
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from academic_integration.resync import run as resync  # the module the run looks names up in
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import due_marks, received, statuses

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake

OTHER_OWNER = "resync:other-host:4242:1:feedbeef"


def run(**options):
    return resync_run(ResyncOptions(**options))


def posted_rolls(control) -> Counter:
    return Counter(r["body"]["studentId"] for r in received(control))


@pytest.fixture
def write_backs(monkeypatch):
    """Wrap ``_Run.write_back``: ``hooks[n]`` (if any) runs before the n-th batch's write-back;
    each call's thread and batch are recorded."""
    calls, hooks = [], {}
    real = resync._Run.write_back

    def write_back(run_, batch, tries, rejected):
        calls.append((threading.current_thread(), [m.pk for m in batch.marks]))
        if len(calls) in hooks:
            hooks[len(calls)](batch)
        return real(run_, batch, tries, rejected)

    monkeypatch.setattr(resync._Run, "write_back", write_back)
    return calls, hooks


def test_the_next_batch_is_on_the_wire_while_one_is_written_back(
    fake, teacher, monkeypatch, write_backs
):
    marks = due_marks(15, teacher=teacher, control=fake.control)
    calls, hooks = write_backs
    first_batch = {m.pk for m in marks[:5]}
    later_send_started = threading.Event()
    real_send = resync.mark_send

    def send(*, mark, course, teacher):
        if mark.pk not in first_batch:
            later_send_started.set()
        return real_send(mark=mark, course=course, teacher=teacher)

    seen_during_first_write_back = []
    hooks[1] = lambda batch: seen_during_first_write_back.append(later_send_started.wait(5))
    monkeypatch.setattr(resync, "mark_send", send)
    switch_interval = sys.getswitchinterval()

    summary = run(workers=4, batch_size=5)

    assert (summary.delivered, summary.batches, summary.exit_code) == (15, 3, 0)
    # Batch 2 was claimed and its sends went out before batch 1 was written back.
    assert seen_during_first_write_back == [True]
    assert [set(pks) for _, pks in calls] == [
        first_batch,
        {m.pk for m in marks[5:10]},
        {m.pk for m in marks[10:]},
    ]
    # Every write-back on the run's own thread (the database connection is per thread).
    assert {thread for thread, _ in calls} == {threading.current_thread()}
    assert posted_rolls(fake.control) == Counter(m.student.username for m in marks)
    assert statuses(marks) == ["delivered"] * 15
    assert MarkDeliveryLog.objects.count() == 15
    assert not TutorialMark.objects.exclude(claimed_by="").exists()
    assert sys.getswitchinterval() == switch_interval  # the process's own, back


def test_a_batch_whose_claim_or_version_changed_during_the_write_back_before_it_is_fenced(
    fake, teacher, write_backs
):
    """While batch 1 is written back, batch 2 is already sent: one of its marks is retaken
    (a newer version, still our claim) and the others' claims are lost to another process.
    Nothing of batch 2 may be marked delivered; the lost ones are fenced."""
    marks = due_marks(15, teacher=teacher, control=fake.control)
    retaken, lost = marks[5], marks[6:10]
    _, hooks = write_backs

    def meanwhile(batch):
        TutorialMark.objects.filter(pk=retaken.pk).update(version=F("version") + 1)
        TutorialMark.objects.filter(pk__in=[m.pk for m in lost]).update(
            claimed_by=OTHER_OWNER, claim_expires_at=timezone.now() + timedelta(minutes=5)
        )

    hooks[1] = meanwhile
    summary = run(workers=4, batch_size=5)

    assert summary.superseded == 1
    assert statuses(marks[:5]) == ["delivered"] * 5
    assert statuses(marks[10:]) == ["delivered"] * 5
    mark = TutorialMark.objects.get(pk=retaken.pk)
    assert (mark.status, mark.version, mark.delivered_version, mark.claimed_by) == (
        "pending",
        2,
        1,
        "",
    )
    # Sent after the claim was lost: due again with a new version, the other claim untouched.
    for mark in TutorialMark.objects.filter(pk__in=[m.pk for m in lost]):
        assert (mark.status, mark.reason, mark.version, mark.delivered_version) == (
            "pending",
            "overlap",
            2,
            0,
        )
        assert mark.claimed_by == OTHER_OWNER
    assert posted_rolls(fake.control) == Counter(m.student.username for m in marks)
    assert not TutorialMark.objects.filter(claimed_by__startswith="resync:").exclude(
        claimed_by=OTHER_OWNER
    )


def test_a_pipelined_run_costs_five_queries_a_batch_all_on_its_own_connection(fake, teacher):
    """500 marks in batches of 50 with 8 workers: ten batches of five queries (claim: SELECT
    ... FOR UPDATE SKIP LOCKED, UPDATE; write-back: UPDATE, INSERT history, UPDATE attempts),
    plus three per run (what is backing off, the course checked, closing the breaker), the
    same as one worker; no worker thread opens a database connection."""
    opened = []

    def on_connection_created(sender, connection, **kwargs):
        opened.append(threading.current_thread().name)

    counts = {}
    for workers, course in ((1, "19XW51"), (8, "19XW52")):
        due_marks(500, teacher=teacher, control=fake.control, course=course)
        connection_created.connect(on_connection_created)
        try:
            with CaptureQueriesContext(connection) as queries:
                summary = run(workers=workers, batch_size=50)
        finally:
            connection_created.disconnect(on_connection_created)
        assert (summary.delivered, summary.batches, summary.exit_code) == (500, 10, 0)
        counts[workers] = [
            q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]
        ]
    assert opened == []
    # Per run: what is backing off, the course upsert, the breaker DELETE, the rejected-courses
    # SELECT (restored courses), the marks waiting for a person.
    assert len(counts[8]) == 5 * 10 + 5, [sql[:60] for sql in counts[8]]
    assert len(counts[1]) == len(counts[8])
    assert sum("SKIP LOCKED" in sql for sql in counts[8]) == (
        10 if connection.features.has_select_for_update_skip_locked else 0
    )


def test_a_rejected_token_stops_the_run_and_releases_the_batch_queued_behind(
    fake, teacher, monkeypatch, write_backs
):
    """The token is rotated while batch 1 is written back and batch 2 is on the wire: batch 2
    is rejected, nothing is sent after the stop (batch 3, if it was claimed and queued, is not
    sent), every claim is released and the rest stays due."""
    marks = due_marks(12, teacher=teacher, control=fake.control)
    _, hooks = write_backs
    rotated = threading.Event()
    real_send = resync.mark_send

    def send(*, mark, course, teacher):
        if mark.pk not in {m.pk for m in marks[:4]}:
            rotated.wait(5)  # on the wire, answered after the rotation
        return real_send(mark=mark, course=course, teacher=teacher)

    def rotate(batch):
        fake.control.set_token("regenerated-token")
        rotated.set()

    hooks[1] = rotate
    monkeypatch.setattr(resync, "mark_send", send)
    summary = run(workers=4, batch_size=4)

    assert (summary.stopped, summary.exit_code) == ("token_rejected", 2)
    assert summary.delivered == 4
    assert summary.batches in (2, 3)  # batch 3 is claimed unless the stop came first
    assert statuses(marks[:4]) == ["delivered"] * 4
    assert set(statuses(marks[4:])) == {"pending"}
    assert not TutorialMark.objects.exclude(claimed_by="").exists()
    posts = received(fake.control)
    rejected = [p for p in posts if p["status"] == 401]
    assert 1 <= len(rejected) <= 4  # only batch 2's, on the wire when the first 401 came
    assert len(posts) == 4 + len(rejected)
    assert max(posted_rolls(fake.control).values()) == 1
    # Left due (the rejected ones too: a configuration stop keeps marks pending).
    assert summary.skipped == 4 * summary.batches - 4


def test_an_interrupt_with_two_batches_on_their_way_releases_both(fake, teacher, monkeypatch):
    marks = due_marks(12, teacher=teacher, control=fake.control)
    real_send = resync.mark_send

    def send(*, mark, course, teacher):
        if mark.pk == marks[5].pk:  # batch 2 of 3
            raise KeyboardInterrupt
        return real_send(mark=mark, course=course, teacher=teacher)

    monkeypatch.setattr(resync, "mark_send", send)
    with pytest.raises(KeyboardInterrupt):
        run(workers=4, batch_size=4)
    assert not TutorialMark.objects.exclude(claimed_by="").exists()
    assert statuses(marks[:4]) == ["delivered"] * 4  # written back before batch 2 was waited for
    assert set(statuses(marks[4:])) == {"pending"}  # due for the next run
