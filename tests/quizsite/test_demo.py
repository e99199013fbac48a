"""`make demo`'s runner: the resync on a schedule, the site's record reset with the fake
Analyzer's (which keeps no marks across restarts), and a clean stop on Ctrl-C (issue 18)."""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from academic_integration.mark_source import analyzer_line
from tests.academic_integration.admin_fixtures import make_mark
from tests.factories import make_quiz


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_ports(count: int, *, taken: frozenset[int] = frozenset()) -> int:
    """The first of ``count`` consecutive free ports, below the kernel's ephemeral range: a
    port the kernel hands out (bind to 0) may meanwhile become some connection's local port,
    and the fake Analyzer also needs the port after its own (twice seen: "Address already in
    use" for the control port)."""
    rng = random.Random()
    for _ in range(200):
        first = rng.randrange(20_000, 32_000)
        ports = range(first, first + count)
        if not taken.intersection(ports) and all(_bindable(p) for p in ports):
            return first
    raise RuntimeError("no free ports between 20000 and 32000")


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.django_db
def test_marks_the_lost_analyzer_had_are_due_again_and_said_so():
    mark = make_mark(quiz=make_quiz(), status="delivered")
    attempt = mark.student.quiz_attempts.get()
    assert attempt.marks_synced
    out = StringIO()
    call_command("forget_delivered_marks", stdout=out)
    assert out.getvalue().startswith("1 mark the Analyzer had are due again")
    mark.refresh_from_db()
    attempt.refresh_from_db()
    assert (mark.status, mark.delivered_version, mark.delivered_value) == ("pending", 0, None)
    assert attempt.marks_synced is False
    assert "has not reached the Academic Analyzer yet" in analyzer_line(mark=mark)


def test_the_demo_resyncs_on_a_schedule_and_stops_cleanly_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ACADEMIC_"))}
    env.update(
        DJANGO_ENV="local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL="locmemcache://",
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    analyzer = _free_ports(2)  # the API and, on the next port, the control API
    site = _free_ports(1, taken=frozenset({analyzer, analyzer + 1}))
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quizsite.demo",
            "--port",
            str(site),
            "--every",
            "1",
            "--analyzer-port",
            str(analyzer),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (_listening(site) and _listening(analyzer)):
            time.sleep(0.3)
        time.sleep(2.5)  # two or three resync runs, one a second
        demo.send_signal(signal.SIGINT)
        out, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 0, out
    assert "Resync every 1 s" in out
    assert out.count("] resync:") >= 2, out
    assert "Resync: 0 delivered" in out
    assert out.rstrip().endswith("Demo stopped.")
    assert "Traceback" not in out and "Segmentation fault" not in out
    assert not _listening(site) and not _listening(analyzer)


@pytest.mark.django_db
def test_a_rejected_mark_stays_rejected_but_no_longer_claims_an_earlier_value_is_held():
    mark = make_mark(quiz=make_quiz(), status="rejected", reason="not_enrolled")
    type(mark).objects.filter(pk=mark.pk).update(delivered_version=1, delivered_value="5.00")
    call_command("forget_delivered_marks", stdout=StringIO())
    mark.refresh_from_db()
    assert (mark.status, mark.delivered_version, mark.delivered_value) == ("rejected", 0, None)
