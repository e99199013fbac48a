"""What every benchmark needs: a fresh database, gunicorn and the fake Analyzer as separate
processes on free 127.0.0.1 ports, child processes that run Django against the bench database,
and the statistics. Everything started here is stopped here (context managers), and nothing
listens or connects anywhere but the loopback interface.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/quizsite_bench"
BENCH_TOKEN = "bench-analyzer-token"  # the fake's token during benchmarks; not a secret
# Inherited variables that would change what is measured: the benchmarks run on the shipped
# defaults, with only the variables below set explicitly.
_STRIPPED_PREFIXES = ("ACADEMIC_ANALYZER_", "DJANGO_", "FAKE_ANALYZER_")
_STRIPPED = frozenset({"DATABASE_URL", "CACHE_URL"})
# One key per bench process: the sessions its fixtures write must be readable by its gunicorns.
_SECRET_KEY = secrets.token_urlsafe(50)


# --- environment and child processes --------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def clean_env(**extra: str | None) -> dict[str, str]:
    """os.environ without any setting that would tune the site, plus `extra` (None drops)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _STRIPPED and not key.startswith(_STRIPPED_PREFIXES)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    # Production mode (the default) needs a secret key for every child: migrate, the fake
    # Analyzer, the fixtures. Never local mode: the benchmarks measure production settings.
    env["DJANGO_SECRET_KEY"] = _SECRET_KEY
    env.update({key: value for key, value in extra.items() if value is not None})
    return env


