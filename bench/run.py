"""`make bench`: run the four benchmarks production-like and save the results.

    python -m bench.run                      # all four, PostgreSQL on 127.0.0.1:5432
    python -m bench.run --only drain         # bulk against one POST per mark
    python -m bench.run --only drain-upstream   # the same against upstream's real code
    python -m bench.run --only latency --repeats 1
    python -m bench.run --only latency,burst --threads 1    # 4 sync workers, for comparison

A fresh database (`quizsite_bench`, dropped at the end) on the PostgreSQL server of
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/quizsite_bench), gunicorn as
the README recommends (gthread, 4 workers × 4 threads), DJANGO_DEBUG=0 over plain HTTP, the
fake Analyzer in its own process with 5 ms latency, and the shipped defaults for every sync
setting. The drain is also run against the upstream Analyzer's real code (bench/upstream.py;
skipped with the reason when node/npm or ../shared/upstream are missing). Prints a table and
writes it with all the raw numbers to bench/results/latest.md and latest.json. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import burst, resync_drain, resync_drain_upstream, resync_throughput, submit_latency
from bench.harness import (
    DEFAULT_PG_URL,
    PROJECT_ROOT,
    RECOMMENDED_THREADS,
    RECOMMENDED_WORKERS,
    bench_database,
    machine_info,
)

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
BENCHMARKS = ("latency", "burst", "resync", "drain", "drain-upstream")


def run_all(
    *,
    database_url: str,
    only: tuple[str, ...] = BENCHMARKS,
    latency: submit_latency.LatencyConfig | None = None,
    burst_config: burst.BurstConfig | None = None,
    resync: resync_throughput.ResyncConfig | None = None,
    drain: resync_drain.DrainConfig | None = None,
    drain_upstream: resync_drain_upstream.UpstreamDrainConfig | None = None,
    db_name: str = "quizsite_bench",
    log=print,
) -> dict[str, Any]:
    """Run the chosen benchmarks on a fresh database; return everything measured."""
    workdir = Path(tempfile.mkdtemp(prefix="quizsite-bench-"))
    results: dict[str, Any] = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    began = time.monotonic()
    try:
        with bench_database(base_url=database_url, name=db_name, workdir=workdir) as db:
            results["machine"] = machine_info(db=db)
            if "latency" in only:
                latency_cfg = latency or submit_latency.LatencyConfig()
                log(
                    f"1. submit latency: {latency_cfg.submissions} submissions x 5 conditions "
                    f"x {latency_cfg.repeats} runs"
                )
                results["latency"] = submit_latency.run(
                    db=db, workdir=workdir, config=latency_cfg, log=log
                )
            if "burst" in only:
                burst_cfg = burst_config or burst.BurstConfig()
                log(
                    f"2. exam-end burst: {burst_cfg.students} students, "
                    f"{burst_cfg.concurrency} at a time, x 2 conditions x {burst_cfg.repeats} runs"
                )
                results["burst"] = burst.run(db=db, workdir=workdir, config=burst_cfg, log=log)
            if "resync" in only:
                resync_cfg = resync or resync_throughput.ResyncConfig()
                log(
                    f"3. resync throughput: {resync_cfg.marks} due marks, naive on "
                    f"{resync_cfg.naive_marks}, workers {resync_cfg.workers}, "
                    f"{resync_cfg.repeats} runs"
                )
                results["resync"] = resync_throughput.run(
                    db=db, workdir=workdir, config=resync_cfg, log=log
                )
            if "drain" in only:
                drain_cfg = drain or resync_drain.DrainConfig()
                log(
                    f"4. draining a backlog: {drain_cfg.marks} due marks over {drain_cfg.courses} "
                    f"courses, bulk against one POST per mark (on {drain_cfg.single_marks}), "
                    f"--max-rate {drain_cfg.max_rate:g}"
                )
                results["drain"] = resync_drain.run(
                    db=db, workdir=workdir, config=drain_cfg, log=log
                )
            if "drain-upstream" in only:
                upstream_cfg = drain_upstream or resync_drain_upstream.UpstreamDrainConfig()
                log(
                    f"4b. draining a backlog into upstream's real code: {upstream_cfg.marks} due "
                    f"marks over {upstream_cfg.courses} courses, bulk against one POST per mark "
                    f"(on {upstream_cfg.single_marks}), --max-rate {upstream_cfg.max_rate:g}"
                )
                results["drain-upstream"] = resync_drain_upstream.run(
                    db=db, workdir=workdir, config=upstream_cfg, log=log
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["duration_seconds"] = round(time.monotonic() - began, 1)
    return results


def all_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"benchmark": name, **target}
        for name in BENCHMARKS
        if name in results
        for target in results[name]["targets"]
    ]


def _ms(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.1f}"


def _x(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.2f}×"


def _server(config: dict[str, Any]) -> str:
    workers, threads = config["gunicorn_workers"], config.get("gunicorn_threads", 1)
    if threads > 1:
        return f"gthread, {workers} workers × {threads} threads"
    return f"{workers} sync workers"


def _own(condition: dict[str, Any]) -> str:
    if "own_cost_ms" not in condition:
        return ""
    return f"{_ms(condition['own_cost_ms'])} ms ({_x(condition['own_cost_x_baseline'])})"


def render_markdown(results: dict[str, Any]) -> str:
    """The results as the README's table: machine, one table per benchmark, the targets."""
    m = results["machine"]
    lines = [
        f"Run {results['started_at']} in {results['duration_seconds']:.0f} s on "
        f"{m['cores']} cores ({m['cpu']}), {m['os']}; Python {m['python']}, "
        f"{m.get('database', '?')}, Django {m['django']}, gunicorn {m['gunicorn']}; "
        f"load average at start {', '.join(str(x) for x in m['load_average_at_start'])}.",
        "",
    ]
    if "latency" in results:
        r = results["latency"]
        c = r["config"]
        lines += [
            f"**1. Submit latency** — {c['submissions']} sequential submissions per condition, "
            f"gunicorn {_server(c)}, median of {c['repeats']} runs; "
            "ratios to sync disabled, taken within each run. *Own cost* = p50 − baseline p50 − "
            "the Analyzer's median service time (measured by the fake, from request head "
            "parsed to answer written).",
            "",
            "| condition | p50 ms | p95 ms | p99 ms | p50 | p95 | p99 | own cost, p50 "
            "| Analyzer service p50 | to result page, p50 | result pages said "
            "| Analyzer requests |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        names = {
            "disabled": "sync disabled (baseline)",
            "healthy": "Analyzer healthy",
            "refusing": "Analyzer refusing connections",
            "hanging": "Analyzer never answering",
            "slow": "Analyzer slow (400 ms)",
        }
        for key, label in names.items():
            s = r["conditions"][key]
            said = ", ".join(f"{k} {v}" for k, v in sorted(s["result_pages_say"].items()))
            lines.append(
                f"| {label} | {_ms(s['p50'])} | {_ms(s['p95'])} | {_ms(s['p99'])} | "
                f"{_x(s['p50_x_baseline'])} | {_x(s['p95_x_baseline'])} | "
                f"{_x(s['p99_x_baseline'])} | {_own(s)} | "
                f"{_ms(s.get('analyzer_service_p50'))} | {_ms(s['to_result_page_p50'])} ms "
                f"({_x(s['to_result_page_p50_x_baseline'])}) | {said} | "
                f"{', '.join(map(str, s['analyzer_requests']))} |"
            )
        lines.append("")
        o = r.get("outage")
        if o:
            cool_offs = o["outage_seconds"] / o["cool_off_seconds"]
            lines += [
                f"Scaled outage: the Analyzer hanging {o['outage_seconds']:g} s with a "
                f"{o['cool_off_seconds']} s cool-off ({cool_offs:g} cool-offs, as 10 minutes "
                f"at 30 s): {o['submissions']} submissions, slowest "
                f"{o['max_ms']:.0f} ms, p99 {o['p99_ms']:.1f} ms, {o['waited']} waited over "
                f"{o['wait_threshold_ms']} ms ({', '.join(f'{ms:.0f}' for ms in o['waited_ms'])} "
                f"ms: the machine's own noise but for the one cut off), "
                f"{o['submits_cut_off']} submit(s) cut off by the budget, "
                f"{o['background_probes']} probe(s) sent in the background, "
                f"{o['analyzer_requests_during']} Analyzer requests; inline delivery again "
                f"{o['resumed_after_s']} s after the recovery; {o['errors']} errors.",
                "",
            ]
    if "burst" in results:
        r = results["burst"]
        c = r["config"]
        lines += [
            f"**2. Exam-end burst** — {c['students']} students submit at once, "
            f"{c['concurrency']} at a time, gunicorn {_server(c)}, Analyzer latency "
            f"{c.get('analyzer_latency_ms', 5):g} ms, median of {c['repeats']} runs.",
            "",
            "| condition | submissions/s | p50 ms | p99 ms | throughput | p99 | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, label in (("disabled", "sync disabled (baseline)"), ("healthy", "healthy")):
            s = r["conditions"][key]
            lines.append(
                f"| {label} | {s['throughput']:.1f} | {_ms(s['p50'])} | {_ms(s['p99'])} | "
                f"{_x(s['throughput_x_baseline'])} | {_x(s['p99_x_baseline'])} | {s['errors']} |"
            )
        deliveries = ", ".join(
            f"{d['delivered_inline']} inline + {d['delivered_final'] - d['delivered_inline']} "
            f"by resync = {d['delivered_final']}/{d['marks']}, {d['analyzer_mismatches']} "
            "differing in the Analyzer"
            for d in r["deliveries"]
        )
        lines += ["", f"Marks delivered per run: {deliveries}.", ""]
    if "resync" in results:
        r = results["resync"]
        c = r["config"]
        lines += [
            f"**3. Resync throughput** — {r['seeded']['marks']} due marks "
            f"({r['seeded']['attempts']} attempts), median of {c['repeats']} runs; the naive "
            f"baseline timed on {r['variants']['naive']['marks']} of them.",
            "",
            "| variant | marks/s | × naive | SQL queries per 1,000 marks | seconds "
            "| command CPU ms/mark | machine CPU busy |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, s in r["variants"].items():
            label = "naive (original design)" if key == "naive" else f"command --{key}"
            cpu, busy = s.get("command_cpu_ms_per_mark"), s.get("machine_cpu_busy")
            lines.append(
                f"| {label} | {s['marks_per_s']:.0f} | {_x(s['x_naive'])} | "
                f"{s['queries_per_1000_marks']:.1f} | {s['seconds']:.1f} | "
                f"{'–' if cpu is None else f'{cpu:.2f}'} | "
                f"{'–' if busy is None else f'{busy:.0%}'} |"
            )
        lines.append("")
    if "drain" in results:
        lines += resync_drain.render(results["drain"])
    if "drain-upstream" in results:
        lines += resync_drain_upstream.render(results["drain-upstream"])
    lines += ["| target | measured | met |", "|---|---|---|"]
    for t in all_targets(results):
        met = "yes" if t["met"] else "**no**"
        lines.append(f"| {t['benchmark']}: {t['target']} | {t['value']} | {met} |")
    return "\n".join(lines) + "\n"


def save(results: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    md_path.write_text(render_markdown(results))
    return json_path, md_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=",".join(BENCHMARKS))
    parser.add_argument(
        "--repeats", type=int, help="runs per condition (default 3; the burst, 5: its p99 is noisy)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=RECOMMENDED_WORKERS,
        help=f"gunicorn workers (default {RECOMMENDED_WORKERS})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=RECOMMENDED_THREADS,
        help=f"threads per worker, gthread when > 1; 1 = sync workers "
        f"(default {RECOMMENDED_THREADS})",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL),
        help="a server on 127.0.0.1; the database named in it is created afresh and dropped",
    )
    parser.add_argument(
        "--burst-analyzer-latency-ms",
        type=float,
        default=5,
        help="the fake Analyzer's latency in the burst (default 5, the benchmark's)",
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=submit_latency.LatencyConfig.outage_seconds,
        help="latency: how long the scaled outage hangs the Analyzer (0 skips it; default 60, "
        "with a 3 s cool-off: 20 cool-offs, as 10 minutes at the shipped 30 s)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    only = tuple(x.strip() for x in args.only.split(",") if x.strip())
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}")
    name = args.database_url.rsplit("/", 1)[-1] or "quizsite_bench"
    results = run_all(
        database_url=args.database_url,
        only=only,
        db_name=name,
        latency=submit_latency.LatencyConfig(
            repeats=args.repeats or submit_latency.LatencyConfig.repeats,
            workers=args.workers,
            threads=args.threads,
            outage_seconds=args.outage_seconds,
        ),
        burst_config=burst.BurstConfig(
            repeats=args.repeats or burst.BurstConfig.repeats,
            workers=args.workers,
            threads=args.threads,
            analyzer_latency_ms=args.burst_analyzer_latency_ms,
        ),
        resync=resync_throughput.ResyncConfig(
            repeats=args.repeats or resync_throughput.ResyncConfig.repeats
        ),
    )
    json_path, md_path = save(results, args.results_dir)
    print()
    print(render_markdown(results))
    print(f"Saved {md_path} and {json_path.name}.")
    missed = [t for t in all_targets(results) if not t["met"]]
    for t in missed:
        print(f"MISSED: {t['benchmark']}: {t['target']} (measured {t['value']})", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
