"""sync_state.py: the breaker, rejected configurations and courses live in the database (not a
cache), one probe per cool-off across processes, neither a cache that is down nor an
unreadable state stops a submission, a page or a resync, and nothing else writes the table."""

import ast
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from academic_integration import sync_state
from academic_integration.models import SyncState, TutorialMark
from academic_integration.sync_state import (
    BREAKER,
    config_rejection_remember,
    course_remember,
    snapshot,
)
from tests.academic_integration.admin_fixtures import HEALTH_URL, TEST_CONNECTION_URL
from tests.academic_integration.sync_state_fixtures import (
    breaker_is_open,
    breaker_open,
    config_rejection_reason,
    course_is_known_missing,
)
from tests.academic_integration.test_inline_sync import DELIVERED, submit
from tests.academic_integration.test_resync_concurrency import _database_url
from tests.conftest import CANARY_TOKEN
from tests.factories import make_student, make_teacher

MANAGE_PY = Path(__file__).resolve().parents[2] / "manage.py"
DOWN_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there


def later(seconds):
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)


# --- in the database, not the cache ----------------------------------------------------------


@pytest.mark.django_db
def test_the_state_belongs_to_the_database_not_the_cache():
    assert snapshot()["state"] == "closed"  # a fresh database starts clean
    breaker_open()
    config_rejection_remember("token_rejected")
    course_remember(course_id="19XW51", missing=True)
    cache.clear()  # whatever a cache held, the state is the database's
    assert breaker_is_open()
    assert config_rejection_reason() == "token_rejected"
    assert course_is_known_missing(course_id="19XW51")
    assert SyncState.objects.count() == 3
    SyncState.objects.all().delete()  # a restored database knows nothing of it
    assert not breaker_is_open() and config_rejection_reason() is None


# --- nothing stops when the state or the cache cannot be reached ------------------------------


@pytest.fixture
def unreadable_state(monkeypatch):
    """Every query on the sync state fails, as if its table could not be reached."""

    def down(*args, **kwargs):
        raise OperationalError("sync state unreachable")

    for name in ("filter", "bulk_create", "create", "get"):
        monkeypatch.setattr(SyncState.objects, name, down)


@pytest.mark.django_db
def test_an_unreadable_state_stops_nothing(
    analyzer,
    unreadable_state,
    student_client,
    admin_client,
    quiz,
    django_capture_on_commit_callbacks,
):
    _, page = submit(student_client, quiz, django_capture_on_commit_callbacks)
    assert DELIVERED in page
    assert TutorialMark.objects.get().status == "delivered"
    health = admin_client.get(HEALTH_URL)
    assert health.status_code == 200 and "could not be read" in health.content.decode()
    assert snapshot()["state"] == "unknown"
    response = admin_client.post(TEST_CONNECTION_URL, follow=True)
    assert response.status_code == 200
    assert "the token was accepted" in str(next(iter(response.context["messages"])))


@pytest.fixture
def cache_down(settings):
    """CACHE_URL at a Redis where nothing listens; restored before the suite clears the cache."""
    before = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DOWN_REDIS,
        }
    }
    yield
    settings.CACHES = before


@pytest.mark.django_db
def test_with_the_cache_down_everything_works(
    cache_down,
    analyzer,
    enrol,
    settings,
    client,
    admin_client,
    quiz,
    teacher,
    django_capture_on_commit_callbacks,
):
    import redis

    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("anything")  # it is down indeed
    first, second = enrol(make_student(), make_student())
    # Inline delivery.
    client.force_login(first)
    submit(client, quiz, django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=first).status == "delivered"
    # The health page and Test connection.
    assert admin_client.get(HEALTH_URL).status_code == 200
    response = admin_client.post(TEST_CONNECTION_URL, follow=True)
    assert "the token was accepted" in str(next(iter(response.context["messages"])))
    # The breaker opens and resync delivers what inline skipped.
    breaker_open()
    client.force_login(second)
    submit(client, quiz, django_capture_on_commit_callbacks)
    assert TutorialMark.objects.get(student=second).reason == "breaker_open"
    out = StringIO()
    call_command("resync_tutorial_marks", stdout=out)
    assert "1 delivered" in out.getvalue()
    assert TutorialMark.objects.get(student=second).status == "delivered"


