"""Tutorial marks in admin, read-only: who got their mark into the Academic Analyzer, why not,
what next; the actions that send them again, and the Sync health page."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from academic_integration import (
    admin_quizzes,  # noqa: F401 - quizzes' pages with the sync
    selectors,
)
from academic_integration.admin_parts import (
    ADMIN_CSS,
    CourseFilter,
    LastChangedFilter,
    QuizFilter,
    ReasonFilter,
    StatusFilter,
    TutorialFilter,
    TutorialMarkForm,
    admin_user,
    delivered_version_help,
    reason_text,
    status_badge,
    when,
)
from academic_integration.analyzer_check import (
    connection_test,
    course_checks_summary,
    sync_configuration,
)
from academic_integration.exceptions import mark_next_step
from academic_integration.models import MarkDeliveryLog, TutorialMark
from academic_integration.requeue import marks_requeue
from academic_integration.resync import (
    CONFIGURATION_STOPS,
    ResyncOptions,
    ResyncSummary,
    resync_run,
)
from academic_integration.sync_state import overview as sync_state_overview

#: "Resync selected now" handles at most this many marks per click, within this many seconds.
RESYNC_LIMIT = 200
RESYNC_DEADLINE_SECONDS = 20
HISTORY_LIMIT = 100

if TYPE_CHECKING:
    # Generic in django-stubs only: subscripted at runtime it would raise.
    _MarkAdmin = admin.ModelAdmin[TutorialMark]
else:
    _MarkAdmin = admin.ModelAdmin


@admin.register(TutorialMark)
class TutorialMarkAdmin(_MarkAdmin):
    list_display = [
        "roll_number",
        "quiz_title",
        "course_id",
        "tutorial",
        "mark_value",
        "status_label",
        "last_try",
        "reason_label",
    ]
    list_display_links = ["roll_number"]
    list_filter = [
        StatusFilter,
        ReasonFilter,
        CourseFilter,
        TutorialFilter,
        QuizFilter,
        ("updated_at", LastChangedFilter),
    ]
    search_fields = ["student__username", "course_id", "quiz__title"]
    search_help_text = "Search by student roll number, course id or quiz title."
    ordering = ["-updated_at", "-pk"]
    show_full_result_count = False
    actions = ["resync_now", "retry_after_fixing", "retry_and_send_now"]
    form = TutorialMarkForm  # plain-words labels and help for the read-only fields
    view_on_site = False
    change_form_template = "admin/academic_integration/tutorialmark/change_form.html"
    fieldsets = [
        (
            "Mark",
            {
                "fields": [
                    "roll_number",
                    "quiz_link",
                    "course_id",
                    "tutorial_number",
                    "value",
                    "version",
                ]
            },
        ),
        (
            "Sync",
            {
                "fields": [
                    "status_label",
                    "reason_label",
                    "next_step",
                    "last_error",
                    "tries",
                    "last_tried_at",
                    "next_try_at",
                    "due_since",
                    "failing_since",
                    "unsettled_until",
                    "teacher_email",
                    "teacher_email_source",
                ]
            },
        ),
        (
            "In the Academic Analyzer",
            {"fields": ["delivered_value", "delivered_version", "delivered_at"]},
        ),
    ]
    # Everything shown is read-only: a mark changes only through attempts.
    readonly_fields = flatten_fieldsets(fieldsets)

    class Media:
        css = {"all": [ADMIN_CSS]}

    # --- scope and permissions ----------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[TutorialMark]:
        marks = selectors.marks_visible(user=admin_user(request))
        return marks.select_related("student", "quiz")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TutorialMark | None = None) -> bool:
        return False  # nobody edits a mark by hand: it changes only through attempts

    def has_delete_permission(self, request: HttpRequest, obj: TutorialMark | None = None) -> bool:
        return False

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> TutorialMark:
        """Another teacher's mark in the URL answers 404, not a redirect to the index."""
        mark = super().get_object(request, object_id, from_field)
        if mark is None:
            raise Http404("No such object, or not one of yours.")
        return mark

    # --- columns ------------------------------------------------------------------------------

    @admin.display(description="roll number", ordering="student__username")
    def roll_number(self, mark: TutorialMark) -> str:
        return mark.student.username

    @admin.display(description="quiz", ordering="quiz__title")
    def quiz_title(self, mark: TutorialMark) -> str:
        return mark.quiz.title

    @admin.display(description="quiz")
    def quiz_link(self, mark: TutorialMark) -> SafeString:
        url = reverse("admin:quizzes_quiz_change", args=[mark.quiz_id])
        return format_html('<a href="{}">{}</a>', url, mark.quiz.title)

    @admin.display(description="tutorial", ordering="tutorial_number")
    def tutorial(self, mark: TutorialMark) -> int:
        return mark.tutorial_number

    @admin.display(description="mark (of 10)", ordering="value")
    def mark_value(self, mark: TutorialMark) -> Decimal:
        return mark.value

    @admin.display(description="status", ordering="status")
    def status_label(self, mark: TutorialMark) -> SafeString:
        return status_badge(mark.status)

    @admin.display(description="last try", ordering="last_tried_at")
    def last_try(self, mark: TutorialMark) -> str:
        return when(mark.last_tried_at)

    @admin.display(description="reason", ordering="reason")
    def reason_label(self, mark: TutorialMark) -> str:
        return reason_text(mark.reason, status=mark.status, **_context(mark))

    @admin.display(description="next step")
    def next_step(self, mark: TutorialMark) -> str:
        if mark.status == TutorialMark.Status.DELIVERED or not mark.reason:
            return "–"
        return mark_next_step(mark.reason, status=mark.status, **_context(mark))

    # --- detail page: the attempts behind the mark and its history of tries ----------------

    def get_form(
        self,
        request: HttpRequest,
        obj: TutorialMark | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[ModelForm[TutorialMark]]:
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            # Said of this mark's values, not a fixed sentence that may contradict them.
            form._meta.help_texts = {
                **(form._meta.help_texts or {}),
                "delivered_version": delivered_version_help(obj),
            }
        return form

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: TutorialMark | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["mark_title"] = (
                f"{obj.student.username} · {obj.course_id} tutorial {obj.tutorial_number}"
            )
            context["mark_attempts"] = selectors.mark_attempts(mark=obj, user=admin_user(request))
            # The latest tries, newest first.
            history = MarkDeliveryLog.objects.filter(mark=obj).order_by("-tried_at", "-pk")
            context["mark_history"] = list(history[:HISTORY_LIMIT])
            context["history_limit"] = HISTORY_LIMIT
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- actions ------------------------------------------------------------------------------

    @admin.action(description="Resync selected now", permissions=["view"])
    def resync_now(self, request: HttpRequest, queryset: QuerySet[TutorialMark]) -> None:
        """Deliver the selected marks now by the resync rules (not the inline breaker)."""
        ids = list(queryset.values_list("pk", flat=True)[: RESYNC_LIMIT + 1])
        if len(ids) > RESYNC_LIMIT:
            self.message_user(
                request,
                f"You selected {queryset.count()} marks; only the first {RESYNC_LIMIT} were "
                f"resynced (at most {RESYNC_LIMIT} per click). Run the action again for the "
                "rest.",
                messages.WARNING,
            )
        ids = ids[:RESYNC_LIMIT]
        held = selectors.marks_held_counts(ids=ids)  # what will not be sent, counted before the run
        summary = resync_run(
            ResyncOptions(
                mark_ids=ids,
                trigger=MarkDeliveryLog.Trigger.ADMIN,
                deadline_seconds=RESYNC_DEADLINE_SECONDS,
            )
        )
        for level, text in resync_messages(summary, **held):
            self.message_user(request, text, level)

    @admin.action(description="Retry after fixing", permissions=["view"])
    def retry_after_fixing(self, request: HttpRequest, queryset: QuerySet[TutorialMark]) -> None:
        self._requeue(request, queryset)

    @admin.action(description="Retry after fixing and send now", permissions=["view"])
    def retry_and_send_now(self, request: HttpRequest, queryset: QuerySet[TutorialMark]) -> None:
        """Retry after fixing (every selected mark: one UPDATE), then Resync selected now
        (at most RESYNC_LIMIT per click, saying so): one click after a fix."""
        self._requeue(request, queryset, sending=True)
        return self.resync_now(request, queryset)

    def _requeue(
        self, request: HttpRequest, queryset: QuerySet[TutorialMark], *, sending: bool = False
    ) -> None:
        """Put the selected rejected and given-up marks back to pending, and say so."""
        ids = list(queryset.values_list("pk", flat=True))
        result = marks_requeue(mark_ids=ids, user=admin_user(request))
        if result.requeued and sending:
            self.message_user(
                request,
                f"{_marks(result.requeued)} back to pending; sending the selected marks now.",
                messages.INFO,
            )
        elif result.requeued:
            self.message_user(
                request,
                format_html(
                    "{} back to pending: the next resync sends them. What we knew about "
                    "course{} {} was forgotten, so the Analyzer is asked again. {}",
                    _marks(result.requeued),
                    pluralize(len(result.courses)),
                    ", ".join(result.courses),
                    _send_now_button(request, ids[:RESYNC_LIMIT]),
                ),
                messages.SUCCESS,
            )
        if result.skipped:
            was = "it was" if result.skipped == 1 else "they were"
            self.message_user(
                request,
                f"{_marks(result.skipped)} left as {was}: only rejected or given-up marks are "
                "put back.",
                messages.INFO if result.requeued else messages.WARNING,
            )

    # --- sync health page ---------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("health/", view(self.health_view), name="academic_integration_sync_health"),
            path(
                "health/test-connection/",
                view(require_POST(self.test_connection_view)),
                name="academic_integration_test_connection",
            ),
            *super().get_urls(),
        ]

    def health_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        health = selectors.sync_health(user=admin_user(request), now=now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Academic Analyzer sync health",
            "opts": self.opts,
            "health": health,
            "course_checks": course_checks_summary(user=admin_user(request), now=now),
            "configuration": sync_configuration(),
            **sync_state_overview(),  # "breaker", "config_rejection", "bulk_unsupported"
            "bulk_size": settings.ACADEMIC_ANALYZER_BULK_SIZE,
            "changelist_url": reverse("admin:academic_integration_tutorialmark_changelist"),
            "now": now,
        }
        return TemplateResponse(request, "admin/academic_integration/sync_health.html", context)

    def test_connection_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        result = connection_test(
            course_id=selectors.quiz_course_for_check(user=admin_user(request))
        )
        level = messages.SUCCESS if result.ok else messages.ERROR
        self.message_user(request, f"Test connection: {result.message}", level)
        return HttpResponseRedirect(reverse("admin:academic_integration_sync_health"))


