import math
from collections.abc import Iterable, Mapping
from contextlib import suppress
from datetime import datetime
from operator import itemgetter
from typing import Any, TypedDict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from quizzes.forms import parse_answers, parse_responses
from quizzes.http import LoggedInRequest
from quizzes.marks import mark_source
from quizzes.models import Question, Quiz, QuizAttempt
from quizzes.ordering import arrange, arrange_answers
from quizzes.rules import QuizRules
from quizzes.scoring import counting_attempt
from quizzes.selectors import (
    mark_for_attempt,
    quiz_questions,
    quiz_rules_for,
    regrade_since,
    student_attempts,
    student_mark,
    student_quiz_list,
    student_quizzes,
)
from quizzes.services import (
    AttemptLimitReached,
    InvalidSubmission,
    QuizNotOpen,
    UnansweredQuestions,
    UnreadableAnswers,
    attempt_get_or_start,
    attempt_submit,
)
from quizzes.time_limits import attempt_deadline, deadline_of, is_overdue, warning_from
from quizzes.timed_attempts import (
    AlreadySubmitted,
    TimeUp,
    attempt_save_answers,
    attempts_submit_overdue,
)
from quizzes.wording import (
    correctness_hidden_message,
    counting_message,
    key_hidden_message,
    score_hidden_message,
)


@require_GET
@login_required
def home(request: LoggedInRequest) -> HttpResponse:
    attempts_submit_overdue(student=request.user)  # a timed attempt left when time was up
    now = timezone.now()
    quizzes = list(student_quiz_list(student=request.user))
    for quiz in quizzes:
        rules = quiz_rules_for(quiz=quiz, student=request.user)  # annotated: no query
        quiz.attempts_left = rules.attempts_left(used=quiz.attempts_used)
        quiz.score_shown = rules.score_visible(attempts_used=quiz.attempts_used, now=now)
        quiz.upcoming = rules.is_upcoming(now)
        quiz.closed = rules.is_closed(now)
        quiz.closes, quiz.extended = rules.closes_at, rules.extended()
        quiz.extra_minutes = rules.extra_minutes  # their own time limit, as the start page's
    return render(request, "quizzes/home.html", {"quizzes": quizzes})


def _analyzer(
    student: User, quiz: Quiz, past: list[QuizAttempt], *, score_shown: bool
) -> str | None:
    """The line under an attempt list; no query without attempts or for a practice quiz."""
    if not past:
        return None
    mark = student_mark(student=student, quiz=quiz)
    return mark_source().attempts_line(mark=mark, score_shown=score_shown)


def _score_review(rules: QuizRules, past: list[QuizAttempt], now: datetime) -> dict[str, Any]:
    """Whether the student sees scores and points (`review_score`), and if not, when."""
    shown = rules.score_visible(attempts_used=len(past), now=now)
    hidden = None if shown else score_hidden_message(quiz=rules.quiz, rules=rules)
    return {"score_shown": shown, "score_hidden": hidden}


def _attempt_list(
    student: User, quiz: Quiz, past: list[QuizAttempt], now: datetime
) -> dict[str, Any]:
    """The context of quizzes/_attempt_list.html: the rows, and the Analyzer's line."""
    rules = quiz_rules_for(quiz=quiz, student=student)
    review = _score_review(rules, past, now)
    return {
        "rules": rules,
        "past": attempt_rows(past, quiz),
        "analyzer": _analyzer(student, quiz, past, score_shown=review["score_shown"]),
        **review,
    }


def attempt_rows(past: list[QuizAttempt], quiz: Quiz) -> list[dict[str, Any]]:
    """The student's completed attempts, newest first, numbered, the one that counts marked."""
    counts = counting_attempt(method=quiz.grading_method, attempts=past)
    return [
        {"attempt": a, "number": len(past) - i, "counts": a is counts} for i, a in enumerate(past)
    ]


