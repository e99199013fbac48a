"""Each benchmark with a tiny N, so that bench/ keeps working; `make bench` runs the real ones.

They run the real thing end to end — a fresh database on the suite's server (PostgreSQL when
DATABASE_URL points at one, else an SQLite file), gunicorn and the fake Analyzer as separate
processes — and check what the benchmarks promise besides speed: no errors, one Analyzer call
per healthy submission, the shared breaker cutting calls short, every mark delivered.
"""

import math
import os

import pytest

from bench import burst, resync_drain, resync_drain_upstream, resync_throughput, submit_latency
from bench.harness import bench_database, machine_info
from bench.run import render_markdown
from bench.upstream import skip_reason

pytestmark = pytest.mark.timeout(240)

# Sub-second Analyzer timeouts so a hang costs the smoke test little (the benchmark itself
# runs on the shipped defaults).
QUICK = {"ACADEMIC_ANALYZER_CONNECT_TIMEOUT": "0.3", "ACADEMIC_ANALYZER_READ_TIMEOUT": "0.3"}


def _suite_server() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres", "pgsql")) else "sqlite:///"


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bench")
    name = f"quizsite_bench_smoke_{os.getpid()}"
    with bench_database(base_url=_suite_server(), name=name, workdir=workdir) as db:
        yield db, workdir


def _report(db, **results):
    return render_markdown(
        {"started_at": "now", "duration_seconds": 1, "machine": machine_info(db=db), **results}
    )


def test_submit_latency_smoke(bench_db):
    db, workdir = bench_db
    config = submit_latency.LatencyConfig(
        submissions=6,
        repeats=1,
        warmup=2,
        workers=2,
        site_overrides=QUICK,
        outage_seconds=2,
        outage_cool_off_seconds=1,
    )
    result = submit_latency.run(db=db, workdir=workdir, config=config, log=lambda line: None)

    conditions = result["conditions"]
    assert {c: s["errors"] for c, s in conditions.items()} == dict.fromkeys(conditions, 0)
    assert all(run["n"] == 6 for runs in result["runs"].values() for run in runs)
    requests = {c: s["analyzer_requests"] for c, s in conditions.items()}
    # One delivery per healthy submission, none without sync (a refused connection never
    # reaches the fake's log).
    assert requests | {"hanging": None, "slow": None} == {
        "disabled": [0],
        "healthy": [6],
        "refusing": [0],
        "hanging": None,
        "slow": None,
    }
    # One send cut off by its budget opens the breaker; the next submit hands the probe to
    # the background sender (it hangs too); nothing more within the cool-off.
    assert requests["hanging"] == [2]
    # What the result page told the student about the mark.
    says = {c: s["result_pages_say"] for c, s in conditions.items()}
    assert says | {"slow": None} == {
        "disabled": {"later": 6},
        "healthy": {"delivered": 6},
        "refusing": {"later": 6},
        "hanging": {"later": 6},
        "slow": None,
    }
    # Slow after fast answers: one cut off, then the probe's 400 ms, during which these few
    # submissions skip; the full benchmark's 200 show the budget adapted (bench/results).
    assert sum(says["slow"].values()) == 6
    # A hang costs one submission the budget (the floor, after fast answers), no more.
    assert 250 <= conditions["hanging"]["max"] < 1000
    outage = result["outage"]
    assert outage["submits_cut_off"] <= 1 and outage["background_probes"] >= 1
    assert outage["resumed_after_s"] is not None
    # The fake timed each answered delivery; our own cost is what is left of the difference.
    assert conditions["healthy"]["analyzer_service_p50"] > 0
    assert math.isfinite(conditions["healthy"]["own_cost_ms"])
    assert "Submit latency" in _report(db, latency=result)


def test_burst_smoke(bench_db):
    db, workdir = bench_db
    config = burst.BurstConfig(students=6, concurrency=3, repeats=1, workers=2)
    result = burst.run(db=db, workdir=workdir, config=config, log=lambda line: None)

    # Throughput and p99 ratios on 6 students say nothing; errors and delivery must hold.
    checked = [t for t in result["targets"] if "baseline" not in t["target"]]
    assert len(checked) == 2 and all(t["met"] for t in checked), result["targets"]
    (delivery,) = result["deliveries"]
    assert delivery["marks"] == delivery["delivered_final"] == 6
    assert delivery["analyzer_mismatches"] == 0
    assert result["conditions"]["healthy"]["throughput"] > 0
    assert "Exam-end burst" in _report(db, burst=result)


