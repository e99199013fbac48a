"""Resync: deliver every due tutorial mark to the Analyzer, in batches, many copies at once.

``resync_run`` is the work behind ``manage.py resync_tutorial_marks`` and the admin's "Resync
selected now". One run:

1. claims due marks in batches: a short transaction picks them with ``SELECT ... FOR UPDATE
   SKIP LOCKED`` (PostgreSQL) and a conditional UPDATE gives them a lease (``claimed_by`` /
   ``claim_expires_at``), so copies running at once never take the same mark and a killed
   copy's marks come back when its lease expires;
2. checks each course once per run (``GET /staff/course-detail``): a course the Analyzer does
   not know has all its due marks rejected in one query, and no POST goes out for them;
3. sends with no transaction or lock held, from ``workers`` threads sharing the client's
   connection pool, at most ``max_rate`` requests a second;
4. writes each batch back in bulk (``services.marks_record_tries``): outcomes only where the
   version is still the one sent, history rows, settled attempts.

A rejected token or an address that is not the Analyzer stops the run at once and leaves the
marks due. The inline circuit breaker is not consulted: the run finds out by its own rule
(``FAILING_STREAK``) whether the Analyzer is back. What happens to a failed mark next
(backoff, Retry-After, the give-up cap) is decided by ``retry.plan_outcome``, as inline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Min, QuerySet
from django.utils import timezone

from academic_integration.client import POOL_MAXSIZE, CourseDetail, get_client, is_configured
from academic_integration.courses import course_detail_fetch
from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    AnalyzerConfigError,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncTemporaryError,
    reason_label,
    reason_next_step,
)
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.ratelimit import RateLimiter
from academic_integration.reasons import Reason
from academic_integration.services import (
    DeliveryOutcome,
    SendTry,
    claim_owner,
    log_delivery,
    mark_send,
    marks_record_tries,
)

logger = logging.getLogger(__name__)

Status = TutorialMark.Status

#: This many temporary failures in a row stop the run early: the Analyzer is down, and trying
#: every other due mark now would only hammer it. The marks not tried stay due.
FAILING_STREAK = 10
#: A batch starts no request later than this (plus the client's timeouts) before its lease ends.
LEASE_MARGIN_SECONDS = 5

#: Why a run stopped early that is a configuration problem: the command exits 2.
CONFIGURATION_STOPS = CONFIGURATION_REASONS | {Reason.SYNC_DISABLED}
_STOP_MESSAGES = {
    Reason.SYNC_DISABLED: "Academic Analyzer sync is not configured (ACADEMIC_ANALYZER_URL is not "
    "set), so nothing was sent: set it to the Analyzer's API base URL, e.g. "
    "https://analyzer.example.edu/api. Marks wait as pending until then.",
    Reason.TOKEN_REJECTED: "The Analyzer rejected the API token — it may have been regenerated: "
    "update ACADEMIC_ANALYZER_TOKEN with the current token and run again. The run stopped at "
    "once; the marks stay due.",
    Reason.TOKEN_MISSING: "The Analyzer requires an API token but none is configured: set "
    "ACADEMIC_ANALYZER_TOKEN and run again. The run stopped at once; the marks stay due.",
    Reason.NOT_THE_ANALYZER: "ACADEMIC_ANALYZER_URL ({url}) does not point at the Analyzer API "
    "({detail}): set it to the Analyzer's API base URL, ending in /api, and run again. The run "
    "stopped at once; the marks stay due.",
    "analyzer_failing": "The Analyzer failed {streak} times in a row (last: {detail}); the run "
    "stopped early to spare it. The marks not tried stay due for the next run.",
    "deadline": "Stopped after the allowed {seconds:g} s; the marks not tried stay due for the "
    "next run.",
}
_MARK_LOG_LEVELS = {
    Status.DELIVERED: logging.DEBUG,
    Status.RETRYING: logging.DEBUG,  # counted in the run's INFO line
    Status.REJECTED: logging.WARNING,
    Status.GIVEN_UP: logging.WARNING,
}


@dataclass
class ResyncOptions:
    """What a run delivers and how. ``mark_ids`` (the admin) takes those marks in any status."""

    course_id: str | None = None
    quiz_id: int | None = None
    student: str | None = None  # roll number
    since: datetime | None = None  # only marks due since then
    limit: int | None = None
    batch_size: int = 100
    workers: int = 1
    max_rate: float | None = None  # requests/second across all workers
    include_failed: bool = False
    ignore_backoff: bool = False  # --now: also retrying marks whose next try has not come
    dry_run: bool = False
    mark_ids: Sequence[int] | None = None
    trigger: str = MarkDeliveryLog.Trigger.RESYNC
    deadline_seconds: float | None = None  # no new batch (or request) after this long

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not 1 <= self.workers <= POOL_MAXSIZE:
            raise ValueError(f"workers must be from 1 to {POOL_MAXSIZE}")
        if self.max_rate is not None and self.max_rate <= 0:
            raise ValueError("max_rate must be positive")
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")
        if self.trigger not in MarkDeliveryLog.Trigger.values:
            raise ValueError(f"unknown trigger {self.trigger!r}")


@dataclass(frozen=True)
class MarkResult(DeliveryOutcome):
    """What a run did with one mark. ``status`` is a mark status, "skipped" or "would_send"."""

    student: str = ""
    course_id: str = ""
    tutorial_number: int = 0
    superseded: bool = False  # delivered, but a retake's newer value is due now
    next_try_at: datetime | None = None
    error: str = ""

    @classmethod
    def of(cls, mark: TutorialMark, **fields: Any) -> MarkResult:
        """A result for ``mark`` that no try of this run produced (skipped, would send)."""
        return cls(
            mark_id=mark.pk, version=mark.version, value=mark.value, **_about(mark), **fields
        )


def _about(mark: TutorialMark) -> dict[str, Any]:
    return {
        "student": mark.student.username,
        "course_id": mark.course_id,
        "tutorial_number": mark.tutorial_number,
    }


@dataclass
class ProblemGroup:
    """Marks a run rejected or gave up for one reason: the courses and students behind them."""

    status: str
    reason: str
    courses: set[str] = field(default_factory=set)
    students: set[str] = field(default_factory=set)
    marks: int = 0

    @property
    def label(self) -> str:
        return reason_label(self.reason)

    @property
    def next_step(self) -> str:
        if self.status == Status.RETRYING:
            return reason_next_step(self.reason)
        if self.status == Status.GIVEN_UP:
            text = f"{reason_next_step('given_up')} Last failure: {self.label}."
            if self.reason == Reason.SERVER_ERROR:
                text += (
                    " Older Analyzers answer a deleted course with a server error: check that "
                    f"{', '.join(sorted(self.courses))} still exist in the Analyzer."
                )
            return text
        return reason_next_step(
            self.reason, course_id=_only(self.courses), student_id=_only(self.students)
        )

    @property
    def command_next_step(self) -> str:
        """The next step as the command says it: both ways to ask again are named."""
        if self.status == Status.RETRYING:
            return (
                f"{self.next_step} The next resync retries it when its backoff ends "
                "(--now sends it at once)."
            )
        both = (
            "Retry after fixing in admin (select the marks), or run resync_tutorial_marks "
            "--include-failed"
        )
        if "Retry after fixing" in self.next_step:
            return self.next_step.replace("Retry after fixing", both, 1)
        return f"{self.next_step} Then ask again: {both}."

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "courses": sorted(self.courses),
            "students": len(self.students),
            "marks": self.marks,
            "next_step": self.command_next_step,
        }


@dataclass(frozen=True)
class BackingOff:
    """Marks retrying whose next try has not come yet, for one reason."""

    reason: str
    marks: int
    first_try_at: datetime
    last_try_at: datetime

    @property
    def label(self) -> str:
        return reason_label(self.reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "marks": self.marks,
            "first_try_at": _iso(self.first_try_at),
            "last_try_at": _iso(self.last_try_at),
        }


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


@dataclass
class ResyncSummary:
    """What one run did. ``exit_code``: 0 nothing failed in this run, 1 some mark failed in
    this run, 2 configuration or authentication (see ``stopped`` and ``message``)."""

    dry_run: bool = False
    delivered: int = 0
    attempts_settled: int = 0
    retrying: int = 0
    next_try_at: datetime | None = None  # the earliest among the marks retrying
    superseded: int = 0  # delivered an older value: a retake's newer one is due
    skipped: int = 0  # claimed but not tried (the run stopped): still due
    busy: int = 0  # mark_ids held by another process
    errors: int = 0  # unexpected exceptions (the marks retry later)
    batches: int = 0
    problems: dict[tuple[str, str], ProblemGroup] = field(default_factory=dict)
    would_send: list[dict[str, Any]] = field(default_factory=list)
    # Marks not taken because they are still backing off from earlier tries (not failures of
    # this run): by reason, with when their next tries are due. None: not asked (admin, --now).
    backing_off: list[BackingOff] | None = None
    stopped: str | None = None
    message: str = ""
    duration_seconds: float = 0.0

    def _groups(self, status: str) -> list[ProblemGroup]:
        return [g for key, g in sorted(self.problems.items()) if g.status == status]

    @property
    def retrying_groups(self) -> list[ProblemGroup]:
        return self._groups(Status.RETRYING)

    @property
    def backing_off_count(self) -> int:
        return sum(b.marks for b in self.backing_off or ())

    @property
    def rejected_groups(self) -> list[ProblemGroup]:
        return self._groups(Status.REJECTED)

    @property
    def given_up_groups(self) -> list[ProblemGroup]:
        return self._groups(Status.GIVEN_UP)

    @property
    def rejected(self) -> int:
        return sum(g.marks for g in self.rejected_groups)

    @property
    def given_up(self) -> int:
        return sum(g.marks for g in self.given_up_groups)

    @property
    def given_up_courses(self) -> list[str]:
        return sorted({c for g in self.given_up_groups for c in g.courses})

    @property
    def failed(self) -> int:
        """Marks that failed in this run (not those still backing off from earlier runs)."""
        return self.retrying + self.rejected + self.given_up

    @property
    def exit_code(self) -> int:
        if self.stopped in CONFIGURATION_STOPS:
            return 2
        return 1 if self.failed or self.stopped == "analyzer_failing" else 0

    def headline(self) -> str:
        """The run in one sentence."""
        if self.dry_run:
            return (
                f"Dry run: would send {len(self.would_send)} marks now{self._later()}; nothing "
                "was sent or changed."
            )
        parts = [f"{self.delivered} delivered ({self.attempts_settled} attempts settled)"]
        if self.retrying:
            parts.append(f"{self.retrying} retrying")
        if self.given_up:
            parts.append(f"{self.given_up} given up ({', '.join(self.given_up_courses)})")
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        for count, what in [
            (self.superseded, "superseded by a retake (due again)"),
            (self.skipped, "left due"),
            (self.busy, "busy elsewhere"),
        ]:
            if count:
                parts.append(f"{count} {what}")
        return f"Resync: {', '.join(parts)}{self._later()} in {self.duration_seconds:.1f} s."

    def _later(self) -> str:
        """What the run left for later because it is backing off: always said."""
        if self.backing_off is None:
            return ""  # not asked (an admin run, or --now)
        if not self.backing_off:
            return "; none backing off"
        until = max(b.last_try_at for b in self.backing_off)
        at = timezone.localtime(until).strftime("%H:%M")
        return f"; {self.backing_off_count} backing off until {at} at the latest (--now sends them)"

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (``--json``)."""
        return {
            "dry_run": self.dry_run,
            "delivered": self.delivered,
            "attempts_settled": self.attempts_settled,
            "retrying": {
                "count": self.retrying,
                "next_try_at": _iso(self.next_try_at),
                "groups": [g.as_dict() for g in self.retrying_groups],
            },
            "backing_off": {
                "count": self.backing_off_count,
                "groups": [b.as_dict() for b in self.backing_off or ()],
            },
            "given_up": {
                "count": self.given_up,
                "courses": self.given_up_courses,
                "groups": [g.as_dict() for g in self.given_up_groups],
            },
            "rejected": {
                "count": self.rejected,
                "groups": [g.as_dict() for g in self.rejected_groups],
            },
            "superseded": self.superseded,
            "skipped": self.skipped,
            "busy": self.busy,
            "errors": self.errors,
            "batches": self.batches,
            "would_send": self.would_send,
            "stopped": self.stopped,
            "message": self.message,
            "duration_seconds": round(self.duration_seconds, 3),
            "exit_code": self.exit_code,
        }

    def count(self, result: MarkResult) -> None:
        """Add one mark's result to the counts."""
        if result.superseded:
            self.superseded += 1
        elif result.status == Status.DELIVERED:
            self.delivered += 1
        elif result.status == Status.RETRYING:
            self.retrying += 1
            if self.next_try_at is None or result.next_try_at < self.next_try_at:
                self.next_try_at = result.next_try_at
            self._group(result)
        elif result.status in (Status.REJECTED, Status.GIVEN_UP):
            self._group(result)
        elif result.status != "would_send":
            self.skipped += 1  # not tried, or left due by a configuration problem

    def _group(self, result: MarkResult) -> None:
        key = (result.status, result.reason)
        group = self.problems.setdefault(key, ProblemGroup(*key))
        group.courses.add(result.course_id)
        group.students.add(result.student)
        group.marks += 1


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def marks_due(
    options: ResyncOptions, *, now: datetime, owner: str | None = None
) -> QuerySet[TutorialMark]:
    """The marks a run with ``options`` delivers now: due, and unclaimed (or ``owner``'s).

    Due is pending, or retrying whose next try has come (plus rejected and given up with
    ``include_failed``); with ``mark_ids``, those marks unless their current value is delivered
    (or, without ``include_failed``, they are rejected).
    """
    if options.mark_ids is not None:
        marks = TutorialMark.objects.filter(pk__in=list(options.mark_ids)).exclude(
            status=Status.DELIVERED, delivered_version=F("version")
        )
        if not options.include_failed:
            # The Analyzer would say no again until someone fixes the cause: "Retry after
            # fixing" puts them back. A given-up mark failed only temporarily: asking for it
            # by hand is the human "ask again".
            marks = marks.exclude(status=Status.REJECTED)
    else:
        marks = TutorialMark.objects.due(
            now=now, ignore_backoff=options.ignore_backoff, include_failed=options.include_failed
        )
    return marks.unclaimed(now=now, owner=owner).filter(**_filters(options))