def _take_context(
    *,
    student: User,
    quiz: Quiz,
    attempt: QuizAttempt | None,
    questions: Iterable[Question],
    past: list[QuizAttempt],
    selected: Mapping[int, Iterable[int]] | Iterable[tuple[int, Iterable[int]]] = (),
    unanswered: Iterable[Question] = (),
    responses: Mapping[int, str] | None = None,
    errors: Mapping[int, str] | None = None,
    order: dict[str, Any] | None = None,
    submit_url: str | None = None,
) -> dict[str, Any]:
    """The take page's context. ``questions`` in the quiz's order are shown in the attempt's
    (``order``: the attempt's by default; quizzes/ordering.py), and numbered so."""
    questions = arrange(questions, attempt.shuffled_order if attempt else order)
    numbers = {q.pk: i for i, q in enumerate(questions, start=1)}
    responses, errors = responses or {}, errors or {}
    # What a typed-answer input shows again, and its problem: attributes for the template
    # only, which the model does not declare.
    for question in questions:
        question.response = responses.get(question.pk, "")  # type: ignore[attr-defined]
        question.error = errors.get(question.pk, "")  # type: ignore[attr-defined]
    listed = _attempt_list(student, quiz, past, timezone.now())
    if not submit_url:
        # Only a teacher's preview has no attempt, and it gives its own submit_url.
        assert attempt is not None, "a take page without an attempt needs a submit_url"
        submit_url = reverse("quizzes:attempt_submit", args=[attempt.pk])
    return {
        "quiz": quiz,
        "attempt": attempt,
        "submit_url": submit_url,
        "questions": questions,
        **listed,
        "attempts_left": listed["rules"].attempts_left(used=len(past)),
        "selected": {choice for chosen in dict(selected).values() for choice in chosen},
        "unanswered": sorted(((numbers[q.pk], q) for q in unanswered), key=itemgetter(0)),
        "unanswered_ids": {q.pk for q in unanswered},
        "unreadable": sorted(((numbers[pk], m) for pk, m in errors.items()), key=itemgetter(0)),
        "timing": _timing(attempt, timezone.now(), rules=listed["rules"]),
    }


def _not_open(
    request: LoggedInRequest, quiz: Quiz, message: str, status: int = 403
) -> HttpResponse:
    past = list(student_attempts(student=request.user, quiz=quiz))
    context = {
        "quiz": quiz,
        "message": message,
        **_attempt_list(request.user, quiz, past, timezone.now()),
    }
    return render(request, "quizzes/not_open.html", context, status=status)


@require_GET
@login_required
def quiz_take(request: LoggedInRequest, pk: int) -> HttpResponse:
    # Another course's quiz is a 404, alike for one that does not exist.
    quiz = get_object_or_404(student_quizzes(student=request.user), pk=pk)
    past = list(student_attempts(student=request.user, quiz=quiz))
    if quiz.is_timed():
        gate = _timed_gate(request, quiz, past)  # the start page, or the time was up
        if gate is not None:
            return gate
    questions = quiz_questions(quiz=quiz)  # read once: by a new attempt's shuffle, or below
    try:
        attempt = attempt_get_or_start(student=request.user, quiz=quiz, questions=questions)
    except AttemptLimitReached:
        context = {"quiz": quiz, **_attempt_list(request.user, quiz, past, timezone.now())}
        return render(request, "quizzes/no_attempts_left.html", context, status=403)
    except QuizNotOpen as err:
        return _not_open(request, quiz, err.args[0])
    context = _take_context(
        student=request.user,
        quiz=quiz,
        attempt=attempt,
        questions=questions,
        past=past,
        **_saved_answers(attempt),
    )
    return render(request, "quizzes/take.html", context)


