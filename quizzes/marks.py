"""The read seam: what quizzes shows of a tutorial slot's mark, which it does not own.

quizzes keeps attempts and their scores. The mark of a tutorial slot (the value that counts,
and whether it reached the Academic Analyzer) is kept by whichever app registers a
`MarkSource` here: academic_integration does, in its AppConfig.ready
(academic_integration/mark_source.py). The base `MarkSource`, in force while none is
registered, answers "no mark": the student pages then say nothing about a mark's delivery,
and the results grids have empty mark and status columns. quizzes imports no such app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db.models import IntegerField, Value
from django.db.models.expressions import BaseExpression

if TYPE_CHECKING:
    from quizzes.models import Quiz, QuizAttempt


@dataclass(frozen=True)
class SyncMessage:
    """The result page's sentence about the mark."""

    level: str  # success / info / warning
    text: str


#: A source's kind of mark (see `MarkSource`). Unbounded: a Protocol bound is checked before
#: django-stubs gives a model its fields, so a model could not meet it.
MarkT = TypeVar("MarkT")


class MarkSource(Generic[MarkT]):
    """What quizzes asks about tutorial marks; this base knows of none.

    A mark, where there is one, is any object with ``value`` (0–10: the slot's mark, by the
    quiz's grading method) and ``tutorial_number``; quizzes reads nothing else of it and
    hands it back to the source for the sentences. Each method costs at most one query.

    ``score_shown`` False: the quiz holds the score back from the student (`review_score`),
    so the sentences must not name the mark's value; what reached the Analyzer may be said.
    """

    #: The "status" column's value of a delivered mark (the results grids' filters).
    delivered = "delivered"

    def slot_mark(self, *, student_id: int, quiz: Quiz) -> MarkT | None:
        """The student's mark of the tutorial quiz's slot, or None (one query at most)."""
        return None

    def slot_columns(self, *, course_id: str, tutorial_number: int) -> dict[str, BaseExpression]:
        """Annotations "mark" and "status" of the slot's mark for a row of users, whose
        primary key is ``OuterRef("pk")``: subqueries, so a grid stays one query."""
        return {
            "mark": Value(None, output_field=IntegerField()),
            "status": Value(None, output_field=IntegerField()),
        }

    def result_message(
        self, *, mark: MarkT | None, attempt: QuizAttempt, score_shown: bool = True
    ) -> SyncMessage | None:
        """The result page's sentence about ``mark`` (None: no sentence)."""
        return None

    def attempts_line(self, *, mark: MarkT | None, score_shown: bool = True) -> str | None:
        """The line under a student's attempt list about ``mark`` (None: no line)."""
        return None


# The registry forgets which kind of mark its source deals in (quizzes cannot name it): a
# source only ever gets back the marks it handed out, so Any stands for "the source's own".
_source: MarkSource[Any] = MarkSource()


def mark_source() -> MarkSource[Any]:
    """The registered source (the base one, knowing no marks, until one is registered)."""
    return _source


def mark_source_register(source: MarkSource[Any]) -> MarkSource[Any]:
    """Make ``source`` the one quizzes asks; returns the one it replaces (for tests)."""
    global _source
    previous, _source = _source, source
    return previous
