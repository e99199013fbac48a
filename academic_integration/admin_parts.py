"""Pieces shared by the marks, attempts and quizzes admins: badges, scoped filters, labels.

Every filter lists only what the requesting teacher may see; superusers get everything.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.http import HttpRequest
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
else:
    _MarkForm = forms.ModelForm


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


# --- filters -----------------------------------------------------------------------------------


class _SyncFilter(admin.SimpleListFilter):
    """Filters marks, or attempts once made by `for_attempts`: then through the quiz, and the
    mark's status and reason as `selectors.attempts_with_mark` annotates them."""

    on_attempts = False
    paths: tuple[str, str]  # the field filtered: on a mark, on an attempt

    def accepts(self, value: str) -> bool:
        return bool(value)

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        value = self.value()
        if value is None or not self.accepts(value):
            return None
        return queryset.filter(**{self.paths[self.on_attempts]: value})

    @classmethod
    def for_attempts(cls, **attrs: object) -> type[_SyncFilter]:
        return type(f"Attempt{cls.__name__}", (cls,), {"on_attempts": True, **attrs})


class StatusFilter(_SyncFilter):
    """Sync status, with "not delivered" and "failed" groups. On attempts "delivered" means the
    attempt is settled; otherwise it is its mark's status."""

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

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        value = self.value()
        statuses: list[str]
        if value in self.GROUPS:
            statuses = list(self.GROUPS[value][1])
        elif value in Status.values:
            statuses = [value]
        else:
            return None
        if not self.on_attempts:
            return queryset.filter(status__in=statuses)
        if statuses == [Status.DELIVERED]:
            return queryset.filter(marks_synced=True)
        return queryset.filter(marks_synced=False, mark_status__in=statuses)


class ReasonFilter(_SyncFilter):
    title = "reason"
    parameter_name = "reason"
    paths = ("reason", "mark_reason")

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        marks = selectors.marks_visible(user=admin_user(request)).exclude(reason="")
        return [(code, reason_label(code)) for code in selectors.distinct(marks, "reason")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> QuerySet[_M] | None:
        found = super().queryset(request, queryset)
        return found.filter(marks_synced=False) if found is not None and self.on_attempts else found


class CourseFilter(_SyncFilter):
    title = "course"
    parameter_name = "course"
    paths = ("course_id", "quiz__course_id")

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        user = admin_user(request)
        owned: QuerySet[Any] = (
            selectors.quizzes_visible(user=user).exclude(course=None)
            if self.on_attempts
            else selectors.marks_visible(user=user)
        )
        return [(c, c) for c in selectors.distinct(owned, "course_id")]


class TutorialFilter(_SyncFilter):
    title = "tutorial number"
    parameter_name = "tutorial"
    paths = ("tutorial_number", "quiz__tutorial_number")

    def lookups(self, request: HttpRequest, model_admin: _FilterAdmin) -> list[tuple[str, str]]:
        return [(str(n), f"Tutorial {n}") for n in range(1, 5)]

    def accepts(self, value: str) -> bool:
        return value in {"1", "2", "3", "4"}


class QuizFilter(_SyncFilter):
    """The requesting teacher's own quizzes only."""

    title = "quiz"
    parameter_name = "quiz"
    paths = ("quiz_id", "quiz_id")

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

    def accepts(self, value: str) -> bool:
        return value.isdigit()


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
