"""One attempt as its teacher reviews it: every question with the student's answer, the
correct answer and the points, whatever the quiz's review options let the student see.

A fixed number of queries, however many questions the quiz has (the admin page pins it).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from quizzes.models import AttemptAnswer, Question, QuizAttempt
from quizzes.ordering import arrange, shown_choices
from quizzes.scoring import counting_attempt
from quizzes.selectors import quiz_owner_q, quiz_questions, regrade_since

RIGHT, PARTLY, WRONG, UNANSWERED = "right", "partly", "wrong", "unanswered"

#: How a verdict reads on the teacher's pages (as the student's result page writes them).
VERDICT_LABELS = {
    RIGHT: "✓ right",
    PARTLY: "◐ partly right",
    WRONG: "✗ wrong",
    UNANSWERED: "Not answered",
}


def attempts_visible(*, user) -> QuerySet[QuizAttempt]:
    """The attempts a staff user may review: those of quizzes they own (all for superusers)."""
    attempts = QuizAttempt.objects.all()
    if user.is_superuser:
        return attempts
    return attempts.filter(quiz_owner_q(user=user, prefix="quiz__"))


@dataclass(frozen=True)
class PickedChoice:
    text: str
    is_correct: bool


@dataclass(frozen=True)
class AnswerRow:
    """One question of the attempt: what the student answered and what it earned."""

    number: int
    question: Question
    picked: tuple[PickedChoice, ...]  # choice questions (true/false included)
    response: str  # numeric and short-answer questions
    correct: str  # the answer key, in words
    points: Decimal
    verdict: str

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]

    @property
    def answered(self) -> bool:
        return self.verdict != UNANSWERED


@dataclass(frozen=True)
class AttemptListed:
    """One of the student's attempts on the quiz, as the review page lists them."""

    attempt: QuizAttempt
    number: int | None  # 1, 2, … in submit order; None while in progress
    counts: bool


@dataclass(frozen=True)
class AttemptReview:
    attempt: QuizAttempt
    attempts: tuple[AttemptListed, ...]
    rows: tuple[AnswerRow, ...]
    regrade: object  # the latest QuizRegrade after the submit, or None

    @property
    def listed(self) -> AttemptListed:
        return next(a for a in self.attempts if a.attempt.pk == self.attempt.pk)

    @property
    def counted(self) -> AttemptListed | None:
        return next((a for a in self.attempts if a.counts), None)

    @property
    def attempts_used(self) -> int:
        return sum(1 for a in self.attempts if a.number is not None)


def _plain(value: Decimal | int) -> str:
    return f"{Decimal(value).normalize():f}"


def answer_key_text(question: Question) -> str:
    """The correct answer of a question in words (its choices must be prefetched)."""
    if question.kind == Question.Kind.NUMERIC:
        value = question.numeric_answer
        assert value is not None, "a numeric question has its value (question_numeric_has_answer)"
        text = _plain(value)
        tolerance = question.numeric_tolerance or 0
        return f"{text} ± {_plain(tolerance)}" if tolerance else text
    if question.kind == Question.Kind.SHORT_ANSWER:
        answers = " · ".join(question.accepted_answer_list())
        return f"{answers} (any case)" if question.ignore_case else answers
    return " · ".join(c.text for c in question.choices.all() if c.is_correct)


def verdict(*, answered: bool, is_correct: bool, points: Decimal) -> str:
    if not answered:
        return UNANSWERED
    if is_correct:
        return RIGHT
    return PARTLY if points > 0 else WRONG


def attempt_review(*, user, attempt_id: int) -> AttemptReview:
    """The attempt with its answers per question, and the student's other attempts on the
    quiz (which one counts marked). Raises QuizAttempt.DoesNotExist for an attempt the user
    may not see, alike for one that does not exist. Six queries."""
    attempt = (
        attempts_visible(user=user)
        .select_related("quiz", "quiz__course", "student")
        .get(pk=attempt_id)
    )
    quiz = attempt.quiz
    siblings = list(
        QuizAttempt.objects.filter(quiz=quiz, student_id=attempt.student_id).order_by(
            "started_at", "pk"
        )
    )
    counts = counting_attempt(method=quiz.grading_method, attempts=siblings)
    listed, number = [], 0
    for sibling in siblings:
        if sibling.completed_at is not None:
            number += 1
        listed.append(
            AttemptListed(
                attempt=attempt if sibling.pk == attempt.pk else sibling,
                number=number if sibling.completed_at is not None else None,
                counts=counts is not None and sibling.pk == counts.pk,
            )
        )
    # In the student's order (a shuffled quiz's attempt keeps its own; ordering.arrange).
    questions = arrange(quiz_questions(quiz=quiz), attempt.shuffled_order)
    answers = {a.question_id: a for a in AttemptAnswer.objects.filter(attempt=attempt)}
    picked: dict[int, set[int]] = {}
    Through = AttemptAnswer.selected_choices.through
    for answer_id, choice_id in Through.objects.filter(attemptanswer__attempt=attempt).values_list(
        "attemptanswer_id", "choice_id"
    ):
        picked.setdefault(answer_id, set()).add(choice_id)
    rows = []
    for number, question in enumerate(questions, start=1):
        answer = answers.get(question.pk)
        chosen = picked.get(answer.pk, set()) if answer else set()
        choices = tuple(
            PickedChoice(c.text, c.is_correct)
            for c in shown_choices(question, attempt.shuffled_order)
            if c.pk in chosen
        )
        response = answer.response if answer else ""
        points = answer.points_awarded if answer else Decimal(0)
        rows.append(
            AnswerRow(
                number=number,
                question=question,
                picked=choices,
                response=response,
                correct=answer_key_text(question),
                points=points,
                verdict=verdict(
                    answered=bool(choices or response),
                    is_correct=bool(answer and answer.is_correct),
                    points=points,
                ),
            )
        )
    regrade = (
        regrade_since(quiz=quiz, moment=attempt.completed_at) if attempt.completed_at else None
    )
    return AttemptReview(attempt=attempt, attempts=tuple(listed), rows=tuple(rows), regrade=regrade)
