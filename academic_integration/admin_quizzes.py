"""quizzes' admin pages with the marks' sync in them, by extending quizzes' admin classes.

quizzes/admin.py and quizzes/admin_courses.py register Quiz, QuizAttempt and Course with pages
that know nothing of marks. Here they are registered again (Django's way: unregister, then
register a subclass) with:

- quizzes: delivered / due / failed mark counts, linking to the marks, and the action
  "Check with Academic Analyzer" (academic_integration/analyzer_check.py): the quiz's course
  and the email its marks go with;
- attempts: each attempt's mark sync status, last try and reason, the sync filters; deleting
  attempts recomputes the marks they fed (`attempts_delete`);
- courses: "Check with Academic Analyzer", as `manage.py check_analyzer` does (the result is
  kept for the sync health page); both results grids show the status as a badge.

Imported by academic_integration/admin.py; it imports quizzes' admin modules itself, so the
classes it replaces are registered first whatever the order of INSTALLED_APPS.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from academic_integration import selectors
from academic_integration.admin_parts import (
    ADMIN_CSS,
    AttemptCourseFilter,
    AttemptReasonFilter,
    AttemptStatusFilter,
    AttemptTutorialFilter,
    QuizFilter,
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


class SyncGridMixin:
    """The results grids' status column as a badge (quizzes/admin_courses.py)."""

    grid_stylesheets = (ADMIN_CSS,)

    def grid_status(self, status: str):
        return status_badge(status)


_LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


def _limited(model_admin, request, queryset, what: str) -> list:
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

    def get_queryset(self, request):
        return selectors.quizzes_with_sync_counts(super().get_queryset(request))

    @admin.display(description="delivered", ordering="marks_delivered")
    def delivered_count(self, obj):
        return _marks_link(obj, "delivered", obj.marks_delivered)

    @admin.display(description="due", ordering="marks_due")
    def due_count(self, obj):
        return _marks_link(obj, "due", obj.marks_due)

    @admin.display(description="failed", ordering="marks_failed")
    def failed_count(self, obj):
        return _marks_link(obj, "failed", obj.marks_failed, css="sync-count-failed")

    @admin.action(description="Check with Academic Analyzer", permissions=["view"])
    def check_with_analyzer(self, request, queryset):
        """The quiz's course checked as check_analyzer does, with the email its marks go
        with; the result is not kept as the course's last check (it covers these quizzes
        only). Each course and each email is asked about once per click."""
        quizzes = _limited(self, request, queryset.select_related("created_by"), "quizzes")
        tutorials: dict[str, list[Quiz]] = {}
        for quiz in quizzes:
            if quiz.is_tutorial() and quiz.course_id:
                tutorials.setdefault(quiz.course_id, []).append(quiz)
        courses = courses_for_check(queryset=Course.objects.filter(pk__in=tutorials))
        result = courses_analyzer_check(courses=courses, quizzes=tutorials, record=False)
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
            self.message_user(request, f"“{quiz}”: {text}", _LEVELS[level])


def _marks_link(quiz, status, count, css=""):
    if not count:
        return 0
    url = reverse("admin:academic_integration_tutorialmark_changelist")
    return format_html(
        '<a class="{}" href="{}?quiz={}&amp;status={}">{}</a>', css, url, quiz.pk, status, count
    )


class SyncQuizAttemptAdmin(QuizAttemptAdmin):
    list_display = [*QuizAttemptAdmin.list_display, "sync_status", "last_try", "sync_reason"]
    list_filter = [
        AttemptStatusFilter,
        AttemptReasonFilter,
        AttemptCourseFilter,
        AttemptTutorialFilter,
        QuizFilter,
        "completed_at",
    ]

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        return selectors.attempts_with_mark(super().get_queryset(request))

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, attempt):
        return when(attempt.completed_at)

    @admin.display(description="mark sync status", ordering="mark_status")
    def sync_status(self, attempt):
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
    def last_try(self, attempt):
        return when(attempt.last_sync_at if attempt.marks_synced else attempt.mark_last_tried_at)

    @admin.display(description="reason")
    def sync_reason(self, attempt):
        if attempt.marks_synced or not attempt.mark_reason:
            return "–"
        return reason_text(
            attempt.mark_reason,
            status=attempt.mark_status,
            course_id=attempt.quiz.course_id,
            student_id=attempt.student.username,
            tutorial_number=attempt.quiz.tutorial_number,
        )

    def delete_queryset(self, request, queryset):
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
    def check_with_analyzer(self, request, queryset):
        """Each selected course checked as check_analyzer does; the result is kept as the
        course's last check (sync health page)."""
        courses = _limited(self, request, courses_for_check(queryset=queryset), "courses")
        for check in courses_analyzer_check(courses=courses).courses:
            level, text = check_message(check)
            self.message_user(request, text, _LEVELS[level])


for model, model_admin in (
    (Quiz, SyncQuizAdmin),
    (QuizAttempt, SyncQuizAttemptAdmin),
    (Course, SyncCourseAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)
