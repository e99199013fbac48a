"""Benchmark 4, draining a backlog in bulk: the same due marks sent with add-tutN-mark (a
course's marks for one tutorial per request) and with one POST per mark, side by side in one
run, both at the same ``--max-rate``.

A child process seeds M due marks over C courses × 4 tutorials (bench.resync_throughput's
seeding: students interleaved, every fourth mark a retake), then, for each mode, makes every
mark due again, resets the fake Analyzer and times ``manage.py resync_tutorial_marks`` in
process:

- ``bulk``: ``--bulk-size 200`` over all M marks (every mark must end delivered and held);
- ``single``: ``--bulk-size 0 --limit L`` over the first L marks only. At 20 requests/s one
  POST per mark needs M / 20 seconds (~500 s for 10,000): its time and requests for M are
  extrapolated from the L measured (× M / L), and the output says so.

Requests are what the run sent to the marks routes (its summary) plus its course checks;
both modes check each course once. Needs an Analyzer with the add-tutN-mark routes: against
one without them bulk falls back to one POST per mark (the result says ``bulk: unsupported``
and the targets are missed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from bench.harness import (
    BENCH_TOKEN,
    BenchDatabase,
    django_setup,
    emit,
    fake_analyzer,
    ratio,
    run_child,
    site_env,
)
from bench.resync_throughput import (
    TUTORIALS,
    QueryCounter,
    ResyncConfig,
    make_due_again,
    marks_check,
    seed_due_marks,
)


@dataclass
class DrainConfig:
    marks: int = 10_000
    courses: int = 50
    single_marks: int = 1_000  # drained in single mode, then extrapolated to `marks`
    max_rate: float = 20.0
    bulk_size: int = 200
    workers: int = 4
    analyzer_latency_ms: float = 5


def run(*, db: BenchDatabase, workdir: Path, config: DrainConfig, log=print) -> dict[str, Any]:
    with fake_analyzer(latency_ms=config.analyzer_latency_ms) as fake:
        env = site_env(
            database_url=db.url,
            cache_dir=workdir / "cache-drain",
            analyzer_url=fake.api_url,
            token=BENCH_TOKEN,
        )
        result = run_child(
            "bench.resync_drain",
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


def _progress(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def drain(*, config: DrainConfig, control, bulk: bool) -> dict[str, Any]:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    options: dict[str, Any] = {
        "json": True,
        "workers": config.workers,
        "max_rate": config.max_rate,
        "bulk_size": config.bulk_size if bulk else 0,
    }
    if not bulk:
        options["limit"] = config.single_marks
    out, err = StringIO(), StringIO()
    counter = QueryCounter()
    exit_code = 0
    with counter.counting():
        began = time.perf_counter()
        try:
            call_command("resync_tutorial_marks", stdout=out, stderr=err, **options)
        except CommandError as error:
            exit_code = error.returncode
        seconds = time.perf_counter() - began
    summary = json.loads(out.getvalue() or "{}")
    checks = sum(1 for r in control.received() if r["path"].endswith("/staff/course-detail"))
    delivered = summary.get("delivered", 0)
    check = marks_check(control=control)
    return {
        "mode": "bulk" if bulk else "single",
        "bulk": summary.get("bulk"),
        "exit_code": exit_code,
        "delivered": delivered,
        "seconds": seconds,
        "mark_requests": summary.get("requests", 0),
        "course_checks": checks,
        "requests": summary.get("requests", 0) + checks,
        "queries": counter.count,
        "queries_per_1000_marks": counter.count * 1000 / delivered if delivered else None,
        "undelivered_after": check["undelivered"],
        "analyzer_mismatches": check["analyzer_mismatches"],
    }


def child_main(config: DrainConfig, control_url: str) -> dict[str, Any]:
    django_setup()
    from fake_analyzer import FakeAnalyzerControl

    control = FakeAnalyzerControl(control_url, timeout=60)
    seeding = ResyncConfig(marks=config.marks, courses=config.courses)
    seeded = seed_due_marks(seeding)
    _progress(
        f"  drain: seeded {seeded['marks']} due marks over {config.courses} courses x "
        f"{len(TUTORIALS)} tutorials"
    )
    runs = {}
    for bulk in (True, False):
        make_due_again(seeding)
        control.reset(
            seed=seeded["fake_seed"], token=BENCH_TOKEN, latency_ms=config.analyzer_latency_ms
        )
        result = drain(config=config, control=control, bulk=bulk)
        runs[result["mode"]] = result
        _progress(
            f"  drain {result['mode']:6}: {result['delivered']} marks in "
            f"{result['seconds']:.1f} s, {result['requests']} requests "
            f"({result['course_checks']} course checks), "
            f"{result['queries_per_1000_marks'] or 0:.0f} queries per 1,000 marks"
        )
    return {"seeded": {"marks": seeded["marks"]}, "runs": runs}


def summarize(result: dict[str, Any], config: DrainConfig) -> dict[str, Any]:
    bulk, single = result["runs"]["bulk"], result["runs"]["single"]
    marks = result["seeded"]["marks"]
    # One POST per mark scales linearly at a fixed rate: what L marks took, times M / L.
    scale = marks / single["delivered"] if single["delivered"] else float("nan")
    single_full = {
        "seconds": single["seconds"] * scale,
        "requests": single["mark_requests"] * scale + bulk["course_checks"],
        "extrapolated_from": single["delivered"],
    }
    fewer_requests = ratio(single_full["requests"], bulk["requests"])
    less_time = ratio(single_full["seconds"], bulk["seconds"])
    complete = (
        bulk["undelivered_after"] == 0
        and bulk["analyzer_mismatches"] == 0
        and bulk["exit_code"] == 0
        and single["exit_code"] == 0
    )
    targets = [
        {
            "target": "bulk: ≥ 20× fewer requests than one POST per mark",
            "value": round(fewer_requests, 1),
            "limit": 20,
            "met": fewer_requests >= 20,
        },
        {
            "target": "bulk: ≥ 10× less time to drain than one POST per mark",
            "value": round(less_time, 1),
            "limit": 10,
            "met": less_time >= 10,
        },
        {
            "target": "bulk: ≤ 50 queries per 1,000 marks",
            "value": round(bulk["queries_per_1000_marks"] or float("nan"), 1),
            "limit": 50,
            "met": (bulk["queries_per_1000_marks"] or 999) <= 50,
        },
        {
            "target": "bulk: every mark delivered and held by the Analyzer",
            "value": complete,
            "limit": True,
            "met": complete,
        },
    ]
    return {
        "config": asdict(config),
        "seeded": result["seeded"],
        "runs": result["runs"],
        "single_extrapolated": single_full,
        "fewer_requests": fewer_requests,
        "less_time": less_time,
        "targets": targets,
    }


def render(r: dict[str, Any]) -> list[str]:
    """The drain comparison as markdown lines for bench/results."""
    c, bulk, single = r["config"], r["runs"]["bulk"], r["runs"]["single"]
    full = r["single_extrapolated"]
    return [
        f"**4. Draining a backlog** — {r['seeded']['marks']} due marks over {c['courses']} "
        f"courses × 4 tutorials, --max-rate {c['max_rate']:g}, --workers {c['workers']}, "
        f"Analyzer latency {c['analyzer_latency_ms']:g} ms, in one run. One POST per mark was "
        f"timed on the first {full['extrapolated_from']} marks and extrapolated (× "
        f"{r['seeded']['marks'] / max(full['extrapolated_from'], 1):g}).",
        "",
        "| mode | marks | requests | seconds | queries per 1,000 marks |",
        "|---|---:|---:|---:|---:|",
        f"| bulk, --bulk-size {c['bulk_size']} ({bulk['bulk']}) | {bulk['delivered']} | "
        f"{bulk['requests']} | {bulk['seconds']:.1f} | {bulk['queries_per_1000_marks']:.1f} |",
        f"| one POST per mark, measured | {single['delivered']} | {single['requests']} | "
        f"{single['seconds']:.1f} | {single['queries_per_1000_marks']:.1f} |",
        f"| one POST per mark, extrapolated | {r['seeded']['marks']} | "
        f"{full['requests']:.0f} | {full['seconds']:.1f} | – |",
        "",
        f"Bulk: {r['fewer_requests']:.1f}× fewer requests, {r['less_time']:.1f}× less time.",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark 4's child process (see the module)")
    parser.add_argument("--config", required=True, help="DrainConfig as JSON")
    parser.add_argument("--control-url", required=True, help="the fake Analyzer's control API")
    args = parser.parse_args(argv)
    emit(child_main(DrainConfig(**json.loads(args.config)), args.control_url))


if __name__ == "__main__":
    main()