def resync_messages(
    summary: ResyncSummary, *, rejected: int = 0, already_delivered: int = 0
) -> list[tuple[int, str]]:
    """What a teacher is told after Resync selected now: one message per outcome.

    ``rejected`` and ``already_delivered`` count selected marks the run does not send, so
    they are named as such and never called delivered.
    """
    if summary.stopped in CONFIGURATION_STOPS:
        return [(messages.ERROR, f"Nothing was delivered. {summary.message}")]
    found: list[tuple[int, str]] = []

    def say(level: int, text: str) -> None:
        found.append((level, text))

    if summary.delivered:
        say(
            messages.SUCCESS,
            f"{_marks(summary.delivered)} delivered to the Academic Analyzer "
            f"({summary.attempts_settled} attempt{pluralize(summary.attempts_settled)} settled).",
        )
    if summary.superseded:
        say(
            messages.INFO,
            f"{_marks(summary.superseded)} delivered, but a retake since then changed the "
            "value: the new value goes with the next resync.",
        )
    if summary.retrying:
        # No time when no retrying mark has one (a confirming mark waits on its double-check).
        at = summary.next_try_at and timezone.localtime(summary.next_try_at).strftime("%H:%M")
        say(
            messages.WARNING,
            f"{_marks(summary.retrying)} hit a temporary problem and will be retried "
            f"automatically{f' (next try from {at})' if at else ''}.",
        )
    for group in summary.given_up_groups + summary.rejected_groups:
        verb = "given up" if group.status == TutorialMark.Status.GIVEN_UP else "rejected"
        say(
            messages.ERROR,
            f"{_marks(group.marks)} {verb} — {group.label} (course "
            f"{', '.join(sorted(group.courses))}; {len(group.students)} "
            f"student{pluralize(len(group.students))}). {group.next_step}",
        )
    if summary.stopped:
        say(messages.WARNING, summary.message)
    if summary.skipped and not summary.stopped:
        say(
            messages.WARNING,
            f"{_marks(summary.skipped)} {'was' if summary.skipped == 1 else 'were'} not "
            "tried within the time one click may take; they stay due: run the action "
            "again, or the next resync sends them.",
        )
    if summary.busy:
        say(
            messages.INFO,
            f"{_marks(summary.busy)} being delivered by another process right now; look "
            "again in a minute.",
        )
    if summary.errors:
        say(
            messages.ERROR,
            f"{_marks(summary.errors)} failed with an unexpected error (see the logs); "
            "they are retried later.",
        )
    if already_delivered:
        say(
            messages.INFO,
            f"{_marks(already_delivered)} already delivered: the Analyzer holds "
            f"{'its' if already_delivered == 1 else 'their'} current value, nothing to send.",
        )
    if rejected:
        say(
            messages.WARNING,
            f"{_marks(rejected)} rejected by the Analyzer {'was' if rejected == 1 else 'were'} "
            "not sent: it would refuse again. Fix the cause shown on the mark, then use "
            "Retry after fixing (or Retry after fixing and send now).",
        )
    if not found:
        say(messages.INFO, "Nothing was sent: none of the selected marks was due.")
    return found


def _send_now_button(request: HttpRequest, ids: Iterable[int]) -> str:
    """A button in the message that runs Resync selected now on the same marks."""
    return format_html(
        '<form method="post" action="{}" class="sync-send-now">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<input type="hidden" name="action" value="resync_now">'
        '<input type="hidden" name="index" value="0">{}'
        '<button type="submit" class="button">Send them now</button></form>',
        reverse("admin:academic_integration_tutorialmark_changelist"),
        get_token(request),
        format_html_join(
            "", '<input type="hidden" name="_selected_action" value="{}">', ((pk,) for pk in ids)
        ),
    )


def _context(mark: TutorialMark) -> dict[str, str | int]:
    return {
        "course_id": mark.course_id,
        "student_id": mark.student.username,
        "teacher_email": mark.teacher_email,
        "tutorial_number": mark.tutorial_number,
    }


def _marks(n: int) -> str:
    return f"{n} mark{pluralize(n)}"
