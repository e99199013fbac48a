"""Where a healthy submission's time goes: N sequential submissions to one gunicorn worker
whose submit POSTs run under cProfile (bench/profiled_wsgi.py), with the fake Analyzer at
5 ms, on a fresh PostgreSQL database; prints milliseconds per submission for the steps of
the submit path and the functions that cost most.

    flock /work/wt/bench.lock python -m bench.profile_submit --submissions 300

cProfile adds its own overhead to every Python call (roughly doubling pure-Python time), so
read the shares, not the absolute numbers; waits (PostgreSQL, the Analyzer) are wall time.
"""

from __future__ import annotations

import argparse
import glob
import os
import pstats
import shutil
import tempfile
from pathlib import Path

from bench.browser import StudentBrowser
from bench.harness import (
    BENCH_TOKEN,
    DEFAULT_PG_URL,
    Gunicorn,
    bench_database,
    class_with_fake_analyzer,
    site_env,
)

#: The steps of the submit path, as (label, file suffix, function name); nested ones indented.
STEPS = (
    ("whole request (Django)", "django/core/handlers/wsgi.py", "__call__"),
    ("  submit view", "quizzes/views.py", "attempt_submit_view"),
    ("    attempt_submit (transaction)", "quizzes/services.py", "attempt_submit"),
    ("      mark_record_attempt", "services/recording.py", "mark_record_attempt"),
    ("    inline delivery (after commit)", "services/delivery.py", "mark_deliver_inline"),
    ("      inline_gate (sync state read)", "academic_integration/sync_state.py", "inline_gate"),
    ("      mark_send", "services/delivery.py", "mark_send"),
    ("        client._send", "client/analyzer.py", "_send"),
    ("          Session.request", "requests/sessions.py", "request"),
    ("            prepare_request", "requests/sessions.py", "prepare_request"),
    ("            merge_environment_settings", "sessions.py", "merge_environment_settings"),
    ("            HTTPAdapter.send", "requests/adapters.py", "send"),
    ("              urlopen", "urllib3/connectionpool.py", "urlopen"),
    ("                getresponse (waiting)", "urllib3/connection.py", "getresponse"),
    ("          _read_body", "client/analyzer.py", "_read_body"),
    ("          watchdog guard (enter + exit)", "client/deadline.py", "guard"),
    ("          watchdog attach/detach", "client/deadline.py", "attach"),
    ("          _result", "client/analyzer.py", "_result"),
    ("      marks_write_back (write-back)", "services/writeback.py", "marks_write_back"),
    ("        _write_outcomes", "services/writeback.py", "_write_outcomes"),
    ("        attempts_settle", "services/writeback.py", "attempts_settle"),
    ("      log_delivery", "services/delivery.py", "log_delivery"),
    ("  cursor.execute (all SQL, wall)", "django/db/backends/utils.py", "_execute"),
)


def _stat(stats: pstats.Stats, suffix: str, name: str) -> tuple[int, float]:
    calls, cum = 0, 0.0
    # Stats.stats: pstats' table of every function, which typeshed does not declare.
    for (filename, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and filename.endswith(suffix):
            calls += nc
            cum += ct
    return calls, cum


#: Steps told apart by their caller: (label, file suffix, function, caller's file suffix, name).
CALLED_FROM = (
    (
        "        history row (objects.bulk_create)",
        "django/db/models/manager.py",
        "manager_method",
        "services/writeback.py",
        "marks_write_back",
    ),
    (
        "      commit of the write-back",
        "django/db/transaction.py",
        "__exit__",
        "services/writeback.py",
        "relaxed_commit",
    ),
)


def _called_from(stats: pstats.Stats, suffix: str, name: str, by: tuple[str, str]) -> float:
    cum = 0.0
    for (filename, _line, func), (_cc, _nc, _tt, _ct, callers) in stats.stats.items():  # type: ignore[attr-defined]  # as in _stat
        if func == name and filename.endswith(suffix):
            for (caller_file, _l, caller), timing in callers.items():
                if caller == by[1] and caller_file.endswith(by[0]):
                    cum += timing[3]
    return cum


def report(stats: pstats.Stats, submissions: int) -> str:
    lines = [f"ms per submission over {submissions} (cumulative, calls per submission):"]
    for label, suffix, name in STEPS:
        calls, cum = _stat(stats, suffix, name)
        if calls:
            lines.append(
                f"  {label:48} {cum * 1000 / submissions:7.2f} ms  {calls / submissions:5.1f}"
            )
    for label, suffix, name, by_file, by_name in CALLED_FROM:
        cum = _called_from(stats, suffix, name, (by_file, by_name))
        lines.append(f"  {label:48} {cum * 1000 / submissions:7.2f} ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--disabled", action="store_true", help="sync off (the baseline)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG_URL.replace("_bench", "_prof")),
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="quizsite-profile-"))
    out = str(workdir / "submit.prof")
    total = args.submissions + args.warmup
    try:
        name = args.database_url.rsplit("/", 1)[-1]
        with (
            bench_database(base_url=args.database_url, name=name, workdir=workdir) as db,
            class_with_fake_analyzer(
                database_url=db.url, prefix="P", count=total, course="BENCHP"
            ) as (data, fake),
        ):
            env = site_env(
                database_url=db.url,
                cache_dir=workdir / "cache",
                analyzer_url=None if args.disabled else fake.api_url,
                token=BENCH_TOKEN,
                BENCH_PROFILE_OUT=out,
            )
            with Gunicorn(
                env=env, workers=1, log_path=workdir / "gunicorn.log", app="bench.profiled_wsgi"
            ) as site:
                browsers = [
                    StudentBrowser(base_url=site.url, username=n, session_id=k)
                    for n, k in data["students"]
                ]
                for browser in browsers:
                    post = browser.submit(browser.open_quiz(data["quiz_path"]), data["correct"])
                    if not post.ok:
                        raise SystemExit(f"submission failed: {post.status} {post.error}")
                for browser in browsers:
                    browser.close()
            print(f"fake Analyzer: {fake.control.stats()}")
        stats = pstats.Stats(*glob.glob(out + ".*"))
        # The warm-up submissions are profiled too; they are few and the same work.
        print(report(stats, total))
        print()
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
