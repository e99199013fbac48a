"""What a resync run did: the counts of its outcomes, grouped problems with next steps, and
the exit code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from academic_integration.exceptions import (
    CONFIGURATION_REASONS,
    Reason,
    mark_next_step,
    reason_label,
    reason_next_step,
)
from academic_integration.models import TutorialMark
from academic_integration.services import DeliveryOutcome, NotSent

logger = logging.getLogger(__name__)

Status = TutorialMark.Status


#: The command's exit codes (3, a crash, is the command's own: the run never returns).
EXIT_RETRYING = 1  # marks failed in this run and retry by themselves: no one needs to act yet
EXIT_CONFIGURATION = 2  # sync not configured, token rejected, URL not the Analyzer
EXIT_NEEDS_A_PERSON = 4  # rejected or given-up marks wait for a fix, whenever they failed

#: Why a run stopped early that is a configuration problem: the command exits 2.
CONFIGURATION_STOPS = CONFIGURATION_REASONS | {Reason.SYNC_DISABLED}


def plural(count: int, noun: str) -> str:
    """``1 mark``, ``2 marks``: counts read as sentences."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass
class ProblemGroup:
    """Marks a run rejected or gave up for one reason: the courses and students behind them."""

    status: str
    reason: str
    courses: set[str] = field(default_factory=set)
    students: set[str] = field(default_factory=set)
    marks: int = 0

    def add(self, course_id: str, student: str) -> None:
        self.courses.add(course_id)
        self.students.add(student)
        self.marks += 1

    @property
    def label(self) -> str:
        return reason_label(self.reason)

    @property
    def next_step(self) -> str:
        if self.status == Status.RETRYING:
            return reason_next_step(self.reason, status=self.status)
        text = mark_next_step(
            self.reason,
            status=self.status,
            course_id=_only(self.courses),
            student_id=_only(self.students),
        )
        if self.status == Status.GIVEN_UP and self.reason == Reason.SERVER_ERROR:
            text += (
                " Older Analyzers answer a deleted course with a server error: check that "
                f"{', '.join(sorted(self.courses))} still exist in the Analyzer."
            )
        return text

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

    def line(self) -> str:
        """``label: 2 marks, 1 student, course 19XW51`` for the command's summary."""
        courses = ", ".join(sorted(self.courses))
        return (
            f"{self.label}: {plural(self.marks, 'mark')}, "
            f"{plural(len(self.students), 'student')}, "
            f"{'course' if len(self.courses) == 1 else 'courses'} {courses}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
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
            "first_try_at": iso(self.first_try_at),
            "last_try_at": iso(self.last_try_at),
        }


