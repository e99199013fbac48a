"""Preview as a student: a quiz's teachers take it as a student would, and nothing is kept.

The take page and the result page are the students' own templates, labelled as a preview.
No state reaches the database: the preview's order (a quiz that shuffles draws one per
preview, as per attempt) travels in a signed form field, the POST is scored and rendered
(services.attempt_preview): no attempt, no answers, no mark, no `attempt_completed`. Dates,
publication and the attempt limit do not apply. Whoever does not own the quiz (students,
another course's teachers) gets a 404, as for a quiz that does not exist.
"""

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from quizzes import services
from quizzes.forms import parse_answers, parse_responses
from quizzes.ordering import arrange, shuffled_order_new
from quizzes.selectors import quiz_questions, quizzes_owned
from quizzes.services import (
    InvalidSubmission,
    UnansweredQuestions,
    UnreadableAnswers,
    attempt_preview,
)
from quizzes.views import _take_context

ORDER_FIELD = "preview_order"
_SALT = "quizzes.preview.order"


def _order_token(quiz, order) -> str:
    return signing.dumps({"quiz": quiz.pk, "order": order}, salt=_SALT, compress=True)


def _order_read(quiz, token: str):
    """The order signed into the preview's form; InvalidSubmission when changed or foreign."""
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        data = None
    if not isinstance(data, dict) or data.get("quiz") != quiz.pk:
        raise InvalidSubmission("The preview form was changed or belongs to another quiz.")
    return data.get("order")


def _previewed_quiz(request, pk):
    if not request.user.is_staff:
        raise Http404("No such quiz.")
    return get_object_or_404(quizzes_owned(user=request.user).select_related("course"), pk=pk)


def _preview(quiz, order) -> dict:
    return {
        "token": _order_token(quiz, order),
        "field": ORDER_FIELD,
        "url": reverse("quizzes:quiz_preview", args=[quiz.pk]),
        "admin_url": reverse("admin:quizzes_quiz_change", args=[quiz.pk]),
    }


def _take(request, quiz, questions, order, *, status=200, refused=None, **shown):
    preview = _preview(quiz, order)
    context = _take_context(
        student=request.user,
        quiz=quiz,
        attempt=None,
        questions=questions,
        past=[],
        order=order,
        submit_url=preview["url"],
        selected=refused.answers if refused else (),
        responses=refused.responses if refused else None,
        **shown,
    )
    return render(request, "quizzes/take.html", {**context, "preview": preview}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
def quiz_preview(request, pk):
    quiz = _previewed_quiz(request, pk)
    questions = quiz_questions(quiz=quiz)
    if request.method == "GET":
        rng = services.shuffle_rng()
        order = shuffled_order_new(quiz=quiz, questions=list(questions), rng=rng)
        return _take(request, quiz, questions, order)
    try:
        order = _order_read(quiz, request.POST.get(ORDER_FIELD, ""))
        result = attempt_preview(
            quiz=quiz,
            previewer=request.user,
            questions=questions,
            answers=parse_answers(request.POST),
            responses=parse_responses(request.POST),
            confirmed=request.POST.get("confirm") == "1",
        )
    except UnreadableAnswers as unreadable:
        return _take(
            request,
            quiz,
            questions,
            order,
            status=400,
            refused=unreadable,
            errors=unreadable.errors,
        )
    except UnansweredQuestions as missing:
        return _take(
            request, quiz, questions, order, refused=missing, unanswered=missing.unanswered
        )
    except InvalidSubmission as err:
        context = {
            "quiz": quiz,
            "message": err.messages[0],
            "back_url": _preview(quiz, None)["url"],
        }
        return render(request, "quizzes/bad_submission.html", context, status=400)
    by_question = {row.question.pk: row for row in result.answers}
    answers = [by_question[q.pk] for q in arrange(questions, order)]
    context = {
        "attempt": result.attempt,
        "quiz": quiz,
        "answers": answers,
        # What a student sees with every review option open: the score, right/wrong, the key.
        "score_shown": True,
        "key_visible": True,
        "attempts_left": 0,  # no "take again": the banner offers a new preview
        "preview": _preview(quiz, order),
    }
    return render(request, "quizzes/result.html", context)
