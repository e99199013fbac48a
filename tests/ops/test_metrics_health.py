"""/ops/metrics (Prometheus text, bearer token) and /ops/health (load balancer)."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from academic_integration import sync_state
from tests.academic_integration.admin_fixtures import log_try, make_mark
from tests.academic_integration.sync_state_fixtures import breaker_open
from tests.factories import make_quiz
from tests.quizsite.test_deploy_check import REAL_SECRET_KEY, run

TOKEN = "m3tr1cs-T0ken-qW7eR9tY2uI4oP6aS8dF0gH"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def samples(response) -> dict[tuple, float]:
    """{(name, (label, value)...): value} from a Prometheus text page, parsed strictly."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, *sorted(sample.labels.items()))] = sample.value
    return found


# --- who may read the metrics -------------------------------------------------------------


def test_metrics_do_not_exist_without_a_token_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/ops/metrics").status_code == 404
    assert client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_metrics_need_the_exact_bearer_token(client, db, token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/ops/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"quizsite_" not in response.content


def test_metrics_never_show_the_token(client, db, token):
    response = client.get("/ops/metrics", **AUTH)
    assert response.status_code == 200
    assert TOKEN.encode() not in response.content


# --- what the metrics say -------------------------------------------------------------------


def test_metrics_count_marks_ages_tries_and_breaker(
    client, teacher, token, django_assert_num_queries
):
    quiz = make_quiz()
    now = timezone.now()
    old = make_mark(quiz=quiz, status="retrying", reason="timeout")
    old.due_since = now - timedelta(hours=2)
    old.save(update_fields=["due_since"])
    make_mark(quiz=quiz, status="retrying", reason="timeout")
    rejected = make_mark(quiz=quiz, status="rejected", reason="course_not_found")
    rejected.due_since = now - timedelta(hours=5)
    rejected.save(update_fields=["due_since"])
    delivered = make_mark(quiz=quiz, status="delivered")
    log_try(delivered, outcome="delivered", trigger="inline")
    log_try(old, outcome="retrying", reason="timeout", trigger="inline")
    log_try(old, outcome="retrying", reason="timeout", trigger="resync")
    log_try(rejected, outcome="rejected", reason="course_not_found", trigger="resync")
    breaker_open()

    with django_assert_num_queries(4):
        response = client.get("/ops/metrics", **AUTH)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(response)
    mark = "quizsite_tutorial_marks"
    assert found[(mark, ("reason", "timeout"), ("status", "retrying"))] == 2
    assert found[(mark, ("reason", "course_not_found"), ("status", "rejected"))] == 1
    assert found[(mark, ("reason", ""), ("status", "delivered"))] == 1
    assert found[(mark, ("reason", ""), ("status", "pending"))] == 0  # present, as 0
    assert found[(mark, ("reason", ""), ("status", "given_up"))] == 0
    undelivered = found[("quizsite_oldest_undelivered_mark_age_seconds",)]
    due = found[("quizsite_oldest_due_mark_age_seconds",)]
    assert 5 * 3600 - 60 < undelivered < 5 * 3600 + 60  # the rejected one
    assert 2 * 3600 - 60 < due < 2 * 3600 + 60  # the retrying one
    tries = "quizsite_mark_delivery_tries_total"
    assert found[(tries, ("outcome", "delivered"), ("trigger", "inline"))] == 1
    assert found[(tries, ("outcome", "retrying"), ("trigger", "inline"))] == 1
    assert found[(tries, ("outcome", "retrying"), ("trigger", "resync"))] == 1
    assert found[(tries, ("outcome", "rejected"), ("trigger", "resync"))] == 1
    state = "quizsite_sync_breaker_state"
    assert found[(state, ("state", "open"))] == 1
    assert found[(state, ("state", "closed"))] == 0


def test_metrics_queries_do_not_grow_with_marks(client, teacher, token, django_assert_num_queries):
    quiz = make_quiz()
    for _ in range(25):
        log_try(make_mark(quiz=quiz, status="retrying", reason="timeout"), outcome="retrying")
    with django_assert_num_queries(4):
        response = client.get("/ops/metrics", **AUTH)
    found = samples(response)
    assert found[("quizsite_tutorial_marks", ("reason", "timeout"), ("status", "retrying"))] == 25


def test_empty_database_reports_zeros_and_a_closed_breaker(client, db, token):
    found = samples(client.get("/ops/metrics", **AUTH))
    assert found[("quizsite_oldest_undelivered_mark_age_seconds",)] == 0
    assert found[("quizsite_sync_breaker_state", ("state", "closed"))] == 1
    assert not any(key[0] == "quizsite_mark_delivery_tries_total" for key in found)


def test_an_unreadable_breaker_is_reported_unknown_not_an_error(client, db, token, monkeypatch):
    def broken():
        raise ConnectionError("cache down")

    monkeypatch.setattr(sync_state, "snapshot", broken)
    response = client.get("/ops/metrics", **AUTH)
    assert response.status_code == 200
    assert samples(response)[("quizsite_sync_breaker_state", ("state", "unknown"))] == 1


def test_metrics_answer_503_when_the_database_fails(client, db, token, monkeypatch):
    from ops import metrics

    def broken():
        raise OperationalError("connection refused")

    monkeypatch.setattr(metrics, "metrics_text", broken)
    monkeypatch.setattr("ops.middleware.metrics_text", broken)
    response = client.get("/ops/metrics", **AUTH)
    assert response.status_code == 503


# --- health -----------------------------------------------------------------------------------


def test_health_answers_loopback_with_200(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/ops/health", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"] == "no-store"


def test_health_is_not_public(client, db):
    assert client.get("/ops/health", REMOTE_ADDR="203.0.113.9").status_code == 404
    # Through a proxy on the same host REMOTE_ADDR is loopback: the forwarded header says so.
    proxied = client.get("/ops/health", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.status_code == 404


def test_health_answers_a_configured_network_or_the_token(client, db, settings, token):
    assert client.get("/ops/health", REMOTE_ADDR="10.0.4.2").status_code == 404
    assert client.get("/ops/health", REMOTE_ADDR="10.0.4.2", **AUTH).status_code == 200
    settings.OPS_HEALTH_ALLOWED_NETWORKS = ["10.0.4.0/24"]
    assert client.get("/ops/health", REMOTE_ADDR="10.0.4.2").status_code == 200
    assert client.get("/ops/health", REMOTE_ADDR="10.0.5.2").status_code == 404


def test_health_is_503_when_the_database_is_unreachable(client, db, monkeypatch):
    class Down:
        def cursor(self):
            raise OperationalError("could not connect to server")

    monkeypatch.setattr("ops.middleware.connection", Down())
    response = client.get("/ops/health", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 503
    assert response.content == b"database unreachable\n"


# --- in production settings: plain HTTP, any Host, no redirect --------------------------------

PRODUCTION_PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import Client
assert not settings.DEBUG and settings.SECURE_SSL_REDIRECT
client = Client(HTTP_HOST="10.0.0.9:8000")  # an internal address, not in ALLOWED_HOSTS
health = client.get("/ops/health", REMOTE_ADDR="127.0.0.1")
metrics = client.get("/ops/metrics", HTTP_AUTHORIZATION="Bearer " + settings.METRICS_TOKEN)
anonymous = client.get("/ops/metrics")
page = Client(HTTP_HOST="quiz.college.edu").get("/accounts/login/")
print(health.status_code, metrics.status_code, anonymous.status_code, page.status_code)
"""


def test_endpoints_answer_plain_http_on_an_internal_host_in_production(tmp_path):
    migrate = run(
        ["manage.py", "migrate", "--verbosity", "0"],
        tmp_path=tmp_path,
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
    )
    assert migrate.returncode == 0, migrate.stderr
    result = run(
        ["-c", PRODUCTION_PROBE],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="quiz.college.edu",
        METRICS_TOKEN=TOKEN,
    )
    assert result.returncode == 0, result.stderr
    # The site itself still redirects to HTTPS; the endpoints answer where they are asked.
    assert result.stdout.split() == ["200", "200", "401", "301"]


HEALTH_PROBE = """
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="10.0.0.9").get("/ops/health", REMOTE_ADDR="127.0.0.1")
print(response.status_code, response.content.decode().strip())
"""


def test_health_is_503_with_a_real_unreachable_database(tmp_path):
    """Nothing listens on port 9: the check fails fast and says so, no traceback."""
    result = run(
        ["-c", HEALTH_PROBE],
        tmp_path=tmp_path,
        DJANGO_SETTINGS_MODULE="quizsite.settings",
        DJANGO_SECRET_KEY=REAL_SECRET_KEY,
        DATABASE_URL="postgres://quiz@127.0.0.1:9/quizsite",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "503 database unreachable"
    assert "Traceback" not in result.stderr
    assert "health: database unreachable: OperationalError" in result.stderr
