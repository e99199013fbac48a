"""quizzes' admin pages with the marks' sync in them: quizzes' admin classes extended and
registered again (Django's way: unregister, then register a subclass).

It imports quizzes' admin modules itself, so the classes it replaces are registered first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from academic_integration import selectors
from academic_integration.admin_parts import (
    ADMIN_CSS,
    CourseFilter,
    QuizFilter,
    ReasonFilter,
    StatusFilter,
    TutorialFilter,
    reason_text,
    status_badge,
    when,
)
from academic_integration.analyzer_check import (
    check_message,
    courses_analyzer_check,
    courses_for_check,
)
from academic_integration.services import attempts_delete
from quizzes.admin import QuizAdmin, QuizAttemptAdmin
from quizzes.admin_courses import CourseAdmin
from quizzes.models import Course, Quiz, QuizAttempt

#: "Check with Academic Analyzer" asks about at most this many quizzes or courses per click.
CHECK_LIMIT = 20

_M = TypeVar("_M", bound=Model)


class _SyncCounts(TypedDict):
    """What `selectors.quizzes_with_sync_counts` adds to each quiz."""

    marks_delivered: int
    marks_due: int
    marks_failed: int


class _AttemptMark(TypedDict):
    """What `selectors.attempts_with_mark` adds to each attempt."""

    mark_id: int | None
    mark_status: str | None
    mark_reason: str | None
    mark_last_tried_at: datetime | None


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    _CountedQuiz = WithAnnotations[Quiz, _SyncCounts]
    _MarkedAttempt = WithAnnotations[QuizAttempt, _AttemptMark]


class SyncGridMixin:
    """The results grids' status column as a badge (quizzes/admin_courses.py)."""

    grid_stylesheets: tuple[str, ...] = (ADMIN_CSS,)

    def grid_status(self, status: str) -> SafeString:
        return status_badge(status)


def _limited(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[_M], what: str
) -> list[_M]:
    """The first CHECK_LIMIT selected objects; saying so when more were selected."""
    chosen = list(queryset[: CHECK_LIMIT + 1])
    if len(chosen) > CHECK_LIMIT:
        model_admin.message_user(
            request,
            f"Only the first {CHECK_LIMIT} selected {what} were checked; select fewer to "
            "check the rest.",
            messages.WARNING,
        )
    return chosen[:CHECK_LIMIT]


class SyncQuizAdmin(SyncGridMixin, QuizAdmin):
    list_display = [
        *QuizAdmin.list_display[: QuizAdmin.list_display.index("results_link")],
        "delivered_count",
        "due_count",
        "failed_count",
        "results_link",
    ]
    actions = ["check_with_analyzer"]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Quiz]:
        return selectors.quizzes_with_sync_counts(super().get_queryset(request))

    @admin.display(description="delivered", ordering="marks_delivered")
    def delivered_count(self, obj: _CountedQuiz) -> SafeString | int:
        return _marks_link(obj, "delivered", obj.marks_delivered)

    @admin.display(description="due", ordering="marks_due")
    def due_count(self, obj: _CountedQuiz) -> SafeString | int:
        return _marks_link(obj, "due", obj.marks_due)

    @admin.display(description="failed", ordering="marks_failed")
    def failed_count(self, obj: _CountedQuiz) -> SafeString | int:
        return _marks_link(obj, "failed", obj.marks_failed, css="sync-count-failed")

    @admin.action(description="Check with Academic Analyzer", permissions=["view"])
    def check_with_analyzer(self, request: HttpRequest, queryset: QuerySet[Quiz]) -> None:
        """The quiz's course checked as check_analyzer does, with the email its marks go
        with; the result is not kept as the course's last check (it covers these quizzes
        only). Each course and each email is asked about once per click."""
        quizzes = _limited(self, request, queryset.select_related("created_by"), "quizzes")
        tutorials: dict[str, list[Quiz]] = {}
        for quiz in quizzes:
            if quiz.is_tutorial() and quiz.course_id:
                tutorials.setdefault(quiz.course_id, []).append(quiz)
        courses = courses_for_check(queryset=Course.objects.filter(pk__in=tutorials))
        result = courses_analyzer_check(courses=courses, quizzes=tutorials)
        checks = {check.course_id: check for check in result.courses}
        for quiz in quizzes:
            if quiz.course_id not in tutorials:
                self.message_user(
                    request,
                    f"“{quiz}”: A practice quiz has no mark: nothing to check.",
                    messages.SUCCESS,
                )
                continue
            level, text = check_message(checks[quiz.course_id], quiz=quiz)
            self.message_user(request, f"“{quiz}”: {text}", level)


