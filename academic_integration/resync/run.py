"""One resync run: claim due marks in batches, check each course once, send from worker
threads (a course's marks for one tutorial in one add-tutN-mark request, or one POST per mark
where the Analyzer lacks that route), write each batch back in bulk; stop early when the
Analyzer is failing. Why this shape: docs/decisions/0019-resync-pipeline.md."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from academic_integration.client import CourseDetail, get_client, is_configured
from academic_integration.exceptions import (
    AnalyzerConfigError,
    Reason,
    SyncConfigurationError,
    SyncError,
    SyncRejectedError,
    SyncRouteMissingError,
    SyncTemporaryError,
    reason_label,
    reason_next_step,
)
from academic_integration.models import DUE_AFRESH, MarkDeliveryLog, TutorialMark
from academic_integration.resync.selection import (
    CLAIM_ORDER,
    ResyncOptions,
    filters_text,
    mark_filters,
    marks_after,
    marks_backing_off,
    marks_due,
    marks_waiting,
)
from academic_integration.resync.summary import (
    CONFIGURATION_STOPS,
    ResyncSummary,
)
from academic_integration.services import (
    DeliveryOutcome,
    NotSent,
    SendTry,
    claim_owner,
    log_delivery,
    mark_send,
    marks_send_bulk,
    marks_write_back,
    teacher_email_resolve,
)
from academic_integration.sync_state import (
    bulk_unsupported_remember,
    bulk_unsupported_state,
    config_rejection_remember,
    course_detail_fetch,
    course_teacher_email,
    courses_known_missing,
)

logger = logging.getLogger(__name__)

Status = TutorialMark.Status

#: This many temporary failures in a row stop the run early; the marks not tried stay due.
FAILING_STREAK = 10

#: A batch starts no request later than this (plus the client's timeouts) before its lease ends.
LEASE_MARGIN_SECONDS = 5

#: With several workers: batches claimed at a time, and the GIL's switch interval while they send.
PIPELINE_DEPTH = 2
SWITCH_INTERVAL_SECONDS = 0.001

#: Why a run stopped, in the summary's message.
_STOP_MESSAGES = {
    Reason.SYNC_DISABLED: "Academic Analyzer sync is not configured (ACADEMIC_ANALYZER_URL is not "
    "set), so nothing was sent: set it to the Analyzer's API base URL, e.g. "
    "https://analyzer.example.edu/api. Marks wait as pending until then.",
    Reason.TOKEN_REJECTED: "The Analyzer rejected the API token — it may have been regenerated: "
    "update ACADEMIC_ANALYZER_TOKEN with the current token and run again. The run stopped at "
    "once; the marks stay due.",
    Reason.TOKEN_MISSING: "The Analyzer requires an API token but none is configured: set "
    "ACADEMIC_ANALYZER_TOKEN and run again. The run stopped at once; the marks stay due.",
    Reason.NOT_THE_ANALYZER: "ACADEMIC_ANALYZER_URL ({url}) did not answer as the Analyzer API "
    "({detail}). A page is most likely a proxy or login page in front of the Analyzer (the "
    "URL is right: ask whoever runs the proxy to let this server through) or a wrong URL (it "
    "must be the API base URL, ending in /api); curl -i {url}/staff/course-detail on this "
    "server shows which. The run stopped at once; the marks stay due.",
    "analyzer_failing": "The Analyzer failed {streak} times in a row (last: {detail}); the run "
    "stopped early to spare it. The marks not tried stay due for the next run.",
    "deadline": "Stopped after the allowed {seconds:g} s; the marks not tried stay due for the "
    "next run.",
}

_MARK_LOG_LEVELS: dict[str, int] = {
    Status.DELIVERED: logging.DEBUG,
    Status.RETRYING: logging.DEBUG,  # counted in the run's INFO line
    Status.REJECTED: logging.WARNING,
    Status.GIVEN_UP: logging.WARNING,
}


def resync_run(
    options: ResyncOptions,
    *,
    progress: Callable[[int], object] | None = None,
    on_mark: Callable[[DeliveryOutcome], None] | None = None,
) -> ResyncSummary:
    """Deliver the marks ``options`` select (see the module docstring); return the summary.

    ``progress(n)`` is called as marks are done, ``on_mark`` once per mark. Analyzer failures
    and configuration problems end up in the summary (``stopped``, ``exit_code``), never
    raised; database errors are raised after the current batch's claims are released.
    """
    return _Run(options, progress=progress, on_mark=on_mark).execute()


@dataclass
class _Group:
    """Marks of one course and tutorial, for one teacher email: one add-tutN-mark request
    (``bulk``), or one mark for one POST."""

    course: CourseDetail
    email: str
    source: str
    marks: list[TutorialMark]
    bulk: bool


#: What a send job gives back: its tries (none when it did not send), or its group when the
#: Analyzer turned out to have no bulk route (its marks then go one POST each).
_Sent = list[SendTry] | _Group


@dataclass
class _InFlight:
    """A claimed batch on its way: marks to send (with their course and teacher email), tries
    that ended before sending, marks rejected with their course, and its sends (see
    ``queue``)."""

    owner: str
    marks: list[TutorialMark]
    more: bool  # more marks were due when this batch was claimed
    send_until: float  # time.monotonic() after which no request starts (the lease ends)
    sendable: list[tuple[TutorialMark, CourseDetail, tuple[str, str]]] = field(default_factory=list)
    tries: list[SendTry] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)
    sends: list[Callable[[], _Sent]] = field(default_factory=list)


class RateLimiter:
    """Let callers through at most ``rate`` times a second, evenly spaced (no bursts), across
    threads. ``rate`` None means no limit."""

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1 / rate if rate else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until this caller's turn; return how long it waited, in seconds."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


class _Run:
    """One run's state: the courses checked, the failure streak, the stop flag."""

    def __init__(
        self,
        options: ResyncOptions,
        *,
        progress: Callable[[int], object] | None,
        on_mark: Callable[[DeliveryOutcome], None] | None,
    ) -> None:
        self.options = options
        self.progress = progress
        self.on_mark = on_mark
        self.summary = ResyncSummary(dry_run=options.dry_run)
        self.started = time.monotonic()
        self.limiter = RateLimiter(options.max_rate)
        self.courses: dict[str, CourseDetail | SyncError] = {}
        # A teacher of the course whom the Analyzer lists as handling it, per course.
        self.teachers: dict[str, str | SyncError | None] = {}
        self.missing_courses: set[str] = set()  # rejected as a whole in this run
        self.cursor: tuple[Any, ...] | None = None  # the last mark taken, in CLAIM_ORDER
        self.claimed = 0
        self.streak = 0
        self.problems_cleared = False
        self.stop = threading.Event()
        self.lock = threading.RLock()
        self.pool: ThreadPoolExecutor | None = None
        self.bulk_size = 0  # marks per add-tutN-mark request; 0: one POST per mark
        # Set once the bulk route answered Express's 404: the rest go one POST each.
        self.bulk_missing: SyncRouteMissingError | None = None

    def execute(self) -> ResyncSummary:
        if self.options.mark_ids is None and not self.options.ignore_backoff:
            # What this run leaves for later, as it starts: "0 delivered" then says why.
            self.summary.backing_off = marks_backing_off(self.options, now=timezone.now())
        try:
            configured = is_configured() and get_client()
        except AnalyzerConfigError as err:
            self.stop_for(Reason.CONFIG_ERROR, message=f"Sync is misconfigured: {err}")
        else:
            if not configured:
                self.stop_for(Reason.SYNC_DISABLED)
            elif self.options.dry_run:
                self.dry_run()
            else:
                self.summary.requeued = self.recheck_rejected_courses()
                self.bulk_size = self.bulk_size_now()
                self.deliver_due()
        return self.finish()

    def bulk_size_now(self) -> int:
        """Marks per add-tutN-mark request for this run; 0 when bulk is off, or when this
        Analyzer is remembered to lack the route (one query, once per run)."""
        size = self.options.bulk_size
        if size is None:
            size = int(settings.ACADEMIC_ANALYZER_BULK_SIZE)
        if size <= 0:
            self.summary.bulk = "off"
            return 0
        known = bulk_unsupported_state()
        if known is not None:
            self.summary.bulk = "unsupported"
            logger.info(
                "resync sends one POST per mark trigger=%s: the Analyzer had no bulk route "
                "when tried at %s; tried again after %s",
                self.options.trigger,
                known["since"],
                known["until"],
            )
            return 0
        self.summary.bulk = "on"
        return size

    # --- the loop ----------------------------------------------------------------------

    def deliver_due(self) -> None:
        """Claim, send, write back. With several workers the next batch is claimed and its
        sends queued before one is written back: no sender waits for the database."""
        depth, switch_interval = 1, sys.getswitchinterval()
        if self.options.workers > 1:
            self.pool = ThreadPoolExecutor(self.options.workers, thread_name_prefix="resync")
            depth = PIPELINE_DEPTH
            sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL_SECONDS))
        on_way: deque[_InFlight] = deque()  # claimed, oldest first; all DB work on this thread
        more = True  # False once a batch was the last due (or the rest is claimed elsewhere)
        try:
            while True:
                flight = self.claim() if more and len(on_way) < depth else None
                if flight is not None:
                    more = flight.more
                    on_way.append(flight)
                    self.start(flight)
                elif not on_way:
                    break
                if flight is None or len(on_way) >= depth:
                    self.complete(on_way[0])  # still on its way if this raises
                    on_way.popleft()
        except BaseException:
            self.stop.set()  # queued sends of later batches must not go out
            owners = [flight.owner for flight in on_way]
            TutorialMark.objects.filter(claimed_by__in=owners).release()
            raise
        finally:
            if self.pool is not None:
                self.stop.set()
                self.pool.shutdown(cancel_futures=True)
                sys.setswitchinterval(switch_interval)

    def claim(self) -> _InFlight | None:
        """Claim the next due marks (a short transaction, then a lease; no HTTP here), unless
        the run is stopping, past its deadline or at its limit."""
        if self.stop.is_set():
            return None
        if self.past_deadline():
            self.stop_for("deadline")
            return None
        size = self.options.batch_size
        if self.options.limit is not None:
            size = min(size, self.options.limit - self.claimed)
        if size <= 0:
            return None
        now = timezone.now()
        owner = claim_owner(self.options.trigger)
        lease = settings.ACADEMIC_ANALYZER_CLAIM_SECONDS
        with transaction.atomic():
            # One row more than asked says whether another batch is due, without a query.
            rows = list(
                marks_due(self.options, now=now)
                .filter(marks_after(self.cursor))
                .exclude(course_id__in=self.missing_courses)
                .select_related("student", "quiz__created_by")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by(*CLAIM_ORDER)[: size + 1]
            )
            marks = rows[:size]
            if not marks:
                return None
            claimed = (
                TutorialMark.objects.filter(pk__in=[m.pk for m in marks])
                .unclaimed(now=now)
                .claim(owner=owner, until=now + timedelta(seconds=lease))
            )
        self.cursor = tuple(getattr(marks[-1], name) for name in CLAIM_ORDER)
        if claimed < len(marks):
            # Only without row locks (SQLite): another copy claimed some in between.
            mine = set(TutorialMark.objects.held_by(owner).values_list("pk", flat=True))
            marks = [m for m in marks if m.pk in mine]
        self.claimed += len(marks)
        self.summary.batches += 1
        client = get_client()
        connect, read = client.timeout
        longest = connect + read + client.bulk_extra_seconds(self.bulk_size)
        until = time.monotonic() + lease - longest - LEASE_MARGIN_SECONDS
        return _InFlight(owner, marks, more=len(rows) > size, send_until=until)

    def start(self, flight: _InFlight) -> None:
        """Check the batch's courses; with a pool, queue its sends (they start at once)."""
        # Claimed in CLAIM_ORDER: a course's marks are together.
        for course_id, same_course in groupby(flight.marks, key=attrgetter("course_id")):
            if self.stop.is_set() or self.past_deadline():
                break  # the unchecked courses' marks are released, still due
            marks = list(same_course)
            course = self.course(course_id)
            if isinstance(course, CourseDetail):
                self.check_marks(flight, course, marks)
            elif course.reason == Reason.COURSE_NOT_FOUND:
                flight.rejected |= self.reject_course(course_id, error=course, owner=flight.owner)
            elif isinstance(course, SyncConfigurationError):
                flight.tries.append(SendTry.failed(mark=marks[0], error=course))  # asked for it
            else:
                flight.tries += [SendTry.failed(mark=mark, error=course) for mark in marks]
        size = 0 if self.bulk_missing else self.bulk_size
        flight.sends = self.queue(_groups(flight.sendable, size=size), until=flight.send_until)

    def check_marks(
        self, flight: _InFlight, course: CourseDetail, marks: list[TutorialMark]
    ) -> None:
        """Give each of a course's marks its teacher email, or a failed try, unsent (a student
        not on the roster, no teacher email). On this thread: it may ask the database and the
        Analyzer's dashboard."""
        roster = course.roll_numbers()
        course_teacher = partial(self.course_teacher, course.course_id)
        for mark in marks:
            try:
                if roster is not None and mark.student.username not in roster:
                    raise _not_on_roster(mark)
                teacher = teacher_email_resolve(mark=mark, course_teacher=course_teacher)
            except SyncError as err:
                flight.tries.append(SendTry.failed(mark=mark, error=err))
            else:
                flight.sendable.append((mark, course, teacher))

    def complete(self, flight: _InFlight) -> None:
        """Wait for the batch's sends, send one by one the marks of any bulk request the
        Analyzer had no route for, then write the batch back."""
        tries = list(flight.tries)
        fallback: list[_Group] = []
        for result in flight.sends:
            sent = result()
            if isinstance(sent, _Group):
                fallback.append(sent)
            else:
                tries += sent
        if fallback:
            self.bulk_fall_back()
            one_each = [
                _Group(g.course, g.email, g.source, [m], bulk=False)
                for g in fallback
                for m in g.marks
            ]
            for result in self.queue(one_each, until=flight.send_until):
                sent = result()
                assert isinstance(sent, list)  # a POST of one mark never falls back
                tries += sent
        self.write_back(flight, tries, flight.rejected)

    def queue(self, groups: list[_Group], *, until: float) -> list[Callable[[], _Sent]]:
        """The groups' sends, each called for its result: with a pool they start at once,
        with one worker each is sent when called (so a stop is seen before the next one)."""
        sends: list[Callable[[], _Sent]] = [partial(self.send, g, until=until) for g in groups]
        if self.pool is None:
            return sends
        return [self.pool.submit(send).result for send in sends]

    # --- the Analyzer ------------------------------------------------------------------

    def course(self, course_id: str) -> CourseDetail | SyncError:
        """The course as the Analyzer knows it, asked once per run; a SyncError if that failed."""
        if course_id not in self.courses:
            self.limiter.wait()
            found: CourseDetail | SyncError
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

    def course_teacher(self, course_id: str) -> str | None:
        """A teacher of the course whom the Analyzer lists as handling it, asked once per run
        (only for marks whose quiz creator has no email); raises the lookup's SyncError."""
        if course_id not in self.teachers:
            self.limiter.wait()  # a lookup counts as a request
            try:
                self.teachers[course_id] = course_teacher_email(course_id=course_id)
            except SyncError as err:
                self.teachers[course_id] = err
                self.observe(err)
        found = self.teachers[course_id]
        if isinstance(found, SyncError):
            raise found
        return found

    def may_send(self, until: float) -> bool:
        return not (self.stop.is_set() or time.monotonic() >= until or self.past_deadline())

    def send(self, group: _Group, *, until: float) -> _Sent:
        """POST a group (in a worker thread: no database here): one add-tutN-mark request, or
        one POST for its one mark. No tries when not sent; the group itself when the bulk route
        turned out to be missing (its marks then go one POST each)."""
        if not self.may_send(until):
            return []
        if group.bulk and self.bulk_missing:
            return group  # learnt from another request meanwhile: no second 404
        self.limiter.wait()
        # Checked again after waiting for the rate limit: a request must not outlive its lease.
        if not self.may_send(until):
            return []
        try:
            if group.bulk:
                tries = marks_send_bulk(
                    marks=group.marks,
                    course=group.course,
                    teacher_email=group.email,
                    email_source=group.source,
                )
            else:
                teacher = (group.email, group.source)
                tries = [mark_send(mark=group.marks[0], course=group.course, teacher=teacher)]
        except SyncRouteMissingError as err:
            with self.lock:
                self.summary.requests += 1
                self.bulk_missing = self.bulk_missing or err
            return group
        except Exception as err:  # one bad request never stops the run
            first = group.marks[0]
            logger.exception(
                "unexpected error sending marks=%s student=%s course=%s tutorial=%s "
                "bulk_items=%s: the marks retry later",
                ",".join(str(m.pk) for m in group.marks),
                first.student.username if len(group.marks) == 1 else "-",
                first.course_id,
                first.tutorial_number,
                len(group.marks) if group.bulk else "-",
            )
            error = SyncError(f"Unexpected error while sending: {type(err).__name__}")
            tries = [SendTry.failed(mark=mark, error=error) for mark in group.marks]
            with self.lock:
                self.summary.errors += 1
        with self.lock:
            if group.bulk or tries[0].requested:
                self.summary.requests += 1
            self.summary.bulk_requests += group.bulk
        # The whole request's error, or the first item's (a rejection: it was answered).
        self.observe(tries[0].error)
        return tries

    def bulk_fall_back(self) -> None:
        """The Analyzer has no bulk route: remember it (shared, with an expiry), say so once,
        and send the rest of this run one POST per mark. On the run's thread (database)."""
        err = self.bulk_missing
        if self.summary.bulk == "unsupported" or err is None:
            return
        self.summary.bulk = "unsupported"
        bulk_unsupported_remember()
        logger.warning(
            "bulk marks route missing url=%s http_status=%s course=%s tutorial=%s trigger=%s: "
            "this Analyzer has no POST /staff/add-tutN-mark; resync sends one POST per mark "
            "(the rest of this run included) "
            "for ACADEMIC_ANALYZER_BULK_RETRY_SECONDS=%s, then tries bulk again",
            err.url,
            err.status_code,
            err.context.get("course_id", "-"),
            err.context.get("tutorial_number", "-"),
            self.options.trigger,
            settings.ACADEMIC_ANALYZER_BULK_RETRY_SECONDS,
        )

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
            template = _STOP_MESSAGES.get(reason)
            if template and not message:
                message = template.format(
                    detail=f"{error.message}, HTTP {error.status_code or '-'}" if error else "",
                    url=get_client().base_url if reason == Reason.NOT_THE_ANALYZER else "",
                    streak=self.streak,
                    seconds=self.options.deadline_seconds or 0,
                )
            self.summary.message = message or (error.next_step if error else reason_label(reason))
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
        """Reject every due mark of a course the Analyzer does not know, in one UPDATE (marks
        another copy holds are skipped). Like a POST refused for the same reason, it is a try
        of each: ``tries`` counts it and it writes a history row. Returns the ids among them
        that ``owner`` had claimed."""
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
                tries=F("tries") + 1,
            )
            MarkDeliveryLog.objects.bulk_create(
                MarkDeliveryLog(
                    mark_id=pk,
                    tried_at=now,
                    trigger=self.options.trigger,
                    version=version,
                    value=value,
                    outcome=Status.REJECTED,
                    reason=error.reason,
                    http_status=error.status_code,
                    error=f"Course check before sending: {error}"[:500],
                )
                for pk, _, _, _, version, value in rows
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
        self.missing_courses.add(course_id)
        for pk, _, student, tutorial, version, value in rows:
            self.report(
                DeliveryOutcome(
                    mark_id=pk,
                    student=student,
                    course_id=course_id,
                    tutorial_number=tutorial,
                    version=version,
                    value=value,
                    status=Status.REJECTED,
                    reason=error.reason,
                    http_status=error.status_code,
                )
            )
        return {row[0] for row in rows if row[1] == owner}

    def recheck_rejected_courses(self) -> int:
        """Requeue the marks (within the run's filters) rejected as course_not_found whose
        course the run's course check now finds (upstream's ``restore-course`` tells nobody
        here); return how many. Not for admin runs (``mark_ids``). Courses the Analyzer said
        are missing within the cache period are not asked; any failure but "missing" ends the
        rechecks until the next run."""
        if self.options.mark_ids is not None:
            return 0
        rejected = TutorialMark.objects.filter(
            status=Status.REJECTED, reason=Reason.COURSE_NOT_FOUND, **mark_filters(self.options)
        )
        courses = set(rejected.order_by().values_list("course_id", flat=True).distinct())
        if not courses:
            return 0
        requeued = 0
        for course_id in sorted(courses - courses_known_missing(course_ids=courses)):
            found = self.course(course_id)
            if isinstance(found, SyncRejectedError):
                continue  # still missing: remembered, asked again after the cache period
            if isinstance(found, SyncError):
                if isinstance(found, SyncConfigurationError) and found.status_code is not None:
                    config_rejection_remember(found.reason)
                logger.info(
                    "rejected courses not rechecked course=%s reason=%s: the next run asks again",
                    course_id,
                    found.reason,
                )
                break
            count = rejected.filter(course_id=course_id).update(**DUE_AFRESH, updated_at=Now())
            requeued += count
            logger.info(
                "course back on the Academic Analyzer course=%s marks_requeued=%s: they are "
                "delivered in this run",
                course_id,
                count,
            )
        return requeued

    def write_back(self, batch: _InFlight, tries: list[SendTry], rejected: set[int]) -> None:
        written = marks_write_back(
            tries=tries,
            owner=batch.owner,
            trigger=self.options.trigger,
            now=timezone.now(),
            claimed=len(batch.marks) - len(rejected),
            # Once per run: the first delivery closes the inline breaker and forgets a rejected
            # configuration; later batches need not say it again (one DELETE per run).
            clear_problems=not self.problems_cleared,
        )
        self.summary.attempts_settled += written.attempts_settled
        for sent in tries:
            outcome = written.outcomes[sent.mark.pk]
            self.problems_cleared = self.problems_cleared or outcome.reached
            self.report(outcome, mark=sent.mark)
        done = rejected | {sent.mark.pk for sent in tries}
        for mark in batch.marks:
            if mark.pk not in done:
                reason = self.summary.stopped or ""
                self.report(DeliveryOutcome.of(mark, status=NotSent.SKIPPED, reason=reason))

    # --- reporting -----------------------------------------------------------------------

    def report(self, result: DeliveryOutcome, *, mark: TutorialMark | None = None) -> None:
        self.summary.count(result)
        if mark is not None:
            level = _MARK_LOG_LEVELS.get(result.status)
            if result.superseded or self.on_mark:
                # The caller prints every mark (-v 2): a WARNING too would say it twice.
                level = logging.DEBUG
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
            self.report(DeliveryOutcome.of(mark, status=NotSent.WOULD_SEND))

    def finish(self) -> ResyncSummary:
        summary, options = self.summary, self.options
        if options.mark_ids is not None and not summary.dry_run:
            summary.busy = (
                TutorialMark.objects.filter(pk__in=list(options.mark_ids))
                .claimed(now=timezone.now())
                .exclude(status=Status.DELIVERED, delivered_version=F("version"))
                .count()
            )
        if options.mark_ids is None:
            summary.waiting = marks_waiting(options)
        summary.duration_seconds = time.monotonic() - self.started
        summary.log(trigger=options.trigger, workers=options.workers, filters=filters_text(options))
        return summary


def _not_on_roster(mark: TutorialMark) -> SyncRejectedError:
    return SyncRejectedError(
        f"Student {mark.student.username} is not on the Academic Analyzer's roster of course "
        f"{mark.course_id} (its course-detail, asked in this run): the mark would be refused, "
        "so it was not sent",
        reason=Reason.NOT_ENROLLED,
        context={"student_id": mark.student.username, "course_id": mark.course_id},
    )


def _groups(
    sendable: list[tuple[TutorialMark, CourseDetail, tuple[str, str]]], *, size: int
) -> list[_Group]:
    """The marks by course, tutorial and teacher email, in add-tutN-mark requests of at most
    ``size`` marks; with ``size`` 0, one POST per mark, in the batch's order."""
    if not size:
        return [_Group(c, email, source, [m], bulk=False) for m, c, (email, source) in sendable]
    groups: dict[tuple[str, int, str], _Group] = {}
    for mark, course, (email, source) in sendable:
        key = (mark.course_id, mark.tutorial_number, email)
        groups.setdefault(key, _Group(course, email, source, [], bulk=True)).marks.append(mark)
    return [
        _Group(g.course, g.email, g.source, g.marks[i : i + size], bulk=True)
        for g in groups.values()
        for i in range(0, len(g.marks), size)
    ]
