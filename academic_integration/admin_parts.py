"""Pieces shared by the marks, attempts and quizzes admins: badges, scoped filters, 404s.

Every filter lists only what the requesting teacher may see (their own courses, quizzes and
reasons); superusers get everything. Filters work on marks (fields on the row) and on
attempts (fields through the quiz, the mark's status annotated by the selector).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString

from academic_integration import selectors
from academic_integration.exceptions import mark_next_step, reason_label
from academic_integration.models import TutorialMark

Status = TutorialMark.Status

_M = TypeVar("_M", bound=Model)

if TYPE_CHECKING:
    # Generic in django-stubs only: subscripted at runtime they would raise.
    _MarkForm = forms.ModelForm[TutorialMark]
    _FilterAdmin = admin.ModelAdmin[Any]  # a filter serves the marks' and the attempts' admins
    _ScopedAdmin = admin.ModelAdmin[Any]  # mixed into ModelAdmin subclasses
else:
    _MarkForm = forms.ModelForm
    _ScopedAdmin = object


def admin_user(request: HttpRequest) -> User:
    """The user of an admin page or action: ``admin_view`` lets only logged-in staff in."""
    return cast(User, request.user)


#: A symbol next to the label, so status never rests on colour alone.
BADGE_ICONS = {
    Status.PENDING: "…",
    Status.DELIVERED: "✓",
    Status.RETRYING: "↻",
    Status.REJECTED: "✗",
    Status.GIVEN_UP: "!",
    "in_progress": "…",
    "no_mark": "–",
}
EXTRA_LABELS = {"in_progress": "In progress", "no_mark": "No mark (practice)"}

ADMIN_CSS = "academic_integration/admin.css"


def status_badge(status: str | None) -> SafeString:
    """A coloured badge with an icon and the status's text label."""
    status = status or "no_mark"
    label = EXTRA_LABELS.get(status) or dict(Status.choices).get(status, status)
    return format_html(
        '<span class="sync-badge sync-badge--{}"><span aria-hidden="true">{}</span> {}</span>',
        status,
        BADGE_ICONS.get(status, "?"),
        label,
    )


def reason_text(code: str, *, status: str = "", **context: object) -> str:
    """The reason in plain words, with its next step as a tooltip."""
    if not code:
        return "–"
    step = mark_next_step(code, status=status, **context)
    return format_html('<span title="{}">{}</span>', step, reason_label(code))


def when(moment: datetime | None) -> str:
    """A compact local time for crowded lists ("22 Nov, 07:59"); the full one on hover."""
    if moment is None:
        return "–"
    local = timezone.localtime(moment)
    short = "j M, H:i" if local.year == timezone.localtime().year else "j M Y, H:i"
    return format_html(
        '<time class="sync-when" datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        date_format(local, "l j F Y, H:i:s T"),
        date_format(local, short),
    )


class NotFoundOutsideScopeMixin(_ScopedAdmin):
    """Another teacher's object id in the URL answers 404, not a redirect to the index."""

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Model:
        obj: Model | None = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object, or not one of yours.")
        return obj


# --- filters -----------------------------------------------------------------------------------


class StatusFilter(admin.SimpleListFilter):
    """Sync status, with "not delivered" and "failed" groups; works on marks and attempts."""

    title = "sync status"
    parameter_name = "status"
    GROUPS = {
        "undelivered": ("Not delivered (any reason)", selectors.UNDELIVERED),
        "due": ("Due (pending or retrying)", selectors.DUE),
        "failed": ("Failed (rejected or given up)", selectors.FAILED),
    }

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        groups = [(key, label) for key, (label, _) in self.GROUPS.items()]
        return groups + list(Status.choices)

    def statuses(self) -> list[str] | None:
        value = self.value()
        if value in self.GROUPS:
            return list(self.GROUPS[value][1])
        return [value] if value in Status.values else None

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        statuses = self.statuses()
        if statuses is None:
            return None
        return queryset.filter(status__in=statuses)


class AttemptStatusFilter(StatusFilter):
    """On attempts: "delivered" means the attempt is settled; otherwise its mark's status."""

    title = "mark sync status"

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        statuses = self.statuses()
        if statuses is None:
            return None
        if statuses == [Status.DELIVERED]:
            return queryset.filter(marks_synced=True)
        return queryset.filter(marks_synced=False, mark_status__in=statuses)


