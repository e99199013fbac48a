"""Benchmark 1, submit latency: N sequential submissions of a 10-question tutorial quiz by
logged-in students over HTTP, in four conditions.

"Submit latency" is the POST of the quiz form until its redirect response has been read whole:
scoring, saving, the mark update, the commit and the inline delivery to the Analyzer all happen
inside that request. The GET that opens the quiz before it and the result page after it are not
timed. A few untimed warm-up submissions with the Analyzer healthy come first, then the fault is
switched on and N submissions are timed, one student after another.

The baseline and the healthy condition are measured *paired*: two gunicorns run side by side,
one with sync off and one with sync on, and the submissions alternate between them (which goes
first alternates too), so both see the same machine at the same moment. Measured one after the
other, the baseline's p50 drifted by ±1.5 ms between runs on this 2-core machine (a checkpoint,
autovacuum, the other benchmark's leftovers), as much as the own cost being measured; paired,
that drift falls on both sides. The fault conditions then run on the sync-on gunicorn; before
each condition the sync state (in the database) is emptied, so the shared breaker starts closed
and no course is known.

Conditions: `disabled` (ACADEMIC_ANALYZER_URL unset: the baseline), `healthy`, `refusing`
(connection refused), `hanging` (connections accepted, never answered), `slow` (every answer
400 ms late, after a healthy warm-up: the inline budget must adapt and deliver them inline).

Then, unless ``outage_seconds`` is 0, a scaled outage (issue 22): a gunicorn with a short
cool-off, the Analyzer hanging for ``outage_seconds`` while students keep submitting, then
healthy again: no submit may wait longer than the budget's cap, only the one that found out
may wait at all, and inline delivery must resume within one cool-off of the recovery.
"""

from __future__ import annotations

import math
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.browser import StudentBrowser
from bench.harness import (
    BENCH_TOKEN,
    RECOMMENDED_THREADS,
    RECOMMENDED_WORKERS,
    BenchDatabase,
    Gunicorn,
    class_with_fake_analyzer,
    latency_summary,
    median,
    percentile,
    ratio,
    site_env,
)

CONDITIONS = ("disabled", "healthy", "refusing", "hanging", "slow")
#: Measured after the paired baseline and healthy runs, on the sync-on gunicorn.
FAULT_CONDITIONS = ("refusing", "hanging", "slow")
FAULTS = {
    "refusing": {"kind": "refuse"},
    "hanging": {"kind": "hang"},
    "slow": {"kind": "slow", "delay_ms": 400},
}
COURSE = "BENCHL"
#: The shipped ACADEMIC_ANALYZER_INLINE_BUDGET_CAP_MS: the most a submit may wait.
BUDGET_CAP_MS = 1000


@dataclass
class LatencyConfig:
    submissions: int = 200
    repeats: int = 3
    # Untimed, per condition: enough for every worker thread to have opened its database
    # connection before the clock starts (4 workers × 4 threads).
    warmup: int = 32
    workers: int = RECOMMENDED_WORKERS
    threads: int = RECOMMENDED_THREADS
    # Only the smoke test sets these (short timeouts so a hang costs it little); the benchmark
    # itself runs on the shipped defaults.
    site_overrides: dict[str, str] = field(default_factory=dict)
    # The scaled outage: the Analyzer hangs this long (0: skipped) under this cool-off; the
    # issue's 10 minutes at 30 s is 20 cool-offs, as is 60 s at 3 s.
    outage_seconds: float = 60.0
    outage_cool_off_seconds: int = 3


def run(*, db: BenchDatabase, workdir: Path, config: LatencyConfig, log=print) -> dict[str, Any]:
    students = max(config.submissions, config.warmup, 1)
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in CONDITIONS}
    with class_with_fake_analyzer(
        database_url=db.url, prefix="L", count=students, course=COURSE
    ) as (data, fake):
        for repeat in range(config.repeats):
            for condition, result in _run_repeat(
                db=db, workdir=workdir, config=config, data=data, fake=fake, tag=f"{repeat}"
            ):
                runs[condition].append(result)
                log(
                    f"  latency {condition:9} run {repeat + 1}/{config.repeats}: "
                    f"p50 {result['p50']:.1f} ms  p95 {result['p95']:.1f} ms  "
                    f"p99 {result['p99']:.1f} ms  errors {result['errors']}  "
                    f"analyzer requests {result['analyzer_requests']}"
                )
        summary = summarize(runs, config)
        if config.outage_seconds > 0:
            log(
                f"  outage: Analyzer hanging {config.outage_seconds:g} s, cool-off "
                f"{config.outage_cool_off_seconds} s, then healthy"
            )
            summary["outage"] = outage_run(
                db=db, workdir=workdir, config=config, data=data, fake=fake
            )
            summary["targets"] += outage_targets(summary["outage"], summary["conditions"])
            o = summary["outage"]
            log(
                f"  outage: {o['submissions']} submissions, max {o['max_ms']:.0f} ms, "
                f"{o['waited']} waited > {o['wait_threshold_ms']} ms, inline again "
                f"{o['resumed_after_s']} s after recovery"
            )
    return summary


