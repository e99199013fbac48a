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
    env.update(
        # No real database or cache is touched; keep them away from the developer's var/.
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL="locmemcache://",
        **env_vars,
    )
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
    assert "DJANGO_SECRET_KEY is required when DJANGO_DEBUG=0" in result.stderr


def test_debug_off_with_an_empty_secret_key_fails_naming_it(tmp_path):
    result = run(["manage.py", "check"], tmp_path=tmp_path, DJANGO_DEBUG="0", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


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
