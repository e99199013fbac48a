"""Writes for quizzes and attempts. Views, admin and commands call these."""

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import dateformat, timezone

from quizzes.expressions import grouped_case
from quizzes.models import (
    AttemptAnswer,
    Course,
    Question,
    Quiz,
    QuizAttempt,
    QuizRegrade,
    StudentException,
)
from quizzes.ordering import shuffled_order_new
from quizzes.rules import QuizRules
from quizzes.scoring import (
    MAX_RESPONSE_CHARS,
    QuestionKey,
    parse_number,
    round_points,
    score_answers,
)
from quizzes.signals import attempt_completed, attempts_regraded
from quizzes.time_limits import deadline_of, is_overdue
from quizzes.wording import STUDENT_TIME

logger = logging.getLogger(__name__)


class AttemptLimitReached(PermissionDenied):
    """The student has used every attempt the quiz allows."""


class InvalidSubmission(ValidationError):
    """A submitted form that does not match the quiz (tampered or stale)."""


class QuizNotOpen(PermissionDenied):
    """The quiz has not opened yet, or has closed (past the grace period for a submit)."""


class UnreadableAnswers(Exception):
    """A submit with typed answers that cannot be scored (a numeric answer that is not a
    number): nothing was written. ``errors`` maps question id to a message for the student;
    the rest is what the view needs to show the form again, answers kept."""

    def __init__(self, *, attempt, questions, answers, responses, errors):
        self.attempt = attempt
        self.questions = questions
        self.answers = answers
        self.responses = responses
        self.errors = errors
        super().__init__(f"{len(errors)} unreadable answers")


class UnansweredQuestions(Exception):
    """A submit left questions unanswered and was not confirmed: nothing was written.

    Carries what the view needs to show the form again without another query.
    """

    def __init__(self, *, attempt, questions, answers, unanswered, responses=None):
        self.attempt = attempt
        self.questions = questions
        self.answers = answers
        self.responses = responses or {}
        self.unanswered = unanswered  # the Question objects, in quiz order
        super().__init__(f"{len(unanswered)} unanswered questions")


def _when(moment) -> str:
    return dateformat.format(timezone.localtime(moment), STUDENT_TIME)


def closed_message(quiz: Quiz, rules: QuizRules | None = None) -> str:
    """Said when the quiz (for this student: ``rules``, with their extension) has closed."""
    closes_at = (rules or quiz.rules()).closes_at
    return f"This quiz closed on {_when(closes_at)}; it takes no new attempts."


def upcoming_message(quiz: Quiz) -> str:
    return f"This quiz opens on {_when(quiz.opens_at)}; it cannot be taken before then."


class NotCourseTeacher(PermissionDenied):
    """The user does not teach the course they tried to put a quiz into."""


def course_teacher_check(*, user, course_id: str) -> None:
    """Raise NotCourseTeacher unless the user teaches the course (superusers teach all)."""
    if user.is_superuser:
        return
    if not Course.teachers.through.objects.filter(course_id=course_id, user_id=user.pk).exists():
        raise NotCourseTeacher(
            f"{user.get_username()} is not a teacher of course {course_id}: only its teachers "
            "may put quizzes into its tutorial slots."
        )


def quiz_course_check(*, user, creator, course_id: str) -> None:
    """Raise NotCourseTeacher unless both the acting user and the quiz's creator teach the
    course. A quiz's marks reach the Analyzer under its creator, so the creator must always be
    a teacher of its course: a co-teacher may not move another teacher's quiz into a course
    that teacher does not teach. Used by the admin (form and save) and the quiz import."""
    course_teacher_check(user=user, course_id=course_id)
    if creator is None or creator.pk == user.pk or creator.is_superuser:
        return
    if not Course.teachers.through.objects.filter(course_id=course_id, user_id=creator.pk).exists():
        raise NotCourseTeacher(
            f"The quiz's creator {creator.get_username()} is not a teacher of course "
            f"{course_id}: a quiz's marks go to the Academic Analyzer under its creator, so it "
            "may only be in a course its creator teaches. Add them to the course first, or "
            "create a new quiz there."
        )