@require_POST
@login_required
def attempt_submit_view(request: LoggedInRequest, pk: int) -> HttpResponse:
    try:
        result = attempt_submit(
            attempt_id=pk,
            student=request.user,
            answers=parse_answers(request.POST),
            responses=parse_responses(request.POST),
            session_email=request.session.get("staff_email"),
            confirmed=request.POST.get("confirm") == "1",
        )
    except QuizAttempt.DoesNotExist as err:
        raise Http404("No such attempt.") from err
    except UnreadableAnswers as unreadable:
        # Nothing was written: the same form again, every answer kept, the problem named.
        return _take_again(request, unreadable, status=400, errors=unreadable.errors)
    except UnansweredQuestions as missing:
        # Nothing was written: the same form again, answers kept, the gaps named.
        return _take_again(request, missing, unanswered=missing.unanswered)
    except (InvalidSubmission, QuizNotOpen) as err:
        return _refused(request, pk, err)
    if result.already_submitted and not result.attempt.submitted_automatically:
        messages.info(request, "This attempt was already submitted; your first answers count.")
    elif result.automatically or result.attempt.submitted_automatically:
        messages.warning(request, _time_up_message(result.attempt))
    return redirect(result.attempt)


def _refused(
    request: LoggedInRequest, pk: int, err: InvalidSubmission | QuizNotOpen
) -> HttpResponse:
    """The page for a submit (or save) of attempt ``pk`` that does not fit the quiz, or came
    when the quiz was not open."""
    # Only on these error paths: the hot path loads the attempt once, in the service.
    quiz = get_object_or_404(
        student_quizzes(student=request.user), attempts__pk=pk, attempts__student=request.user
    )
    if isinstance(err, QuizNotOpen):
        return _not_open(request, quiz, err.args[0])
    context = {"quiz": quiz, "message": err.messages[0]}
    return render(request, "quizzes/bad_submission.html", context, status=400)


@require_GET
@login_required
def attempt_result(request: LoggedInRequest, pk: int) -> HttpResponse:
    attempt = get_object_or_404(
        QuizAttempt.objects.select_related("quiz"), pk=pk, student=request.user
    )
    if not attempt.is_completed():
        return redirect(attempt.quiz)
    quiz = attempt.quiz
    now = timezone.now()
    rules = quiz_rules_for(quiz=quiz, student=request.user)
    past = list(student_attempts(student=request.user, quiz=quiz))
    rows = attempt_rows(past, quiz)
    key_visible = rules.key_visible(attempts_used=len(past), now=now)
    stored = attempt.answers.select_related("question").prefetch_related("selected_choices")
    answers = arrange_answers(stored.prefetch_related("question__choices"), attempt.shuffled_order)
    mark = mark_for_attempt(attempt=attempt)
    review = _score_review(rules, past, now)
    shown = review["score_shown"]
    context = {
        "attempt": attempt,
        "quiz": quiz,
        "answers": answers,
        "mark": mark,
        "sync": mark_source().result_message(mark=mark, attempt=attempt, score_shown=shown),
        "counting": counting_message(
            quiz=quiz, rows=rows, attempt=attempt, mark=mark, score_shown=shown, rules=rules
        ),
        **review,
        "key_visible": key_visible,
        "key_hidden": None if key_visible else key_hidden_message(quiz=quiz, rules=rules),
        "correctness_hidden": None
        if rules.correctness_visible(attempts_used=len(past), now=now)
        else correctness_hidden_message(quiz=quiz, rules=rules),
        "number": next((r["number"] for r in rows if r["attempt"].pk == attempt.pk), None),
        "regrade": regrade_since(quiz=quiz, moment=attempt.completed_at),
        "attempts_left": rules.attempts_left(used=len(past)) if rules.is_open(now) else 0,
    }
    return render(request, "quizzes/result.html", context)


def _take_again(
    request: LoggedInRequest,
    refused: UnreadableAnswers | UnansweredQuestions,
    *,
    status: int = 200,
    **shown: Any,  # _take_context's errors= or unanswered=
) -> HttpResponse:
    """The take page again after a submit that wrote nothing, with the student's answers."""
    quiz = refused.attempt.quiz
    context = _take_context(
        student=request.user,
        quiz=quiz,
        attempt=refused.attempt,
        questions=refused.questions,
        past=list(student_attempts(student=request.user, quiz=quiz)),
        selected=refused.answers,
        responses=refused.responses,
        **shown,
    )
    return render(request, "quizzes/take.html", context, status=status)


