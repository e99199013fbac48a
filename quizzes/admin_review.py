"""Teachers' drill-down from the results grid: one attempt's answers per question, and the
per-question summary of a quiz (with its CSV).

Scoped like the grids: a teacher reaches the attempts and quizzes of the courses they teach
(practice quizzes they created), a 404 alike for the rest and for what does not exist.
Registered by QuizAttemptAdmin and QuizAdmin (quizzes/admin.py), so the sync admin's
subclasses have them too.
"""

from __future__ import annotations

import csv
import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from quizzes.admin_courses import csv_cell
from quizzes.attempt_review import attempt_review
from quizzes.models import Quiz, QuizAttempt
from quizzes.question_summary import (
    ALL,
    BASES,
    COUNTED,
    TOP_WRONG_RESPONSES,
    basis_description,
    question_summary,
)
from quizzes.rules import QuizRules
from quizzes.scoring import format_score
from quizzes.selectors import quiz_rules_for, quizzes_owned

logger = logging.getLogger(__name__)


def _seen(shown: bool, option: str) -> str:
    return f"shown ({option.lower()})" if shown else f"not shown yet ({option.lower()})"


def student_view_lines(*, rules: QuizRules, attempts_used: int) -> list[tuple[str, str]]:
    """What the quiz's review options show the student now, under their rules (their
    exception, and every student's latest closing), as (what, state) pairs."""
    now, quiz = timezone.now(), rules.quiz
    return [
        (
            "score",
            _seen(
                rules.score_visible(attempts_used=attempts_used, now=now),
                quiz.get_review_score_display(),
            ),
        ),
        (
            "right/wrong per question",
            _seen(
                rules.correctness_visible(attempts_used=attempts_used, now=now),
                quiz.get_review_correctness_display(),
            ),
        ),
        (
            "answer key",
            _seen(
                rules.key_visible(attempts_used=attempts_used, now=now), quiz.get_review_display()
            ),
        ),
    ]


def attempt_answers_view(model_admin, request, attempt_id):
    """An attempt's answers per question, for its teacher (registered by QuizAttemptAdmin)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        review = attempt_review(user=request.user, attempt_id=attempt_id)
    except QuizAttempt.DoesNotExist as err:
        raise Http404("No such attempt, or not one of yours.") from err
    attempt, quiz = review.attempt, review.attempt.quiz
    student = attempt.student
    name = student.get_full_name()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{student.username}{f' ({name})' if name else ''}: {quiz.title}",
        "opts": model_admin.opts,
        "review": review,
        "attempt": attempt,
        "quiz": quiz,
        "student": student,
        "counted": review.counted,
        "graded_by": "the highest score"
        if quiz.grading_method == Quiz.GradingMethod.HIGHEST
        else "the latest attempt",
        "listed": review.listed,
        "student_sees": student_view_lines(
            rules=quiz_rules_for(quiz=quiz, student=student), attempts_used=review.attempts_used
        ),
        "results_url": reverse("admin:quizzes_quiz_results", args=[quiz.pk])
        if quiz.course_id
        else None,
        "summary_url": reverse("admin:quizzes_quiz_summary", args=[quiz.pk]),
        "changelist_url": reverse("admin:quizzes_quizattempt_changelist"),
    }
    return TemplateResponse(request, "admin/quizzes/attempt_answers.html", context)


SUMMARY_COLUMNS = [
    "number",
    "question",
    "type",
    "points",
    "correct answer",
    "answered",
    "right",
    "partly right",
    "wrong",
    "not answered",
    "mean points",
    "most-picked wrong choice",
    "commonest wrong typed answers",
]


def _picks(picked) -> str:
    return " · ".join(f"{p.text} ({p.times})" for p in picked)


def quiz_summary_view(model_admin, request, quiz_id):
    """The per-question summary of a quiz, or its CSV (registered by QuizAdmin)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    quiz = quizzes_owned(user=request.user).select_related("course").filter(pk=quiz_id).first()
    if quiz is None:
        raise Http404("No such quiz, or not one of yours.")
    basis = request.GET.get("attempts")
    basis = basis if basis in BASES else COUNTED
    summary = question_summary(quiz=quiz, basis=basis)
    if request.GET.get("format") == "csv":
        return _summary_csv(request, summary)
    other = ALL if basis == COUNTED else COUNTED
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Questions: {quiz.title} ({quiz.slot_label})",
        "opts": model_admin.opts,
        "quiz": quiz,
        "summary": summary,
        "basis_label": BASES[basis],
        "basis_description": basis_description(quiz=quiz, basis=basis),
        "other_basis_url": f"?attempts={other}",
        "other_basis_label": BASES[other],
        "csv_url": f"?attempts={basis}&format=csv",
        "top_wrong": TOP_WRONG_RESPONSES,
        "results_url": reverse("admin:quizzes_quiz_results", args=[quiz.pk])
        if quiz.course_id
        else None,
        "changelist_url": reverse("admin:quizzes_quiz_changelist"),
    }
    return TemplateResponse(request, "admin/quizzes/question_summary.html", context)


def _summary_csv(request, summary) -> HttpResponse:
    filename = f"questions-quiz{summary.quiz.pk}-{summary.basis}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    writer = csv.writer(response)
    writer.writerow(SUMMARY_COLUMNS)
    for s in summary.questions:
        row = [
            s.number,
            s.question.text,
            s.type_label,
            s.question.points,
            s.correct,
            s.answered,
            s.right,
            s.partly,
            s.wrong,
            s.unanswered,
            "" if s.mean_points is None else format_score(s.mean_points),
            _picks(s.top_wrong_choices),
            _picks(s.wrong_responses),
        ]
        writer.writerow([csv_cell(value) for value in row])
    logger.info(
        "question summary exported user=%s quiz=%s basis=%s questions=%s",
        request.user.username,
        summary.quiz.pk,
        summary.basis,
        len(summary.questions),
    )
    return response
