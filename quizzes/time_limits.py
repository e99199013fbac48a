"""Time limits: when a timed attempt must be in, decided in one place.

Decisions: docs/decisions/0023-time-limits.md.

A student's rules (`quizzes.rules.QuizRules`, from `selectors.quiz_rules_for`, or
`selectors.attempts_rules` for a batch) give the time limit (the quiz's plus their extra
minutes) and the closing time (the quiz's, or their later one); `attempt_deadline` turns
them into the attempt's deadline. Pure but for `deadline_of` without rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from quizzes.rules import QuizRules

if TYPE_CHECKING:
    from quizzes.models import QuizAttempt

#: A save or submit that reaches the server this long after the deadline still counts as on
#: time: the browser's auto-submit fired at 0:00 and was on its way over a slow network.
NETWORK_GRACE = timedelta(seconds=30)

#: The page warns when this little time is left, or a fifth of the limit if that is less.
WARN_BEFORE = timedelta(minutes=5)


def attempt_deadline(*, started_at: datetime, rules: QuizRules) -> datetime | None:
    """When the attempt must be in: its start plus the time limit, never after the closing
    time. None without a time limit (the quiz's closing rules apply as before)."""
    if rules.time_limit is None:
        return None
    deadline = started_at + rules.time_limit
    return deadline if rules.closes_at is None else min(deadline, rules.closes_at)


def deadline_of(attempt: QuizAttempt, rules: QuizRules | None = None) -> datetime | None:
    """`attempt_deadline` of an attempt whose quiz is loaded, under the student's rules (read
    when not given: one query, none for an untimed quiz)."""
    if not attempt.quiz.is_timed():
        return None
    if rules is None:
        from quizzes.selectors import quiz_rules_for

        rules = quiz_rules_for(quiz=attempt.quiz, student_id=attempt.student_id)
    return attempt_deadline(started_at=attempt.started_at, rules=rules)


def is_overdue(*, deadline: datetime | None, now: datetime) -> bool:
    """Past the deadline and its network grace: the time is up, answers are no longer taken."""
    return deadline is not None and now > deadline + NETWORK_GRACE


def warning_from(*, deadline: datetime, rules: QuizRules) -> datetime:
    """When the page starts warning that time is nearly up."""
    time_limit = rules.time_limit
    assert time_limit is not None, "a deadline comes from a time limit (attempt_deadline)"
    return deadline - min(WARN_BEFORE, time_limit / 5)