def test_resync_throughput_smoke(bench_db):
    db, workdir = bench_db
    # On SQLite the command runs one copy, one thread at a time (see its --help).
    workers = (1, 4) if db.vendor == "postgresql" else (1,)
    config = resync_throughput.ResyncConfig(marks=40, naive_marks=8, workers=workers, repeats=1)
    result = resync_throughput.run(db=db, workdir=workdir, config=config, log=lambda line: None)

    complete = result["targets"][-1]
    assert complete["met"], result["runs"]
    naive = result["runs"]["naive"][0]
    assert naive["marks"] == 8 and naive["attempts"] == 10  # every 4th mark has a retake
    assert naive["queries_per_1000_marks"] > 1000  # a query (or four) per attempt
    for w in workers:
        (run,) = result["runs"][f"workers={w}"]
        assert run["delivered"] == 40 and run["exit_code"] == 0
        assert 0 < run["queries"] < 40  # batched: nowhere near a query per mark
    assert "Resync throughput" in _report(db, resync=result)


def test_resync_drain_smoke(bench_db):
    db, workdir = bench_db
    workers = 4 if db.vendor == "postgresql" else 1
    config = resync_drain.DrainConfig(
        marks=40, courses=2, single_marks=8, max_rate=1000, workers=workers
    )
    result = resync_drain.run(db=db, workdir=workdir, config=config, log=lambda line: None)

    bulk, single = result["runs"]["bulk"], result["runs"]["single"]
    assert result["targets"][-1]["met"], result["runs"]  # every mark delivered and held
    assert (bulk["delivered"], single["delivered"]) == (40, 8)
    assert single["mark_requests"] == 8  # one POST per mark
    if bulk["bulk"] == "on":  # an Analyzer with add-tutN-mark: one request per slot
        assert bulk["mark_requests"] == 2 * 4
    else:  # without it: found missing (once per request on the wire), then one POST per mark
        assert bulk["bulk"] == "unsupported"
        assert 40 + 1 <= bulk["mark_requests"] <= 40 + 2 * workers
    assert bulk["course_checks"] == 2
    assert "Draining a backlog" in _report(db, drain=result)


def test_resync_drain_upstream_smoke(bench_db):
    reason = skip_reason()
    if reason:
        pytest.skip(f"upstream Analyzer cannot run: {reason}")
    db, workdir = bench_db
    workers = 4 if db.vendor == "postgresql" else 1
    config = resync_drain_upstream.UpstreamDrainConfig(
        courses=2, students=5, single_marks=6, max_rate=1000, workers=workers, probe_marks=3
    )
    result = resync_drain_upstream.run(db=db, workdir=workdir, config=config, log=lambda _: None)

    assert "skipped" not in result, result["skipped"]
    bulk, single = result["runs"]["bulk"], result["runs"]["single"]
    # 20 marks cannot make 20× fewer requests; delivery and the read-back must hold.
    assert result["targets"][-1]["met"], result["runs"]
    assert (bulk["bulk"], bulk["delivered"], single["delivered"]) == ("on", 20, 6)
    assert bulk["mark_requests"] == 2 * 2  # one add-tutN-mark per course and tutorial
    assert single["mark_requests"] == 6  # one POST per mark
    assert bulk["course_checks"] == 2
    assert bulk["read_back"] == {"checked": 20, "held": 20, "mismatches": 0}
    assert single["read_back"] == {"checked": 6, "held": 6, "mismatches": 0}
    assert {p["bulk_items"] for p in result["upstream"]["probes"].values()} == {2 * 5}
    assert "into upstream's real code" in _report(db, **{"drain-upstream": result})


def test_resync_drain_upstream_is_skipped_with_the_reason(bench_db, monkeypatch, tmp_path):
    db, workdir = bench_db
    monkeypatch.setenv("UPSTREAM_ANALYZER_DIR", str(tmp_path / "nowhere"))
    config = resync_drain_upstream.UpstreamDrainConfig()

    result = resync_drain_upstream.run(db=db, workdir=workdir, config=config, log=lambda _: None)

    assert result["targets"] == []
    assert "upstream Analyzer not found" in result["skipped"]
    assert "skipped: upstream Analyzer not found" in _report(db, **{"drain-upstream": result})


def test_resync_drain_upstream_refusing_its_seeding_is_a_missed_target(monkeypatch, tmp_path):
    import contextlib

    from bench import upstream

    @contextlib.contextmanager
    def started(state_dir):
        up = upstream.UpstreamAnalyzer(tmp_path, state_dir, "http://127.0.0.1:1")
        up.start_seconds = 0.0
        yield up

    def refuse(up, config):
        raise upstream.UpstreamError("POST /staff/create-course: 500")

    monkeypatch.setattr(upstream, "skip_reason", lambda: None)
    monkeypatch.setattr(upstream, "running_upstream_analyzer", started)
    monkeypatch.setattr(resync_drain_upstream, "seed_upstream", refuse)
    config = resync_drain_upstream.UpstreamDrainConfig()

    result = resync_drain_upstream.run(db=None, workdir=tmp_path, config=config, log=lambda _: None)

    assert [t["met"] for t in result["targets"]] == [False]  # `make bench` exits 1
    assert "refused seeding" in result["skipped"]
    assert resync_drain_upstream.render(result)[0].startswith("**4b. Draining a backlog into")
    assert "FAILED: upstream refused seeding" in resync_drain_upstream.render(result)[0]
