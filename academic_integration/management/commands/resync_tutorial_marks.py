"""`manage.py resync_tutorial_marks`: deliver every due tutorial mark (run it from cron)."""

import argparse
import json
import logging
import re
import traceback
from datetime import datetime, time, timedelta
from typing import Any, TextIO, cast

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from academic_integration.client import POOL_MAXSIZE
from academic_integration.management import SyncCommand
from academic_integration.resync import (
    BATCH_SIZE,
    ResyncOptions,
    ResyncSummary,
    resync_due_count,
    resync_run,
)
from academic_integration.resync.summary import EXIT_NEEDS_A_PERSON, plural
from academic_integration.services import DeliveryOutcome
from quizzes.timed_attempts import attempts_submit_overdue

EPILOG = """\
What it picks up: pending marks, and retrying marks whose next try has come (also marks
whose delivery after submit never ran). --include-failed adds rejected and given-up marks.
Temporary failures back off per mark (exponential, with jitter, honouring Retry-After) until
ACADEMIC_ANALYZER_MAX_TRIES / _MAX_AGE_HOURS, then the mark is given up.

Safe to run several copies at once (cron overlap, several hosts) on PostgreSQL: marks are
claimed with SELECT ... FOR UPDATE SKIP LOCKED and a lease. On SQLite run one at a time.

Marks still backing off from earlier tries are left for later and counted in the summary
(with when and why); --now sends them too.

Exit codes:
  0  nothing needs anyone: nothing failed in this run and no mark waits for a person
     (marks still backing off from earlier runs do not count: they retry by themselves)
  1  some marks failed in this run for a temporary reason and retry by themselves, or the
     Analyzer kept failing and the run stopped early; no one needs to act yet
  2  configuration or authentication problem: sync not configured, the token was
     rejected, or ACADEMIC_ANALYZER_URL is not the Analyzer; the marks stay due
  3  the run crashed (e.g. the database is unreachable): one line says what broke, -v 2
     prints the traceback; claimed marks come back when their lease ends
  4  marks wait for a person: rejected or given up, in this run or an earlier one (no run
     delivers them until their cause is fixed); the summary lists each reason with its
     next step, and one line on stderr says how many. Repeats every run until fixed.
"""

logger = logging.getLogger(__name__)

#: The run crashed: neither "some marks failed" (1) nor a configuration stop (2).
EXIT_CRASHED = 3

_RELATIVE = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _since(value: str) -> datetime:
    """An ISO date or date-time (local time if naive), or an age such as 30m, 12h, 7d."""
    value = value.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = relative.groups()
        return timezone.now() - timedelta(**{_UNITS[unit]: int(amount)})
    when = parse_datetime(value)
    if when is None:
        day = parse_date(value)
        if day is None:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a date (2026-03-01), a date-time or an age (30m, 12h, 7d)"
            )
        when = datetime.combine(day, time.min)
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _workers(value: str) -> int:
    number = _positive_int(value)
    if number > POOL_MAXSIZE:
        raise argparse.ArgumentTypeError(f"at most {POOL_MAXSIZE} (the connection pool size)")
    return number