def slot_holder(*, course_id: str, tutorial_number: int, exclude_pk: int | None = None):
    """The quiz that holds a tutorial slot, or None when another quiz may be published there.

    A slot is held by its published quiz, and for good by the quiz whose attempts it has even
    when unpublished: a mark is computed from the attempts of one quiz only, so another quiz
    (that the students did not take in this slot) can never lower a delivered mark.
    """
    in_slot = Quiz.objects.filter(
        quiz_type=Quiz.QuizType.TUTORIAL, course_id=course_id, tutorial_number=tutorial_number
    )
    if exclude_pk is not None:
        in_slot = in_slot.exclude(pk=exclude_pk)
    return (
        in_slot.filter(Q(is_published=True) | Q(attempts__completed_at__isnull=False))
        .order_by("-is_published", "pk")
        .first()
    )


def shuffle_rng() -> random.Random:
    """The randomness an attempt's order is drawn from (tests replace it with a seeded one)."""
    return random.SystemRandom()


def attempt_get_or_start(*, student, quiz: Quiz, questions=None) -> QuizAttempt:
    """Return the student's attempt in progress on the quiz, starting one if allowed.

    Raises AttemptLimitReached when no attempts are left. Two tabs share one attempt. The
    student's exception counts (their closing, their attempts): no query for it when the quiz
    comes from `student_quizzes`. A new attempt on a quiz that shuffles keeps its order
    (quizzes/ordering.py), drawn from ``questions`` (the quiz's, choices prefetched; a queryset
    is read only then, and its cache serves the caller after).
    """
    from quizzes.selectors import quiz_rules_for

    now = timezone.now()
    rules = quiz_rules_for(quiz=quiz, student=student)
    if rules.is_upcoming(now):
        raise QuizNotOpen(upcoming_message(quiz))
    attempt = QuizAttempt.objects.filter(
        student=student, quiz=quiz, completed_at__isnull=True
    ).first()
    if attempt is not None and rules.accepts_submissions(now):
        return attempt  # started before closing: it may be finished within the grace period
    if rules.is_closed(now):
        raise QuizNotOpen(closed_message(quiz, rules))
    if rules.max_attempts is not None:
        used = QuizAttempt.objects.filter(student=student, quiz=quiz).count()
        if used >= rules.max_attempts:
            raise AttemptLimitReached("You have used all attempts for this quiz.")
    order = None
    if quiz.shuffles():
        if questions is None:
            questions = Question.objects.filter(quiz=quiz).prefetch_related("choices")
        order = shuffled_order_new(quiz=quiz, questions=list(questions), rng=shuffle_rng())
    try:
        with transaction.atomic():
            return QuizAttempt.objects.create(student=student, quiz=quiz, shuffled_order=order)
    except IntegrityError:
        # Another tab started it a moment ago.
        return QuizAttempt.objects.get(student=student, quiz=quiz, completed_at__isnull=True)


def _question_key(q: Question) -> QuestionKey:
    """Everything scoring reads from a question (its choices prefetched)."""
    return QuestionKey(
        id=q.pk,
        points=q.points,
        correct_choice_ids=frozenset(c.pk for c in q.choices.all() if c.is_correct),
        kind=q.kind,
        scoring=q.scoring if q.multiple else Question.Scoring.ALL_OR_NOTHING,
        numeric_answer=q.numeric_answer,
        numeric_tolerance=q.numeric_tolerance,
        accepted_answers=tuple(q.accepted_answer_list()),
        ignore_case=q.ignore_case,
    )


def _question_keys(questions) -> list[QuestionKey]:
    return [_question_key(q) for q in questions]


def _validate_answers(
    *, questions, answers: Mapping[int, set[int]], responses: Mapping[int, str]
) -> None:
    by_id = {q.pk: q for q in questions}
    if set(answers) - set(by_id) or set(responses) - set(by_id):
        raise InvalidSubmission("The form names questions that are not in this quiz.")
    for question_id, text in responses.items():
        if not by_id[question_id].is_typed():
            raise InvalidSubmission("The form types an answer to a question with choices.")
        if len(text) > MAX_RESPONSE_CHARS:
            raise InvalidSubmission(f"A typed answer is at most {MAX_RESPONSE_CHARS} characters.")
    for question_id, selected in answers.items():
        question = by_id[question_id]
        if question.is_typed() and selected:
            raise InvalidSubmission("The form picks a choice for a typed-answer question.")
        valid = {c.pk for c in question.choices.all()}
        if not selected <= valid:
            raise InvalidSubmission("The form picks a choice that belongs to another question.")
        if not question.multiple and len(selected) > 1:
            raise InvalidSubmission("A single-answer question got more than one choice.")