def _filters(options: ResyncOptions) -> dict[str, Any]:
    filters = {
        "course_id": options.course_id,
        "quiz_id": options.quiz_id,
        "student__username": options.student,
        "due_since__gte": options.since,
    }
    return {k: v for k, v in filters.items() if v is not None}


def marks_backing_off(options: ResyncOptions, *, now: datetime) -> list[BackingOff]:
    """Retrying marks (within the run's filters) whose next try has not come, by reason:
    what a run without ``--now`` leaves for later. One query."""
    rows = (
        TutorialMark.objects.filter(
            status=Status.RETRYING, next_try_at__gt=now, **_filters(options)
        )
        .values("reason")
        .annotate(marks=Count("pk"), first=Min("next_try_at"), last=Max("next_try_at"))
        .order_by("first", "reason")
    )
    return [BackingOff(r["reason"], r["marks"], r["first"], r["last"]) for r in rows]


def resync_due_count(options: ResyncOptions) -> int:
    """How many marks a run with ``options`` would take now (for a progress bar)."""
    count = marks_due(options, now=timezone.now()).count()
    return count if options.limit is None else min(count, options.limit)


def resync_run(
    options: ResyncOptions,
    *,
    progress: Callable[[int], None] | None = None,
    on_mark: Callable[[MarkResult], None] | None = None,
) -> ResyncSummary:
    """Deliver the marks ``options`` select (see the module docstring); return the summary.

    ``progress(n)`` is called as marks are done, ``on_mark`` once per mark. Analyzer failures
    and configuration problems end up in the summary (``stopped``, ``exit_code``), never
    raised; database errors are raised after the current batch's claims are released.
    """
    return _Run(options, progress=progress, on_mark=on_mark).execute()


