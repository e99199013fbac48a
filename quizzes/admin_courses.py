"""Courses in admin: rosters (import with a preview), results grids with CSV.

A teacher sees the courses they teach, read-only; rosters change by import. Superusers see
and edit every course. A results grid has a row for every enrolled student, also those who
have not attempted yet; its CSV has the same columns. Both cost the same few queries for 10
students or 500.
"""

from __future__ import annotations

import csv
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from quizzes.models import Course
from quizzes.onboarding import password_links_expire_at, password_links_make
from quizzes.roster_file import HEADER, RosterError, roster_read
from quizzes.rosters import roster_import
from quizzes.selectors import (
    RESULT_FILTERS,
    course_results,
    course_slots,
    courses_visible,
    exception_summaries,
    quiz_results,
    quizzes_owned,
)

logger = logging.getLogger(__name__)

#: Without Django's request-size limit, a roster upload larger than this is refused.
ROSTER_MAX_BYTES = 4 * 1024 * 1024


def roster_max_bytes() -> int:
    """The largest roster the admin accepts: its preview posts the text back in a form field,
    and that post must fit DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB by default) or it is a 400 and
    the roster could be previewed but never applied. 80% of the limit leaves room for the
    line ends a browser sends as CRLF and the form's other fields (about 2 MB, 20,000 rows)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return ROSTER_MAX_BYTES if limit is None else min(ROSTER_MAX_BYTES, limit * 8 // 10)


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        required=False, help_text=f"CSV with the header {','.join(HEADER)} (UTF-8)."
    )
    replace = forms.BooleanField(
        required=False,
        label="Replace the roster of each course in the file",
        help_text="Teachers and students of those courses who are not in the file are "
        "removed from the course (their attempts and marks stay).",
    )
    # The preview page sends the checked text back, so what is applied is what was shown.
    text = forms.CharField(required=False, widget=forms.HiddenInput)

    def roster_text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is None:
            return self.cleaned_data.get("text") or ""
        cap = roster_max_bytes()
        if upload.size > cap:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the admin import takes at most {cap:,} "
                "bytes. Split it by course, or have ops import it with `manage.py "
                "import_roster FILE` (no size limit)."
            )
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError as err:
            raise forms.ValidationError(
                "The file is not UTF-8 text (save it as CSV UTF-8)."
            ) from err


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula (names come from outside)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


if TYPE_CHECKING:
    # Generic in django-stubs only: subscripted at runtime it would raise.
    _CourseAdmin = admin.ModelAdmin[Course]
else:
    _CourseAdmin = admin.ModelAdmin


class ResultsGridMixin:
    """How an admin's results grid shows a mark's status: as it is stored, here. The sync
    admin (academic_integration/admin_quizzes.py) shows a badge, with its stylesheet."""

    grid_stylesheets: tuple[str, ...] = ()

    def grid_status(self, status: str):
        return status


@admin.register(Course)
class CourseAdmin(ResultsGridMixin, _CourseAdmin):
    """Courses; academic_integration/admin_quizzes.py adds "Check with Academic Analyzer"."""

    list_display = ["id", "name", "teacher_list", "student_count", "results_link"]
    search_fields = ["id", "name"]
    filter_horizontal = ["teachers", "students"]
    change_list_template = "admin/quizzes/course/change_list.html"
    actions = ["password_links"]

    def get_queryset(self, request):
        # django-stubs tracks no annotation on an auto-created through model's queryset, so
        # it takes the `n` below for a field of Course_students and rejects it.
        students = (
            Course.students.through.objects.filter(course_id=OuterRef("pk"))  # type: ignore[misc]
            .order_by()
            .values("course_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            courses_visible(user=request.user)
            .annotate(
                student_total=Coalesce(Subquery(students, output_field=IntegerField()), Value(0))
            )
            .prefetch_related("teachers")
        )

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object, or not one of yours.")
        return obj

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser  # teachers change rosters by importing them

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="teachers")
    def teacher_list(self, course):
        return ", ".join(sorted(t.username for t in course.teachers.all())) or "–"

    @admin.display(description="students", ordering="student_total")
    def student_count(self, course):
        return course.student_total

    @admin.display(description="results")
    def results_link(self, course):
        url = reverse("admin:quizzes_course_results", args=[course.pk])
        return format_html('<a href="{}">Results</a>', url)

    @admin.action(
        description="Make set-password links for students without a password",
        permissions=["view"],
    )
    def password_links(self, request, queryset):
        """Links for the selected courses' students who have no password, shown once."""
        links = password_links_make(courses=queryset, by=request.user)
        # Not cached anywhere: admin pages are never_cache (Cache-Control: no-store).
        return TemplateResponse(
            request,
            "admin/quizzes/course/password_links.html",
            {
                **self.admin_site.each_context(request),
                "title": "Set-password links",
                "opts": self.opts,
                "links": links,
                "base_url": request.build_absolute_uri("/").rstrip("/"),
                "expire_at": password_links_expire_at(),
            },
        )

    # --- extra pages ----------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="quizzes_course_import"),
            path(
                "<str:course_id>/results/",
                view(self.results_view),
                name="quizzes_course_results",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RosterUploadForm(request.POST or None, request.FILES or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a course roster",
            "opts": self.opts,
            "form": form,
            "header": ",".join(HEADER),
        }
        if request.method == "POST" and form.is_valid():
            try:
                text = form.roster_text()
            except forms.ValidationError as err:
                form.add_error("file", err)
                return TemplateResponse(request, "admin/quizzes/course/import.html", context)
            replace = form.cleaned_data["replace"]
            apply = "apply" in request.POST
            try:
                rows, errors = roster_read(text)
                result = roster_import(
                    rows=rows,
                    replace=replace,
                    by=request.user,
                    dry_run=not apply,
                    parse_errors=errors,
                )
            except RosterError as err:
                context["errors"] = err.errors
                return TemplateResponse(request, "admin/quizzes/course/import.html", context)
            if apply:
                self.message_user(request, f"Roster imported: {result.summary()}", messages.SUCCESS)
                if result.users_created:
                    self.message_user(
                        request,
                        f"{len(result.users_created)} new student account(s) have no password "
                        "yet, so they cannot log in. Next: tick their courses below, choose "
                        "“Make set-password links for students without a password” and hand "
                        "each student their link (it works once and expires).",
                        messages.INFO,
                    )
                return redirect("admin:quizzes_course_changelist")
            context.update(
                preview=result,
                confirm=RosterUploadForm(initial={"text": text, "replace": replace}),
            )
        return TemplateResponse(request, "admin/quizzes/course/import.html", context)

    def results_view(self, request, course_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        course = courses_visible(user=request.user).filter(pk=course_id).first()
        if course is None:
            raise Http404("No such course, or not one of yours.")
        slots = course_slots(course=course)
        status, search = _filters(request)
        rows = course_results(course=course, slots=slots, status=status, search=search)
        columns = ["roll number", "name"]
        for number in slots:
            columns += [f"T{number} attempts", f"T{number} mark", f"T{number} sync status"]
        # Per-student exceptions: one column, its own query (quizzes/selectors.py).
        columns.append("exceptions")
        exceptions = exception_summaries(quiz_ids=[pk for ids in slots.values() for pk in ids])

        def cells(user):
            out = [user.username, user.get_full_name()]
            for number in slots:
                out += [
                    getattr(user, f"t{number}_attempts"),
                    _mark(getattr(user, f"t{number}_mark")),
                    getattr(user, f"t{number}_status"),
                ]
            mine = exceptions.get(user.pk, {})
            given = [f"T{n}: {mine[pk]}" for n, ids in slots.items() for pk in ids if pk in mine]
            return [*out, "; ".join(given) or None]

        return _grid_response(
            request,
            self,
            title=f"Results: {course}",
            filename=f"results-{course.pk}",
            columns=columns,
            rows=rows,
            cells=cells,
            status_columns={4 + 3 * i for i in range(len(slots))},
            changelist=reverse("admin:quizzes_course_changelist"),
            # Each slot's attempts cell opens the student's attempt that counts there.
            links=lambda user: {
                2 + 3 * i: _answers_url(counted)
                for i, number in enumerate(slots)
                if (counted := getattr(user, f"t{number}_counted"))
            },
        )


def quiz_results_view(model_admin, request, quiz_id):
    """The results grid of one quiz (registered by QuizAdmin)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    quiz = quizzes_owned(user=request.user).filter(pk=quiz_id).first()
    if quiz is None or quiz.course_id is None:
        raise Http404("No such quiz, or not one of yours (or it has no course).")
    status, search = _filters(request)
    rows = quiz_results(quiz=quiz, status=status, search=search)
    # Per-student exceptions: one column, its own query (quizzes/selectors.py).
    exceptions = exception_summaries(quiz_ids=[quiz.pk])
    return _grid_response(
        request,
        model_admin,
        title=f"Results: {quiz.title} ({quiz.slot_label})",
        filename=f"results-{quiz.course_id}-quiz{quiz.pk}",
        columns=[
            "roll number",
            "name",
            "attempts used",
            "mark (of 10)",
            "sync status",
            "exception",
        ],
        rows=rows,
        cells=lambda u: [
            u.username,
            u.get_full_name(),
            u.attempts,
            _mark(u.mark),
            u.status,
            exceptions.get(u.pk, {}).get(quiz.pk),
        ],
        status_columns={4},
        changelist=reverse("admin:quizzes_quiz_changelist"),
        # The roll number opens the student's attempt that counts (their others listed there).
        links=lambda u: {0: _answers_url(u.counted_attempt)} if u.counted_attempt else {},
        summary_url=reverse("admin:quizzes_quiz_summary", args=[quiz.pk]),
    )


def _answers_url(attempt_id: int) -> str:
    return reverse("admin:quizzes_quizattempt_answers", args=[attempt_id])


def _mark(value) -> str | None:
    """A mark as 0–10 with two decimals, alike on every database (SQLite gives floats)."""
    return None if value is None else f"{Decimal(str(value)):.2f}"


def _filters(request) -> tuple[str | None, str | None]:
    status = request.GET.get("status")
    search = (request.GET.get("q") or "").strip()[:100]
    return (status if status in RESULT_FILTERS else None), (search or None)


class GridRow(list):
    """A grid row's cells (shown as they are), with links on some of them: column -> URL."""

    def __init__(self, cells, links=None):
        super().__init__(cells)
        self.links = links or {}

    @property
    def linked(self) -> list[tuple[object, str | None]]:
        return [(cell, self.links.get(i)) for i, cell in enumerate(self)]


def _grid_response(
    request,
    model_admin,
    *,
    title,
    filename,
    columns,
    rows,
    cells,
    status_columns,
    changelist,
    links=None,
    summary_url=None,
):
    rows = list(rows)
    table = [cells(user) for user in rows]
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        writer = csv.writer(response)
        writer.writerow(columns)
        for row in table:
            writer.writerow([csv_cell(value) for value in row])
        logger.info(
            "results exported user=%s file=%s rows=%s", request.user.username, filename, len(table)
        )
        return response
    shown = [
        GridRow(
            [
                (model_admin.grid_status(value) if value else "–")
                if i in status_columns
                else ("–" if value is None else value)
                for i, value in enumerate(row)
            ],
            links(user) if links else None,
        )
        for user, row in zip(rows, table, strict=True)
    ]
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.opts,
        "stylesheets": model_admin.grid_stylesheets,
        "columns": columns,
        "rows": shown,
        "filters": RESULT_FILTERS,
        "status": request.GET.get("status") or "",
        "q": request.GET.get("q") or "",
        "csv_url": f"?{query.urlencode()}",
        "changelist_url": changelist,
        "summary_url": summary_url,
    }
    return TemplateResponse(request, "admin/quizzes/results.html", context)


def view_on_site_scoped(request, content_type_id, object_id):
    """Admin's *View on site* (`/admin/r/…`), but 404 for an object the user may not see.

    Django's own view redirects for any object that exists, which tells a teacher that
    another course's quiz or attempt exists; here it is a 404 alike for both.
    """
    from django.contrib.contenttypes.models import ContentType
    from django.contrib.contenttypes.views import shortcut

    try:
        model = ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist as err:
        raise Http404("No such object.") from err
    model_admin = admin.site._registry.get(model) if model is not None else None
    if model_admin is None or not model_admin.has_view_permission(request):
        raise Http404("No such object.")
    try:
        visible = model_admin.get_queryset(request).filter(pk=object_id).exists()
    except (ValueError, TypeError, ValidationError):
        visible = False
    if not visible:
        raise Http404("No such object.")
    return shortcut(request, content_type_id, object_id)