def forget_sync_state(db) -> None:
    """Empty the sync state table (breaker, configurations, courses) of the bench database."""
    statement = "DELETE FROM academic_integration_syncstate"
    if db.vendor == "postgresql":
        import psycopg2

        conn = psycopg2.connect(dbname=db.name, connect_timeout=10, **db._admin)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()
    else:
        import sqlite3

        with sqlite3.connect(db.name) as conn:
            conn.execute(statement)


def _run_repeat(*, db, workdir, config, data, fake, tag):
    """One repeat: the baseline and healthy submissions paired, then the fault conditions."""
    caches = {c: workdir / f"cache-latency-{tag}-{c}" for c in ("disabled", "enabled")}

    def env(condition):
        enabled = condition == "enabled"
        return site_env(
            database_url=db.url,
            cache_dir=caches[condition],
            analyzer_url=fake.api_url if enabled else None,
            token=BENCH_TOKEN,
            **config.site_overrides,
        )

    def server(condition):
        return Gunicorn(
            env=env(condition),
            workers=config.workers,
            threads=config.threads,
            log_path=workdir / f"gunicorn-latency-{condition}.log",
        )

    with server("disabled") as off, server("enabled") as on:
        browsers = {
            name: [
                StudentBrowser(base_url=site.url, username=username, session_id=key)
                for username, key in data["students"]
            ]
            for name, site in (("disabled", off), ("healthy", on))
        }
        fake.control.clear_faults()
        for cache in caches.values():
            shutil.rmtree(cache, ignore_errors=True)
        forget_sync_state(db)  # a closed breaker, no course known
        for i in range(config.warmup):
            for name in ("disabled", "healthy"):
                _submit(browsers[name][i % len(browsers[name])], data)
        fake.control.clear_stats()
        paired: dict[str, list] = {"disabled": [], "healthy": []}
        for i in range(config.submissions):
            order = ("disabled", "healthy") if i % 2 == 0 else ("healthy", "disabled")
            for name in order:
                paired[name].append(_submit(browsers[name][i % len(browsers[name])], data))
        stats = fake.control.stats()  # only the sync-on gunicorn calls the Analyzer
        yield "disabled", _summary(paired["disabled"], {"requests": 0, "service_ms": {}})
        yield "healthy", _summary(paired["healthy"], stats)
        for condition in FAULT_CONDITIONS:
            fake.control.clear_faults()
            shutil.rmtree(caches["enabled"], ignore_errors=True)
            forget_sync_state(db)
            for i in range(config.warmup):
                _submit(browsers["healthy"][i % len(browsers["healthy"])], data)
            fake.control.set_faults([FAULTS[condition]])
            fake.control.clear_stats()
            results = [
                _submit(browsers["healthy"][i % len(browsers["healthy"])], data)
                for i in range(config.submissions)
            ]
            stats = fake.control.stats()
            fake.control.clear_faults()  # releases any request still hanging
            yield condition, _summary(results, stats)
        for browser in [*browsers["disabled"], *browsers["healthy"]]:
            browser.close()


def _summary(results, stats) -> dict[str, Any]:
    posts = [post for post, _ in results]
    pages = [page for _, page in results if page is not None]
    return {
        **latency_summary([post.latency_ms for post in posts]),
        "to_result_page_p50": percentile(
            [post.latency_ms + page.latency_ms for post, page in results if page], 50
        ),
        "errors": sum(not post.ok for post in posts),
        "error_samples": sorted({f"{p.status} {p.error}" for p in posts if not p.ok})[:5],
        "analyzer_requests": stats["requests"],
        # The Analyzer's own time per answered request (the fake measures it from the
        # request's head parsed to its answer written): not ours.
        "analyzer_service_p50": stats["service_ms"].get("p50"),
        "result_pages_say": dict(Counter(page.says for page in pages)),
    }


