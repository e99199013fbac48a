"""Resync after an outage does what an operator expects: inline failures are due at once,
--now sends what is backing off, the summary says what waits and why, failures are grouped
by reason with their next step, and a crash is one line with its own exit code."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.db import OperationalError
from django.utils import timezone

from academic_integration.management.commands import resync_tutorial_marks
from academic_integration.services import mark_deliver_inline
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import due_marks, run_command, statuses

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake
MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"


def test_marks_that_failed_only_inline_go_with_the_next_run(fake, teacher):
    marks = due_marks(4, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=120)  # the outage, asking for 2 minutes
    for mark in marks:
        mark_deliver_inline(mark_id=mark.pk)
    assert statuses(marks) == ["retrying"] * 3 + ["pending"]  # the 4th: breaker open
    fake.control.clear_faults()  # the Analyzer is back; the operator runs resync at once
    code, out, _ = run_command()
    assert code == 0 and out.startswith("Resync: 4 delivered"), out
    assert "none backing off" in out


@pytest.fixture
def backing_off(fake, teacher):
    now = timezone.now()
    slow = due_marks(
        3,
        teacher=teacher,
        control=fake.control,
        status="retrying",
        reason="timeout",
        tries=2,
        next_try_at=now + timedelta(minutes=10),
    )
    down = due_marks(
        2,
        teacher=teacher,
        control=fake.control,
        course="19XW52",
        status="retrying",
        reason="server_error",
        tries=3,
        next_try_at=now + timedelta(minutes=20),
    )
    return slow + down


def test_the_summary_says_what_is_backing_off_until_when_and_why(backing_off):
    code, out, _ = run_command()
    assert code == 0
    assert out.startswith("Resync: 0 delivered (0 attempts settled); 5 backing off until ")
    assert "(--now sends them)" in out
    assert "Backing off: 5 marks not due yet after earlier failed tries" in out
    assert "The Academic Analyzer did not answer in time: 3 marks, next tries at " in out
    assert "The Academic Analyzer had an internal error: 2 marks, next tries at " in out
    data = json.loads(run_command("--json")[1])
    assert data["backing_off"]["count"] == 5
    assert [(g["reason"], g["marks"]) for g in data["backing_off"]["groups"]] == [
        ("timeout", 3),
        ("server_error", 2),
    ]


def test_dry_run_counts_what_it_would_send_with_and_without_now(backing_off, fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    _, out, _ = run_command("--dry-run")
    assert out.startswith("Dry run: would send 1 mark now; 5 backing off until ")
    _, out, _ = run_command("--dry-run", "--now")
    assert out.startswith("Dry run: would send 6 marks now; none waiting for a person; nothing")
    assert statuses(backing_off) == ["retrying"] * 5


def test_now_sends_marks_still_backing_off(backing_off):
    code, out, _ = run_command("--now")
    assert code == 0 and out.startswith("Resync: 5 delivered"), out
    assert statuses(backing_off) == ["delivered"] * 5


def test_dry_run_at_verbosity_2_lists_each_mark_once(fake, teacher):
    marks = due_marks(3, teacher=teacher, control=fake.control)
    _, out, _ = run_command("--dry-run", "--verbosity", "2")
    for mark in marks:
        assert out.count(f"mark {mark.pk} ") == 1, out


def test_failures_are_grouped_by_reason_with_their_next_step(fake, teacher):
    due_marks(2, teacher=teacher, control=fake.control)
    due_marks(1, teacher=teacher, control=fake.control, course="19XW52", enrolled=False)
    fake.control.set_faults(
        [{"kind": "503", "paths": ["/api/staff/update-student-marks"], "count": 2}]
    )
    code, out, _ = run_command()
    assert code == 4  # the rejected mark needs a person; the retrying ones heal by themselves
    retrying = out[out.index("Retrying — The Academic Analyzer is unavailable") :]
    assert "2 marks, 2 students, course 19XW51" in retrying.splitlines()[0]
    assert "--now sends it at once" in retrying.splitlines()[1]
    rejected = out[out.index("Rejected — Student not enrolled in the course") :]
    step = rejected.splitlines()[1]
    assert "Retry after fixing" in step and "--include-failed" in step


# --- exit codes from the command line --------------------------------------------------------


def _from_command_line(*args) -> tuple[int, str, str]:
    """Run the command as manage.py does (not call_command), in this process."""
    command = resync_tutorial_marks.Command()
    options = vars(command.create_parser("manage.py", "resync_tutorial_marks").parse_args(args))
    out, err = StringIO(), StringIO()
    command._called_from_command_line = True
    try:
        command.execute(**{**options, "stdout": out, "stderr": err})
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_exit_1_is_a_summary_not_a_command_error(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=None)
    code, out, err = _from_command_line()
    assert code == 1
    assert "1 retrying" in out and "Next step:" in out
    assert "CommandError" not in out + err and err == ""


def test_exit_4_says_on_stderr_how_many_marks_wait_for_a_person(fake, teacher):
    due_marks(2, teacher=teacher, control=fake.control, course="19XW52", enrolled=False)
    code, out, err = _from_command_line()
    assert code == 4
    assert "2 rejected" in out and "Next step:" in out
    assert err.strip() == (
        "2 marks wait for a person (2 rejected: Student not enrolled in the course (19XW52)). "
        "The summary and admin's Tutorial marks page give the next step for each."
    )
    assert "CommandError" not in out + err


def test_exit_2_is_one_plain_sentence(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_token("regenerated-token")
    code, _, err = _from_command_line()
    assert code == 2 and "CommandError" not in err
    assert err.startswith("The Analyzer rejected the API token")


def test_a_crash_is_one_line_with_its_own_exit_code(fake, teacher, monkeypatch):
    def crash(*args, **kwargs):
        raise OperationalError('could not connect to server: Connection refused\n\tIs "db" up?')

    monkeypatch.setattr(resync_tutorial_marks, "resync_run", crash)
    code, _, err = _from_command_line()
    assert code == 3
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "Resync crashed: OperationalError: could not connect to server: Connection refused "
        'Is "db" up?.'
    )
    code, _, err = _from_command_line("--verbosity", "2")
    assert code == 3 and "Traceback (most recent call last)" in err


def test_an_unreachable_database_exits_3_in_one_line():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quizsite.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5499/nowhere",
        "ACADEMIC_ANALYZER_URL": "http://127.0.0.1:9/api",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, str(MANAGE_PY), "resync_tutorial_marks"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("Resync crashed: OperationalError: "), done.stderr
    assert "Traceback" not in done.stderr
