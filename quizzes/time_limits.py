"""Time limits: when a timed attempt must be in, decided in one place (docs/decisions/0008).

`quiz_rules_for` says which time limit and closing time apply to a student (today the quiz's
own; per-student exceptions, such as extra minutes or a later closing, plug in there and
nowhere else), and `attempt_deadline` turns them into the attempt's deadline. Pure: no
queries, so the pages and the overdue batch share it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

#: A save or submit that reaches the server this long after the deadline still counts as on
#: time: the browser's auto-submit fired at 0:00 and was on its way over a slow network.
NETWORK_GRACE = timedelta(seconds=30)

#: The page warns when this little time is left, or a fifth of the limit if that is less.
WARN_BEFORE = timedelta(minutes=5)


@dataclass(frozen=True)
class QuizRules:
    """What bounds a student's attempts on a quiz: the time limit (None: none) and the
    closing time (None: never closes)."""

    time_limit: timedelta | None
    closes_at: datetime | None


def quiz_rules_for(*, quiz, student_id: int) -> QuizRules:
    """The time limit and closing time that apply to this student on this quiz.

    Must not query: the overdue batch calls it for every attempt (per-student exceptions are
    to be read beforehand, e.g. in `attempts_rules`, in one query).
    """
    limit = quiz.time_limit_minutes
    return QuizRules(
        time_limit=None if limit is None else timedelta(minutes=limit), closes_at=quiz.closes_at
    )


def attempts_rules(attempts: Iterable) -> dict[int, QuizRules]:
    """`quiz_rules_for` of each attempt (its quiz loaded), by attempt id: the batch's entry."""
    return {a.pk: quiz_rules_for(quiz=a.quiz, student_id=a.student_id) for a in attempts}


def attempt_deadline(*, started_at: datetime, rules: QuizRules) -> datetime | None:
    """When the attempt must be in: its start plus the time limit, never after the closing
    time. None without a time limit (the quiz's closing rules apply as before)."""
    if rules.time_limit is None:
        return None
    deadline = started_at + rules.time_limit
    return deadline if rules.closes_at is None else min(deadline, rules.closes_at)


def deadline_of(attempt) -> datetime | None:
    """`attempt_deadline` of an attempt whose quiz is loaded."""
    rules = quiz_rules_for(quiz=attempt.quiz, student_id=attempt.student_id)
    return attempt_deadline(started_at=attempt.started_at, rules=rules)


def is_overdue(*, deadline: datetime | None, now: datetime) -> bool:
    """Past the deadline and its network grace: the time is up, answers are no longer taken."""
    return deadline is not None and now > deadline + NETWORK_GRACE


def warning_from(*, deadline: datetime, rules: QuizRules) -> datetime:
    """When the page starts warning that time is nearly up."""
    return deadline - min(WARN_BEFORE, rules.time_limit / 5)
