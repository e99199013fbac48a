"""Benchmark 3, resync throughput: M due marks in the database, the Analyzer healthy.

A child process (Django configured for the bench database) inserts the marks in bulk — students
enrolled in a few courses, one published tutorial quiz per (course, tutorial), a completed
attempt behind every mark and a retake behind every fourth, 10 % of the marks `retrying` with
their next try already come, the rest `pending` — then times, in the same run and interleaved:

- `naive`: the original design's loop (bench/naive_resync.py) over the attempts of a sample
  of the marks (it is slow: its marks/s is a rate, so a sample measures it);
- `manage.py resync_tutorial_marks --workers W` for each W, over all M marks, called in
  process with `call_command` so that its SQL can be counted.

Before each variant the marks are made due again, the fake Analyzer is reset and (PostgreSQL)
the tables are vacuumed. SQL queries are counted on every connection the run opens, worker
threads included (an execute wrapper installed on `connection_created`). After each command
run every mark must be delivered and the Analyzer must hold every mark's value.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

from bench.harness import (
    BENCH_TOKEN,
    BenchDatabase,
    django_setup,
    emit,
    fake_analyzer,
    median,
    ratio,
    run_child,
    site_env,
)

TUTORIALS = (1, 2, 3, 4)


@dataclass
class ResyncConfig:
    marks: int = 10_000
    naive_marks: int = 500
    workers: tuple[int, ...] = (1, 8)
    repeats: int = 3
    courses: int = 5
    retake_every: int = 4
    retrying_every: int = 10
    extra_options: dict[str, Any] = field(default_factory=dict)


def run(*, db: BenchDatabase, workdir: Path, config: ResyncConfig, log=print) -> dict[str, Any]:
    with fake_analyzer(latency_ms=5) as fake:
        env = site_env(
            database_url=db.url,
            cache_dir=workdir / "cache-resync",
            analyzer_url=fake.api_url,
            token=BENCH_TOKEN,
        )
        result = run_child(
            "bench.resync_throughput",
            "--config",
            json.dumps(asdict(config)),
            "--control-url",
            fake.control_url,
            env=env,
            timeout=3600,
            live_stderr=True,
        )
    return summarize(result, config)


# --- the child ------------------------------------------------------------------------------


class QueryCounter:
    """Counts every SQL statement run through Django on the connections it is installed on."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._wrapped: list[Any] = []

    def __call__(self, execute, sql, params, many, context):
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)

    def install(self, connection) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)
            self._wrapped.append(connection)

    def _on_connection_created(self, sender, connection, **kwargs) -> None:
        self.install(connection)

    @contextlib.contextmanager
    def counting(self):
        """Count on this thread's connection and on every connection opened meanwhile."""
        from django.db import connections
        from django.db.backends.signals import connection_created

        connection_created.connect(self._on_connection_created, weak=False)
        for connection in connections.all():
            self.install(connection)
        try:
            yield self
        finally:
            connection_created.disconnect(self._on_connection_created)
            for connection in self._wrapped:
                with contextlib.suppress(ValueError):
                    connection.execute_wrappers.remove(self)
            self._wrapped.clear()


