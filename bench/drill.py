"""The fault drill: students submit and retake tutorial quizzes while the Analyzer misbehaves;
in the end every mark must be in the Analyzer, exactly right, and nothing sent out of turn.

    python -m bench.drill                   # `make drill`: thousands of submissions
    python -m bench.drill --seed 7 --rounds 12 --submissions-per-round 25

A seeded script of rounds on a frozen clock (time-machine: each submission moves it up to 30 s,
each round ten minutes more, so backoff, Retry-After, the breaker, the course cache and claim
leases all play out without waiting). Submissions go through the real views (Django's test
client): a random student takes a random one of four quizzes (two courses x two tutorials,
graded by `highest` and by `latest`) with a random number of right answers. For a share of them
the post-commit delivery is dropped, as if the process died between the commit and the call,
and for some of those the dead process also leaves its claim on the mark. Every few submissions
a resync run, as cron would; in every other round one of them is killed between its sends and
its write-back (see `KilledRuns`), leaving its claims to expire. Meanwhile the fake Analyzer
answers a random share of requests with 500s, 503s with Retry-After, hangs, connection resets,
HTML login pages, late answers (stored after the client gave up: a late write, followed at once
by a retake of that mark, so that it can land on top of a newer value), trickles (stored, then
headers and a byte at a time: only the total deadline ends them) and floods (stored, then a
200 JSON body without end: only the body cap ends it); one course is deleted for some rounds
and then restored; the token is rotated on the Analyzer for some rounds and only later updated in
settings. At the end the Analyzer is healthy and the course back: one
`resync_tutorial_marks --include-failed`, then resync runs (moving the clock to the next try
when only backoff is left) until nothing is due.

Checked against an independent model of every submission (not the site's own data) and the
requests the fake received, each charged to the action that sent it (a submission, a resync
run: `RequestTags`), however late the fake gets to log it:

- after every submission: at most one request, only for its own mark, carrying the grade the
  quiz's method gives over that student's attempts so far; none when its delivery was cut off
  or another process holds the mark's claim; no other mark changed;
- after every resync run: only marks due when it started were sent (pending, or retrying with
  the next try come, and not under a live claim; rejected and given-up ones only when asked
  again with --include-failed), each at most once and with its current grade, each course
  checked at most once, and no mark that was not due changed at all;
- the token: no 401 before the rotation or after the settings fix; once the site had a 401
  for the configured token, no submission calls again, and a resync run stops after the one
  call that finds out;
- at the end: every completed attempt is `marks_synced` (zero lost); the Analyzer holds, for
  every student, course and tutorial, exactly the model's grade, and nothing for slots never
  taken (zero stale); every mark is delivered at its current version; the history never shows
  a delivery the Analyzer did not store, and every POST left a history row (but those of the
  killed runs); every fault kind fired at least `min_fault_firings` times (the fake's
  counters; for the deleted course and the rotated token, its 404 and 401 answers; the
  killed runs).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

if TYPE_CHECKING:  # imported where used: Django is set up by then
    from django.test import override_settings

MARKS_PATH = "/api/staff/update-student-marks"
#: add-tut1-mark … add-tut4-mark: one tutorial of one course for many students (resync, bulk).
BULK_PATH = re.compile(r"^/api/staff/add-tut([1-4])-mark$")
# While late writes are in the air the clock moves a second per step, for at most this long:
# well inside ACADEMIC_ANALYZER_LATE_WRITE_SECONDS (60), as a real late write would be.
LATE_MODE = timedelta(seconds=30)
DETAIL_PATH = "/api/staff/course-detail"
TEACHER_EMAIL = "drill.teacher@college.edu"
ROTATED_TOKEN = "drill-rotated-token"
DEAD_OWNER = "inline:dead-worker"
#: How long the drill waits, after an action, for the fake to log the requests it sent (its
#: handler threads may wait for the CPU on a loaded machine).
LOG_WAIT_SECONDS = 30


def _no_options(cfg: DrillConfig) -> dict[str, Any]:
    return {}


#: The fake Analyzer's fault kinds the weather draws from, each with the options it is played
#: with. A new kind is one entry here (and in STORING_FAULTS if the Analyzer stores the value).
RANDOM_FAULTS: dict[str, Callable[[DrillConfig], dict[str, Any]]] = {
    "500": _no_options,
    "503": lambda cfg: {"retry_after": cfg.retry_after_seconds},
    "hang": _no_options,
    "reset": _no_options,
    "html": _no_options,
    # Answers after the client gave up and stores the value then: a late write.
    "slow": lambda cfg: {"delay_ms": cfg.timeout_seconds * 1000 + cfg.late_by_ms},
    # Stores, then sends its headers and a byte per interval: only the total deadline ends it.
    "trickle": lambda cfg: {"delay_ms": cfg.trickle_interval_ms},
    # Stores, then answers 200 with a JSON body without end: only the body cap ends it.
    "flood": _no_options,
}
#: Faults whose request the Analyzer really stored, although the site saw no clean answer.
STORING_FAULTS = ("slow", "trickle", "flood")
#: Faults whose answer the site never reads whole (the deadline or the body cap ends it).
UNREAD_FAULTS = ("trickle", "flood")
COURSES = ("DRILLA", "DRILLB")
DELETED_COURSE = "DRILLB"
# (course, tutorial) -> grading method: both methods in both courses.
QUIZZES = {
    ("DRILLA", 1): "highest",
    ("DRILLA", 2): "latest",
    ("DRILLB", 1): "latest",
    ("DRILLB", 2): "highest",
}
_ACTION = re.compile(r'action="(/attempts/\d+/submit/)"')

Slot = tuple[str, str, int]  # (roll number, course id, tutorial number)


@dataclass
class DrillConfig:
    seed: int = 20261122
    students: int = 24
    rounds: int = 20
    submissions_per_round: int = 20
    questions: int = 7  # so grades are not whole numbers (k/7 on a 0-10 scale)
    drop_fraction: float = 0.1  # deliveries cut off between commit and the call
    dead_claim_fraction: float = 0.3  # of those, the dead process also holds the mark's claim
    fault_fraction: float = 0.06  # per random fault kind, per request
    retry_after_seconds: int = 1200  # longer than a round: resync runs must wait it out
    course_deleted_rounds: tuple[int, int] = (2, 10)  # [from, to)
    # [from, to): the token is rotated on the Analyzer at `from`, updated in settings at `to`
    token_rotated_rounds: tuple[int, int] = (9, 15)
    max_step_seconds: int = 30  # the clock moves 1..this between submissions
    resync_every: int = 5  # submissions between resync runs (cron)
    round_gap_seconds: int = 600
    workers: int = 1
    # Resync in bulk (add-tutN-mark), as shipped; an Analyzer without the route has it fall
    # back to one POST per mark, remembered: the drill then checks those POSTs.
    bulk_size: int = 200
    timeout_seconds: float = 0.25  # connect and read: a hang costs this
    total_timeout_seconds: float = 0.3  # the whole request: a trickle costs this
    trickle_interval_ms: int = 50  # ~60 bytes at this pace: 3 s, far past the deadline
    # A resync run is killed between its sends and its write-back in every this many rounds.
    kill_every_rounds: int = 2
    late_by_ms: int = 1000  # a "slow" answer is stored this long after the client gave up
    max_tries: int = 4  # small, so marks get given up and must be asked again
    course_cache_seconds: int = 60  # how long a missing course is skipped inline
    min_fault_firings: int = 10
    final_runs_max: int = 60
    # [from, to): CACHE_URL at a Redis where nothing listens; nothing may notice
    cache_down_rounds: tuple[int, int] = (5, 9)


#: A cache where nothing listens (the "cache down" rounds).
DOWN_CACHE = {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:6390/0",
}


# --- the model of what was submitted ----------------------------------------------------------


def scaled(correct: int, questions: int) -> Decimal:
    """correct/questions on the 0-10 scale, two places, half up (computed here, not by the site)."""
    return (Decimal(correct) * 10 / Decimal(questions)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


@dataclass
class SlotModel:
    method: str
    scores: list[Decimal] = field(default_factory=list)  # in submission order

    def grade(self) -> Decimal | None:
        if not self.scores:
            return None
        return self.scores[-1] if self.method == "latest" else max(self.scores)


# --- what the fake received, and the checks -------------------------------------------------


def _slot(roll: object, course_id: object, tutorial: int) -> Slot | None:
    """The slot a request names, or None when its body does not name one (not strings)."""
    if isinstance(roll, str) and isinstance(course_id, str):
        return (roll, course_id, tutorial)
    return None


@dataclass(frozen=True)
class Received:
    time: float
    method: str
    path: str
    authorized: bool
    status: int | None
    fault: str | None
    slot: Slot | None = None
    value: Decimal | None = None
    course: str | None = None
    message: str = ""

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> Received:
        body, slot, value, course = entry.get("body"), None, None, None
        if entry["path"] == MARKS_PATH and isinstance(body, dict):
            marks = body.get("marks")
            items = list(marks.items()) if isinstance(marks, dict) else []
            if len(items) == 1 and str(items[0][0]).startswith("tutorial"):
                key, raw = items[0]
                slot = _slot(
                    body.get("studentId"), body.get("courseId"), int(key[len("tutorial") :])
                )
                value = Decimal(str(raw))
            course = body.get("courseId")
        elif entry["path"] == DETAIL_PATH:
            course = (entry.get("query") or {}).get("courseId")
        return cls(
            time=entry["time"],
            method=entry["method"],
            path=entry["path"],
            authorized=bool(entry["authorized"]),
            status=entry["status"],
            fault=entry["fault"],
            slot=slot,
            value=value,
            course=course,
        )

    @classmethod
    def parse_all(cls, entry: dict[str, Any]) -> list[Received]:
        """The entry as sends of marks: one per item of a bulk request (all sharing its status
        and fault: a bulk request is stored, cut off or refused as a whole here), else one."""
        request = cls.parse(entry)
        tutorial, body = BULK_PATH.match(entry["path"]), entry.get("body")
        items = body.get("studentInput") if isinstance(body, dict) else None
        if not tutorial or not isinstance(body, dict) or not isinstance(items, list):
            return [request]
        course = body.get("courseId")
        sends = [
            replace(
                request,
                slot=_slot(item.get("rollno"), course, int(tutorial.group(1))),
                value=Decimal(str(item.get("mark"))),
                course=course,
            )
            for item in items
            if isinstance(item, dict) and item.get("mark") is not None
        ]
        return sends or [request]

    @property
    def is_post(self) -> bool:
        if self.method != "POST":
            return False
        return self.path == MARKS_PATH or (
            self.slot is not None and BULK_PATH.match(self.path) is not None
        )

    @property
    def stored(self) -> bool:
        """The Analyzer stored the value: a 200 it answered itself (late, for "slow"; then
        trickled or flooded, for those)."""
        return (
            self.is_post
            and self.status == 200
            and self.fault in (None, *STORING_FAULTS)
            and self.authorized
        )


@dataclass(frozen=True)
class MarkState:
    status: str
    next_try_at: datetime | None
    claim_expires_at: datetime | None
    version: int
    delivered_version: int
    value: Decimal
    tries: int = 0
    reason: str = field(default="", compare=False)


def is_due(state: MarkState, *, now: datetime, include_failed: bool) -> bool:
    """Whether a resync run starting at `now` may send this mark (the contract of issue 4).

    A mark rejected because its course was missing may be sent too: the run asks about the
    course again and puts its marks back when the course is back (issue 17, restore)."""
    if state.claim_expires_at is not None and state.claim_expires_at >= now:
        return False  # someone (maybe dead) holds it until the lease ends
    if state.status == "pending":
        return True
    if state.status == "retrying":
        return state.next_try_at is None or state.next_try_at <= now
    if state.status == "rejected" and state.reason == "course_not_found":
        return True
    return include_failed and state.status in ("rejected", "given_up")


def check_submission(
    *,
    slot: Slot,
    cut_off: bool,
    before: MarkState | None,
    now: datetime,
    received: list[Received],
    grade: Decimal | None,
) -> list[str]:
    """What one submission may have sent: at most one request, for its own mark, its grade."""
    problems = []
    where = f"submission {slot}"
    if len(received) > 1:
        problems.append(f"{where}: {len(received)} requests inline (at most one)")
    held = (
        before is not None
        and before.claim_expires_at is not None
        and before.claim_expires_at >= now
    )
    for r in received:
        if cut_off:
            problems.append(f"{where}: {r.method} {r.path} although its delivery was cut off")
        elif held:
            problems.append(f"{where}: sent while another process held the mark's claim")
        if r.path == MARKS_PATH and r.slot != slot:
            problems.append(f"{where}: sent another mark {r.slot}")
        if r.is_post and r.value != grade:
            problems.append(f"{where}: sent {r.value}, the grade is {grade}")
    return problems


def check_untouched(
    *, action: str, before: dict[Slot, MarkState], after: dict[Slot, MarkState], may_change
) -> list[str]:
    """Marks an action had no business with must come out of it exactly as they went in."""
    return [
        f"{action}: changed {slot} while {state.status} (not its business): {state} -> "
        f"{after.get(slot)}"
        for slot, state in before.items()
        if not may_change(slot, state) and after.get(slot) != state
    ]


def check_resync(
    *,
    run: str,
    before: dict[Slot, MarkState],
    now: datetime,
    received: list[Received],
    grades: dict[Slot, Decimal | None],
    include_failed: bool,
) -> list[str]:
    """What one resync run may have sent: only marks due at its start, once, current grades."""
    problems = []
    posts = Counter(r.slot for r in received if r.is_post)
    for slot, n in posts.items():
        state = before.get(slot) if slot is not None else None
        if state is None:
            problems.append(f"{run}: sent {slot}, which has no mark")
            continue
        if not is_due(state, now=now, include_failed=include_failed):
            claim = state.claim_expires_at
            why = "claimed until " + str(claim) if claim and claim >= now else state.status
            if state.status == "retrying" and state.next_try_at and state.next_try_at > now:
                why = f"retrying, next try at {state.next_try_at}"
            problems.append(f"{run}: sent {slot} while {why}")
        if n > 1:
            problems.append(f"{run}: sent {slot} {n} times")
    for r in received:
        if r.is_post and r.slot in grades and r.value != grades[r.slot]:
            problems.append(f"{run}: sent {r.slot} = {r.value}, the grade is {grades[r.slot]}")
    checks = Counter(r.course for r in received if r.path == DETAIL_PATH)
    problems += [f"{run}: checked course {c} {n} times" for c, n in checks.items() if n > 1]
    return problems


@dataclass
class TokenWatch:
    """Calls with a rejected token. The site finds out from a 401/403 answer (a call answered
    by some other failure first has not found out, nor has one whose 401 trickled or flooded
    past the deadline or the body cap: the site never saw the whole answer). From then on,
    while the same token is configured, submissions make no call but one probe per cool-off
    (the breaker's reset time), and a resync run makes at most the one call that finds out
    (each run checks for itself, as cron runs it, and stops at once). None before the
    rotation, none after the settings are updated. A resync run killed before its write-back
    found out but remembered nothing, so the site's probe clock does not move for it."""

    rotated: bool = False
    fixed: bool = False
    known: bool = False  # the site has had a 401/403 for the configured token
    rejections: int = 0
    known_at: datetime | None = None  # the last 401/403 or inline probe

    def check(
        self,
        *,
        action: str,
        trigger: str,
        received: list[Received],
        now: datetime | None = None,
        remembered: bool = True,
    ) -> list[str]:
        from django.conf import settings

        cool_off = timedelta(seconds=settings.ACADEMIC_ANALYZER_BREAKER_RESET_SECONDS)
        problems = []
        found_at = None
        for i, r in enumerate(received):
            if trigger == "inline" and self.known:
                if (
                    now is not None
                    and self.known_at is not None
                    and now - self.known_at >= cool_off
                ):
                    self.known_at = now  # the one probe of this cool-off
                else:
                    problems.append(
                        f"{action}: {r.method} {r.path} inline although the token was known to "
                        "be rejected (and no probe was due)"
                    )
            if r.status not in (401, 403):
                continue
            self.rejections += 1
            if not self.rotated:
                problems.append(f"{action}: the token was rejected before it was rotated")
            if self.fixed:
                problems.append(f"{action}: the token was rejected after the settings fix")
            if r.fault in UNREAD_FAULTS:
                continue  # cut off unread: the site learnt nothing, its probe clock is unchanged
            found_at = i if found_at is None else found_at
            if not remembered:
                continue  # the run died before its write-back: the site kept nothing of it
            self.known_at = now if now is not None else self.known_at
            self.known = True
        if trigger == "resync" and found_at is not None and len(received) > found_at + 1:
            problems.append(
                f"{action}: {len(received) - found_at - 1} more calls after the token was "
                "rejected (the run should stop at once): "
                + ", ".join(
                    f"{r.method} {r.path} {r.status} {r.fault}" for r in received[found_at:]
                )
            )
        return problems

    def settings_updated(self) -> None:
        self.fixed, self.known = True, False


# --- the drill ----------------------------------------------------------------------------


class _Killed(BaseException):
    """Ends a killed run's thread once the drill is over (nothing catches it on the way)."""


class KilledRuns:
    """Resync runs killed between their sends and their write-back, as by SIGKILL.

    Each runs in a thread of its own that stops for good on reaching its write-back: the
    Analyzer has answered every request it sent, its claims stay on its marks until their
    lease ends, nothing is written back, released or logged. (A thread rather than a process,
    so that it shares the drill's frozen clock and test database;
    tests/promises/test_killed_resync.py kills a real process at the same point.) The threads
    are let go, and their database connections closed, only after the final checks.
    """

    def __init__(self) -> None:
        self._reached: dict[threading.Thread, threading.Event] = {}
        self._release = threading.Event()
        self._patch: Any = None

    def __enter__(self) -> KilledRuns:
        from academic_integration.resync.run import _Run

        real, reached, release = _Run.write_back, self._reached, self._release

        def write_back(run, batch, tries, rejected):
            at = reached.get(threading.current_thread())
            if at is None:
                return real(run, batch, tries, rejected)
            # Dead, as by SIGKILL: its senders stop too. With several workers the next batch
            # is being sent meanwhile: a request already out ends, none starts, before the
            # drill looks (else it would reach the fake during a later action).
            run.stop.set()
            if run.pool is not None:
                run.pool.shutdown(wait=True, cancel_futures=True)
            at.set()
            release.wait()  # dead: this never comes back while the drill runs
            raise _Killed

        self._patch = mock.patch.object(_Run, "write_back", write_back)
        self._patch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        for thread in self._reached:
            thread.join(10)
        self._patch.stop()

    def run(self, options) -> bool:
        """Start a resync run that dies at its write-back; True once it is dead there, False
        when it ended without anything to write back."""
        from academic_integration.resync import resync_run

        def target() -> None:
            from django.db import connections

            try:
                resync_run(options)
            except _Killed:
                pass
            finally:
                connections.close_all()

        thread = threading.Thread(target=target, name="killed-resync", daemon=True)
        at = self._reached[thread] = threading.Event()
        thread.start()
        while not at.wait(0.005):
            if not thread.is_alive():
                return at.is_set()
        return True


class RequestTags:
    """Every request the site sends to the Analyzer carries the drill action it belongs to.

    The fake logs a request once its handler thread has read it; on a loaded machine that can
    come after the client gave up on it (an inline send cut off by its budget, a resync
    request past its timeout), when the drill has moved on to its next action. Counting
    requests by when the fake logged them would then charge one action with another's
    request (a submission "sending another mark"). So each request gets an X-Request-Id
    naming its action, the drill waits until the fake has logged every request whose head
    went out, and each check sees exactly the requests of its own action: no more (a late
    one of an earlier action), no fewer (one still on its way).
    """

    HEADER = "X-Request-Id"
    PREFIX = "drill-"

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.action = 0  # the action now running; 0: none (setup)
        self.names: dict[int, str] = {0: "setup"}
        self._ids = iter(range(1, sys.maxsize))
        self._action_of: dict[str, int] = {}
        self._written: set[str] = set()  # requests whose head reached the socket
        self._local = threading.local()
        self._lock = threading.Lock()
        self._patches: list[Any] = []

    def __enter__(self) -> RequestTags:
        import http.client

        from requests.adapters import HTTPAdapter

        # The client sends on its session's adapter (not through Session.send).
        real_send, real_write = HTTPAdapter.send, http.client.HTTPConnection.send
        tags = self

        def send(adapter, request, **kwargs):
            if not str(request.url).startswith(tags.api_url):
                return real_send(adapter, request, **kwargs)
            with tags._lock:
                tag = f"{tags.PREFIX}{next(tags._ids)}"
                tags._action_of[tag] = tags.action
            request.headers[tags.HEADER] = tag
            tags._local.tag = tag
            try:
                return real_send(adapter, request, **kwargs)
            finally:
                tags._local.tag = None

        def write(connection, data):
            real_write(connection, data)
            tag = getattr(tags._local, "tag", None)
            if tag is not None:
                with tags._lock:
                    tags._written.add(tag)  # the fake will log it, however late

        self._patches = [
            mock.patch.object(HTTPAdapter, "send", send),
            mock.patch.object(http.client.HTTPConnection, "send", write),
        ]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for patch in reversed(self._patches):
            patch.stop()

    def begin(self, name: str) -> int:
        """A new action starts: the requests sent from now on are its own."""
        self.action += 1
        self.names[self.action] = name
        return self.action

    def action_of(self, entry: dict[str, Any]) -> int | None:
        """The action that sent a logged request; None for one the drill did not tag."""
        with self._lock:
            return self._action_of.get(entry.get("request_id") or "")

    def unlogged(self, entries: list[dict[str, Any]]) -> set[str]:
        """Requests whose head went out but that the fake has not logged yet."""
        logged = {e.get("request_id") for e in entries}
        with self._lock:
            self._written -= logged
            return set(self._written)

    def forget(self, tags: set[str]) -> None:
        """Stop waiting for these (sent on a connection the fake had already dropped)."""
        with self._lock:
            self._written -= tags


@dataclass
class DrillReport:
    config: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    final: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.violations + self.final

    def text(self) -> str:
        lines = [f"Fault drill, seed {self.config['seed']}:"]
        lines += [f"  {key.replace('_', ' ')}: {value}" for key, value in self.counts.items()]
        lines.append(
            "  faults fired: " + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        )
        if self.problems:
            lines.append(f"  PROBLEMS ({len(self.problems)}):")
            lines += [f"    {p}" for p in self.problems[:50]]
        else:
            lines.append("  invariants: zero lost, zero stale, nothing sent out of turn — all hold")
        return "\n".join(lines)


class _Drill:
    def __init__(
        self, *, config: DrillConfig, control, clock, killed: KilledRuns, tags: RequestTags
    ):

        self.config = config
        self.control = control
        self.clock = clock
        self.course_deleted = False
        self.cache_down: override_settings | None = None  # while the drill has the cache down
        self.rng = random.Random(config.seed)
        self.report = DrillReport(config=asdict(config))
        self.counts: Counter[str] = Counter()
        self.models: dict[Slot, SlotModel] = {}
        # Values each mark's POSTs carried, and those the Analyzer stored.
        # (A request whose body names no slot counts under None.)
        self.posted: dict[Slot | None, Counter[Decimal | None]] = defaultdict(Counter)
        # Of those, the POSTs of runs killed before their write-back: no history row.
        self.posted_unlogged: dict[Slot | None, Counter[Decimal | None]] = defaultdict(Counter)
        self.stored: dict[Slot | None, Counter[Decimal | None]] = defaultdict(Counter)
        self.deleted_answers = 0
        self.cursor = 0  # entries of the fake's log already looked at
        self.sequence = 0  # mark POSTs so far, in the order the fake got them
        # Slow POSTs not landed yet, by the fake's entry (a bulk request: one per item).
        self.late: dict[int, list[tuple[Received, int]]] = {}
        self.late_until: datetime | None = None
        self.last_stored: dict[Slot | None, int] = {}
        self.retake_next: Slot | None = None
        self.tokens = TokenWatch()
        self.marks_rejected_seen: set[Slot] = set()
        self.marks_given_up_seen: set[Slot] = set()
        self.killed = killed
        self.tags = tags
        self.kill_due = False  # this round still has a resync run to kill

    # setup

    def setup(self) -> None:
        from django.contrib.auth.models import Group
        from django.test import Client

        from bench.fixtures import students_create
        from quizzes.importing import TEACHERS_GROUP, quiz_import

        # A migration creates it; a flush by an earlier transactional test does not restore it.
        Group.objects.get_or_create(name=TEACHERS_GROUP)

        self.rolls = [f"DRL{n:03d}" for n in range(self.config.students)]
        users = students_create(usernames=self.rolls)
        self.clients = {}
        for user in users:
            client = Client()
            client.force_login(user)
            self.clients[user.username] = client
        self.quizzes = {}
        for (course, tutorial), method in QUIZZES.items():
            data = {
                "title": f"Drill {course} tutorial {tutorial}",
                "quiz_type": "tutorial",
                "course_id": course,
                "tutorial_number": tutorial,
                "created_by": TEACHER_EMAIL,
                "grading_method": method,
                "max_attempts": None,
                "questions": [
                    {
                        "text": f"Q{i + 1}",
                        "points": 1,
                        "choices": [{"text": "right", "correct": True}, {"text": "wrong"}],
                    }
                    for i in range(self.config.questions)
                ],
            }
            from quizzes.importing import teacher_get_or_create
            from quizzes.models import Course

            # Only a course's teachers add quizzes to it, and only its students take them.
            course_row, _ = Course.objects.get_or_create(pk=course)
            course_row.teachers.add(teacher_get_or_create(email=TEACHER_EMAIL)[0])
            course_row.students.add(*users)
            quiz = quiz_import(data=data).quiz
            answers = []
            for question in quiz.questions.prefetch_related("choices"):
                right = next(c.pk for c in question.choices.all() if c.is_correct)
                wrong = next(c.pk for c in question.choices.all() if not c.is_correct)
                answers.append((f"q_{question.pk}", right, wrong))
            self.quizzes[course, tutorial] = (quiz, answers)
            for roll in self.rolls:
                self.models[roll, course, tutorial] = SlotModel(method)
        self.control.seed(
            {
                "teachers": [TEACHER_EMAIL],
                "courses": [
                    {"course_id": c, "name": c, "instructor": TEACHER_EMAIL, "students": self.rolls}
                    for c in COURSES
                ],
            }
        )
        self.control.clear_received()
        self.control.clear_stats()
        self.cursor = 0

    # observation

    def now(self) -> datetime:
        from django.utils import timezone

        return timezone.now()

    def snapshot(self) -> dict[Slot, MarkState]:
        from academic_integration.models import TutorialMark

        states = {}
        for row in TutorialMark.objects.filter(student__username__in=self.rolls).values_list(
            "student__username",
            "course_id",
            "tutorial_number",
            "status",
            "next_try_at",
            "claim_expires_at",
            "version",
            "delivered_version",
            "value",
            "tries",
            "reason",
        ):
            states[row[0], row[1], row[2]] = MarkState(*row[3:])
            if row[3] == "rejected":
                self.marks_rejected_seen.add((row[0], row[1], row[2]))
            elif row[3] == "given_up":
                self.marks_given_up_seen.add((row[0], row[1], row[2]))
        return states

    def take_received(self, action: int) -> list[Received]:
        """The requests of ``action`` (the one just done) the fake received, with their answers
        noted. Every request the fake logged since the last call is noted (what was posted and
        stored); only ``action``'s own are returned for its checks (see ``RequestTags``)."""
        # Wait until the fake has logged every request whose head went out (its handler may
        # not have been scheduled yet), and noted the answers of those being answered (a
        # faulted request has its fault noted before anything goes out).
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        entries = self.control.received()
        if self.tags.unlogged(entries):
            self.counts["actions whose requests the fake logged after they ended"] += 1
        while time.monotonic() < deadline and (
            self.tags.unlogged(entries)
            or any(e["status"] is None and e["fault"] is None for e in entries[self.cursor :])
        ):
            time.sleep(0.005)
            entries = self.control.received()
        never = self.tags.unlogged(entries)
        if never:  # written on a connection the fake had dropped: it never logs them
            self.tags.forget(never)
            self.counts["requests the fake never logged"] += len(never)
        new = entries[self.cursor :]
        first = self.cursor
        self.cursor = len(entries)
        received = []
        for index, entry in enumerate(new, start=first):
            self.counts["requests"] += 1
            if BULK_PATH.match(entry["path"]):
                self.counts["bulk mark requests"] += 1
            owner = self.tags.action_of(entry)
            if owner not in (None, action):
                # Logged after its own action was checked: never charged to another one.
                self.report.violations.append(
                    f"{self.tags.names[owner]}: {entry['method']} {entry['path']} reached the "
                    f"fake only during {self.tags.names[action]}, after {LOG_WAIT_SECONDS} s"
                )
            for r in Received.parse_all(entry):
                if owner in (None, action):
                    received.append(r)
                self._note_received(index, r)
        self._note_landed(entries)
        return received

    def _note_received(self, index: int, r: Received) -> None:
        if r.is_post:
            self.counts["mark POSTs"] += 1
            self.posted[r.slot][r.value] += 1
            self.sequence += 1
        if r.fault == "slow":
            # Answered after the client gave up: it lands (is stored) later.
            self.late.setdefault(index, []).append((r, self.sequence))
            self.late_until = self.late_until or self.now() + LATE_MODE
            if r.is_post:
                self.retake_next = r.slot
        elif r.stored:
            self.stored[r.slot][r.value] += 1
            self.last_stored[r.slot] = self.sequence
        if r.status == 404 and r.course == DELETED_COURSE and self.course_deleted:
            self.deleted_answers += 1

    def _note_landed(self, entries) -> None:
        for index, sends in list(self.late.items()):
            if entries[index]["status"] is None:
                continue
            del self.late[index]
            if not Received.parse_all(entries[index])[0].stored:
                continue
            for r, sequence in sends:
                self._note_late_write(r, sequence)

    def _note_late_write(self, r: Received, sequence: int) -> None:
        self.stored[r.slot][r.value] += 1
        self.counts["late writes stored"] += 1
        if self.last_stored.get(r.slot, 0) > sequence:
            # A newer value was stored meanwhile: this one overwrote it. The site must
            # send the current value again.
            self.counts["late writes that overwrote a newer value"] += 1
        self.last_stored[r.slot] = max(self.last_stored.get(r.slot, 0), sequence)

    def settle_late_writes(self) -> None:
        """Block until every late write has landed."""
        deadline = time.monotonic() + 10
        while self.late and time.monotonic() < deadline:
            time.sleep(0.01)
            self._note_landed(self.control.received())
        assert not self.late, "late writes never landed"
        self.late_until = None

    def advance(self, seconds: float) -> None:
        """Move the clock on. While late writes are in the air, by a second at a time and
        only within the late-write window: they land inside it, as they would in real life."""
        if self.late_until is not None:
            if self.now() + timedelta(seconds=1) < self.late_until:
                self.clock.shift(1)
                return
            self.settle_late_writes()
        self.clock.shift(seconds)

    # actions

    def submit(self) -> None:
        roll = self.rng.choice(self.rolls)
        course, tutorial = self.rng.choice(list(QUIZZES))
        if self.retake_next:
            # Its POST was stored late: the student retakes at once, so the late write may
            # land after the newer value.
            (roll, course, tutorial), self.retake_next = self.retake_next, None
            self.counts["retakes right after a late write"] += 1
        quiz, answers = self.quizzes[course, tutorial]
        correct = self.rng.randint(0, len(answers))
        right = set(self.rng.sample(range(len(answers)), correct))
        cut_off = self.rng.random() < self.config.drop_fraction
        dead_claim = cut_off and self.rng.random() < self.config.dead_claim_fraction
        slot = (roll, course, tutorial)
        client = self.clients[roll]
        turn = self.tags.begin(f"submission {slot}")

        states = self.snapshot()
        before, now = states.get(slot), self.now()
        page = client.get(quiz.get_absolute_url())
        action = _ACTION.search(page.content.decode())
        assert page.status_code == 200 and action, f"{roll} could not open {quiz}"
        data = {name: (r if i in right else w) for i, (name, r, w) in enumerate(answers)}
        if cut_off:
            from django.db import transaction

            # The process "dies" after the commit: the delivery scheduled for then never runs.
            with mock.patch.object(transaction, "on_commit", lambda *args, **kwargs: None):
                response = client.post(action.group(1), data)
        else:
            response = client.post(action.group(1), data)
        assert response.status_code == 302, f"submit answered {response.status_code}"
        self.report.violations += check_untouched(
            action=f"submission {slot}",
            before=states,
            after=self.snapshot(),
            may_change=lambda other, state: other == slot,
        )
        self.models[slot].scores.append(scaled(correct, len(answers)))
        self.counts["submissions"] += 1
        self.counts["retakes"] += len(self.models[slot].scores) > 1
        if cut_off:
            self.counts["deliveries cut off after commit"] += 1
        if dead_claim:
            self._leave_dead_claim(slot)
        received = self.take_received(turn)
        self.report.violations += check_submission(
            slot=slot,
            cut_off=cut_off,
            before=before,
            now=now,
            received=received,
            grade=self.models[slot].grade(),
        )
        self.report.violations += self.tokens.check(
            action=f"submission {slot}", trigger="inline", received=received, now=now
        )

    def _leave_dead_claim(self, slot: Slot) -> None:
        from django.conf import settings

        from academic_integration.models import TutorialMark

        roll, course, tutorial = slot
        lease = self.now() + timedelta(seconds=settings.ACADEMIC_ANALYZER_CLAIM_SECONDS)
        TutorialMark.objects.filter(
            student__username=roll, course_id=course, tutorial_number=tutorial
        ).update(claimed_by=DEAD_OWNER, claim_expires_at=lease)
        self.counts["claims left by a dead process"] += 1

    def resync(self, *, include_failed: bool = False, command: bool = False) -> int:
        from academic_integration.resync import ResyncOptions, resync_run

        before, now = self.snapshot(), self.now()
        self.counts["resync runs"] += 1
        name = f"resync run {self.counts['resync runs']}"
        turn = self.tags.begin(name)
        exit_code = 0
        if self.kill_due and not command:
            options = ResyncOptions(
                workers=self.config.workers,
                include_failed=include_failed,
                bulk_size=self.config.bulk_size,
            )
            if self.killed.run(options):
                self.kill_due = False
                name += " (killed between send and write-back)"
                self.counts["resync runs killed between send and write-back"] += 1
        elif command:
            exit_code = _run_command(
                workers=self.config.workers,
                include_failed=include_failed,
                bulk_size=self.config.bulk_size,
            )
        else:
            options = ResyncOptions(
                workers=self.config.workers,
                include_failed=include_failed,
                bulk_size=self.config.bulk_size,
            )
            exit_code = resync_run(options).exit_code
        received = self.take_received(turn)
        if name.endswith("(killed between send and write-back)"):
            for r in received:
                if r.is_post:
                    self.posted_unlogged[r.slot][r.value] += 1
                    self.counts["mark POSTs of killed runs"] += 1
        grades = {slot: model.grade() for slot, model in self.models.items()}
        self.report.violations += check_untouched(
            action=name,
            before=before,
            after=self.snapshot(),
            may_change=lambda slot, state: is_due(state, now=now, include_failed=include_failed),
        )
        self.report.violations += check_resync(
            run=name,
            before=before,
            now=now,
            received=received,
            grades=grades,
            include_failed=include_failed,
        )
        self.report.violations += self.tokens.check(
            action=name,
            trigger="resync",
            received=received,
            now=now,
            remembered=not name.endswith("(killed between send and write-back)"),
        )
        return exit_code

    # the Analyzer's weather

    def weather(self, round_no: int) -> None:
        from django.conf import settings

        cfg = self.config
        faults = [
            {"kind": kind, "fraction": cfg.fault_fraction} | options(cfg)
            for kind, options in RANDOM_FAULTS.items()
        ]
        # The fake tries faults in order: rotate it, so that each kind gets the first draw.
        shift = round_no % len(faults)
        faults = faults[shift:] + faults[:shift]
        self.control.set_faults(faults, seed=cfg.seed * 1000 + round_no)
        deleted = cfg.course_deleted_rounds[0] <= round_no < cfg.course_deleted_rounds[1]
        if deleted and not self.course_deleted:
            self.control.delete_course(DELETED_COURSE)
        elif not deleted and self.course_deleted:
            self.control.restore_course(DELETED_COURSE)
        self.course_deleted = deleted
        if round_no == cfg.token_rotated_rounds[0]:
            self.control.set_token(ROTATED_TOKEN)
            self.tokens.rotated = True
        if round_no == cfg.token_rotated_rounds[1]:
            settings.ACADEMIC_ANALYZER_TOKEN = ROTATED_TOKEN  # an operator updates settings
            _reset_client()
            self.tokens.settings_updated()
        self.cache_weather(round_no)

    def cache_weather(self, round_no: int | None) -> None:
        """The cache goes down for some rounds (None: back up for good). The sync state lives
        in the database, so submissions, resync and every invariant go on as before."""
        from django.core.cache import cache
        from django.test import override_settings

        start, end = self.config.cache_down_rounds
        down = round_no is not None and start <= round_no < end
        if down and self.cache_down is None:
            self.cache_down = override_settings(CACHES={"default": DOWN_CACHE})
            self.cache_down.enable()
            try:
                cache.get("drill")
            except Exception:  # it is down indeed: redis.exceptions.ConnectionError
                self.counts["cache calls refused while it was down"] += 1
        elif not down and self.cache_down is not None:
            self.cache_down.disable()
            self.cache_down = None
        self.counts["rounds with the cache down"] += down

    def accumulate_faults(self) -> None:
        for kind, n in self.control.stats()["faults"].items():
            self.report.faults[kind] = self.report.faults.get(kind, 0) + n
        self.control.clear_stats()

    # the script

    def run(self) -> DrillReport:
        cfg = self.config
        self.setup()
        for round_no in range(cfg.rounds):
            self.weather(round_no)
            self.kill_due = round_no % cfg.kill_every_rounds == cfg.kill_every_rounds - 1
            for n in range(1, cfg.submissions_per_round + 1):
                self.submit()
                self.advance(self.rng.randint(1, cfg.max_step_seconds))
                if n % cfg.resync_every == 0 or n == cfg.submissions_per_round:
                    self.resync()  # as cron would, every few minutes
            self.accumulate_faults()
            self.settle_late_writes()
            self.clock.shift(cfg.round_gap_seconds)
        self.finish()
        return self.report

    def finish(self) -> None:
        from django.conf import settings

        from academic_integration.sync_state import course_forget

        cfg = self.config
        self.cache_weather(None)
        self.settle_late_writes()
        # The Analyzer is healthy again, the course is back, the token is the one in settings.
        self.control.clear_faults()
        self.control.restore_course(DELETED_COURSE)
        self.course_deleted = False
        self.kill_due = False
        if not self.tokens.fixed:
            settings.ACADEMIC_ANALYZER_TOKEN = ROTATED_TOKEN
            _reset_client()
            self.tokens.settings_updated()
        self.control.set_token(ROTATED_TOKEN)
        self.tokens.rotated = True
        course_forget(course_ids=list(COURSES))  # what "Retry after fixing" also does
        exit_code = self.resync(include_failed=True, command=True)
        if exit_code != 0:
            self.report.final.append(
                f"resync --include-failed with a healthy Analyzer exited {exit_code}"
            )
        for _ in range(cfg.final_runs_max):
            states = self.snapshot()
            now = self.now()
            if all(
                s.status == "delivered" and s.delivered_version == s.version
                for s in states.values()
            ):
                break
            if not any(is_due(s, now=now, include_failed=False) for s in states.values()):
                waits = [s.next_try_at for s in states.values() if s.next_try_at]
                waits += [s.claim_expires_at for s in states.values() if s.claim_expires_at]
                later = [w for w in waits if w > now]
                if not later:
                    break  # stuck: nothing due and nothing to wait for
                self.clock.move_to(min(later) + timedelta(seconds=1))
                self.counts["final phase: clock moved on to the next try"] += 1
            self.resync()
        self.accumulate_faults()
        self.final_checks()

    def final_checks(self) -> None:
        from academic_integration.models import MarkDeliveryLog, TutorialMark
        from quizzes.models import QuizAttempt

        final = self.report.final
        attempts = QuizAttempt.objects.filter(student__username__in=self.rolls)
        completed = attempts.filter(completed_at__isnull=False)
        if completed.count() != self.counts["submissions"]:
            final.append(
                f"{completed.count()} completed attempts for "
                f"{self.counts['submissions']} submissions"
            )
        lost = completed.filter(marks_synced=False).count()
        if lost:
            final.append(f"LOST: {lost} completed attempts are not marks_synced")
        held = self.control.marks()
        stale = []
        for (roll, course, tutorial), model in self.models.items():
            got = (held.get(roll, {}).get(course) or {}).get(f"tutorial{tutorial}")
            got = None if got is None else Decimal(str(got))
            if model.grade() is None and not got:
                continue  # never graded: an enrolment holds 0 upstream ("no mark yet" looks so)
            if got != model.grade():
                stale.append(
                    f"{roll} {course} tutorial{tutorial}: Analyzer {got}, grade {model.grade()}"
                )
        if stale:
            final.append(f"STALE: {len(stale)} marks differ in the Analyzer: {stale[:5]}")
        marks = TutorialMark.objects.filter(student__username__in=self.rolls)
        for mark in marks.select_related("student"):
            slot = (mark.student.username, mark.course_id, mark.tutorial_number)
            grade = self.models[slot].grade()
            if not (mark.status == "delivered" and mark.delivered_version == mark.version):
                final.append(f"{slot}: {mark.status} v{mark.delivered_version}/{mark.version}")
            if mark.value != grade or mark.delivered_value != grade:
                final.append(
                    f"{slot}: mark {mark.value}, delivered {mark.delivered_value}, grade {grade}"
                )
        taken = {slot for slot, m in self.models.items() if m.scores}
        if marks.count() != len(taken):
            final.append(f"{marks.count()} marks for {len(taken)} slots taken")
        rows: dict[Slot | None, Counter[Decimal | None]] = defaultdict(Counter)
        delivered: dict[Slot | None, Counter[Decimal | None]] = defaultdict(Counter)
        for roll, course, tutorial, value, outcome in MarkDeliveryLog.objects.filter(
            mark__student__username__in=self.rolls
        ).values_list(
            "mark__student__username",
            "mark__course_id",
            "mark__tutorial_number",
            "value",
            "outcome",
        ):
            rows[roll, course, tutorial][value] += 1
            if outcome == "delivered":
                delivered[roll, course, tutorial][value] += 1
        # The history never claims a delivery the Analyzer did not store (it may under-claim:
        # a timed-out request stored late, a "confirming" re-send), and every POST that
        # reached the Analyzer left a row with the value it carried.
        claimed = {
            s: delivered[s] - self.stored[s] for s in delivered if delivered[s] - self.stored[s]
        }
        if claimed:
            final.append(f"history shows deliveries the Analyzer never stored: {claimed}")
        # Except those of the runs killed between their sends and their write-back.
        unlogged = {
            s: missing
            for s in self.posted
            if (missing := self.posted[s] - self.posted_unlogged[s] - rows[s])
        }
        if unlogged:
            final.append(f"POSTs that left no history row: {unlogged}")
        fired = dict(self.report.faults)
        fired["course deleted (404 answers)"] = self.deleted_answers
        fired["token rejected (401 answers)"] = self.tokens.rejections
        fired["deliveries cut off"] = self.counts["deliveries cut off after commit"]
        fired["resync runs killed"] = self.counts["resync runs killed between send and write-back"]
        for kind, n in fired.items():
            if n < self.config.min_fault_firings:
                final.append(f"fault {kind} fired {n} times (< {self.config.min_fault_firings})")
        self.report.faults = fired
        counts: dict[str, Any] = dict(self.counts)
        counts["marks"] = marks.count()
        counts["marks rejected at some point"] = len(self.marks_rejected_seen)
        counts["marks given up at some point"] = len(self.marks_given_up_seen)
        n_completed = completed.count()
        counts["completed attempts marks_synced"] = f"{n_completed - lost}/{n_completed}"
        counts["Analyzer holds the grade"] = f"{len(self.models) - len(stale)}/{len(self.models)}"
        self.report.counts = counts


def _run_command(*, workers: int, include_failed: bool, bulk_size: int) -> int:
    from io import StringIO

    from django.core.management import CommandError, call_command

    try:
        call_command(
            "resync_tutorial_marks",
            workers=workers,
            include_failed=include_failed,
            bulk_size=bulk_size,
            json=True,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    except CommandError as err:
        return err.returncode
    return 0


def _reset_client() -> None:
    from academic_integration.client import reset_client

    reset_client()


def run_drill(*, config: DrillConfig, control, api_url: str) -> DrillReport:
    """Run the drill against the fake Analyzer behind `control` / `api_url`; Django must be set
    up with a migrated database. Settings are changed for the drill and restored after."""
    import time_machine
    from django.test import override_settings
    from django.utils import timezone

    from academic_integration.client import reset_client
    from academic_integration.services import delivery
    from academic_integration.sync_state import answer_times

    saved_random = random.getstate()
    random.seed(config.seed)  # the retry jitter
    answer_times.clear()  # the inline budget starts at its cap, as in a new process
    overrides = override_settings(
        ACADEMIC_ANALYZER_URL=api_url,
        ACADEMIC_ANALYZER_CONNECT_TIMEOUT=config.timeout_seconds,
        ACADEMIC_ANALYZER_READ_TIMEOUT=config.timeout_seconds,
        ACADEMIC_ANALYZER_TOTAL_TIMEOUT=config.total_timeout_seconds,
        ACADEMIC_ANALYZER_MAX_TRIES=config.max_tries,
        ACADEMIC_ANALYZER_COURSE_CACHE_SECONDS=config.course_cache_seconds,
    )
    try:
        with overrides, time_machine.travel(timezone.now(), tick=False) as clock:
            from django.conf import settings

            token = settings.ACADEMIC_ANALYZER_TOKEN
            try:
                control.set_token(token)
                control.clear_faults()
                # The inline probe runs in place, not on a thread: the drill's checks see its
                # request with the submission that handed it off, in order.
                in_place = mock.patch.object(delivery, "probe_runner", lambda work: work())
                with KilledRuns() as killed, in_place, RequestTags(api_url) as tags:
                    return _Drill(
                        config=config, control=control, clock=clock, killed=killed, tags=tags
                    ).run()
            finally:
                settings.ACADEMIC_ANALYZER_TOKEN = token
                control.clear_faults()
    finally:
        reset_client()
        random.setstate(saved_random)


# --- make drill ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The long fault drill (`make drill`).")
    defaults = DrillConfig()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--submissions-per-round", type=int, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DRILL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"),
        help="a server on 127.0.0.1 (a fresh database quizsite_drill is made and dropped), "
        "or sqlite:///",
    )
    args = parser.parse_args(argv)
    rounds = args.rounds
    config = DrillConfig(
        seed=args.seed,
        students=args.students,
        rounds=rounds,
        submissions_per_round=args.submissions_per_round,
        workers=args.workers,
        course_deleted_rounds=(rounds // 5, rounds // 5 * 3),
        token_rotated_rounds=(rounds // 2, rounds // 4 * 3),
    )
    from bench.harness import bench_database, postgres_available

    base = args.database_url
    if base.startswith("postgres") and not postgres_available(base):
        print("PostgreSQL is not reachable on 127.0.0.1; running the drill on SQLite.")
        base = "sqlite:///"
    workdir = Path(tempfile.mkdtemp(prefix="quizsite-drill-"))
    with bench_database(base_url=base, name="quizsite_drill", workdir=workdir) as db:
        os.environ["DATABASE_URL"] = db.url
        os.environ["CACHE_URL"] = f"filecache://{workdir / 'cache'}"
        os.environ.setdefault("DJANGO_LOG_LEVEL", "CRITICAL")
        # In-process test client over plain HTTP: local mode (no HTTPS redirect, dev key).
        os.environ.setdefault("DJANGO_ENV", "local")
        from bench.harness import django_setup

        django_setup()
        from django.db import connections
        from django.test.utils import setup_test_environment

        from fake_analyzer import running_fake_analyzer

        setup_test_environment()  # the test client's host name is allowed
        began = time.monotonic()
        with running_fake_analyzer(token="drill-initial-token") as fake:
            from django.conf import settings

            settings.ACADEMIC_ANALYZER_TOKEN = "drill-initial-token"
            report = run_drill(config=config, control=fake.control, api_url=fake.api_url)
        connections.close_all()
    print(report.text())
    print(f"  on {db.vendor}, {time.monotonic() - began:.0f} s")
    return 1 if report.problems else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
