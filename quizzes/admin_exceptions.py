"""Per-student exceptions in admin: a course's teachers give one student extra attempts, a
later closing or extra time on one quiz (docs/teachers/exceptions.md).

A teacher sees and edits the exceptions of the courses they teach; superusers all. Who made
and last changed each one, and when, is recorded by the service, never typed; Django's admin
history (LogEntry) adds each change's fields, and the log line each change's values.
"""

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.html import format_html

from quizzes.admin import TeacherScopedMixin
from quizzes.models import Quiz, StudentException, admin_time
from quizzes.selectors import courses_visible, quizzes_owned
from quizzes.services import student_exception_delete, student_exception_save

if TYPE_CHECKING:
    # Generic in django-stubs only: subscripted at runtime it would raise.
    _ExceptionAdmin = admin.ModelAdmin[StudentException]
else:
    _ExceptionAdmin = admin.ModelAdmin


def _student_label(user) -> str:
    name = user.get_full_name()
    return f"{user.get_username()} · {name}" if name else user.get_username()


def _who_when(user, moment) -> str:
    """ "anand, 1 Dec 2026 17:30": plain text, not a link to a user page teachers cannot open."""
    if moment is None:
        return "–"
    who = user.get_username() if user is not None else "(a deleted user)"
    return f"{who}, {admin_time(moment)}"


class _QuizChoiceField(forms.ModelChoiceField):
    """Two courses' quizzes may share a title: each option names the course and slot too."""

    def label_from_instance(self, obj: Quiz) -> str:
        return f"{obj.title} · {obj.slot_label}"


class _StudentChoiceField(forms.ModelChoiceField):
    """Each option gives the roll number and the name (`_student_label`)."""

    def label_from_instance(self, obj) -> str:
        return _student_label(obj)


class ExceptionQuizFilter(admin.SimpleListFilter):
    """The teacher's quizzes with a course (the quiz page links here), not every quiz."""

    title = "quiz"
    parameter_name = "quiz"

    def lookups(self, request, model_admin):
        quizzes = quizzes_owned(user=request.user).filter(course__isnull=False)
        return [
            (str(pk), f"{title} ({course})")
            for pk, title, course in quizzes.values_list("pk", "title", "course_id")
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return None
        if value not in {pk for pk, _ in self.lookup_choices}:
            # Typed into the address bar: not a number, or not one of theirs. The admin's
            # "wrong filter" page (?e=1), not a server error.
            raise IncorrectLookupParameters(f"No such quiz to filter by: {value!r}")
        return queryset.filter(quiz_id=int(value))


@admin.register(StudentException)
class StudentExceptionAdmin(TeacherScopedMixin, _ExceptionAdmin):
    quiz_prefix = "quiz__"
    list_display = ["roll_number", "name", "quiz", "gives", "reason", "updated_by", "updated_at"]
    list_display_links = ["roll_number"]
    list_select_related = ["quiz", "student", "updated_by"]
    list_filter = [ExceptionQuizFilter]
    search_fields = ["student__username", "student__first_name", "student__last_name"]
    search_help_text = "Search by roll number or name."
    show_full_result_count = False
    fields = [
        "quiz",
        "student",
        "extra_attempts",
        "closes_at",
        "extra_minutes",
        "reason",
        "created",
        "changed",
    ]

    @admin.display(description="roll number", ordering="student__username")
    def roll_number(self, obj):
        return obj.student.get_username()

    @admin.display(description="name")
    def name(self, obj):
        return obj.student.get_full_name() or "–"

    @admin.display(description="gives")
    def gives(self, obj):
        return obj.summary()

    @admin.display(description="created")
    def created(self, obj):
        return _who_when(obj.created_by, obj.created_at)

    @admin.display(description="last changed")
    def changed(self, obj):
        return _who_when(obj.updated_by, obj.updated_at)

    def get_readonly_fields(self, request, obj=None):
        recorded = ["created", "changed"]
        # An exception never moves to another quiz or student: delete it and add another.
        return ["quiz", "student", *recorded] if obj is not None else recorded

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "quiz":
            kwargs["queryset"] = (
                quizzes_owned(user=request.user)
                .filter(course__isnull=False)
                .select_related("course")
            )
            kwargs["form_class"] = _QuizChoiceField
        elif db_field.name == "student":
            kwargs["queryset"] = self._roster(request)
            kwargs["form_class"] = _StudentChoiceField
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _roster(self, request):
        """The students one may pick: the roster of the quiz the page was opened for (the quiz
        page's "Add" link), else those of every course the user teaches. Which roster a
        student must be on is checked on save (StudentException.clean), whatever was posted."""
        courses = courses_visible(user=request.user)
        quiz_id = request.GET.get("quiz")
        if quiz_id and quiz_id.isdigit():
            quiz = quizzes_owned(user=request.user).filter(pk=quiz_id).first()
            if quiz is not None and quiz.course_id:
                courses = courses.filter(pk=quiz.course_id)
        return (
            get_user_model()
            .objects.filter(courses_enrolled__in=courses)
            .distinct()
            .order_by("username")
        )

    def save_model(self, request, obj, form, change):
        student_exception_save(exception=obj, by=request.user)

    def delete_model(self, request, obj):
        student_exception_delete(exception=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for exception in queryset.select_related("quiz", "student"):
            student_exception_delete(exception=exception, by=request.user)


def exceptions_link(quiz) -> str:
    """The quiz page's line: how many students have an exception, with links (one query)."""
    count = StudentException.objects.filter(quiz=quiz).count()
    listed = reverse("admin:quizzes_studentexception_changelist") + f"?quiz={quiz.pk}"
    add = reverse("admin:quizzes_studentexception_add") + f"?quiz={quiz.pk}"
    return format_html(
        '{} student{} · <a href="{}">see them</a> · <a href="{}">add one</a>',
        count,
        " has an exception" if count == 1 else "s have exceptions",
        listed,
        add,
    )
