"""`manage.py resync_tutorial_marks`: options, filters, output, --json and exit codes."""

import json
from datetime import timedelta

import pytest
import responses
from django.core.management import CommandError, call_command
from django.utils import timezone

from academic_integration.models import MarkDeliveryLog, TutorialMark
from tests.academic_integration import resync_fixtures
from tests.academic_integration.resync_fixtures import (
    DETAIL_PATH,
    due_marks,
    received,
    run_command,
    statuses,
)
from tests.conftest import CANARY_TOKEN

pytestmark = pytest.mark.django_db
analyzer, fake = resync_fixtures.analyzer, resync_fixtures.fake


def test_exit_0_when_everything_is_delivered(fake, teacher):
    due_marks(2, teacher=teacher, control=fake.control)
    code, out, err = run_command()
    assert (code, err) == (0, "")
    assert out.startswith("Resync: 2 delivered (2 attempts settled)")


def test_exit_4_when_a_mark_is_rejected_with_the_next_step(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    [stranger] = due_marks(
        1, teacher=teacher, control=fake.control, course="19XW52", enrolled=False
    )
    code, out, err = run_command()
    assert code == 4
    assert "1 delivered" in out and "1 rejected" in out
    assert "Rejected — Student not enrolled in the course: 1 mark, 1 student, course 19XW52" in out
    assert f"Student {stranger.student.username} is not enrolled in course 19XW52" in out
    assert "1 mark waits for a person (1 rejected: Student not enrolled" in err


def test_exit_1_for_temporary_failures_but_not_for_marks_still_backing_off(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=None)
    code, out, _ = run_command()
    assert code == 1 and "0 delivered (0 attempts settled), 1 retrying (next try at " in out
    fake.control.clear_faults()
    assert run_command()[0] == 0  # the mark backs off: this run failed nothing


@pytest.mark.parametrize("legacy", [False, True], ids=["401", "legacy-403"])
def test_exit_2_when_the_token_is_rejected(fake, teacher, legacy):
    fake.control.set_legacy(legacy)
    marks = due_marks(3, teacher=teacher, control=fake.control)
    fake.control.set_token("regenerated-token")
    code, out, err = run_command()
    assert code == 2
    assert "The Analyzer rejected the API token — it may have been regenerated" in err
    assert "update ACADEMIC_ANALYZER_TOKEN" in err
    assert CANARY_TOKEN not in out + err
    assert statuses(marks) == ["pending"] * 3


def test_exit_2_when_the_base_url_is_not_the_analyzer(fake, settings, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    settings.ACADEMIC_ANALYZER_URL = fake.api_url.removesuffix("/api")
    code, _, err = run_command()
    assert code == 2
    assert f"ACADEMIC_ANALYZER_URL ({settings.ACADEMIC_ANALYZER_URL})" in err
    assert "did not answer as the Analyzer API" in err


@responses.activate
def test_exit_2_for_an_express_cannot_post_page(settings, teacher):
    settings.ACADEMIC_ANALYZER_URL = "http://analyzer.test/api"
    responses.get(
        "http://analyzer.test/api/staff/course-detail",
        json={"success": True, "course": {"courseId": "19XW51", "instructor": None}},
    )
    responses.post(
        "http://analyzer.test/api/staff/update-student-marks",
        status=404,
        body="<!DOCTYPE html><html><body><pre>Cannot POST /api/staff/update-student-marks</pre>",
        content_type="text/html; charset=utf-8",
    )
    marks = due_marks(3, teacher=teacher)
    code, _, err = run_command()
    assert code == 2 and "did not answer as the Analyzer API" in err
    assert len(responses.calls) == 2  # the course check and one POST, then it stopped
    assert statuses(marks) == ["pending"] * 3
    assert TutorialMark.objects.get(pk=marks[0].pk).reason == "not_the_analyzer"


def test_exit_2_when_sync_is_not_configured(settings, teacher):
    settings.ACADEMIC_ANALYZER_URL = None
    due_marks(1, teacher=teacher)
    code, _, err = run_command()
    assert code == 2
    assert "sync is not configured (ACADEMIC_ANALYZER_URL is not set)" in err


def test_json_summary(fake, teacher):
    due_marks(2, teacher=teacher, control=fake.control)
    gone = due_marks(3, teacher=teacher, control=fake.control, course="19XW99")
    fake.control.delete_course("19XW99")
    code, out, _ = run_command("--json")
    data = json.loads(out)
    assert code == data["exit_code"] == 4
    assert data["delivered"] == 2 and data["attempts_settled"] == 2
    assert data["retrying"] == {"count": 0, "next_try_at": None, "groups": []}
    assert data["backing_off"] == {"count": 0, "groups": []}
    assert data["given_up"] == {"count": 0, "courses": [], "groups": []}
    [group] = data["rejected"]["groups"]
    assert group["reason"] == "course_not_found"
    assert (group["courses"], group["students"], group["marks"]) == (["19XW99"], 3, 3)
    assert "Course 19XW99 was not found" in group["next_step"]
    assert data["stopped"] is None and data["dry_run"] is False
    assert {m.student.username for m in gone}.isdisjoint(out.split())  # counts, not names


def test_dry_run_lists_what_it_would_send_and_changes_nothing(fake, teacher):
    marks = due_marks(2, teacher=teacher, control=fake.control)
    before = list(TutorialMark.objects.order_by("pk").values())
    code, out, _ = run_command("--dry-run")
    assert code == 0
    assert (
        "Dry run: would send 2 marks now; none backing off; none waiting for a person; nothing "
        "was sent or changed." in out
    )
    assert (
        f"would send mark {marks[0].pk}: {marks[0].student.username} 19XW51 tutorial2 = 7.5" in out
    )
    assert list(TutorialMark.objects.order_by("pk").values()) == before
    assert not MarkDeliveryLog.objects.exists()
    assert fake.control.received() == []


def test_dry_run_json_lists_the_marks(fake, teacher):
    [mark] = due_marks(1, teacher=teacher, control=fake.control)
    data = json.loads(run_command("--dry-run", "--json")[1])
    assert data["would_send"] == [
        {
            "mark_id": mark.pk,
            "student": mark.student.username,
            "course_id": "19XW51",
            "tutorial_number": 2,
            "value": 7.5,
            "version": 1,
            "status": "pending",
            "reason": "",
        }
    ]


@pytest.fixture
def spread(fake, teacher):
    """Marks spread over two courses, two quizzes and two ages."""
    old = timezone.now() - timedelta(days=10)
    return {
        "a": due_marks(2, teacher=teacher, control=fake.control, course="19XW51", due_since=old),
        "b": due_marks(2, teacher=teacher, control=fake.control, course="19XW52"),
        "c": due_marks(1, teacher=teacher, control=fake.control, course="19XW51", tutorial=3),
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (lambda s: ["--course", "19XW52"], ["b"]),
        (lambda s: ["--quiz", str(s["c"][0].quiz_id)], ["c"]),
        (lambda s: ["--student", s["a"][1].student.username], [("a", 1)]),
        (lambda s: ["--since", "3d"], ["b", "c"]),
        (lambda s: ["--since", (timezone.localdate() - timedelta(days=1)).isoformat()], ["b", "c"]),
        # Claimed slot by slot (course, tutorial, then age): 19XW51 tutorial 2, then 3.
        (lambda s: ["--limit", "3", "--batch-size", "2"], [("a", 0), ("a", 1), ("c", 0)]),
    ],
    ids=["course", "quiz", "student", "since-age", "since-date", "limit"],
)
def test_filters(spread, args, expected):
    wanted = set()
    for item in expected:
        key, index = item if isinstance(item, tuple) else (item, None)
        marks = spread[key] if index is None else [spread[key][index]]
        wanted |= {m.pk for m in marks}
    code, _, _ = run_command(*args(spread))
    assert code == 0
    delivered = set(TutorialMark.objects.filter(status="delivered").values_list("pk", flat=True))
    assert delivered == wanted


def test_verbosity_2_prints_one_line_per_mark(fake, teacher):
    marks = due_marks(3, teacher=teacher, control=fake.control)
    _, out, _ = run_command("--verbosity", "2")
    lines = [line for line in out.splitlines() if line.startswith("delivered")]
    assert len(lines) == 3
    assert f"mark {marks[0].pk} {marks[0].student.username} 19XW51 tutorial2 v1 = 7.50" in lines[0]


def test_quiet_when_not_a_tty_and_silent_at_verbosity_0(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    _, out, _ = run_command()
    assert len(out.splitlines()) == 1  # the summary only: no progress bar off a terminal
    due_marks(1, teacher=teacher, control=fake.control)
    assert run_command("--verbosity", "0")[1] == ""


def test_progress_bar_on_a_terminal(fake, teacher, monkeypatch):
    from io import StringIO

    due_marks(2, teacher=teacher, control=fake.control)
    out = StringIO()
    monkeypatch.setattr(out, "isatty", lambda: True, raising=False)
    call_command("resync_tutorial_marks", stdout=out)
    assert "2/2" in out.getvalue() and "Resync: 2 delivered" in out.getvalue()


def test_help_documents_exit_codes_and_sqlite(capsys):
    with pytest.raises(SystemExit):
        call_command("resync_tutorial_marks", "--help")
    text = capsys.readouterr().out
    assert "Exit codes:" in text
    assert "  2  configuration or authentication problem" in text
    assert "On SQLite run one at a time." in text
    for option in ("--dry-run", "--since", "--max-rate", "--include-failed", "--json"):
        assert option in text


@pytest.mark.parametrize(
    "args", [["--workers", "0"], ["--workers", "99"], ["--max-rate", "0"], ["--since", "soon"]]
)
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError, match=args[0]):
        call_command("resync_tutorial_marks", *args)


def test_the_course_is_checked_once_per_run(fake, teacher):
    due_marks(5, teacher=teacher, control=fake.control)
    assert run_command("--batch-size", "2")[0] == 0
    assert len(received(fake.control, DETAIL_PATH)) == 1
    assert len(received(fake.control)) == 5


def test_marks_rejected_earlier_keep_the_exit_code_at_4_with_their_next_step(fake, teacher):
    strangers = due_marks(5, teacher=teacher, control=fake.control, course="19XW52", enrolled=False)
    assert run_command()[0] == 4
    code, out, err = run_command()  # nothing new is due: cron must still hear about them
    assert code == 4
    assert out.startswith("Resync: 0 delivered (0 attempts settled); none backing off; ")
    assert "5 marks waiting for a person (see below)" in out.splitlines()[0]
    assert "Waiting for a person: 5 marks rejected or given up" in out
    rejected = "Rejected — Student not enrolled in the course: 5 marks, 5 students, course 19XW52"
    assert rejected in out
    assert "ask its administrator to enrol them" in out
    assert "5 marks wait for a person" in err
    data = json.loads(run_command("--json")[1])
    assert data["exit_code"] == 4
    [group] = data["waiting_for_a_person"]["groups"]
    assert (group["status"], group["reason"], group["marks"]) == ("rejected", "not_enrolled", 5)
    assert "Retry after fixing" in group["next_step"]
    # Filters scope them: another course's run has nothing waiting.
    assert run_command("--course", "19XW51")[0] == 0
    TutorialMark.objects.filter(pk__in=[m.pk for m in strangers]).update(status="delivered")
    assert run_command()[0] == 0


def test_one_mark_reads_as_one_mark_and_each_line_is_said_once(fake, teacher, caplog):
    due_marks(1, teacher=teacher, control=fake.control, course="19XW52", enrolled=False)
    code, out, _ = run_command("--verbosity", "2")
    assert code == 4
    assert "1 marks" not in out and "1 students" not in out
    assert len([line for line in out.splitlines() if line.startswith("rejected")]) == 1
    per_mark = [r for r in caplog.records if r.getMessage().startswith("mark delivery")]
    assert all(r.levelname == "DEBUG" for r in per_mark)  # printed above, not logged twice


def test_a_retrying_mark_is_not_called_none_backing_off(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=None)
    _, out, _ = run_command()
    headline = out.splitlines()[0]
    assert "1 retrying (next try at " in headline
    assert "none backing off from earlier runs" in headline
    assert "; none backing off;" not in headline


def test_one_mark_backing_off_is_it_not_them(fake, teacher):
    due_marks(1, teacher=teacher, control=fake.control)
    fake.control.set_fault("503", retry_after=None)
    run_command()
    fake.control.clear_faults()
    _, out, _ = run_command()
    assert "1 backing off until " in out and "(--now sends it)" in out
    assert "Backing off: 1 mark not due yet" in out and "(--now sends it at once)" in out


@pytest.mark.parametrize(
    "option",
    [{"batch_size": 0}, {"workers": 0}, {"workers": 33}, {"max_rate": -1.0}, {"limit": -1}],
)
def test_options_passed_to_call_command_are_checked_too(option):
    """call_command does not run argparse's types on keyword options (scripts, the drill):
    the run's options refuse the values the command line would."""
    from io import StringIO

    with pytest.raises(ValueError, match="must"):
        call_command("resync_tutorial_marks", json=True, stdout=StringIO(), **option)
    assert not MarkDeliveryLog.objects.exists()