def _progress(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def seed_due_marks(config: ResyncConfig) -> dict[str, Any]:
    """Insert `config.marks` due marks with their students, quizzes and attempts, in bulk
    (after deleting every other mark and attempt)."""
    from django.utils import timezone

    from academic_integration.models import MarkDeliveryLog, TutorialMark
    from bench.fixtures import TEACHER_EMAIL, course_ensure, quiz_data, students_create
    from quizzes.importing import quiz_import
    from quizzes.models import AttemptAnswer, Quiz, QuizAttempt

    # What the other benchmarks left in the database (e.g. marks retrying after the hanging
    # condition) would be delivered too: only the seeded marks may be due.
    for model in (MarkDeliveryLog, TutorialMark, AttemptAnswer, QuizAttempt):
        model.objects.all().delete()
    per_course = -(-config.marks // (config.courses * len(TUTORIALS)))
    courses = [f"RS{c + 1}" for c in range(config.courses)]
    quizzes = {}
    for c, course_id in enumerate(courses):
        course_ensure(course_id=course_id)
        for t in TUTORIALS:
            grading = "highest" if (c + t) % 2 else "latest"
            quiz = Quiz.objects.filter(
                course_id=course_id, tutorial_number=t, quiz_type="tutorial", is_published=True
            ).first()
            if quiz is None:
                data = quiz_data(course_id=course_id, tutorial=t, grading=grading, n_questions=10)
                quiz = quiz_import(data=data).quiz
            quizzes[course_id, t] = quiz
    rolls = {
        course_id: [f"R{c + 1}{s:05d}" for s in range(per_course)]
        for c, course_id in enumerate(courses)
    }
    users = {
        u.username: u
        for u in students_create(
            usernames=[roll for course_rolls in rolls.values() for roll in course_rolls]
        )
    }

    now = timezone.now()
    first_done, retake_done = now - timedelta(hours=3), now - timedelta(hours=2)
    attempts, marks = [], []
    index = 0
    for s in range(per_course):
        for course_id in courses:
            for t in TUTORIALS:
                if index >= config.marks:
                    break
                student, quiz = users[rolls[course_id][s]], quizzes[course_id, t]
                scores = [Decimal((index * 7) % 11)]
                if index % config.retake_every == config.retake_every - 1:
                    scores.append(Decimal((index * 3 + 5) % 11))
                for n, score in enumerate(scores):
                    attempts.append(
                        QuizAttempt(
                            student=student,
                            quiz=quiz,
                            completed_at=(first_done if n == 0 else retake_done)
                            + timedelta(milliseconds=index),
                            earned_points=int(score),
                            total_points=10,
                            score=score,
                            mark_version=n + 1,
                        )
                    )
                value = scores[-1] if quiz.grading_method == "latest" else max(scores)
                marks.append(
                    TutorialMark(
                        student=student,
                        course_id=course_id,
                        tutorial_number=t,
                        quiz=quiz,
                        value=value,
                        version=len(scores),
                        due_since=first_done + timedelta(milliseconds=index),
                    )
                )
                index += 1
    QuizAttempt.objects.bulk_create(attempts, batch_size=2000)
    TutorialMark.objects.bulk_create(marks, batch_size=2000)
    sample_rolls = [roll for course_id in courses for roll in rolls[course_id]]
    return {
        "fake_seed": {
            "teachers": [TEACHER_EMAIL],
            "courses": [
                {"course_id": c, "name": c, "instructor": TEACHER_EMAIL, "students": rolls[c]}
                for c in courses
            ],
        },
        "attempts": len(attempts),
        "marks": len(marks),
        "rolls": sample_rolls,
    }


def make_due_again(config: ResyncConfig) -> None:
    """Every mark back to undelivered: pending, or retrying with its next try come."""
    from django.core.cache import cache
    from django.db import connection
    from django.db.models import F
    from django.db.models.functions import Mod
    from django.utils import timezone

    from academic_integration.models import MarkDeliveryLog, SyncState, TutorialMark
    from quizzes.models import QuizAttempt

    MarkDeliveryLog.objects.all().delete()
    SyncState.objects.all().delete()  # a closed breaker, no course known
    QuizAttempt.objects.update(marks_synced=False, last_sync_at=None)
    TutorialMark.objects.update(
        status="pending",
        reason="",
        last_error="",
        tries=0,
        next_try_at=None,
        delivered_version=0,
        delivered_value=None,
        delivered_at=None,
        last_tried_at=None,
        claimed_by="",
        claim_expires_at=None,
        teacher_email="",
        teacher_email_source="",
    )
    TutorialMark.objects.alias(slot=Mod(F("pk"), config.retrying_every)).filter(slot=0).update(
        status="retrying",
        reason="unavailable",
        tries=1,
        next_try_at=timezone.now() - timedelta(minutes=1),
    )
    cache.clear()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (TutorialMark, QuizAttempt, MarkDeliveryLog):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def marks_check(*, control, students=None) -> dict[str, int]:
    """How many of the marks (of `students`) are undelivered, and not held by the Analyzer."""
    from django.db.models import F

    from academic_integration.models import TutorialMark
    from quizzes.models import QuizAttempt

    marks = TutorialMark.objects.all()
    attempts = QuizAttempt.objects.filter(completed_at__isnull=False)
    if students is not None:
        marks = marks.filter(student__username__in=students)
        attempts = attempts.filter(student__username__in=students)
    held = control.marks()
    mismatches = 0
    for roll, course_id, tutorial, value in marks.values_list(
        "student__username", "course_id", "tutorial_number", "value"
    ):
        got = (held.get(roll, {}).get(course_id) or {}).get(f"tutorial{tutorial}")
        mismatches += got is None or Decimal(str(got)) != value
    return {
        "marks": marks.count(),
        "undelivered": marks.exclude(status="delivered", delivered_version=F("version")).count(),
        "analyzer_mismatches": mismatches,
        "attempts_unsynced": attempts.filter(marks_synced=False).count(),
    }


def run_naive(*, config: ResyncConfig, seeded, control, api_url, token) -> dict[str, Any]:
    from bench.naive_resync import naive_resync
    from quizzes.models import QuizAttempt

    sample = seeded["rolls"][: max(1, config.naive_marks // len(TUTORIALS))]
    attempt_ids = list(
        QuizAttempt.objects.filter(student__username__in=sample).values_list("pk", flat=True)
    )
    counter = QueryCounter()
    with counter.counting():
        began = time.perf_counter()
        summary = naive_resync(api_base_url=api_url, token=token, attempts=attempt_ids)
        elapsed = time.perf_counter() - began
    check = marks_check(control=control, students=sample)
    return {
        "marks": check["marks"],
        "attempts": summary.attempts,
        "posts": summary.synced + summary.failed,
        "seconds": elapsed,
        "marks_per_s": check["marks"] / elapsed,
        "queries": counter.count,
        "queries_per_1000_marks": counter.count * 1000 / check["marks"],
        "failed": summary.failed,
        # The loop walks attempts newest first, so a retake's older score is sent last.
        "stale_marks_left": check["analyzer_mismatches"],
        "attempts_unsynced": check["attempts_unsynced"],
    }


def _cpu_seconds() -> float:
    """CPU time of this process so far (all its threads), user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _machine_busy_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of every core since boot, from /proc/stat (Linux only)."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    ticks = [int(x) for x in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def run_command(*, workers: int, config: ResyncConfig, control) -> dict[str, Any]:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    counter = QueryCounter()
    exit_code = 0
    options = {"workers": workers, "json": True, **config.extra_options}
    with counter.counting():
        machine_before, cpu_before = _machine_busy_ticks(), _cpu_seconds()
        began = time.perf_counter()
        try:
            call_command("resync_tutorial_marks", stdout=out, stderr=err, **options)
        except CommandError as error:
            exit_code = error.returncode
        elapsed = time.perf_counter() - began
        cpu, machine_after = _cpu_seconds() - cpu_before, _machine_busy_ticks()
    summary = json.loads(out.getvalue() or "{}")
    check = marks_check(control=control)
    delivered = summary.get("delivered", 0)
    return {
        "workers": workers,
        "exit_code": exit_code,
        "marks": check["marks"],
        "delivered": delivered,
        "batches": summary.get("batches"),
        "seconds": elapsed,
        "marks_per_s": delivered / elapsed if elapsed else 0.0,
        "queries": counter.count,
        "queries_per_1000_marks": counter.count * 1000 / delivered if delivered else None,
        # Where the time goes: this process's CPU per mark (its threads share one GIL), and
        # how busy the whole machine was (the command, the Analyzer and PostgreSQL).
        "command_cpu_ms_per_mark": cpu * 1000 / delivered if delivered else None,
        "machine_cpu_busy": (
            (machine_after[0] - machine_before[0]) / (machine_after[1] - machine_before[1])
            if machine_before and machine_after and machine_after[1] > machine_before[1]
            else None
        ),
        "undelivered_after": check["undelivered"],
        "analyzer_mismatches": check["analyzer_mismatches"],
        "attempts_unsynced": check["attempts_unsynced"],
    }


def child_main(config: ResyncConfig, control_url: str) -> dict[str, Any]:
    django_setup()
    from django.conf import settings

    from fake_analyzer import FakeAnalyzerControl

    control = FakeAnalyzerControl(control_url, timeout=60)
    began = time.perf_counter()
    seeded = seed_due_marks(config)
    _progress(
        f"  resync: seeded {seeded['marks']} due marks ({seeded['attempts']} attempts) "
        f"in {time.perf_counter() - began:.1f} s"
    )
    variants = ["naive", *[f"workers={w}" for w in config.workers]]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for repeat in range(config.repeats):
        for variant in variants:
            make_due_again(config)
            control.reset(seed=seeded["fake_seed"], token=BENCH_TOKEN, latency_ms=5)
            if variant == "naive":
                result = run_naive(
                    config=config,
                    seeded=seeded,
                    control=control,
                    api_url=settings.ACADEMIC_ANALYZER_URL,
                    token=settings.ACADEMIC_ANALYZER_TOKEN,
                )
            else:
                workers = int(variant.split("=")[1])
                result = run_command(workers=workers, config=config, control=control)
            runs[variant].append(result)
            cpu = result.get("command_cpu_ms_per_mark")
            busy = result.get("machine_cpu_busy")
            _progress(
                f"  resync {variant:10} run {repeat + 1}/{config.repeats}: "
                f"{result['marks_per_s']:.0f} marks/s over {result['marks']} marks, "
                f"{result['queries_per_1000_marks'] or 0:.0f} queries per 1,000 marks"
                + (f", command CPU {cpu:.2f} ms/mark" if cpu is not None else "")
                + (f", machine {busy:.0%} busy" if busy is not None else "")
            )
    return {"seeded": {k: seeded[k] for k in ("marks", "attempts")}, "runs": runs}


def summarize(result: dict[str, Any], config: ResyncConfig) -> dict[str, Any]:
    runs = result["runs"]
    repeats = range(len(runs["naive"]))
    variants: dict[str, dict[str, Any]] = {}
    for variant, results in runs.items():
        variants[variant] = {
            stat: median(r[stat] for r in results)
            for stat in ("marks_per_s", "queries_per_1000_marks", "seconds")
        }
        for stat in ("command_cpu_ms_per_mark", "machine_cpu_busy"):
            values = [r[stat] for r in results if r.get(stat) is not None]
            variants[variant][stat] = median(values) if values else None
        variants[variant]["marks"] = results[0]["marks"]
        variants[variant]["x_naive"] = median(
            ratio(runs[variant][r]["marks_per_s"], runs["naive"][r]["marks_per_s"]) for r in repeats
        )
    targets = []
    for workers in config.workers:
        variant = variants[f"workers={workers}"]
        if workers == max(config.workers):
            # The speed target is for the parallel run: one worker waits for every answer in
            # turn, so it is bound by the Analyzer's latency (reported, not a target).
            targets.append(
                {
                    "target": f"--workers {workers}: ≥ 10× the naive baseline's marks/s",
                    "value": round(variant["x_naive"], 2),
                    "limit": 10,
                    "met": variant["x_naive"] >= 10,
                }
            )
        targets.append(
            {
                "target": f"--workers {workers}: ≤ 50 queries per 1,000 marks",
                "value": round(variant["queries_per_1000_marks"], 1),
                "limit": 50,
                "met": variant["queries_per_1000_marks"] <= 50,
            }
        )
    complete = all(
        r["undelivered_after"] == 0
        and r["analyzer_mismatches"] == 0
        and r["attempts_unsynced"] == 0
        and r["exit_code"] == 0
        for variant, results in runs.items()
        if variant != "naive"
        for r in results
    )
    targets.append(
        {
            "target": "every mark delivered, held by the Analyzer, every attempt settled",
            "value": complete,
            "limit": True,
            "met": complete,
        }
    )
    return {
        "config": asdict(config),
        "seeded": result["seeded"],
        "variants": variants,
        "runs": runs,
        "targets": targets,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark 3's child process (see the module)")
    parser.add_argument("--config", required=True, help="ResyncConfig as JSON")
    parser.add_argument("--control-url", required=True, help="the fake Analyzer's control API")
    args = parser.parse_args(argv)
    raw = json.loads(args.config)
    raw["workers"] = tuple(raw["workers"])
    emit(child_main(ResyncConfig(**raw), args.control_url))


if __name__ == "__main__":
    main()