def test_the_default_cache_is_a_per_process_memory_cache(monkeypatch):
    """No var/cache: a fresh or restored database never inherits state from a cache dir."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "quizsite.settings"}
    env.pop("CACHE_URL", None)
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.CACHES['default']['BACKEND'])"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache", done.stderr


# --- exactly one probe across processes (PostgreSQL) -----------------------------------------

_PROBE = """
import os, sys, time
import django
django.setup()
from django.db import connection
from academic_integration.sync_state import inline_gate
connection.ensure_connection()
ready = os.path.join(sys.argv[1], str(os.getpid()))
open(ready, "w").close()
deadline = time.monotonic() + 60
while len(os.listdir(sys.argv[1])) < int(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.005)
gate = inline_gate(course_id="19XW51")
print(gate.skip or "probe")
"""


def _probe_in_processes(tmp_path, n: int, *, url: str) -> list[str]:
    barrier = tmp_path / f"barrier-{time.monotonic_ns()}"
    barrier.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "ACADEMIC_ANALYZER_URL": url,
        "ACADEMIC_ANALYZER_TOKEN": CANARY_TOKEN,
        "DJANGO_SETTINGS_MODULE": "quizsite.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    copies = [
        subprocess.Popen(
            [sys.executable, "-c", _PROBE, str(barrier), str(n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=MANAGE_PY.parent,
        )
        for _ in range(n)
    ]
    outputs = [copy.communicate(timeout=120) for copy in copies]
    assert [c.returncode for c in copies] == [0] * n, [err[-1500:] for _, err in outputs]
    return sorted(out.strip() for out, _ in outputs)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_exactly_one_probe_per_cool_off_across_processes(tmp_path, settings):
    Group.objects.get_or_create(name="Teachers")
    make_teacher()
    url = "http://127.0.0.1:9/api"
    settings.ACADEMIC_ANALYZER_URL = url
    settings.ACADEMIC_ANALYZER_TOKEN = CANARY_TOKEN
    past = timezone.now() - timedelta(seconds=1)
    # The breaker, cooled off: six workers ask at once, one probes.
    SyncState.objects.create(key=BREAKER, failures=3, opened_at=past, next_probe_at=past)
    assert _probe_in_processes(tmp_path, 6, url=url) == ["breaker_open"] * 5 + ["probe"]
    # Within the next cool-off nobody probes.
    assert _probe_in_processes(tmp_path, 3, url=url) == ["breaker_open"] * 3
    # A configuration known rejected (same URL and token: same hash), cooled off: one probe.
    SyncState.objects.all().delete()
    config_rejection_remember("not_the_analyzer")
    SyncState.objects.filter(key=sync_state.config_key()).update(next_probe_at=past)
    assert _probe_in_processes(tmp_path, 6, url=url) == ["not_the_analyzer"] * 5 + ["probe"]


@pytest.mark.django_db
def test_an_unreadable_state_leaves_the_health_page_up_without_the_last_checks(
    unreadable_state, admin_client
):
    page = admin_client.get(HEALTH_URL).content.decode()
    assert "The last checks could not be read (the sync state is unreachable)" in page


# --- one writer: sync_state.py --------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
#: Everything shipped; tests and the bench set the state directly on purpose.
NOT_PRODUCT = {"tests", "bench"}
MODEL = "SyncState"
WRITES = {"update", "create", "bulk_create", "bulk_update", "delete", "save"}
WRITES |= {"get_or_create", "update_or_create", "raw", "_do_update", "_do_insert"}


def _names_state(node: ast.AST) -> bool:
    """``node`` is, or is reached from, the SyncState model (``SyncState.objects.filter(...)``,
    ``models.SyncState``, ``SyncState._base_manager``)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id == "SyncState"
        if isinstance(node, ast.Attribute):
            if node.attr == "SyncState":
                return True
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return False


def state_writes(source: str) -> list[int]:
    """Lines of ``source`` that write SyncState: a write method called on the model's manager
    or querysets, a row built (``SyncState(...)``, only ever built to be saved), the model got
    by name, or ``save()`` / ``delete()`` in a module that reads state rows (they are
    SyncState instances)."""
    tree = ast.parse(source)
    reads_rows = "SyncState" in source or "sync_state" in source
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        written = (
            isinstance(func, ast.Attribute)
            and func.attr in WRITES
            and (_names_state(func.value) or (reads_rows and func.attr in {"save", "delete"}))
        )
        built = getattr(func, "id", None) == MODEL or getattr(func, "attr", None) == MODEL
        by_name = any(isinstance(a, ast.Constant) and MODEL in str(a.value) for a in node.args)
        if written or built or by_name:
            lines.append(node.lineno)
    return sorted(set(lines))


def test_the_check_finds_every_way_of_writing_the_state():
    source = (
        "from academic_integration.models import SyncState\n"
        "SyncState.objects.filter(key='x').update(failures=1)\n"
        "SyncState.objects.create(key='x')\n"
        "SyncState.objects.all().delete()\n"
        "row = SyncState(key='x')\n"
        "row.save()\n"
        "models.SyncState._base_manager.bulk_create([models.SyncState()])\n"
        "apps.get_model('academic_integration', 'SyncState')\n"
        "SyncState.objects.filter(key='x').exists()\n"
        "TutorialMark.objects.update(value=1)\n"
    )
    assert state_writes(source) == [2, 3, 4, 5, 6, 7, 8]
    assert state_writes("TutorialMark.objects.filter().delete()\nmark.save()\n") == []


def test_only_sync_state_writes_the_sync_state():
    packages = [p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_PRODUCT]
    files = [f for package in packages for f in package.rglob("*.py")]
    files = [f for f in files if "migrations" not in f.relative_to(ROOT).parts]
    owner = ROOT / "academic_integration" / "sync_state.py"
    # The walk sees the product's code, and the check finds the owner's own writes.
    assert owner in files and ROOT / "academic_integration" / "admin.py" in files
    assert state_writes(owner.read_text())
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(files)
        if path != owner
        for line in state_writes(path.read_text())
    ]
    assert found == [], f"only academic_integration/sync_state.py writes SyncState: {found}"