def unreadable_numbers(*, questions, responses: Mapping[int, str]) -> dict[int, str]:
    """The numeric answers that are not numbers: question id -> the message for the student."""
    errors = {}
    for q in questions:
        text = responses.get(q.pk, "")
        if q.kind == Question.Kind.NUMERIC and text.strip():
            try:
                parse_number(text)
            except ValueError as err:
                errors[q.pk] = str(err)
    return errors


def _answers_text(answers: Mapping[int, set[int]], responses: Mapping[int, str]) -> str:
    """Answers for a log line (a refused late submit), so that a teacher still has them."""
    chosen = ";".join(f"{q}:{','.join(map(str, sorted(c)))}" for q, c in sorted(answers.items()))
    typed = ";".join(f"{q}={text[:MAX_RESPONSE_CHARS]!r}" for q, text in sorted(responses.items()))
    return " ".join(part for part in (chosen, typed) if part) or "-"


def _is_answered(question, answers, responses) -> bool:
    if question.is_typed():
        return bool(responses.get(question.pk, "").strip())
    return bool(answers.get(question.pk))


def _answers_score(*, attempt, questions, answers, responses, confirmed: bool):
    """Check a submitted form against the questions and score it; no query. Raises
    InvalidSubmission, UnreadableAnswers and (unless ``confirmed``) UnansweredQuestions,
    carrying ``attempt`` (None for a preview) for the form shown again."""
    _validate_answers(questions=questions, answers=answers, responses=responses)
    errors = unreadable_numbers(questions=questions, responses=responses)
    if errors:
        raise UnreadableAnswers(
            attempt=attempt,
            questions=questions,
            answers=answers,
            responses=responses,
            errors=errors,
        )
    if not confirmed:
        unanswered = [q for q in questions if not _is_answered(q, answers, responses)]
        if unanswered:
            raise UnansweredQuestions(
                attempt=attempt,
                questions=questions,
                answers=answers,
                unanswered=unanswered,
                responses=responses,
            )
    return score_answers(questions=_question_keys(questions), answers=answers, responses=responses)


@dataclass(frozen=True)
class SubmitResult:
    attempt: QuizAttempt
    already_submitted: bool
    #: The time was up: the answers saved by the deadline were scored, not the ones sent.
    automatically: bool = False


