from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from quizzes.forms import parse_answers
from quizzes.models import QuizAttempt
from quizzes.selectors import (
    mark_for_attempt,
    quiz_questions,
    student_attempts,
    student_quiz_list,
    student_quizzes,
)
from quizzes.services import (
    AttemptLimitReached,
    InvalidSubmission,
    attempt_get_or_start,
    attempt_submit,
)
from quizzes.sync_status import mark_message


@require_GET
@login_required
def home(request):
    quizzes = list(student_quiz_list(student=request.user))
    for quiz in quizzes:
        quiz.attempts_left = (
            None if quiz.max_attempts is None else max(quiz.max_attempts - quiz.attempts_used, 0)
        )
    return render(request, "quizzes/home.html", {"quizzes": quizzes})


@require_GET
@login_required
def quiz_take(request, pk):
    # Another course's quiz is a 404, alike for one that does not exist.
    quiz = get_object_or_404(student_quizzes(student=request.user), pk=pk)
    past = student_attempts(student=request.user, quiz=quiz)
    try:
        attempt = attempt_get_or_start(student=request.user, quiz=quiz)
    except AttemptLimitReached:
        return render(
            request, "quizzes/no_attempts_left.html", {"quiz": quiz, "past": past}, status=403
        )
    context = {
        "quiz": quiz,
        "attempt": attempt,
        "questions": quiz_questions(quiz=quiz),
        "past": past,
        "attempts_left": None if quiz.max_attempts is None else quiz.max_attempts - len(past),
    }
    return render(request, "quizzes/take.html", context)


@require_POST
@login_required
def attempt_submit_view(request, pk):
    try:
        result = attempt_submit(
            attempt_id=pk,
            student=request.user,
            answers=parse_answers(request.POST),
            session_email=request.session.get("staff_email"),
        )
    except QuizAttempt.DoesNotExist as err:
        raise Http404("No such attempt.") from err
    except InvalidSubmission as err:
        # Only on this error path: the hot path loads the attempt once, in the service.
        quiz = get_object_or_404(
            student_quizzes(student=request.user), attempts__pk=pk, attempts__student=request.user
        )
        context = {"quiz": quiz, "message": err.messages[0]}
        return render(request, "quizzes/bad_submission.html", context, status=400)
    if result.already_submitted:
        messages.info(request, "This attempt was already submitted; your first answers count.")
    return redirect(result.attempt)


@require_GET
@login_required
def attempt_result(request, pk):
    attempt = get_object_or_404(
        QuizAttempt.objects.select_related("quiz"), pk=pk, student=request.user
    )
    if not attempt.is_completed():
        return redirect(attempt.quiz)
    answers = attempt.answers.select_related("question").prefetch_related(
        "selected_choices", "question__choices"
    )
    mark = mark_for_attempt(attempt=attempt)
    context = {
        "attempt": attempt,
        "quiz": attempt.quiz,
        "answers": answers,
        "mark": mark,
        "sync": mark_message(mark=mark, attempt=attempt),
    }
    return render(request, "quizzes/result.html", context)