@dataclass
class _Batch:
    owner: str
    marks: list[TutorialMark]
    more: bool  # more marks were due when this batch was claimed
    send_until: float  # time.monotonic() after which no request starts (the lease ends)


class _Run:
    """One run's state: the courses checked, the failure streak, the stop flag."""

    def __init__(self, options, *, progress, on_mark):
        self.options = options
        self.progress = progress
        self.on_mark = on_mark
        self.summary = ResyncSummary(dry_run=options.dry_run)
        self.started = time.monotonic()
        self.limiter = RateLimiter(options.max_rate)
        self.courses: dict[str, CourseDetail | SyncError] = {}
        self.missing_courses: set[str] = set()  # rejected as a whole in this run
        self.cursor = 0  # the run goes through due marks once, in pk order
        self.claimed = 0
        self.streak = 0
        self.problems_cleared = False
        self.stop = threading.Event()
        self.lock = threading.RLock()
        self.pool: ThreadPoolExecutor | None = None

    def execute(self) -> ResyncSummary:
        if self.options.mark_ids is None and not self.options.ignore_backoff:
            # What this run leaves for later, as it starts: "0 delivered" then says why.
            self.summary.backing_off = marks_backing_off(self.options, now=timezone.now())
        problem = _configuration_problem()
        if problem:
            self.stop_for(problem[0], message=problem[1])
        elif self.options.dry_run:
            self.dry_run()
        else:
            self.deliver_due()
        return self.finish()

    # --- the loop ----------------------------------------------------------------------

    def deliver_due(self) -> None:
        if self.options.workers > 1:
            self.pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="resync")
        try:
            while not self.stop.is_set():
                if self.past_deadline():
                    self.stop_for("deadline")
                    break
                size = self.options.batch_size
                if self.options.limit is not None:
                    size = min(size, self.options.limit - self.claimed)
                batch = self.claim(size) if size > 0 else None
                if batch is None:
                    break
                self.process(batch)
                if not batch.more:
                    break  # nothing more is due (or the rest is claimed elsewhere)
        finally:
            if self.pool is not None:
                self.stop.set()  # queued sends of an interrupted batch must not go out
                self.pool.shutdown(cancel_futures=True)

    def claim(self, size: int) -> _Batch | None:
        """Claim up to ``size`` due marks: a short transaction, then a lease. No HTTP here."""
        now = timezone.now()
        owner = claim_owner(self.options.trigger)
        lease = settings.ACADEMIC_ANALYZER_CLAIM_SECONDS
        with transaction.atomic():
            # One row more than asked says whether another batch is due, without a query.
            rows = list(
                marks_due(self.options, now=now)
                .filter(pk__gt=self.cursor)
                .exclude(course_id__in=self.missing_courses)
                .select_related("student", "quiz__created_by")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[: size + 1]
            )
            marks = rows[:size]
            if not marks:
                return None
            claimed = (
                TutorialMark.objects.filter(pk__in=[m.pk for m in marks])
                .unclaimed(now=now)
                .claim(owner=owner, until=now + timedelta(seconds=lease))
            )
        self.cursor = marks[-1].pk
        if claimed < len(marks):
            # Only without row locks (SQLite): another copy claimed some in between.
            mine = set(TutorialMark.objects.held_by(owner).values_list("pk", flat=True))
            marks = [m for m in marks if m.pk in mine]
        self.claimed += len(marks)
        self.summary.batches += 1
        return _Batch(owner, marks, len(rows) > size, self.send_deadline(lease))

    def send_deadline(self, lease: float) -> float:
        connect, read = get_client().timeout
        return time.monotonic() + lease - connect - read - LEASE_MARGIN_SECONDS

    def process(self, batch: _Batch) -> None:
        """Check the batch's courses, send its marks, write the results back."""
        try:
            tries: list[SendTry] = []
            sendable: list[tuple[TutorialMark, CourseDetail]] = []
            rejected: set[int] = set()
            for course_id, marks in _by_course(batch.marks).items():
                if self.stop.is_set() or self.past_deadline():
                    break  # the unchecked courses' marks are released, still due
                course = self.course(course_id)
                if isinstance(course, CourseDetail):
                    sendable += [(mark, course) for mark in marks]
                elif course.reason == Reason.COURSE_NOT_FOUND:
                    rejected |= self.reject_course(course_id, error=course, owner=batch.owner)
                elif isinstance(course, SyncConfigurationError):
                    tries.append(SendTry.failed(mark=marks[0], error=course))  # asked for it
                else:
                    tries += [SendTry.failed(mark=mark, error=course) for mark in marks]
            tries += self.send_all(sendable, until=batch.send_until)
            self.write_back(batch, tries, rejected)
        except BaseException:
            self.stop.set()
            TutorialMark.objects.held_by(batch.owner).release()
            raise

    # --- the Analyzer ------------------------------------------------------------------

    def course(self, course_id: str) -> CourseDetail | SyncError:
        """The course as the Analyzer knows it, asked once per run; a SyncError if that failed."""
        if course_id not in self.courses:
            self.limiter.wait()
            try:
                found = course_detail_fetch(course_id=course_id)
            except SyncError as err:
                found = err
                if not isinstance(err, SyncConfigurationError | SyncRejectedError):
                    logger.warning(
                        "course check failed course=%s reason=%s http_status=%s url=%s: its "
                        "marks in this run count as failed tries and retry later",
                        course_id,
                        err.reason,
                        err.status_code or "-",
                        err.url or "-",
                    )
            self.observe(found if isinstance(found, SyncError) else None)
            self.courses[course_id] = found
        return self.courses[course_id]

    def send_all(self, pairs, *, until: float) -> list[SendTry]:
        def send(pair):
            return self.send_one(*pair, until=until)

        # One worker sends from this thread: lazily, so a stop is seen before the next mark.
        results = self.pool.map(send, pairs) if self.pool else (send(pair) for pair in pairs)
        return [sent for sent in results if sent is not None]

    def send_one(self, mark, course, *, until: float) -> SendTry | None:
        """POST one mark (in a worker thread: no database here). None when not sent."""
        if self.stop.is_set() or time.monotonic() >= until or self.past_deadline():
            return None
        self.limiter.wait()
        # Checked again after waiting for the rate limit: a request must not outlive its lease.
        if self.stop.is_set() or time.monotonic() >= until or self.past_deadline():
            return None
        try:
            sent = mark_send(mark=mark, course=course)
        except Exception as err:  # one bad mark never stops the run
            logger.exception(
                "unexpected error sending mark=%s student=%s course=%s tutorial=%s: the mark "
                "retries later",
                mark.pk,
                mark.student.username,
                mark.course_id,
                mark.tutorial_number,
            )
            error = SyncError(f"Unexpected error while sending: {type(err).__name__}")
            sent = SendTry.failed(mark=mark, error=error)
            with self.lock:
                self.summary.errors += 1
        self.observe(sent.error)
        return sent

    def observe(self, error: SyncError | None) -> None:
        """Stop on a configuration problem, or when the Analyzer keeps failing."""
        with self.lock:
            if isinstance(error, SyncConfigurationError):
                self.stop_for(error.reason, error=error)
            elif isinstance(error, SyncTemporaryError):
                self.streak += 1
                if self.streak >= FAILING_STREAK:
                    self.stop_for("analyzer_failing", error=error)
            elif error is None or isinstance(error, SyncRejectedError):
                self.streak = 0  # the Analyzer answered

    def stop_for(self, reason: str, *, error: SyncError | None = None, message: str = "") -> None:
        with self.lock:
            if self.summary.stopped:
                return
            self.summary.stopped = reason
            self.summary.message = message or _stop_message(
                reason, error=error, streak=self.streak, seconds=self.options.deadline_seconds
            )
            self.stop.set()
        logger.log(
            logging.ERROR if reason in CONFIGURATION_STOPS else logging.WARNING,
            "resync stopped reason=%s trigger=%s url=%s http_status=%s: %s",
            reason,
            self.options.trigger,
            error.url if error and error.url else "-",
            error.status_code if error and error.status_code else "-",
            self.summary.message,
        )

    def past_deadline(self) -> bool:
        limit = self.options.deadline_seconds
        return limit is not None and time.monotonic() - self.started >= limit

    # --- the database ------------------------------------------------------------------

    def reject_course(self, course_id: str, *, error: SyncError, owner: str) -> set[int]:
        """Reject every due mark of a course the Analyzer does not know, in one UPDATE.

        Returns the ids among them that this batch had claimed.
        """
        now = timezone.now()
        with transaction.atomic():
            rows = list(
                marks_due(self.options, now=now, owner=owner)
                .filter(course_id=course_id)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list(
                    "pk", "claimed_by", "student__username", "tutorial_number", "version", "value"
                )
            )
            TutorialMark.objects.filter(pk__in=[row[0] for row in rows]).release(
                status=Status.REJECTED,
                reason=error.reason,
                last_error=str(error)[:500],
                next_try_at=None,
                last_tried_at=now,
            )
        self.missing_courses.add(course_id)
        for pk, _, student, tutorial, version, value in rows:
            self.report(
                MarkResult(
                    mark_id=pk,
                    student=student,
                    course_id=course_id,
                    tutorial_number=tutorial,
                    version=version,
                    value=value,
                    status=Status.REJECTED,
                    reason=error.reason,
                    http_status=error.status_code,
                    error=str(error)[:500],
                )
            )
        logger.warning(
            "course not found in the Academic Analyzer course=%s marks=%s students=%s url=%s: "
            "its due marks are rejected, no marks were sent for it. %s",
            course_id,
            len(rows),
            len({row[2] for row in rows}),
            error.url or "-",
            reason_next_step(Reason.COURSE_NOT_FOUND, course_id=course_id),
        )
        return {row[0] for row in rows if row[1] == owner}

    def write_back(self, batch: _Batch, tries: list[SendTry], rejected: set[int]) -> None:
        recorded = marks_record_tries(
            tries=tries,
            owner=batch.owner,
            trigger=self.options.trigger,
            now=timezone.now(),
            claimed=len(batch.marks) - len(rejected),
            # Once per run: the first delivery closes the inline breaker and forgets a rejected
            # configuration; later batches need not say it again (one DELETE per run).
            clear_problems=not self.problems_cleared,
        )
        if any(update.reached for update in recorded.updates.values()):
            self.problems_cleared = True
        self.summary.attempts_settled += recorded.attempts_settled
        for sent in tries:
            update = recorded.updates[sent.mark.pk]
            result = MarkResult.from_try(
                sent,
                update,
                **_about(sent.mark),
                superseded=sent.mark.pk in recorded.superseded,
                next_try_at=update.next_try_at,
                error=update.last_error,
            )
            self.report(result, mark=sent.mark)
        done = rejected | {sent.mark.pk for sent in tries}
        for mark in batch.marks:
            if mark.pk not in done:
                self.report(
                    MarkResult.of(mark, status="skipped", reason=self.summary.stopped or "")
                )

    # --- reporting -----------------------------------------------------------------------

    def report(self, result: MarkResult, *, mark: TutorialMark | None = None) -> None:
        self.summary.count(result)
        if mark is not None:
            level = logging.DEBUG if result.superseded else _MARK_LOG_LEVELS.get(result.status)
            log_delivery(mark=mark, outcome=result, trigger=self.options.trigger, level=level)
        if self.on_mark:
            self.on_mark(result)
        if self.progress:
            self.progress(1)

    def dry_run(self) -> None:
        marks = (
            marks_due(self.options, now=timezone.now())
            .select_related("student", "quiz__created_by")
            .order_by("pk")
        )
        if self.options.limit is not None:
            marks = marks[: self.options.limit]
        for mark in marks:
            self.summary.would_send.append(
                {
                    "mark_id": mark.pk,
                    "student": mark.student.username,
                    "course_id": mark.course_id,
                    "tutorial_number": mark.tutorial_number,
                    "value": float(mark.value),
                    "version": mark.version,
                    "status": mark.status,
                    "reason": mark.reason,
                }
            )
            self.report(MarkResult.of(mark, status="would_send"))

    def finish(self) -> ResyncSummary:
        summary = self.summary
        if self.options.mark_ids is not None and not summary.dry_run:
            summary.busy = (
                TutorialMark.objects.filter(pk__in=list(self.options.mark_ids))
                .claimed(now=timezone.now())
                .exclude(status=Status.DELIVERED, delivered_version=F("version"))
                .count()
            )
        summary.duration_seconds = time.monotonic() - self.started
        for group in summary.given_up_groups:
            logger.warning(
                "marks given up course=%s marks=%s students=%s last_reason=%s: %s",
                ",".join(sorted(group.courses)),
                group.marks,
                len(group.students),
                group.reason,
                group.next_step,
            )
        logger.info(
            "resync run finished trigger=%s delivered=%s attempts_settled=%s retrying=%s "
            "given_up=%s rejected=%s superseded=%s skipped=%s busy=%s errors=%s batches=%s "
            "stopped=%s dry_run=%s would_send=%s backing_off=%s workers=%s duration_s=%.2f "
            "filters=%s",
            self.options.trigger,
            summary.delivered,
            summary.attempts_settled,
            summary.retrying,
            summary.given_up,
            summary.rejected,
            summary.superseded,
            summary.skipped,
            summary.busy,
            summary.errors,
            summary.batches,
            summary.stopped or "-",
            summary.dry_run,
            len(summary.would_send),
            summary.backing_off_count,
            self.options.workers,
            summary.duration_seconds,
            _filters_text(self.options),
        )
        return summary