def _submit(browser: StudentBrowser, data):
    """Open the quiz, post it (timed), then open the result page (timed on its own)."""
    post = browser.submit(browser.open_quiz(data["quiz_path"]), data["correct"])
    return post, (browser.result_page(post) if post.ok else None)


def summarize(runs: dict[str, list[dict[str, Any]]], config: LatencyConfig) -> dict[str, Any]:
    """Medians over the repeats; ratios are taken per repeat (same run), then their median."""
    repeats = range(len(runs["disabled"]))

    def per_repeat(condition, stat, base_condition, base_stat):
        return median(
            ratio(runs[condition][r][stat], runs[base_condition][r][base_stat]) for r in repeats
        )

    conditions: dict[str, dict[str, Any]] = {}
    for condition, results in runs.items():
        conditions[condition] = {
            stat: median(r[stat] for r in results)
            for stat in ("p50", "p95", "p99", "max", "to_result_page_p50")
        }
        conditions[condition].update(
            {
                f"{stat}_x_baseline": per_repeat(condition, stat, "disabled", stat)
                for stat in ("p50", "p95", "p99")
            }
        )
        conditions[condition]["to_result_page_p50_x_baseline"] = per_repeat(
            condition, "to_result_page_p50", "disabled", "to_result_page_p50"
        )
        conditions[condition]["errors"] = sum(r["errors"] for r in results)
        conditions[condition]["result_pages_say"] = dict(
            sum((Counter(r["result_pages_say"]) for r in results), Counter())
        )
        conditions[condition]["analyzer_requests"] = [r["analyzer_requests"] for r in results]
        conditions[condition]["analyzer_service_p50"] = median(
            _number(r.get("analyzer_service_p50")) for r in results
        )
    # Our own cost: what a healthy submission takes beyond the baseline and the Analyzer's
    # own time (its median service time in the same run), in ms and as a share of the baseline.
    own = [
        runs["healthy"][r]["p50"]
        - runs["disabled"][r]["p50"]
        - _number(runs["healthy"][r].get("analyzer_service_p50"))
        for r in repeats
    ]
    healthy = conditions["healthy"]
    healthy["own_cost_ms"] = median(own)
    healthy["own_cost_x_baseline"] = median(
        ratio(own[r], runs["disabled"][r]["p50"]) for r in repeats
    )
    refusing_p95 = per_repeat("refusing", "p95", "healthy", "p95")
    hanging_p95 = per_repeat("hanging", "p95", "healthy", "p95")
    hanging_p99 = per_repeat("hanging", "p99", "healthy", "p99")
    # The slowest hanging submit against the cap plus the healthy p99, per run.
    hanging_max = median(
        ratio(runs["hanging"][r]["max"], BUDGET_CAP_MS + runs["healthy"][r]["p99"]) for r in repeats
    )
    slow_inline = median(
        ratio(runs["slow"][r]["result_pages_say"].get("delivered", 0), config.submissions)
        for r in repeats
    )
    errors = sum(c["errors"] for c in conditions.values())
    targets = [
        _target(
            "healthy: own cost beyond the Analyzer's time ≤ 0.15× baseline p50",
            healthy["own_cost_x_baseline"],
            0.15,
        ),
        _target("refusing p95 ≤ 1.5× healthy p95", refusing_p95, 1.5),
        _target("hanging p95 ≤ 1.5× healthy p95", hanging_p95, 1.5),
        _target("hanging p99 ≤ 1.25× healthy p99", hanging_p99, 1.25),
        _target("hanging slowest ≤ (budget cap + healthy p99), as a ratio", hanging_max, 1.0),
        {
            "target": "slow (400 ms): ≥ 97 % of result pages say delivered inline",
            "value": round(slow_inline, 3),
            "limit": 0.97,
            "met": slow_inline >= 0.97,
        },
        {"target": "zero errors", "value": errors, "limit": 0, "met": errors == 0},
    ]
    return {
        "config": {
            "submissions": config.submissions,
            "repeats": config.repeats,
            "warmup": config.warmup,
            "gunicorn_workers": config.workers,
            "gunicorn_threads": config.threads,
            "site_overrides": config.site_overrides,
        },
        "conditions": conditions,
        "runs": runs,
        "targets": targets,
    }


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _target(name: str, value: float, limit: float) -> dict[str, Any]:
    return {"target": name, "value": round(value, 3), "limit": limit, "met": value <= limit}