@transaction.atomic
def attempt_submit(
    *,
    attempt_id: int,
    student,
    answers: Mapping[int, set[int]],
    responses: Mapping[int, str] | None = None,
    session_email: str | None = None,
    confirmed: bool = True,
) -> SubmitResult:
    """Score and complete an attempt once; a repeated submit changes nothing.

    Raises QuizAttempt.DoesNotExist for someone else's attempt, an unpublished quiz or one of a
    course the student is not (or no longer) enrolled in, and
    InvalidSubmission for answers that do not fit the quiz, UnreadableAnswers for a numeric
    answer that is not a number (``responses`` holds the typed answers, by question id),
    QuizNotOpen past the closing time's grace period (the
    attempt stays in progress, nothing is lost silently: the student is told), and, unless
    ``confirmed``, UnansweredQuestions when questions are left out. A timed attempt past its
    deadline and the network grace (quizzes/time_limits.py) is completed with the answers it
    saved, never these (they are logged), without those checks; one sent after its deadline but
    within the grace counts what it sends, a number that is not a number as unanswered. Sends
    `attempt_completed` inside the transaction: a tutorial attempt's mark is updated there by
    its receiver, which schedules the delivery for after commit.
    """
    # Imported here: selectors import this module's models only, not the other way round.
    from quizzes.selectors import quiz_rules_for, student_quiz_q

    attempt = (
        QuizAttempt.objects.select_for_update(of=("self",))
        .select_related("quiz", "quiz__created_by")
        .filter(student_quiz_q(student=student, prefix="quiz__"))
        .get(pk=attempt_id, student=student, quiz__is_published=True)
    )
    if attempt.completed_at is not None:
        return SubmitResult(attempt, already_submitted=True)
    attempt.student = student  # already loaded by the caller: no query for it
    now = timezone.now()
    time_up_at = deadline_of(attempt)
    if is_overdue(deadline=time_up_at, now=now):
        questions = list(Question.objects.filter(quiz=attempt.quiz).prefetch_related("choices"))
        late = _answers_text(answers, responses or {})
        return _submit_saved(
            attempt,
            questions=questions,
            now=now,
            session_email=session_email,
            late_answers=None if late == "-" else late,  # "-": the student came back, sent none
        )
    # An exception only widens the quiz's rules (quizzes/rules.py): the student's exception is
    # read only when the quiz's own rules refuse, so an accepted submit costs no query for it.
    rules = attempt.quiz.rules()
    if not rules.accepts_submissions(now):
        rules = quiz_rules_for(quiz=attempt.quiz, student=student)
    if not rules.accepts_submissions(now):
        if rules.is_upcoming(now):
            raise QuizNotOpen(upcoming_message(attempt.quiz))
        deadline = _when(rules.submit_deadline())
        logger.warning(
            "late submit refused attempt=%s student=%s quiz=%s closes_at=%s answers=%s typed=%r",
            attempt.pk,
            student.username,
            attempt.quiz_id,
            rules.closes_at.isoformat() if rules.closes_at else "-",
            # Kept in the log, so a teacher who accepts a late submission has the answers.
            _answers_text(answers, {}),
            {q: text[:MAX_RESPONSE_CHARS] for q, text in sorted((responses or {}).items())},
        )
        raise QuizNotOpen(
            f"{closed_message(attempt.quiz, rules)} Submissions of attempts already started were "
            f"accepted until {deadline}; this one arrived later and was not recorded."
        )

    responses = responses or {}
    questions = list(Question.objects.filter(quiz=attempt.quiz).prefetch_related("choices"))
    if time_up_at is not None and now >= time_up_at:
        # The countdown's submit at 0:00, within the network grace: the form cannot come back
        # to be corrected (its page would show 0:00 and submit again). A number that is not a
        # number scores 0, as unanswered, and unanswered questions need no confirmation.
        unreadable = unreadable_numbers(questions=questions, responses=responses)
        responses = {q: text for q, text in responses.items() if q not in unreadable}
        confirmed = True
    score = _answers_score(
        attempt=attempt,
        questions=questions,
        answers=answers,
        responses=responses,
        confirmed=confirmed,
    )
    return _complete(attempt, score=score, now=now, session_email=session_email)


def answers_insert(scored) -> None:
    """Write the scored answers of attempts, given as (attempt, Score) pairs: two queries
    however many attempts and questions."""
    scored = list(scored)
    answer_rows = AttemptAnswer.objects.bulk_create(
        AttemptAnswer(
            attempt=attempt,
            question_id=q.question_id,
            response=q.response,
            is_correct=q.is_correct,
            points_awarded=round_points(q.points_awarded),
        )
        for attempt, score in scored
        for q in score.questions
    )
    questions = [q for _, score in scored for q in score.questions]
    Through = AttemptAnswer.selected_choices.through
    Through.objects.bulk_create(
        Through(attemptanswer_id=row.pk, choice_id=choice_id)
        for row, q in zip(answer_rows, questions, strict=True)
        for choice_id in q.selected
    )


def _complete(attempt, *, score, now, session_email, automatically=False) -> SubmitResult:
    answers_insert([(attempt, score)])
    attempt.completed_at = now
    attempt.earned_points = round_points(score.earned)
    attempt.total_points = score.total
    attempt.score = score.scaled
    attempt.submitted_automatically = automatically

    # Receivers (the tutorial mark, quizzes/signals.py) may set attempt.mark_version.
    attempt_completed.send(sender=QuizAttempt, attempt=attempt, session_email=session_email)
    fields = ["completed_at", "earned_points", "total_points", "score", "mark_version"]
    attempt.save(update_fields=[*fields, "submitted_automatically"] if automatically else fields)
    logger.info(
        "attempt completed attempt=%s student=%s quiz=%s score=%s points=%s/%s automatically=%s",
        attempt.pk,
        attempt.student.username,
        attempt.quiz_id,
        score.scaled,
        round_points(score.earned),
        score.total,
        automatically,
    )
    return SubmitResult(attempt, already_submitted=False, automatically=automatically)