def _marks_link(quiz: Quiz, status: str, count: int, css: str = "") -> SafeString | int:
    if not count:
        return 0
    url = reverse("admin:academic_integration_tutorialmark_changelist")
    return format_html(
        '<a class="{}" href="{}?quiz={}&amp;status={}">{}</a>', css, url, quiz.pk, status, count
    )


class SyncQuizAttemptAdmin(QuizAttemptAdmin):
    list_display = [*QuizAttemptAdmin.list_display, "sync_status", "last_try", "sync_reason"]
    list_filter = [
        StatusFilter.for_attempts(title="mark sync status"),
        ReasonFilter.for_attempts(),
        CourseFilter.for_attempts(),
        TutorialFilter.for_attempts(),
        QuizFilter,
        "completed_at",
    ]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[QuizAttempt]:
        return selectors.attempts_with_mark(super().get_queryset(request))

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, attempt: QuizAttempt) -> str:
        return when(attempt.completed_at)

    @admin.display(description="mark sync status", ordering="mark_status")
    def sync_status(self, attempt: _MarkedAttempt) -> SafeString:
        if not attempt.quiz.is_tutorial():
            return status_badge("no_mark")
        if not attempt.is_completed():
            return status_badge("in_progress")
        if attempt.marks_synced:
            return status_badge("delivered")
        badge = status_badge(attempt.mark_status or "pending")
        if attempt.mark_id is None:
            return badge
        url = reverse("admin:academic_integration_tutorialmark_change", args=[attempt.mark_id])
        return format_html('<a href="{}">{}</a>', url, badge)

    @admin.display(description="last try", ordering="mark_last_tried_at")
    def last_try(self, attempt: _MarkedAttempt) -> str:
        return when(attempt.last_sync_at if attempt.marks_synced else attempt.mark_last_tried_at)

    @admin.display(description="reason")
    def sync_reason(self, attempt: _MarkedAttempt) -> str:
        if attempt.marks_synced or not attempt.mark_reason:
            return "–"
        return reason_text(
            attempt.mark_reason,
            status=attempt.mark_status or "",
            course_id=attempt.quiz.course_id,
            student_id=attempt.student.username,
            tutorial_number=attempt.quiz.tutorial_number,
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[QuizAttempt]) -> None:
        recomputed = attempts_delete(attempts=queryset)
        if recomputed:
            self.message_user(
                request,
                f"{recomputed} tutorial mark{'s' if recomputed != 1 else ''} recomputed from "
                "the attempts left; the next resync delivers the new values.",
                messages.INFO,
            )


class SyncCourseAdmin(SyncGridMixin, CourseAdmin):
    actions = [*CourseAdmin.actions, "check_with_analyzer"]

    @admin.action(description="Check with Academic Analyzer", permissions=["view"])
    def check_with_analyzer(self, request: HttpRequest, queryset: QuerySet[Course]) -> None:
        """Each selected course checked as check_analyzer does; the result is kept as the
        course's last check (sync health page)."""
        courses = _limited(self, request, courses_for_check(queryset=queryset), "courses")
        for check in courses_analyzer_check(courses=courses).courses:
            level, text = check_message(check)
            self.message_user(request, text, level)


for model, model_admin in (
    (Quiz, SyncQuizAdmin),
    (QuizAttempt, SyncQuizAttemptAdmin),
    (Course, SyncCourseAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
