"""Production settings, checked in a fresh process with DJANGO_DEBUG=0 as production runs."""

import os
import subprocess
import sys
import textwrap

from django.conf import settings

REAL_SECRET_KEY = "k3Vq9-pZ7rT2wX8yL4mN6bH1jG5fD0sA-qW3eR7tY9uI2oP4aS6dF8gH0jK2lZ4x"


def run(args, *, tmp_path, **env_vars):
    """Run a Python command in the project with only the given DJANGO_* variables set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ACADEMIC_"))}
    # No real database or cache is touched; keep them away from the developer's var/.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", CACHE_URL="locmemcache://")
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_debug_off_and_a_real_secret_key(tmp_path):
    assert len(REAL_SECRET_KEY) >= 50
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path=tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_for_the_plain_http_benchmark_mode(tmp_path):
    """DJANGO_INSECURE_HTTP=1 turns HTTPS settings off, and check --deploy says so."""
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path=tmp_path,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DJANGO_INSECURE_HTTP="1",
    )
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT


def test_debug_off_without_a_secret_key_fails_naming_it(tmp_path):
    result = run(["manage.py", "check"], tmp_path=tmp_path, DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required outside local mode" in result.stderr


def test_debug_off_with_an_empty_secret_key_fails_naming_it(tmp_path):
    result = run(["manage.py", "check"], tmp_path=tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


# --- safe defaults: a deployment that sets nothing ----------------------------------------

PRINT_DEBUG = (
    "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
)


def test_a_deployment_that_sets_nothing_refuses_to_start(tmp_path):
    """No DJANGO_* at all: no debug pages and no public key, but an error naming the fix."""
    result = run(["manage.py", "check"], tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required outside local mode" in result.stderr


def test_debug_is_off_unless_asked_for(tmp_path):
    result = run(
        ["-c", PRINT_DEBUG],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_on_outside_local_mode_is_refused(tmp_path):
    result = run(
        ["manage.py", "check"],
        tmp_path=tmp_path,
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG=1 is only allowed in local mode" in result.stderr


def test_an_unknown_mode_is_refused(tmp_path):
    result = run(["manage.py", "check"], tmp_path=tmp_path, DJANGO_ENV="prod")
    assert result.returncode != 0
    assert "DJANGO_ENV must be 'production' or 'local'" in result.stderr


def test_local_mode_runs_with_debug_and_the_dev_key_but_check_deploy_passes_plain_check(tmp_path):
    local = run(
        ["-c", PRINT_DEBUG],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_ENV="local",
    )
    assert local.returncode == 0, local.stderr
    assert local.stdout.strip() == "True"
    plain = run(["manage.py", "check"], tmp_path=tmp_path, DJANGO_ENV="local")
    assert plain.returncode == 0, plain.stderr


def test_check_deploy_fails_in_local_mode_naming_each_problem(tmp_path):
    for args in (["--deploy"], ["--deploy", "--fail-level", "WARNING"]):
        result = run(["manage.py", "check", *args], tmp_path=tmp_path, DJANGO_ENV="local")
        assert result.returncode != 0, args
        for check_id in ("quizsite.E001", "quizsite.E002", "quizsite.E003"):
            assert check_id in result.stderr, (args, check_id)


def test_check_deploy_fails_for_a_public_or_weak_secret_key(tmp_path):
    for key in ("django-insecure-dev-only-key-never-used-in-production", "short-key-123"):
        result = run(
            ["manage.py", "check", "--deploy"],
            tmp_path=tmp_path,
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=key,
        )
        assert result.returncode != 0, key
        assert "quizsite.E003" in result.stderr, key
        assert "quizsite.E002" not in result.stderr
        assert key not in result.stderr + result.stdout  # the key itself is never printed


# Requests the stylesheet and a page through Django's test client inside the production
# settings, without collectstatic (STATIC_ROOT is an empty folder, set before any request).
STATIC_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import django
    django.setup()
    from django.conf import settings
    from django.test import Client

    assert not settings.DEBUG
    settings.STATIC_ROOT = Path(sys.argv[1])  # empty: as if collectstatic never ran
    client = Client(HTTP_HOST="localhost")
    css = client.get("/static/quizzes/site.css", secure=True)
    body = b"".join(css.streaming_content) if css.streaming else css.content
    login = client.get("/accounts/login/", secure=True)
    print(css.status_code, css["Content-Type"], login.status_code)
    print("has-css-rules" if b".card" in body else "empty-css")
    print("links-css" if b'href="/static/quizzes/site.css"' in login.content else "no-css-link")
    """
)


def test_css_is_served_with_debug_off_and_without_collectstatic(tmp_path):
    empty_static_root = tmp_path / "static"
    empty_static_root.mkdir()
    result = run(
        ["-c", STATIC_PROBE, str(empty_static_root)],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="localhost",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines == ["200", "text/css;", 'charset="utf-8"', "200", "has-css-rules", "links-css"]


def test_postgresql_connections_give_up_after_a_few_seconds(tmp_path):
    """libpq would wait forever for a host that drops packets; /ops/health would hang with it."""
    show = ["-c", "from django.conf import settings as s; print(s.DATABASES['default']['OPTIONS'])"]
    env = {"DJANGO_SETTINGS_MODULE": "quizsite.settings", "DJANGO_ENV": "local"}
    pg = "postgres://postgres@127.0.0.1:5432/quizsite_unused"
    default = run(show, tmp_path=tmp_path, DATABASE_URL=pg, **env)
    assert default.returncode == 0, default.stderr
    assert "'connect_timeout': 5" in default.stdout
    chosen = run(show, tmp_path=tmp_path, DATABASE_URL=pg, DJANGO_DB_CONNECT_TIMEOUT="2", **env)
    assert "'connect_timeout': 2" in chosen.stdout
    sqlite = run(show, tmp_path=tmp_path, **env)
    assert "connect_timeout" not in sqlite.stdout