# --- time limits and saved answers (issue 20; docs/decisions/0023-time-limits.md) --------------


class Timing(TypedDict):
    """The take page's time left, as quizzes/_time_left.html reads it."""

    deadline: datetime
    seconds_left: int
    left_text: str
    warn_seconds: int
    warning: bool
    capped: bool


def _timing(attempt: QuizAttempt | None, now: datetime, *, rules: QuizRules) -> Timing | None:
    """The take page's time left (quizzes/_time_left.html) under the student's rules; None
    for an untimed attempt (and a teacher's preview, which has none)."""
    if attempt is None:
        return None
    deadline = attempt_deadline(started_at=attempt.started_at, rules=rules)
    if deadline is None or rules.time_limit is None:
        return None
    left = max(math.ceil((deadline - now).total_seconds()), 0)  # as answers.js: 0:00 is up
    warn = warning_from(deadline=deadline, rules=rules)
    return {
        "deadline": deadline,
        "seconds_left": left,
        "left_text": _clock(left),
        "warn_seconds": int((deadline - warn).total_seconds()),
        "warning": now >= warn,
        "capped": deadline == rules.closes_at,
    }


def _clock(seconds: int) -> str:
    """Time left as the countdown shows it (take.js's twin): 4:05, 1:02:03."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class SavedAnswers(TypedDict):
    """`_take_context`'s ``selected`` and ``responses``, from an attempt's saved draft."""

    selected: list[tuple[int, set[int]]]
    responses: dict[int, str]


def _saved_answers(attempt: QuizAttempt) -> SavedAnswers:
    """The answers saved on an attempt in progress, as the take form shows them again."""
    draft = attempt.draft or {}
    return {
        "selected": [(int(q), set(c)) for q, c in (draft.get("answers") or {}).items()],
        "responses": {int(q): text for q, text in (draft.get("responses") or {}).items()},
    }


def _time_up_message(attempt: QuizAttempt) -> str:
    saved = attempt.draft_saved_at
    what = (
        f"the answers you saved by {timezone.localtime(saved):%H:%M:%S}"
        if saved
        else "no saved answers (none were saved in time)"
    )
    return (
        f"The time for this attempt was up, so it was submitted automatically with {what}. "
        "Answers sent after the time was up were not recorded."
    )


def _time_up(
    request: LoggedInRequest,
    attempt: QuizAttempt,
    *,
    answers: Mapping[int, set[int]] | None = None,
    responses: Mapping[int, str] | None = None,
) -> HttpResponseRedirect:
    """Submit a timed attempt whose time is up (its saved answers count, never these late
    ``answers``, which are only logged) and show its result."""
    result = attempt_submit(
        attempt_id=attempt.pk,
        student=request.user,
        answers=answers or {},
        responses=responses or {},
        session_email=request.session.get("staff_email"),
    )
    messages.warning(request, _time_up_message(result.attempt))
    return redirect(result.attempt)


def _in_progress(request: LoggedInRequest, quiz: Quiz) -> QuizAttempt | None:
    """The student's attempt in progress on the quiz, or None."""
    attempt = QuizAttempt.objects.filter(
        student=request.user, quiz=quiz, completed_at__isnull=True
    ).first()
    if attempt is not None:
        attempt.quiz = quiz
    return attempt


def _timed_gate(
    request: LoggedInRequest, quiz: Quiz, past: list[QuizAttempt]
) -> HttpResponse | None:
    """Before a timed quiz's page: the result when the time of the attempt in progress was
    up, the start page when none is in progress (the clock starts with a press, not with a
    look); None to show the attempt."""
    attempt = _in_progress(request, quiz)
    rules = quiz_rules_for(quiz=quiz, student=request.user)  # annotated quiz: no query
    if attempt is not None:
        overdue = is_overdue(deadline=deadline_of(attempt, rules), now=timezone.now())
        return _time_up(request, attempt) if overdue else None
    now = timezone.now()
    if rules.is_upcoming(now) or rules.is_closed(now):
        return None  # attempt_get_or_start says why, as for any quiz
    attempts_left = rules.attempts_left(used=len(past))
    if attempts_left == 0:
        return None
    deadline = attempt_deadline(started_at=now, rules=rules)
    context = {
        "quiz": quiz,
        "limit": quiz.time_limit_minutes,
        "extra_minutes": rules.extra_minutes,
        "capped_at": deadline if deadline == rules.closes_at else None,
        "attempts_left": attempts_left,
        **_attempt_list(request.user, quiz, past, now),
    }
    return render(request, "quizzes/start.html", context)


