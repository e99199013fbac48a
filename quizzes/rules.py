"""A student's effective rules for a quiz: the quiz's own, widened by their exception.

The one place that says when a quiz is open, closed and past its grace period for a student,
how many attempts they have and when they see the answer key, right/wrong and their score.
Pure: no queries. `quizzes.selectors.quiz_rules_for` loads the student's exception (or reads
it from the quiz list's annotations) and builds these; `Quiz`'s own date and review methods
are these rules without an exception.

An exception only ever gives more (docs/decisions/0022-per-student-exceptions.md): its
closing counts only when later than the quiz's, and its extra attempts add to a limit. So
whatever the quiz's own rules accept, every student's rules accept too; the submit service
relies on it to read exceptions only for a submit the quiz's rules would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quizzes.models import Quiz


def _later(base: datetime | None, other: datetime | None) -> datetime | None:
    """The later of a quiz's closing and an exception's: never earlier, never added when the
    quiz does not close at all."""
    if base is None or other is None:
        return base
    return max(base, other)


@dataclass(frozen=True)
class QuizRules:
    quiz: Quiz
    #: This student's closing: the quiz's, or their exception's when later.
    closes_at: datetime | None
    #: The quiz's maximum plus their extra attempts; None: unlimited.
    max_attempts: int | None
    #: Added to a time-limited quiz's time limit (`time_limit`).
    extra_minutes: int = 0
    #: "After the quiz closes" for the review options: the last closing of any student on
    #: this quiz, so nobody passes the key to a student whose extension still runs.
    review_closes_at: datetime | None = None

    @classmethod
    def build(
        cls,
        quiz: Quiz,
        *,
        extra_attempts: int | None = 0,
        closes_at: datetime | None = None,
        extra_minutes: int | None = 0,
        last_closes_at: datetime | None = None,
    ) -> QuizRules:
        """The rules of a student with this exception (all empty: none), on a quiz whose
        exceptions' latest closing is ``last_closes_at``."""
        return cls(
            quiz=quiz,
            closes_at=_later(quiz.closes_at, closes_at),
            max_attempts=None
            if quiz.max_attempts is None
            else quiz.max_attempts + (extra_attempts or 0),
            extra_minutes=extra_minutes or 0,
            review_closes_at=_later(quiz.closes_at, last_closes_at),
        )

    @property
    def time_limit(self) -> timedelta | None:
        """A timed quiz's limit plus this student's extra minutes; None: the quiz is untimed
        (quizzes/time_limits.py turns it into an attempt's deadline)."""
        minutes = self.quiz.time_limit_minutes
        return None if minutes is None else timedelta(minutes=minutes + self.extra_minutes)

    # --- what the student is told -----------------------------------------------------------

    def extended(self) -> bool:
        """Their closing is later than the quiz's: student pages say "extended for you"."""
        return self.closes_at != self.quiz.closes_at

    # --- dates: `now` is passed in so one request sees one time -----------------------------

    def is_upcoming(self, now: datetime) -> bool:
        return self.quiz.opens_at is not None and now < self.quiz.opens_at

    def is_closed(self, now: datetime) -> bool:
        return self.closes_at is not None and now >= self.closes_at

    def is_open(self, now: datetime) -> bool:
        """New attempts may start."""
        return not self.is_upcoming(now) and not self.is_closed(now)

    def submit_deadline(self) -> datetime | None:
        """The last moment a submit is accepted: closing time plus the grace period."""
        return None if self.closes_at is None else self.closes_at + self.grace()

    def accepts_submissions(self, now: datetime) -> bool:
        deadline = self.submit_deadline()
        return not self.is_upcoming(now) and (deadline is None or now <= deadline)

    def attempts_left(self, *, used: int) -> int | None:
        """Attempts the student may still start (None: unlimited)."""
        return None if self.max_attempts is None else max(self.max_attempts - used, 0)

    def grace(self) -> timedelta:
        return self.quiz.SUBMIT_GRACE

    # --- review: the answer key, right/wrong, the score -------------------------------------

    def key_visible(self, *, attempts_used: int, now: datetime) -> bool:
        """Whether a student who has completed ``attempts_used`` attempts sees the key."""
        return self._review_open(self.quiz.review, attempts_used=attempts_used, now=now)

    def correctness_visible(self, *, attempts_used: int, now: datetime) -> bool:
        """Whether they see right/wrong (and the points) per question: the key shows it."""
        return self._review_open(
            self.quiz.review_correctness, attempts_used=attempts_used, now=now
        ) or self.key_visible(attempts_used=attempts_used, now=now)

    def score_visible(self, *, attempts_used: int, now: datetime) -> bool:
        """Whether they see the score, the points and the mark's value (the points per
        question too: they add up to the score)."""
        return self._review_open(self.quiz.review_score, attempts_used=attempts_used, now=now)

    def review_closed(self, now: datetime) -> bool:
        """ "Closed" for the review options: past the grace period too (a friend's key must
        not reach an attempt still being submitted), and past every student's extension (nor
        one whose extension still runs). A score tells which answers were right as much as
        the key does, so all three wait alike."""
        closes = self.review_closes_at
        return closes is not None and now > closes + self.grace()

    def _review_open(self, review: str, *, attempts_used: int, now: datetime) -> bool:
        Review = self.quiz.Review
        if review == Review.IMMEDIATELY:
            return True
        if review == Review.AFTER_CLOSE:
            return self.review_closed(now)
        if review == Review.AFTER_LAST_ATTEMPT:
            out_of_attempts = self.max_attempts is not None and attempts_used >= self.max_attempts
            return self.review_closed(now) or out_of_attempts
        return False
