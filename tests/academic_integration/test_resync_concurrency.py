"""Resync at scale and side by side: pinned queries per batch, leases, worker threads,
connection reuse, the rate limit, and four processes at once on PostgreSQL."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from academic_integration.models import TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from academic_integration.resync.run import RateLimiter
from fake_analyzer import start_fake_analyzer_process
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import (
    MARKS_PATH,
    due_marks,
    received,
    seed_course,
    statuses,
)
from tests.conftest import CANARY_TOKEN
from tests.factories import make_teacher

analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake
MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def run(**options):
    return resync_run(ResyncOptions(**options))


def each_received_once(control, marks):
    """Each mark's student and course sent exactly once, one POST each or in bulk requests
    (add-tutN-mark, once the fake has them)."""
    sent = Counter(
        (r["body"]["studentId"], r["body"]["courseId"]) for r in received(control, MARKS_PATH)
    )
    for r in control.received():
        if "/add-tut" in r["path"] and r["status"] == 200:
            sent.update(
                (item["rollno"], r["body"]["courseId"]) for item in r["body"]["studentInput"]
            )
    assert sent == Counter((m.student.username, m.course_id) for m in marks)


# --- queries ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queries_grow_only_with_the_number_of_batches(fake, teacher):
    """10 marks are one batch, 500 are ten batches of 50: the second run costs exactly ten
    times the first, whatever the number of marks (and no extra query to find the end)."""
    due_marks(10, teacher=teacher, control=fake.control, course="19XW51")
    with CaptureQueriesContext(connection) as ten:
        assert run(batch_size=50).delivered == 10
    due_marks(500, teacher=teacher, control=fake.control, course="19XW52")
    with CaptureQueriesContext(connection) as five_hundred:
        summary = run(batch_size=50)
    assert (summary.delivered, summary.attempts_settled, summary.batches) == (500, 500, 10)
    # Savepoint pairs (the test's transaction) around the claim and the write-back; SELECT ...
    # FOR UPDATE SKIP LOCKED, UPDATE (lease), UPDATE (outcomes), INSERT (history), UPDATE
    # (settle attempts). Outside a test that is 5 per batch: 50 per 1,000 marks. Plus, once
    # per run: what is backing off (the summary says it), an upsert of what the Analyzer said
    # of each course checked, and one DELETE closing the inline breaker after the first
    # delivery (the sync state is in the database), and one SELECT for courses whose marks were
    # rejected as missing (a restored course's marks go back in the queue), and one SELECT of
    # the marks waiting for a person (rejected or given up, the summary lists them).
    per_run = 5
    per_batch = len(ten) - per_run
    assert per_batch == 9, [q["sql"][:80] for q in ten.captured_queries]
    assert len(five_hundred) == 10 * per_batch + per_run


# --- leases ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_killed_process_lease_expires_and_its_marks_come_back(fake, teacher):
    now = timezone.now()
    expired = due_marks(
        2,
        teacher=teacher,
        control=fake.control,
        claimed_by="resync:dead-host:4242:1:abcd",
        claim_expires_at=now - timedelta(seconds=1),
    )
    held = due_marks(
        2,
        teacher=teacher,
        control=fake.control,
        claimed_by="resync:live-host:4343:1:abcd",
        claim_expires_at=now + timedelta(minutes=5),
    )
    summary = run()
    assert summary.delivered == 2
    assert statuses(expired) == ["delivered"] * 2
    assert statuses(held) == ["pending"] * 2
    assert set(
        TutorialMark.objects.filter(pk__in=[m.pk for m in held]).values_list(
            "claimed_by", flat=True
        )
    ) == {"resync:live-host:4343:1:abcd"}
    each_received_once(fake.control, expired)


# --- threads, connections, rate --------------------------------------------------------------


@pytest.mark.django_db
def test_workers_deliver_everything_once_over_reused_connections(fake, teacher):
    marks = due_marks(200, teacher=teacher, control=fake.control)
    fake.control.set_latency(2)
    fake.control.clear_stats()
    summary = run(workers=8, batch_size=50)
    assert (summary.delivered, summary.exit_code) == (200, 0)
    each_received_once(fake.control, marks)
    stats = fake.control.stats()
    assert stats["requests"] == 201  # one course check and 200 marks
    assert stats["connections"] <= 8 + 1  # the pool keeps them alive: not one per request
    assert statuses(marks) == ["delivered"] * 200


@pytest.mark.django_db
def test_max_rate_spaces_requests(fake, teacher):
    due_marks(8, teacher=teacher, control=fake.control)
    started = time.monotonic()
    assert run(max_rate=40, workers=4).delivered == 8
    elapsed = time.monotonic() - started
    assert elapsed >= 8 / 40  # 9 requests, 1/40 s apart
    # Arrival times jitter with thread scheduling; no two gaps in a row may be short.
    times = sorted(r["time"] for r in fake.control.received())
    assert times[-1] - times[0] >= 0.9 * 8 / 40
    assert min(c - a for a, c in zip(times, times[2:], strict=False)) >= 1 / 40


def test_rate_limiter_spaces_calls_evenly_without_bursts():
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.wait() for _ in range(4)]
    assert waits == [0.0, 0.25, 0.25, 0.25]
    now[0] += 10  # idle time is not saved up for a burst
    assert limiter.wait() == 0.0
    assert limiter.wait() == 0.25
    assert RateLimiter(None).wait() == 0.0


# --- several processes at once ----------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("workers", "latency_ms", "bulk_size"),
    # With 8 workers (two batches on their way each) the Analyzer is slower, so that every
    # copy is still running when the others start. Bulk: requests of a batch (20 marks); an
    # Analyzer without the route has every copy fall back to one POST per mark mid-run.
    [("1", 10, "0"), ("8", 40, "0"), ("8", 40, "200")],
    ids=["one-worker", "eight-workers", "eight-workers-bulk"],
)
def test_four_processes_at_once_deliver_each_mark_exactly_once(workers, latency_ms, bulk_size):
    # Transactional tests run last, after a flush has emptied the data migrations' rows.
    Group.objects.get_or_create(name="Teachers")
    teacher = make_teacher()
    marks = due_marks(520, teacher=teacher)
    with start_fake_analyzer_process(token=CANARY_TOKEN, latency_ms=latency_ms, seed=False) as fake:
        seed_course(
            fake.control,
            course="19XW51",
            teacher_email=teacher.email,
            rolls=[m.student.username for m in marks],
        )
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "ACADEMIC_ANALYZER_URL": fake.api_url,
            "ACADEMIC_ANALYZER_TOKEN": CANARY_TOKEN,
            "CACHE_URL": "locmemcache://",
        }
        command = [sys.executable, str(MANAGE_PY), "resync_tutorial_marks", "--json"]
        command += ["--batch-size", "20", "--workers", workers, "--bulk-size", bulk_size]
        copies = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(4)
        ]
        outputs = [copy.communicate(timeout=90) for copy in copies]
        codes = [copy.returncode for copy in copies]
        each_received_once(fake.control, marks)
    for out, err in outputs:
        assert CANARY_TOKEN.encode() not in out + err
    assert codes == [0, 0, 0, 0], [err.decode()[-2000:] for _, err in outputs]
    delivered = [json.loads(out)["delivered"] for out, _ in outputs]
    assert sum(delivered) == 520
    assert sum(1 for n in delivered if n) >= 3, delivered
    assert statuses(marks) == ["delivered"] * 520
