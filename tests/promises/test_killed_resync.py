"""A resync process SIGKILLed between its sends and its write-back loses nothing: the Analyzer
got the marks, the dead process's claims hold until their lease ends, then the marks are due
again and the next run delivers them (zero lost, zero stale, nothing sent while claimed).

A real process needs a database another process can open: PostgreSQL (the fault drill kills
runs at the same point in-process, on SQLite too).
"""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.resync import ResyncOptions, resync_run
from quizzes.models import QuizAttempt
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import MARKS_PATH, due_marks
from tests.conftest import CANARY_TOKEN
from tests.factories import make_teacher

analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake
MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"

BULK_PATH = "/api/staff/add-tut2-mark"

# Dies by SIGKILL the moment the run would write its results back: after every request of
# the batch was sent and answered, before anything is recorded or released.
_VICTIM = """
import os, signal
import django
django.setup()
from academic_integration.resync import run as resync
resync._Run.write_back = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
from django.core.management import call_command
call_command("resync_tutorial_marks")
"""


def _database_url() -> str:
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


def sent_marks(control) -> list[tuple[str, float]]:
    """(roll number, tutorial 2 value) of every mark sent, one POST each or in bulk."""
    sent = []
    for r in control.received():
        body = r["body"] if isinstance(r["body"], dict) else {}
        if r["path"] == MARKS_PATH:
            sent.append((body["studentId"], body["marks"]["tutorial2"]))
        elif r["path"] == BULK_PATH:
            sent += [(item["rollno"], item["mark"]) for item in body["studentInput"]]
    return sorted(sent)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
@pytest.mark.parametrize("bulk_size", [200, 0], ids=["bulk", "one-per-mark"])
def test_a_resync_killed_between_send_and_write_back_loses_nothing(fake, settings, bulk_size):
    settings.ACADEMIC_ANALYZER_BULK_SIZE = bulk_size
    Group.objects.get_or_create(name="Teachers")  # a flush removed the migration's row
    teacher = make_teacher()
    marks = due_marks(5, teacher=teacher, control=fake.control, value="6.25")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "ACADEMIC_ANALYZER_URL": fake.api_url,
        "ACADEMIC_ANALYZER_TOKEN": CANARY_TOKEN,
        "CACHE_URL": "locmemcache://",
        "ACADEMIC_ANALYZER_BULK_SIZE": str(bulk_size),
        "DJANGO_SETTINGS_MODULE": "quizsite.settings",
    }
    victim = subprocess.run(
        [sys.executable, "-c", _VICTIM],
        env=env,
        cwd=MANAGE_PY.parent,
        capture_output=True,
        timeout=90,
    )

    assert victim.returncode == -signal.SIGKILL, victim.stderr.decode()[-2000:]
    rolls = sorted(m.student.username for m in marks)
    # The Analyzer got (and stored) every mark ...
    assert sent_marks(fake.control) == [(roll, 6.25) for roll in rolls]
    held = fake.control.marks()
    assert {held[roll]["19XW51"]["tutorial2"] for roll in rolls} == {6.25}
    # ... but nothing was written back: the marks are still due, under the dead run's claim.
    now = timezone.now()
    rows = TutorialMark.objects.filter(pk__in=[m.pk for m in marks])
    assert {m.status for m in rows} == {"pending"}
    assert all(m.claimed_by.startswith("resync") and m.claim_expires_at > now for m in rows)
    assert not MarkDeliveryLog.objects.exists()

    # While the lease lasts nobody sends them again.
    fake.control.clear_received()
    assert resync_run(ResyncOptions()).delivered == 0
    assert sent_marks(fake.control) == []

    # After it, they are due again and delivered once, with their current value.
    later = now + timedelta(seconds=settings.ACADEMIC_ANALYZER_CLAIM_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        summary = resync_run(ResyncOptions())
    assert summary.delivered == 5
    assert sent_marks(fake.control) == [(roll, 6.25) for roll in rolls]
    rows = TutorialMark.objects.filter(pk__in=[m.pk for m in marks])
    assert {(m.status, m.delivered_version, m.delivered_value) for m in rows} == {
        ("delivered", 1, Decimal("6.25"))
    }
    assert all(m.claimed_by == "" for m in rows)
    assert not QuizAttempt.objects.filter(student__username__in=rolls, marks_synced=False)