def _bulk_size(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (one POST per mark) or more, got {number}")
    return number


def _rate(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be a positive number of requests per second")
    return number


class Command(SyncCommand):
    help = "Deliver every due tutorial mark to the Academic Analyzer; run it from cron."
    epilog = EPILOG

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List what would be sent; send and change nothing.",
        )
        parser.add_argument("--course", metavar="COURSE_ID", help="Only marks of this course.")
        parser.add_argument(
            "--quiz", type=int, metavar="QUIZ_ID", help="Only marks last changed by this quiz."
        )
        parser.add_argument("--student", metavar="ROLL", help="Only this student's marks.")
        parser.add_argument(
            "--since",
            type=_since,
            metavar="WHEN",
            help="Only marks due since WHEN: a date, a date-time or an age (30m, 12h, 7d).",
        )
        parser.add_argument("--limit", type=_positive_int, help="Take at most this many marks.")
        parser.add_argument(
            "--batch-size",
            type=_positive_int,
            default=BATCH_SIZE,
            help=f"Marks claimed and written back together (default {BATCH_SIZE}).",
        )
        parser.add_argument(
            "--bulk-size",
            type=_bulk_size,
            metavar="N",
            help="Marks of one course and tutorial sent in one add-tutN-mark request, at "
            "most a batch (default: ACADEMIC_ANALYZER_BULK_SIZE, 200); 0 sends one POST per "
            "mark. An Analyzer without that route gets one POST per mark anyway.",
        )
        parser.add_argument(
            "--workers",
            type=_workers,
            default=1,
            help=f"Threads sending at once, sharing one connection pool (default 1, "
            f"at most {POOL_MAXSIZE}).",
        )
        parser.add_argument(
            "--max-rate",
            type=_rate,
            metavar="PER_SECOND",
            help="At most this many requests a second to the Analyzer, across all workers.",
        )
        parser.add_argument(
            "--include-failed",
            action="store_true",
            help="Also retry rejected and given-up marks (after fixing their cause).",
        )
        parser.add_argument(
            "--now",
            action="store_true",
            help="Also send retrying marks that are still backing off (after an outage).",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the summary as JSON on stdout."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        resync_options = ResyncOptions(
            course_id=options["course"],
            quiz_id=options["quiz"],
            student=options["student"],
            since=options["since"],
            limit=options["limit"],
            batch_size=options["batch_size"],
            bulk_size=options["bulk_size"],
            workers=options["workers"],
            max_rate=options["max_rate"],
            include_failed=options["include_failed"],
            ignore_backoff=options["now"],
            dry_run=options["dry_run"],
        )
        self.verbosity = options["verbosity"]
        if not options["dry_run"]:
            self.submit_overdue(quiet=options["json"] or options["verbosity"] < 1)
        bar = None
        if self.stdout.isatty() and not options["json"] and self.verbosity >= 1:
            from tqdm import tqdm

            bar = tqdm(total=resync_due_count(resync_options), unit="mark", file=self._terminal)
        self.bar = bar
        try:
            summary = resync_run(
                resync_options,
                progress=bar.update if bar else None,
                on_mark=self.print_mark if self.verbosity >= 2 else None,
            )
        except Exception as err:
            raise self.crashed(err) from err
        finally:
            if bar:
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(summary.as_dict(), indent=2))
        elif self.verbosity >= 1:
            self.print_summary(summary)
        if summary.exit_code:
            raise CommandError(_failure_text(summary), returncode=summary.exit_code)

    @property
    def _terminal(self) -> TextIO:
        """The stream under ``self.stdout``, for tqdm (django-stubs knows it only as an
        attribute passed through to it)."""
        return cast(TextIO, self.stdout._out)

    def submit_overdue(self, *, quiet: bool) -> None:
        """Timed attempts left when their time was up are submitted first (quizzes), so
        their marks are delivered by this run too."""
        try:
            overdue = attempts_submit_overdue()
        except Exception as err:
            raise self.crashed(err) from err
        if overdue and not quiet:
            self.stdout.write(f"Submitted {plural(overdue, 'timed attempt')} whose time was up.")

    def crashed(self, err: Exception) -> CommandError:
        """One line saying what broke (exit 3); the traceback at -v 2 and in the DEBUG log."""
        what = " ".join(str(err).split())[:300] or "no details"
        logger.debug("resync run crashed", exc_info=err)
        if self.verbosity >= 2:
            self.stderr.write("".join(traceback.format_exception(err)))
        return CommandError(
            f"Resync crashed: {type(err).__name__}: {what}. Nothing was lost: marks it had "
            "claimed come back when their lease ends. Run with -v 2 for the traceback.",
            returncode=EXIT_CRASHED,
        )

    def print_mark(self, result: DeliveryOutcome) -> None:
        line = (
            f"{result.status:<10} mark {result.mark_id} {result.student} {result.course_id} "
            f"tutorial{result.tutorial_number} v{result.version} = {result.value}"
        )
        if result.superseded:
            line += " (a newer value is due)"
        if result.reason:
            line += f" [{result.reason}]"
        if self.bar:
            self.bar.write(line, file=self._terminal)
        else:
            self.stdout.write(line)

    def print_summary(self, summary: ResyncSummary) -> None:
        style = self.style.SUCCESS if summary.exit_code == 0 else self.style.WARNING
        self.stdout.write(style(summary.headline()))
        if self.verbosity < 2:  # at -v 2 each mark was listed as it was done
            for item in summary.would_send:
                self.stdout.write(
                    f"  would send mark {item['mark_id']}: {item['student']} "
                    f"{item['course_id']} tutorial{item['tutorial_number']} = {item['value']} "
                    f"(v{item['version']}, {item['status']})"
                )
        for group in summary.retrying_groups:
            self.stdout.write(self.style.WARNING(f"Retrying — {group.line()}"))
            self.stdout.write(f"  Next step: {group.command_next_step}")
        if summary.waiting:
            self.stdout.write(
                self.style.WARNING(
                    f"Waiting for a person: {plural(summary.waiting_count, 'mark')} rejected "
                    "or given up (in this run or earlier); no run delivers them until the "
                    "cause is fixed:"
                )
            )
        for group in summary.waiting or summary.given_up_groups + summary.rejected_groups:
            heading = "Given up" if group.status == "given_up" else "Rejected"
            self.stdout.write(self.style.WARNING(f"{heading} — {group.line()}"))
            self.stdout.write(f"  Next step: {group.command_next_step}")
        self.print_backing_off(summary)
        if summary.exit_code in (1, EXIT_NEEDS_A_PERSON) and summary.message:
            self.stdout.write(self.style.WARNING(summary.message))

    def print_backing_off(self, summary: ResyncSummary) -> None:
        if not summary.backing_off:
            return  # the headline said "none backing off" (or --now took them)
        them = "it" if summary.backing_off_count == 1 else "them"
        self.stdout.write(
            f"Backing off: {plural(summary.backing_off_count, 'mark')} not due yet after "
            f"earlier failed tries, left for a later run (--now sends {them} at once):"
        )
        for group in summary.backing_off:
            first, last = _when(group.first_try_at), _when(group.last_try_at)
            span = f"at {first}" if first == last else f"from {first} to {last}"
            self.stdout.write(f"  {group.label}: {plural(group.marks, 'mark')}, next tries {span}")


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _failure_text(summary: ResyncSummary) -> str:
    if summary.exit_code == EXIT_NEEDS_A_PERSON and summary.waiting:
        reasons = "; ".join(
            f"{group.marks} {group.status.replace('_', ' ')}: {group.label} "
            f"({', '.join(sorted(group.courses))})"
            for group in summary.waiting
        )
        return (
            f"{plural(summary.waiting_count, 'mark')} "
            f"{'waits' if summary.waiting_count == 1 else 'wait'} for a person ({reasons}). The "
            "summary and admin's Tutorial marks page give the next step for each."
        )
    if summary.message:
        return summary.message
    return (
        f"{plural(summary.failed, 'mark')} failed in this run ({summary.retrying} retrying "
        f"later, {summary.rejected} rejected, {summary.given_up} given up): see the summary."
    )