def outage_run(*, db, workdir, config, data, fake) -> dict[str, Any]:
    """The scaled outage on its own gunicorn (its cool-off is a setting): healthy warm-up,
    the Analyzer hanging for ``outage_seconds`` with students submitting one after another,
    then healthy again until a result page says delivered (or five cool-offs pass)."""
    cool_off = config.outage_cool_off_seconds
    env = site_env(
        database_url=db.url,
        cache_dir=workdir / "cache-latency-outage",
        analyzer_url=fake.api_url,
        token=BENCH_TOKEN,
        **{"ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS": str(cool_off), **config.site_overrides},
    )
    with Gunicorn(
        env=env,
        workers=config.workers,
        threads=config.threads,
        log_path=workdir / "gunicorn-latency-outage.log",
    ) as site:
        browsers = [
            StudentBrowser(base_url=site.url, username=username, session_id=key)
            for username, key in data["students"]
        ]
        fake.control.clear_faults()
        forget_sync_state(db)
        for i in range(config.warmup):
            _submit(browsers[i % len(browsers)], data)
        fake.control.set_fault("hang")
        fake.control.clear_stats()
        during = []
        ends = time.monotonic() + config.outage_seconds
        i = 0
        while time.monotonic() < ends:
            during.append(_submit(browsers[i % len(browsers)], data))
            i += 1
        requests_during = fake.control.stats()["requests"]
        fake.control.clear_faults()
        recovered = time.monotonic()
        resumed_after = None
        after = []
        while time.monotonic() - recovered < 5 * cool_off:
            result = _submit(browsers[i % len(browsers)], data)
            after.append(result)
            i += 1
            if result[1] is not None and result[1].says == "delivered":
                resumed_after = round(time.monotonic() - recovered, 2)
                break
        for browser in browsers:
            browser.close()
    latencies = [post.latency_ms for post, _ in during]
    threshold = 200  # ms: well above a healthy submit on a quiet machine
    waited_on, probes = _outage_log_counts(workdir / "gunicorn-latency-outage.log")
    return {
        "outage_seconds": config.outage_seconds,
        "cool_off_seconds": cool_off,
        "submissions": len(during),
        "max_ms": max(latencies),
        "p99_ms": percentile(latencies, 99),
        "wait_threshold_ms": threshold,
        "waited": sum(ms > threshold for ms in latencies),
        "waited_ms": sorted(ms for ms in latencies if ms > threshold),
        # From the site's own log, exact whatever the machine's load: inline sends cut off by
        # the budget (a submit waited on the Analyzer), and probes handed to the background.
        "submits_cut_off": waited_on,
        "background_probes": probes,
        "analyzer_requests_during": requests_during,
        "errors": sum(not post.ok for post, _ in during + after),
        "resumed_after_s": resumed_after,
    }


def _outage_log_counts(log_path: Path) -> tuple[int, int]:
    """(inline sends cut off by the budget, probes handed to the background) in the log."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return (
        text.count("inline send cut off by the budget"),
        text.count("inline probe handed to the background"),
    )


def outage_targets(outage: dict[str, Any], conditions: dict[str, Any]) -> list[dict[str, Any]]:
    resumed = outage["resumed_after_s"]
    limit = outage["cool_off_seconds"] + 1
    p99 = ratio(outage["p99_ms"], conditions["healthy"]["p99"])
    return [
        _target("outage: p99 ≤ 1.25× healthy p99", p99, 1.25),
        {
            "target": "outage: no submit waits longer than the budget's cap (ms)",
            "value": round(outage["max_ms"], 1),
            "limit": BUDGET_CAP_MS + conditions["healthy"]["p99"],
            "met": outage["max_ms"] <= BUDGET_CAP_MS + conditions["healthy"]["p99"],
        },
        {
            "target": "outage: submits that waited on the Analyzer (cut off by the budget; "
            "none after the breaker opened)",
            "value": outage["submits_cut_off"],
            "limit": 1,
            "met": outage["submits_cut_off"] <= 1,
        },
        {
            "target": "outage: inline delivery resumes within one cool-off of the recovery (s)",
            "value": resumed,
            "limit": limit,
            "met": resumed is not None and resumed <= limit,
        },
    ]