@require_POST
@login_required
def quiz_start(request: LoggedInRequest, pk: int) -> HttpResponse:
    """Start an attempt on a timed quiz (the start page's button), then show it."""
    quiz = get_object_or_404(student_quizzes(student=request.user), pk=pk)
    attempt = _in_progress(request, quiz)
    if attempt is None:
        with suppress(AttemptLimitReached, QuizNotOpen):  # the quiz page says why
            attempt_get_or_start(student=request.user, quiz=quiz)
    elif is_overdue(
        deadline=deadline_of(attempt, quiz_rules_for(quiz=quiz, student=request.user)),
        now=timezone.now(),
    ):
        return _time_up(request, attempt)
    return redirect(quiz)


@require_POST
@login_required
def attempt_save_view(request: LoggedInRequest, pk: int) -> HttpResponse:
    """Save the answers of an attempt in progress without submitting ("Save answers", or
    take.js on each change, which asks for JSON); back to the quiz page, answers kept."""
    as_json = "application/json" in request.headers.get("Accept", "")
    try:
        answers, responses = parse_answers(request.POST), parse_responses(request.POST)
        result = attempt_save_answers(
            attempt_id=pk, student=request.user, answers=answers, responses=responses
        )
    except QuizAttempt.DoesNotExist as err:
        raise Http404("No such attempt.") from err
    except TimeUp as up:
        response = _time_up(request, up.attempt, answers=answers, responses=responses)
        return _saved_reply(as_json, "time_up", response, status=409)
    except AlreadySubmitted as done:
        messages.info(request, "This attempt was already submitted; nothing more is saved.")
        return _saved_reply(as_json, "submitted", redirect(done.attempt), status=409)
    except (InvalidSubmission, QuizNotOpen) as err:
        if as_json:
            return JsonResponse({"state": "refused", "message": str(err.args[0])}, status=400)
        return _refused(request, pk, err)
    saved_at = f"{timezone.localtime(result.saved_at):%H:%M:%S}"
    shown = arrange(result.questions, result.attempt.shuffled_order)  # numbered as on the page
    numbers = {q.pk: i for i, q in enumerate(shown, start=1)}
    unsaved = [str(numbers[q]) for q in sorted(result.errors, key=numbers.__getitem__)]
    text = f"Answers saved at {saved_at} (not submitted yet)."
    if len(unsaved) == 1:
        text += f" Not saved: question {unsaved[0]}, which is not a number."
    elif unsaved:
        listed = f"{', '.join(unsaved[:-1])} and {unsaved[-1]}"
        text += f" Not saved: questions {listed}, which are not numbers."
    if as_json:
        return JsonResponse({"state": "saved", "message": text})
    if result.errors:
        context = _take_context(
            student=request.user,
            quiz=result.attempt.quiz,
            attempt=result.attempt,
            questions=result.questions,
            past=list(student_attempts(student=request.user, quiz=result.attempt.quiz)),
            selected=answers,
            responses=responses,
            errors=result.errors,
        )
        return render(request, "quizzes/take.html", context, status=400)
    messages.success(request, text)
    return redirect(result.attempt.quiz)


def _saved_reply(
    as_json: bool, state: str, response: HttpResponseRedirect, *, status: int
) -> HttpResponse:
    """A refused save: the page to go to, as JSON for take.js, else the redirect itself."""
    if as_json:
        return JsonResponse({"state": state, "url": response.url}, status=status)
    return response