# --- saved answers: what a timed attempt is scored on when its time is up ---------------------


def draft_make(*, answers: Mapping[int, set[int]], responses: Mapping[int, str]) -> dict:
    """The JSON of `QuizAttempt.draft` for validated answers (JSON keys are strings)."""
    return {
        "answers": {str(q): sorted(c) for q, c in sorted(answers.items()) if c},
        "responses": {str(q): text for q, text in sorted(responses.items()) if text.strip()},
    }


def draft_fitting(*, questions, draft: dict) -> tuple[dict[int, set[int]], dict[int, str]]:
    """The saved answers that still fit the quiz, as (answers, responses) by question id.

    A teacher may have edited the quiz since they were saved: answers to questions or
    choices that are gone, or that no longer fit their question, are left out, never scored.
    """
    by_id = {q.pk: q for q in questions}
    answers, responses = {}, {}
    for key, chosen in (draft.get("answers") or {}).items():
        question = by_id.get(int(key))
        if question is None or question.is_typed():
            continue
        kept = set(chosen) & {c.pk for c in question.choices.all()}
        if kept and (question.multiple or len(kept) == 1):
            answers[question.pk] = kept
    for key, text in (draft.get("responses") or {}).items():
        question = by_id.get(int(key))
        if question is not None and question.is_typed() and isinstance(text, str):
            responses[question.pk] = text[:MAX_RESPONSE_CHARS]
    errors = unreadable_numbers(questions=questions, responses=responses)
    return answers, {q: text for q, text in responses.items() if q not in errors}


def _submit_saved(attempt, *, questions, now, session_email, late_answers) -> SubmitResult:
    """Complete a timed attempt whose time is up with the answers saved by its deadline;
    ``late_answers`` (a submit that came too late) are logged for the teacher, not scored."""
    answers, responses = draft_fitting(questions=questions, draft=attempt.draft)
    if late_answers is not None:
        logger.warning(
            "late timed submit: saved answers scored attempt=%s student=%s quiz=%s "
            "saved_at=%s late_answers=%s",
            attempt.pk,
            attempt.student.username,
            attempt.quiz_id,
            attempt.draft_saved_at.isoformat() if attempt.draft_saved_at else "-",
            late_answers,
        )
    score = score_answers(questions=_question_keys(questions), answers=answers, responses=responses)
    return _complete(attempt, score=score, now=now, session_email=session_email, automatically=True)


# --- preview as a student --------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewResult:
    """A scored preview: an attempt and its answers as the result page reads them, never
    saved (no pk)."""

    attempt: QuizAttempt
    answers: list[AttemptAnswer]  # in the quiz's order, each with ``chosen``


def attempt_preview(
    *, quiz: Quiz, previewer, questions, answers, responses, confirmed: bool
) -> PreviewResult:
    """Score a teacher's preview of a quiz as a submit would, and keep nothing: no attempt, no
    answers, no `attempt_completed` (so no mark), whatever the quiz's dates and attempt limit.
    ``questions``: the quiz's, choices prefetched. Raises what a submit raises for the form:
    InvalidSubmission, UnreadableAnswers, UnansweredQuestions (their ``attempt`` is None)."""
    questions = list(questions)
    score = _answers_score(
        attempt=None,
        questions=questions,
        answers=answers,
        responses=responses,
        confirmed=confirmed,
    )
    by_id = {q.pk: q for q in questions}
    rows = []
    for scored in score.questions:
        question = by_id[scored.question_id]
        row = AttemptAnswer(
            question=question,
            response=scored.response,
            is_correct=scored.is_correct,
            points_awarded=round_points(scored.points_awarded),
        )
        chosen = [c for c in question.choices.all() if c.pk in scored.selected]
        # For result.html only, as ordering.arrange_answers sets it: an unsaved row has no
        # selected_choices to read, and the model declares no such attribute.
        row.chosen = chosen  # type: ignore[attr-defined]
        rows.append(row)
    attempt = QuizAttempt(
        quiz=quiz,
        student=previewer,
        completed_at=timezone.now(),
        earned_points=round_points(score.earned),
        total_points=score.total,
        score=score.scaled,
    )
    logger.info(
        "quiz previewed quiz=%s by=%s score=%s points=%s/%s",
        quiz.pk,
        previewer.username,
        score.scaled,
        round_points(score.earned),
        score.total,
    )
    return PreviewResult(attempt, rows)