def site_env(
    *,
    database_url: str,
    cache_dir: Path | None = None,
    analyzer_url: str | None = None,
    token: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Production-like settings: debug off, plain HTTP allowed, shipped sync defaults."""
    return clean_env(
        DATABASE_URL=database_url,
        CACHE_URL=f"filecache://{cache_dir}" if cache_dir else "locmemcache://",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=_SECRET_KEY,
        DJANGO_INSECURE_HTTP="1",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        ACADEMIC_ANALYZER_URL=analyzer_url,
        ACADEMIC_ANALYZER_TOKEN=token if analyzer_url else None,
        **extra,
    )


def run_child(
    module: str,
    *args: str,
    env: dict[str, str],
    timeout: float = 600,
    live_stderr: bool = False,
) -> dict[str, Any]:
    """Run `python -m module args` (Django work against the bench database); return the JSON
    object it prints last. Raises RuntimeError with its output when it fails. With
    `live_stderr` its progress (stderr) goes straight to ours."""
    try:
        done = subprocess.run(
            [PYTHON, "-m", module, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=None if live_stderr else subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise RuntimeError(f"{module} {' '.join(args)} took over {timeout:g}s") from err
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{module} {' '.join(args)} exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{(done.stderr or '')[-3000:]}"
        )
    return json.loads(lines[-1])


def emit(result: dict[str, Any]) -> None:
    """How a child hands its result to run_child: one JSON line on stdout."""
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def django_setup() -> None:
    """Configure Django in a child process (settings from its environment)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quizsite.settings")
    import django

    django.setup()


# --- databases ------------------------------------------------------------------------------


def _require_loopback(host: str | None, what: str) -> None:
    if host not in LOOPBACK_NAMES:
        raise SystemExit(f"benchmarks only touch 127.0.0.1; refusing {what} on host {host!r}")


@dataclass
class BenchDatabase:
    """A database created for one run (dropped afterwards): PostgreSQL or an SQLite file."""

    url: str
    vendor: str
    name: str
    _admin: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def create(cls, *, base_url: str, name: str, workdir: Path) -> BenchDatabase:
        """A fresh, empty database `name` on the server of `base_url` (sqlite: in workdir)."""
        split = urlsplit(base_url)
        if split.scheme in ("postgres", "postgresql", "pgsql", "psql"):
            _require_loopback(split.hostname, "PostgreSQL")
            admin: dict[str, Any] = {  # psycopg2.connect's keywords
                "host": split.hostname,
                "port": split.port or 5432,
                "user": unquote(split.username or "postgres"),
                "password": unquote(split.password or "") or None,
            }
            db = cls(url="", vendor="postgresql", name=name, _admin=admin)
            db._admin_sql(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
            )
            auth = quote(admin["user"]) + (
                f":{quote(admin['password'])}" if admin["password"] else ""
            )
            db.url = f"postgres://{auth}@{split.hostname}:{admin['port']}/{name}"
            return db
        if split.scheme == "sqlite":
            path = Path(workdir) / f"{name}.sqlite3"
            path.unlink(missing_ok=True)
            return cls(url=f"sqlite:///{path}", vendor="sqlite", name=str(path))
        raise SystemExit(f"unsupported database URL scheme {split.scheme!r}")

    def _admin_sql(self, *statements: str) -> list[Any]:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", connect_timeout=10, **self._admin)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                rows = []
                for statement in statements:
                    cursor.execute(statement)
                    rows.append(cursor.fetchall() if cursor.description else None)
                return rows
        finally:
            conn.close()

    def migrate(self) -> None:
        done = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=PROJECT_ROOT,
            env=clean_env(DATABASE_URL=self.url),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{done.stdout}\n{done.stderr}")

    def server_version(self) -> str:
        if self.vendor == "postgresql":
            return self._admin_sql("SHOW server_version")[0][0][0]
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"

    def drop(self) -> None:
        if self.vendor == "postgresql":
            self._admin_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(self.name + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def bench_database(*, base_url: str, name: str, workdir: Path) -> Iterator[BenchDatabase]:
    """A fresh, migrated database for the duration of the block."""
    db = BenchDatabase.create(base_url=base_url, name=name, workdir=workdir)
    try:
        db.migrate()
        yield db
    finally:
        db.drop()


def postgres_available(base_url: str = DEFAULT_PG_URL) -> bool:
    split = urlsplit(base_url)
    try:
        with socket.create_connection((split.hostname or LOOPBACK, split.port or 5432), 1):
            return True
    except OSError:
        return False


# --- servers --------------------------------------------------------------------------------


#: The server configuration the README recommends, used by every benchmark: a request waits on
#: PostgreSQL and, for a submission, on the Analyzer, so each worker process serves several
#: requests with threads (gthread) instead of being blocked for the whole wait (sync).
RECOMMENDED_WORKERS = 4
RECOMMENDED_THREADS = 4
#: gthread's --worker-connections, per thread. Its default (1,000) lets a worker that is
#: already busy keep accepting connections and queue them behind its threads while another
#: worker idles; at 2 per thread a busy worker leaves new connections to the others. In the
#: burst this took the p99's spread over 5 runs from 600–1,030 ms to 490–700 ms.
WORKER_CONNECTIONS_PER_THREAD = 2


class Gunicorn:
    """`gunicorn quizsite.wsgi` on a free 127.0.0.1 port: N workers, with T threads each
    (the gthread worker) when T > 1, else sync workers."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        workers: int,
        log_path: Path,
        threads: int = 1,
        app: str = "quizsite.wsgi",
    ):
        self.env = env
        self.workers = workers
        self.threads = threads
        self.app = app
        self.log_path = Path(log_path)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60) -> Gunicorn:
        self.port = free_port()
        command = [PYTHON, "-m", "gunicorn", self.app]
        command += ["--workers", str(self.workers), "--bind", f"{LOOPBACK}:{self.port}"]
        if self.threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(self.threads)]
            command += ["--worker-connections", str(self.threads * WORKER_CONNECTIONS_PER_THREAD)]
        command += ["--error-logfile", "-", "--graceful-timeout", "5"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # so stop() can end its workers with it
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=2)
        try:
            conn.request("GET", "/accounts/login/")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # quick shutdown: the arbiter stops its workers
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # our own session: arbiter + workers
            process.wait(5)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def fake_analyzer(*, latency_ms: float = 5, token: str | None = BENCH_TOKEN):
    """The bundled fake Analyzer as its own process (`python -m fake_analyzer`)."""
    from fake_analyzer import start_fake_analyzer_process

    handle = start_fake_analyzer_process(
        port=0, token=token, latency_ms=latency_ms, env=clean_env(DJANGO_LOG_LEVEL="WARNING")
    )
    try:
        split = urlsplit(handle.api_url)
        _require_loopback(split.hostname, "the fake Analyzer")
        yield handle
    finally:
        handle.terminate()


def fake_seed_for(*, teacher_email: str, courses: dict[str, Sequence[str]]) -> dict[str, Any]:
    """The fake's seed document enrolling `courses` = {course id: roll numbers}."""
    return {
        "teachers": [teacher_email],
        "courses": [
            {
                "course_id": course_id,
                "name": course_id,
                "instructor": teacher_email,
                "students": list(students),
            }
            for course_id, students in courses.items()
        ],
    }


# --- machine and statistics -----------------------------------------------------------------


def machine_info(*, db: BenchDatabase | None = None) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    info = {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor() or "unknown",
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": metadata.version("django"),
        "gunicorn": metadata.version("gunicorn"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if db is not None:
        info["database"] = (
            f"PostgreSQL {db.server_version()}"
            if db.vendor == "postgresql"
            else db.server_version()
        )
    return info


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values_ms),
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "p99": percentile(values_ms, 99),
        "max": max(values_ms) if values_ms else math.nan,
    }


def median(values: Iterable[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else math.nan


@contextlib.contextmanager
def class_with_fake_analyzer(
    *, database_url: str, prefix: str, count: int, course: str, latency_ms: float = 5
):
    """A class of ``count`` logged-in-ready students on a tutorial quiz of ``course``, and a
    fake Analyzer that knows them: yields (class data, fake Analyzer handle)."""
    data = run_child(
        "bench.fixtures",
        "class",
        "--prefix",
        prefix,
        "--count",
        str(count),
        "--course",
        course,
        env=site_env(database_url=database_url),
    )
    with fake_analyzer(latency_ms=latency_ms) as fake:
        roster = [name for name, _ in data["students"]]
        fake.control.seed(
            fake_seed_for(teacher_email=data["teacher_email"], courses={course: roster})
        )
        yield data, fake