def _only(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


@dataclass
class ResyncSummary:
    """What one run did, and its ``exit_code`` (0, 1, 2 or 4: see there)."""

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
    # Marks rejected because their course was missing, put back because the Analyzer has
    # the course again (restored from its archive).
    requeued: int = 0
    requests: int = 0  # mark POSTs sent (bulk and single); course checks not included
    bulk_requests: int = 0  # of which add-tutN-mark requests
    # "on": a course's marks for a tutorial per request; "off": one POST per mark (bulk size
    # 0); "unsupported": this Analyzer has no bulk route (found in this run or remembered).
    bulk: str = ""
    problems: dict[tuple[str, str], ProblemGroup] = field(default_factory=dict)
    would_send: list[dict[str, Any]] = field(default_factory=list)
    # Marks not taken because they are still backing off from earlier tries (not failures of
    # this run): by reason, with when their next tries are due. None: not asked (admin, --now).
    backing_off: list[BackingOff] | None = None
    # Every mark in the run's scope that waits for a person (rejected or given up, in this
    # run or an earlier one), by status, reason and course. None: not asked (admin runs).
    waiting: list[ProblemGroup] | None = None
    stopped: str | None = None
    message: str = ""
    duration_seconds: float = 0.0

    def _groups(self, status: str) -> list[ProblemGroup]:
        return [g for _, g in sorted(self.problems.items()) if g.status == status]

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
    def waiting_count(self) -> int:
        """Marks that wait for a person: rejected or given up, whenever that happened."""
        return sum(g.marks for g in self.waiting or ())

    @property
    def exit_code(self) -> int:
        """The worst of the ``EXIT_*`` codes above that applies; 1 also when the run stopped
        early because the Analyzer kept failing."""
        if self.stopped in CONFIGURATION_STOPS:
            return EXIT_CONFIGURATION
        if self.waiting_count or self.rejected or self.given_up:
            return EXIT_NEEDS_A_PERSON
        if self.failed or self.stopped == "analyzer_failing":
            return EXIT_RETRYING
        return 0

    def headline(self) -> str:
        """The run in one sentence."""
        if self.dry_run:
            return (
                f"Dry run: would send {plural(len(self.would_send), 'mark')} now{self._later()}"
                f"{self._waiting()}; nothing was sent or changed."
            )
        parts = [f"{self.delivered} delivered ({plural(self.attempts_settled, 'attempt')} settled)"]
        if self.retrying:
            at = _hhmm(self.next_try_at) if self.next_try_at else None
            parts.append(f"{self.retrying} retrying" + (f" (next try at {at})" if at else ""))
        if self.given_up:
            parts.append(f"{self.given_up} given up ({', '.join(self.given_up_courses)})")
        if self.rejected:
            parts.append(f"{self.rejected} rejected")
        for count, what in [
            (self.superseded, "superseded by a retake (due again)"),
            (self.skipped, "left due"),
            (self.busy, "busy elsewhere"),
            (self.requeued, "requeued (their course is back on the Analyzer)"),
        ]:
            if count:
                parts.append(f"{count} {what}")
        return (
            f"Resync: {', '.join(parts)}{self._later()}{self._waiting()} "
            f"in {self.duration_seconds:.1f} s."
        )

    def _later(self) -> str:
        """What the run left for later because it is backing off: always said."""
        if self.backing_off is None:
            return ""  # not asked (an admin run, or --now)
        if not self.backing_off:
            # Marks retrying after this run's tries back off too; say which ones are meant.
            return "; none backing off from earlier runs" if self.retrying else "; none backing off"
        until = max(b.last_try_at for b in self.backing_off)
        earlier = " from earlier runs" if self.retrying else ""
        them = "it" if self.backing_off_count == 1 else "them"
        return (
            f"; {self.backing_off_count} backing off{earlier} until {_hhmm(until)} at the latest "
            f"(--now sends {them})"
        )

    def _waiting(self) -> str:
        """Marks no run delivers until a person acts: always said when asked."""
        if self.waiting is None:
            return ""
        if not self.waiting:
            return "; none waiting for a person"
        return f"; {plural(self.waiting_count, 'mark')} waiting for a person (see below)"

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (``--json``)."""
        return {
            "dry_run": self.dry_run,
            "delivered": self.delivered,
            "attempts_settled": self.attempts_settled,
            "retrying": {
                "count": self.retrying,
                "next_try_at": iso(self.next_try_at),
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
            "waiting_for_a_person": None
            if self.waiting is None
            else {
                "count": self.waiting_count,
                "groups": [g.as_dict() for g in self.waiting],
            },
            "superseded": self.superseded,
            "skipped": self.skipped,
            "busy": self.busy,
            "requeued": self.requeued,
            "errors": self.errors,
            "batches": self.batches,
            "requests": self.requests,
            "bulk_requests": self.bulk_requests,
            "bulk": self.bulk or None,
            "would_send": self.would_send,
            "stopped": self.stopped,
            "message": self.message,
            "duration_seconds": round(self.duration_seconds, 3),
            "exit_code": self.exit_code,
        }

    def log(self, *, trigger: str, workers: int, filters: str) -> None:
        """The run in one INFO line, and one WARNING per group of marks given up."""
        for group in self.given_up_groups:
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
            "requests=%s bulk_requests=%s bulk=%s stopped=%s dry_run=%s would_send=%s "
            "backing_off=%s waiting_for_a_person=%s workers=%s duration_s=%.2f filters=%s",
            trigger,
            self.delivered,
            self.attempts_settled,
            self.retrying,
            self.given_up,
            self.rejected,
            self.superseded,
            self.skipped,
            self.busy,
            self.errors,
            self.batches,
            self.requests,
            self.bulk_requests,
            self.bulk or "-",
            self.stopped or "-",
            self.dry_run,
            len(self.would_send),
            self.backing_off_count,
            self.waiting_count,
            workers,
            self.duration_seconds,
            filters,
        )

    def count(self, result: DeliveryOutcome) -> None:
        """Add one mark's result to the counts."""
        if result.superseded:
            self.superseded += 1
        elif result.status == Status.DELIVERED:
            self.delivered += 1
        elif result.status in (Status.RETRYING, Status.REJECTED, Status.GIVEN_UP):
            if result.status == Status.RETRYING:
                self.retrying += 1
                at = result.next_try_at
                if at is not None and (self.next_try_at is None or at < self.next_try_at):
                    self.next_try_at = at
            key = (result.status, result.reason)
            self.problems.setdefault(key, ProblemGroup(*key)).add(result.course_id, result.student)
        elif result.status != NotSent.WOULD_SEND:
            self.skipped += 1  # not tried, or left due by a configuration problem


def _hhmm(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M %Z")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