# --- changing the key of a quiz that has attempts: regrade ------------------------------------


def quiz_key_snapshot(*, quiz_id: int) -> dict[int, tuple]:
    """What scoring depends on: each question's points and its key (correct choices, scoring
    scheme, numeric value and tolerance, accepted answers). Two queries."""
    questions = Question.objects.filter(quiz_id=quiz_id).prefetch_related("choices")
    snapshot = {}
    for q in questions:
        key = _question_key(q)
        rest = replace(key, points=0, correct_choice_ids=frozenset())
        snapshot[q.pk] = (q.points, key.correct_choice_ids, rest)
    return snapshot


def describe_key_change(before: dict[int, tuple], after: dict[int, tuple]) -> str:
    """The change in words, for the regrade record and the teacher's message."""
    parts = []
    added = len(after.keys() - before.keys())
    removed = len(before.keys() - after.keys())
    points = sum(1 for q in after.keys() & before.keys() if after[q][0] != before[q][0])
    keys = sum(1 for q in after.keys() & before.keys() if after[q][1] != before[q][1])
    # The rest of the key: the scoring scheme, a numeric value or tolerance, accepted answers.
    rules = sum(
        1
        for q in after.keys() & before.keys()
        if after[q][1] == before[q][1] and after[q][2:] != before[q][2:]
    )
    if keys:
        parts.append(f"correct choices of {keys} question{'s' if keys != 1 else ''} changed")
    if rules:
        parts.append(f"answer or scoring of {rules} question{'s' if rules != 1 else ''} changed")
    if points:
        parts.append(f"points of {points} question{'s' if points != 1 else ''} changed")
    if added:
        parts.append(f"{added} question{'s' if added != 1 else ''} added")
    if removed:
        parts.append(f"{removed} question{'s' if removed != 1 else ''} removed")
    return "; ".join(parts) or "answer key changed"


@dataclass(frozen=True)
class RegradeResult:
    attempts_rescored: int
    scores_changed: int
    marks_recomputed: int
    regrade: QuizRegrade | None