def _by_course(marks: list[TutorialMark]) -> dict[str, list[TutorialMark]]:
    grouped: dict[str, list[TutorialMark]] = defaultdict(list)
    for mark in marks:
        grouped[mark.course_id].append(mark)
    return grouped


def _configuration_problem() -> tuple[str, str] | None:
    if not is_configured():
        return Reason.SYNC_DISABLED, ""
    try:
        get_client()
    except AnalyzerConfigError as err:
        return Reason.CONFIG_ERROR, f"Sync is misconfigured: {err}"
    return None


def _stop_message(reason: str, *, error: SyncError | None, streak: int, seconds) -> str:
    template = _STOP_MESSAGES.get(reason)
    if template is None:
        return error.next_step if error else reason_label(reason)
    detail = f"{error.message}, HTTP {error.status_code or '-'}" if error else ""
    url = get_client().base_url if reason == Reason.NOT_THE_ANALYZER else ""
    return template.format(detail=detail, url=url, streak=streak, seconds=seconds or 0)


def _filters_text(options: ResyncOptions) -> str:
    filters = {
        "course": options.course_id,
        "quiz": options.quiz_id,
        "student": options.student,
        "since": _iso(options.since),
        "limit": options.limit,
        "include_failed": options.include_failed or None,
        "now": options.ignore_backoff or None,
        "mark_ids": len(options.mark_ids) if options.mark_ids is not None else None,
    }
    return ",".join(f"{k}={v}" for k, v in filters.items() if v is not None) or "-"