class _FieldFilter(admin.SimpleListFilter):
    field_path: str

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return None


class ReasonFilter(_FieldFilter):
    title = "reason"
    parameter_name = "reason"
    field_path = "reason"

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        return [
            (code, reason_label(code)) for code in selectors.mark_reasons(user=admin_user(request))
        ]


class AttemptReasonFilter(ReasonFilter):
    field_path = "mark_reason"

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        if self.value():
            return queryset.filter(marks_synced=False, mark_reason=self.value())
        return None


class CourseFilter(_FieldFilter):
    title = "course"
    parameter_name = "course"
    field_path = "course_id"

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        return [(c, c) for c in selectors.mark_course_ids(user=admin_user(request))]


class AttemptCourseFilter(CourseFilter):
    field_path = "quiz__course_id"

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        return [(c, c) for c in selectors.quiz_course_ids(user=admin_user(request))]


class TutorialFilter(admin.SimpleListFilter):
    title = "tutorial number"
    parameter_name = "tutorial"
    field_path = "tutorial_number"

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        return [(str(n), f"Tutorial {n}") for n in range(1, 5)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        number = self.value()
        if number in {"1", "2", "3", "4"}:
            return queryset.filter(**{self.field_path: int(number)})
        return None


class AttemptTutorialFilter(TutorialFilter):
    field_path = "quiz__tutorial_number"


class QuizFilter(admin.SimpleListFilter):
    """The requesting teacher's own quizzes only."""

    title = "quiz"
    parameter_name = "quiz"
    field_path = "quiz_id"

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        quizzes = selectors.quizzes_visible(user=admin_user(request)).order_by(
            "course_id", "tutorial_number", "title", "pk"
        )
        return [
            (str(pk), f"{title} ({course} · T{tutorial})" if course else title)
            for pk, title, course, tutorial in quizzes.values_list(
                "pk", "title", "course_id", "tutorial_number"
            )
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        pk = self.value()
        if pk and pk.isdigit():
            return queryset.filter(**{self.field_path: int(pk)})
        return None


class LastChangedFilter(admin.DateFieldListFilter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = "last changed"


class TutorialMarkForm(_MarkForm):
    """The mark page in words a teacher uses: labels and help for the read-only fields."""

    class Meta:
        model = TutorialMark
        fields: list[str] = []
        labels = {
            "value": "Mark (of 10)",
            "version": "Revision",
            "last_error": "Last error from the Analyzer",
            "tries": "Failed tries since last delivery",
            "last_tried_at": "Last tried",
            "next_try_at": "Next automatic try",
            "due_since": "Waiting to be delivered since",
            "failing_since": "Failing since",
            "unsettled_until": "Double-check after",
            "teacher_email": "Teacher email sent with the mark",
            "teacher_email_source": "Where that email came from",
            "delivered_value": "Mark the Analyzer holds",
            "delivered_version": "Revision the Analyzer holds",
            "delivered_at": "Delivered at",
        }
        help_texts = {
            "version": "Goes up each time the mark changes (a new attempt, a regrade, a "
            "deleted attempt). The Analyzer is up to date when it holds this revision.",
            "tries": "Resets when the mark is delivered or put back with Retry after fixing.",
            "next_try_at": "When the resync command tries again on its own.",
            "due_since": "When the current value first needed delivering.",
            "failing_since": "First failure of the current value; after "
            "ACADEMIC_ANALYZER_MAX_AGE_HOURS of failures the mark is given up.",
            "unsettled_until": "An earlier send timed out, so the Analyzer might still apply "
            "that older value until this time. If a newer value was delivered meanwhile, it "
            "is sent once more after this time so the Analyzer ends with the newest mark. "
            "Empty: nothing to double-check.",
        }


def delivered_version_help(mark: TutorialMark) -> str:
    """The help under "Revision the Analyzer holds", said of this mark's values."""
    held, current = mark.delivered_version, mark.version
    if held == current:
        return f"Equal to the revision above ({current}): the Analyzer holds the current mark."
    if not held:
        return (
            f"0: no revision of this mark has reached the Analyzer yet; revision {current} "
            "(above) is the one to deliver."
        )
    return (
        f"Behind the revision above ({current}): the Analyzer still holds revision {held} "
        f"(mark {mark.delivered_value}); revision {current} is yet to be delivered."
    )