@transaction.atomic
def quiz_regrade(*, quiz: Quiz, changed_by, change: str) -> RegradeResult:
    """Rescore every completed attempt of ``quiz`` with its current key and points.

    Each answer is scored again from the choices the student selected; attempts' points and
    scores are rewritten; then `attempts_regraded` is sent inside the transaction (a tutorial
    quiz's marks whose value changes get a new version there, due for delivery as usual, and
    their attempts are unsettled until that version is delivered). The regrade is recorded
    with who and when. The number of queries does not depend on the number of attempts.
    """
    now = timezone.now()
    # A submit scoring with the old key right now holds its attempt's lock: wait for it, so
    # the rows read below include it; a submit that starts later waits for this transaction
    # and scores with the new key. Either way no attempt keeps the old key.
    list(
        QuizAttempt.objects.select_for_update()
        .filter(quiz=quiz, completed_at__isnull=True)
        .values_list("pk", flat=True)
    )
    questions = list(Question.objects.filter(quiz=quiz).prefetch_related("choices"))
    keys = _question_keys(questions)
    attempts = list(
        QuizAttempt.objects.filter(quiz=quiz, completed_at__isnull=False).values_list(
            "pk", "student_id", "earned_points", "total_points"
        )
    )
    if not attempts:
        return RegradeResult(0, 0, 0, None)
    answer_rows = list(
        AttemptAnswer.objects.filter(
            attempt__quiz=quiz, attempt__completed_at__isnull=False
        ).values_list("pk", "attempt_id", "question_id", "response")
    )
    Through = AttemptAnswer.selected_choices.through
    selected: dict[int, set[int]] = {}
    for answer_id, choice_id in Through.objects.filter(
        attemptanswer__attempt__quiz=quiz, attemptanswer__attempt__completed_at__isnull=False
    ).values_list("attemptanswer_id", "choice_id"):
        selected.setdefault(answer_id, set()).add(choice_id)
    row_of: dict[tuple[int, int], int] = {}
    answers: dict[int, dict[int, set[int]]] = {pk: {} for pk, *_ in attempts}
    responses: dict[int, dict[int, str]] = {pk: {} for pk, *_ in attempts}
    for answer_id, attempt_id, question_id, response in answer_rows:
        row_of[(attempt_id, question_id)] = answer_id
        answers[attempt_id][question_id] = selected.get(answer_id, set())
        responses[attempt_id][question_id] = response

    right: dict[int, bool] = {}  # answer row pk -> full points
    points: dict[int, object] = {}  # answer row pk -> points awarded (partial credit: a share)
    missing: list[AttemptAnswer] = []  # questions added after the attempt: unanswered
    earned, scaled, changed = {}, {}, 0
    for pk, _student, old_earned, old_total in attempts:
        score = score_answers(questions=keys, answers=answers[pk], responses=responses[pk])
        earned[pk], scaled[pk] = round_points(score.earned), score.scaled
        changed += (earned[pk], score.total) != (old_earned, old_total)
        for q in score.questions:
            row = row_of.get((pk, q.question_id))
            if row is None:
                missing.append(AttemptAnswer(attempt_id=pk, question_id=q.question_id))
            else:
                right[row], points[row] = q.is_correct, round_points(q.points_awarded)
    total = sum(k.points for k in keys)
    if right:
        AttemptAnswer.objects.filter(pk__in=list(right)).update(
            is_correct=grouped_case("is_correct", right, model=AttemptAnswer),
            points_awarded=grouped_case("points_awarded", points, model=AttemptAnswer),
        )
    if missing:
        AttemptAnswer.objects.bulk_create(missing)
    QuizAttempt.objects.filter(pk__in=earned).update(
        earned_points=grouped_case("earned_points", earned),
        total_points=total,
        score=grouped_case("score", scaled),
    )

    regraded = [(pk, student) for pk, student, *_ in attempts]
    replies = attempts_regraded.send(sender=Quiz, quiz=quiz, attempts=regraded)
    marks = sum(int(reply or 0) for _, reply in replies)
    regrade = QuizRegrade.objects.create(
        quiz=quiz,
        changed_by=changed_by,
        changed_at=now,
        attempts_rescored=len(attempts),
        scores_changed=changed,
        marks_recomputed=marks,
        change=change[:500],
    )
    logger.info(
        "quiz regraded quiz=%s by=%s attempts=%s scores_changed=%s marks_recomputed=%s change=%r",
        quiz.pk,
        getattr(changed_by, "username", "-"),
        len(attempts),
        changed,
        marks,
        change,
    )
    return RegradeResult(len(attempts), changed, marks, regrade)


# --- per-student exceptions -------------------------------------------------------------------


def _exception_log(action: str, exception: StudentException, by) -> None:
    # The values in the line: with the admin's history (LogEntry: who, when, which fields),
    # what an exception was before a change or a delete can be read back from the logs. Not
    # the reason: it may be medical.
    logger.info(
        "student exception %s quiz=%s student=%s by=%s extra_attempts=%s closes_at=%s "
        "extra_minutes=%s",
        action,
        exception.quiz_id,
        exception.student.get_username(),
        by.get_username(),
        exception.extra_attempts,
        exception.closes_at.isoformat() if exception.closes_at else "-",
        exception.extra_minutes,
    )


@transaction.atomic
def student_exception_save(*, exception: StudentException, by) -> StudentException:
    """Create or change a student's exception to a quiz's rules, recording who and when.

    Only a teacher of the quiz's course (or a superuser) may: NotCourseTeacher otherwise,
    whatever the form offered. Raises ValidationError for values the quiz cannot take
    (StudentException.clean: the roster, a closing after the quiz's, the ranges)."""
    course_teacher_check(user=by, course_id=exception.quiz.course_id or "")
    creating = exception.pk is None
    if creating:
        exception.created_by = by
    exception.updated_by = by
    exception.full_clean()
    exception.save()
    _exception_log("created" if creating else "changed", exception, by)
    return exception


@transaction.atomic
def student_exception_delete(*, exception: StudentException, by) -> None:
    """Remove a student's exception: their rules are the quiz's again from now on."""
    course_teacher_check(user=by, course_id=exception.quiz.course_id or "")
    _exception_log("deleted", exception, by)
    exception.delete()
