"""How a quiz's questions went: per question, how many answered it, got it right, partly right
or wrong, the mean points, the wrong choice picked most and the commonest wrong typed answers.

Counted with aggregate queries in the database, never a loop over attempts: the same queries
for 10 students or 500 (the admin page pins them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet

from quizzes.attempt_review import answer_key_text
from quizzes.models import AttemptAnswer, Question, Quiz, QuizAttempt
from quizzes.scoring import round_points
from quizzes.selectors import counted_attempts, quiz_questions

COUNTED, ALL = "counted", "all"

#: Which attempts a summary counts: (label, what it means).
BASES = {
    COUNTED: "Counted attempts",
    ALL: "All submitted attempts",
}

#: The wrong typed answers shown per question, commonest first.
TOP_WRONG_RESPONSES = 3


def basis_attempts(*, quiz: Quiz, basis: str) -> QuerySet[QuizAttempt]:
    """The attempts a summary is made of: each student's counted attempt, or every submitted one."""
    if basis == COUNTED:
        return counted_attempts(quiz=quiz)
    return QuizAttempt.objects.filter(quiz=quiz, completed_at__isnull=False)


def basis_description(*, quiz: Quiz, basis: str) -> str:
    if basis == ALL:
        return "every submitted attempt: a student who took the quiz three times counts three times"
    method = "highest-scoring" if quiz.grading_method == Quiz.GradingMethod.HIGHEST else "latest"
    return f"one attempt per student, the one that counts (their {method} attempt, as graded)"


def _type_label(question: Question) -> str:
    if question.kind == question.Kind.CHOICE:
        if not question.multiple:
            return "single answer"
        return "multiple, partial credit" if question.scoring == "partial" else "multiple"
    return question.get_kind_display().split(" (")[0]


@dataclass(frozen=True)
class Picked:
    text: str
    times: int


@dataclass
class QuestionStats:
    number: int
    question: Question
    correct: str
    answered: int = 0
    right: int = 0
    partly: int = 0
    wrong: int = 0
    unanswered: int = 0
    mean_points: Decimal | None = None
    wrong_choices: list[Picked] = field(default_factory=list)  # most picked first
    wrong_responses: list[Picked] = field(default_factory=list)  # commonest first

    @property
    def type_label(self) -> str:
        """The question's type as the summary names it: "single answer", "numeric", …"""
        return _type_label(self.question)

    @property
    def top_wrong_choices(self) -> list[Picked]:
        """The wrong choice picked most (all of them on a tie)."""
        if not self.wrong_choices:
            return []
        most = self.wrong_choices[0].times
        return [p for p in self.wrong_choices if p.times == most]


@dataclass(frozen=True)
class QuizSummary:
    quiz: Quiz
    basis: str
    attempts: int
    students: int
    questions: tuple[QuestionStats, ...]


def question_summary(*, quiz: Quiz, basis: str = COUNTED) -> QuizSummary:
    """The per-question summary of ``quiz`` over ``basis`` (COUNTED or ALL): six queries."""
    attempts = basis_attempts(quiz=quiz, basis=basis)
    totals = attempts.aggregate(attempts=Count("pk"), students=Count("student", distinct=True))
    questions = list(quiz_questions(quiz=quiz))
    stats = {
        q.pk: QuestionStats(number=i, question=q, correct=answer_key_text(q))
        for i, q in enumerate(questions, start=1)
    }
    Through = AttemptAnswer.selected_choices.through
    answers = AttemptAnswer.objects.filter(attempt__in=attempts.values("pk"))
    picked_any = Exists(Through.objects.filter(attemptanswer_id=OuterRef("pk")))
    answered = Q(picked_any) | ~Q(response="")
    rows = (
        answers.order_by()
        .values("question_id")
        .annotate(
            answered=Count("pk", filter=answered),
            right=Count("pk", filter=answered & Q(is_correct=True)),
            partly=Count("pk", filter=answered & Q(is_correct=False, points_awarded__gt=0)),
            rows=Count("pk"),
            mean=Avg("points_awarded"),
        )
    )
    for row in rows:
        one = stats.get(row["question_id"])
        if one is None:
            continue
        one.answered, one.right, one.partly = row["answered"], row["right"], row["partly"]
        one.wrong = row["answered"] - row["right"] - row["partly"]
        one.unanswered = row["rows"] - row["answered"]
        one.mean_points = None if row["mean"] is None else round_points(Decimal(str(row["mean"])))
    picks = (
        Through.objects.filter(attemptanswer__in=answers, choice__is_correct=False)
        .order_by()
        .values("attemptanswer__question_id", "choice__text", "choice__order", "choice_id")
        .annotate(times=Count("pk"))
        .order_by("attemptanswer__question_id", "-times", "choice__order", "choice_id")
    )
    for pick in picks:
        one = stats.get(pick["attemptanswer__question_id"])
        if one is not None:
            one.wrong_choices.append(Picked(pick["choice__text"], pick["times"]))
    typed = (
        answers.filter(
            question__kind__in=[Question.Kind.NUMERIC, Question.Kind.SHORT_ANSWER],
            is_correct=False,
        )
        .exclude(response="")
        .order_by()
        .values("question_id", "response")
        .annotate(times=Count("pk"))
        .order_by("question_id", "-times", "response")
    )
    # One row per distinct wrong answer, not per attempt; the top few are kept here because
    # a window over an aggregate is refused by SQLite ("aggregate functions are not allowed
    # in the GROUP BY clause", Django groups by the window too).
    for wrong in typed:
        one = stats.get(wrong["question_id"])
        if one is not None and len(one.wrong_responses) < TOP_WRONG_RESPONSES:
            one.wrong_responses.append(Picked(wrong["response"], wrong["times"]))
    return QuizSummary(
        quiz=quiz,
        basis=basis,
        attempts=totals["attempts"],
        students=totals["students"],
        questions=tuple(stats.values()),
    )
