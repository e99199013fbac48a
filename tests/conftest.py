"""Suite-wide fixtures: isolated shared cache, sync off by default, and the secret canary."""

import logging
import os

import pytest

from tests.factories import make_course, make_student, make_teacher

CANARY_TOKEN = "canary-tok-7Hq2ZpX91"

# Playwright's sync API runs an event loop in the test thread; the ORM must still work there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def shared_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _test_settings(settings, shared_cache_dir):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(shared_cache_dir),
        }
    }
    settings.ACADEMIC_ANALYZER_URL = None
    settings.ACADEMIC_ANALYZER_TOKEN = CANARY_TOKEN
    settings.ACADEMIC_ANALYZER_CONNECT_TIMEOUT = 0.5
    settings.ACADEMIC_ANALYZER_READ_TIMEOUT = 0.5
    # The inline budget adapts to answer times; under a loaded CI a fast fake can answer past
    # the 250 ms floor. Outside test_budget, the budget is the cap (the total timeout).
    settings.ACADEMIC_ANALYZER_INLINE_BUDGET_FLOOR_MS = 1000
    # Resync sends one POST per mark unless a test asks for bulk (the ``bulk`` fixture of
    # tests/academic_integration): most resync tests pin that path's requests and queries,
    # and it is still what runs against an Analyzer without add-tutN-mark.
    settings.ACADEMIC_ANALYZER_BULK_SIZE = 0
    settings.SECRET_CANARY = CANARY_TOKEN
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.canary.CanaryResponseMiddleware"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _inline_probe_in_place(monkeypatch):
    """The inline probe runs in place (a thread would not see a test's transaction), and
    every test starts with no answer times observed (the budget is the cap)."""
    from academic_integration.services import delivery
    from academic_integration.sync_state import answer_times

    monkeypatch.setattr(delivery, "probe_runner", lambda work: work())
    answer_times.clear()
    yield
    answer_times.clear()


@pytest.fixture(autouse=True)
def _no_canary_in_output(caplog, capsys):
    """Fail any test whose logs or printed output contain the API token."""
    yield
    out, err = capsys.readouterr()
    # caplog.text here would be the teardown phase's only: read every phase's records.
    formatter = logging.Formatter()
    logs = "\n".join(
        formatter.format(record)
        for phase in ("setup", "call")
        for record in caplog.get_records(phase)
    )
    for where, text in (("logs", logs), ("stdout", out), ("stderr", err)):
        assert CANARY_TOKEN not in text, f"the API token leaked into {where}"
    # Let pytest still show what was printed when the test fails.
    print(out, end="")


@pytest.fixture
def teacher(db):
    """anand, a teacher of 19XW51 (the course the factories use by default)."""
    user = make_teacher(username="anand", email="anand@college.edu")
    make_course("19XW51", name="Compilers", teachers=[user])
    return user


@pytest.fixture
def student(db):
    return make_student(username="21Z201")


@pytest.fixture
def student_client(client, student):
    client.force_login(student)
    return client


def _on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (running on SQLite)")
    if _on_postgres():
        return
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip_pg)


def pytest_sessionfinish(session, exitstatus):
    """Under E2E_REQUIRED=1 a skipped test fails the run, but for PostgreSQL-only tests."""
    if os.environ.get("E2E_REQUIRED") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    bad = [
        report
        for report in reporter.stats.get("skipped", [])
        if "PostgreSQL" not in str(report.longrepr)
    ]
    if bad:
        reporter.write_line(
            f"E2E_REQUIRED=1: {len(bad)} test(s) skipped that must run here:", red=True
        )
        for report in bad:
            reporter.write_line(f"  {report.nodeid}: {report.longrepr}", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def upstream_analyzer(tmp_path_factory):
    """The real upstream Analyzer's code, running, once per session (see bench/upstream.py).

    Yields an `UpstreamAnalyzer`: `.base_url` (routes at /staff/...), `.request/.post/.get`,
    and seeding through upstream's own routes: `new_teacher()`, `create_student()`,
    `create_course(teacher, rolls)`, `enrol()`, `archive_course()`, `restore_course()`,
    `marks()`, `unique()`. Skips, naming why, when node/npm or the folder are missing (under
    E2E_REQUIRED=1 that skip fails the run, see pytest_sessionfinish).
    """
    from bench.upstream import running_upstream_analyzer, skip_reason

    reason = skip_reason()
    if reason:
        pytest.skip(f"upstream Analyzer cannot run: {reason}")
    with running_upstream_analyzer(tmp_path_factory.mktemp("upstream-analyzer")) as upstream:
        yield upstream


@pytest.fixture(scope="session")
def _fake_analyzer_server():
    from fake_analyzer import running_fake_analyzer

    with running_fake_analyzer(token=CANARY_TOKEN) as handle:
        yield handle


@pytest.fixture
def analyzer(_fake_analyzer_server, settings):
    """The bundled fake Analyzer over real HTTP, reset to the demo seed, with sync pointed at it.

    Yields the handle: `.api_url`, `.control` (faults, token, courses, received(), marks()).
    """
    handle = _fake_analyzer_server
    handle.control.reset(token=CANARY_TOKEN)
    settings.ACADEMIC_ANALYZER_URL = handle.api_url
    yield handle
    handle.control.clear_faults()


@pytest.fixture
def enrol(analyzer):
    """Enrol quiz-site students in a demo course of the fake Analyzer (with a performance row)."""
    from quizzes import demo_data

    def enrol(*students, course_id="19XW51"):
        course = next(c for c in demo_data.COURSES if c["course_id"] == course_id)
        analyzer.control.seed(
            {
                "courses": [
                    {
                        "course_id": course_id,
                        "name": course["name"],
                        "instructor": course["instructor"],
                        "students": [s.username for s in students],
                    }
                ]
            }
        )
        return students

    return enrol
