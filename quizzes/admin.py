from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.db.models import Case, Model, QuerySet, Value, When
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest
from django.urls import path, reverse
from django.utils.html import format_html

from quizzes.admin_courses import ResultsGridMixin, quiz_results_view
from quizzes.admin_forms import (
    ChoiceInlineFormSet,
    QuestionAdminForm,
    QuestionInlineForm,
    QuestionInlineFormSet,
    QuizAdminForm,
)
from quizzes.admin_review import attempt_answers_view, quiz_summary_view
from quizzes.importing import MAX_CHOICES, MAX_QUESTIONS
from quizzes.models import AttemptAnswer, Choice, Question, Quiz, QuizAttempt, QuizRegrade
from quizzes.selectors import quiz_owner_q, quizzes_owned, quizzes_with_attempt_counts
from quizzes.services import (
    describe_key_change,
    quiz_course_check,
    quiz_key_snapshot,
    quiz_regrade,
)

if TYPE_CHECKING:
    # Generic in django-stubs only: subscripted at runtime they would raise.
    _ScopedAdmin = admin.ModelAdmin[Any]  # the mixins below serve several models' admins
    _QuizAdmin = admin.ModelAdmin[Quiz]
    _QuestionAdmin = admin.ModelAdmin[Question]
    _QuizAttemptAdmin = admin.ModelAdmin[QuizAttempt]
else:
    _ScopedAdmin = object  # mixed into ModelAdmin subclasses
    _QuizAdmin = _QuestionAdmin = _QuizAttemptAdmin = admin.ModelAdmin


class TeacherScopedMixin(_ScopedAdmin):
    """Teachers (staff, not superusers) see only what belongs to the courses they teach.

    `quiz_prefix` reaches the quiz from the model ("" for quizzes, "quiz__" for questions and
    attempts); a practice quiz without a course belongs to its creator.
    """

    quiz_prefix = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(quiz_owner_q(user=request.user, prefix=self.quiz_prefix))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Model:
        # Another teacher's id in the URL is a 404, not a redirect to the index.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object, or not one of yours.")
        return obj


class RegradeOnKeyChangeMixin(_ScopedAdmin):
    """Changing the answer key, the points or the grading method of a quiz with attempts
    regrades it: every attempt rescored, marks recomputed, the change recorded. Never a
    silent mix of two keys. Runs inside the admin's save transaction."""

    def regrade_quiz(self, obj) -> Quiz:
        return obj

    def save_model(self, request, obj, form, change):
        # Before anything is saved: a question's own points are saved here, its choices and
        # a quiz's questions in save_related. Kept on the form: one per request.
        if change:
            form.key_before = quiz_key_snapshot(quiz_id=self.regrade_quiz(obj).pk)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        quiz = self.regrade_quiz(form.instance)
        before: dict[int, tuple[Any, ...]] | None = getattr(form, "key_before", None)
        super().save_related(request, form, formsets, change)
        if not change or not quiz.attempts.filter(completed_at__isnull=False).exists():
            return
        assert before is not None, "a change: save_model kept the key before it on the form"
        after = quiz_key_snapshot(quiz_id=quiz.pk)
        parts = [describe_key_change(before, after)] if after != before else []
        if "grading_method" in form.changed_data:
            parts.append(f"grading method now {quiz.get_grading_method_display().lower()}")
        if not parts:
            return
        result = quiz_regrade(quiz=quiz, changed_by=request.user, change="; ".join(parts))
        marks = (
            f" {result.marks_recomputed} tutorial mark{'s' if result.marks_recomputed != 1 else ''}"
            " changed and will be delivered to the Academic Analyzer by the next resync (or "
            "Resync selected now on the marks page)."
            if result.marks_recomputed
            else " No tutorial mark changed."
            if quiz.is_tutorial()
            else ""
        )
        self.message_user(
            request,
            f"Regraded “{quiz.title}” ({'; '.join(parts)}): {result.attempts_rescored} "
            f"attempt{'s' if result.attempts_rescored != 1 else ''} scored again, "
            f"{result.scores_changed} score{'s' if result.scores_changed != 1 else ''} "
            f"changed.{marks}",
            messages.WARNING if result.scores_changed else messages.INFO,
        )


class RegradeInline(admin.TabularInline):
    model = QuizRegrade
    # A tuple: the one sequence both `fields` and `readonly_fields` take (lists are invariant).
    fields = readonly_fields = (
        "changed_at",
        "changed_by",
        "change",
        "attempts_rescored",
        "scores_changed",
    )
    extra = 0
    can_delete = False
    verbose_name = "regrade"
    verbose_name_plural = "Regrades (answer key or points changed after students answered)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OwnCourseFilter(admin.SimpleListFilter):
    """The courses the teacher teaches (all for superusers), not every course id in use."""

    title = "course"
    parameter_name = "course"

    def lookups(self, request, model_admin):
        from quizzes.selectors import courses_visible

        return [(c, c) for c in courses_visible(user=request.user).values_list("pk", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(course_id=self.value()) if self.value() else None


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionInlineForm
    formset = QuestionInlineFormSet
    fields = ["order", "text", "points", "question_type", "choices_text"]
    extra = 1
    max_num = MAX_QUESTIONS  # no "add another" past the cap; the formset refuses more

    def get_queryset(self, request):
        # Each question's form shows and matches its choices: one read for all of them.
        return super().get_queryset(request).prefetch_related("choices")


@admin.register(Quiz)
class QuizAdmin(RegradeOnKeyChangeMixin, TeacherScopedMixin, ResultsGridMixin, _QuizAdmin):
    """Quizzes; academic_integration/admin_quizzes.py adds the marks' sync columns and check."""

    form = QuizAdminForm
    inlines = [QuestionInline, RegradeInline]
    list_display = [
        "title",
        "course_label",
        "tutorial",
        "kind",
        "published",
        "attempt_count",
        "preview_link",
        "results_link",
    ]
    show_full_result_count = False  # one COUNT per page, not two
    list_filter = ["quiz_type", "is_published", OwnCourseFilter, "tutorial_number"]
    search_fields = ["title", "course__id"]
    fieldsets = [
        (None, {"fields": ["title", "description", "is_published"]}),
        (
            "Where the mark goes",
            {
                "fields": ["quiz_type", "course", "tutorial_number"],
                "description": "A tutorial quiz sets tutorial1–4 of its course in the Academic "
                "Analyzer. These cannot change once students have attempted the quiz.",
            },
        ),
        (
            "Attempts and grading",
            {
                "fields": [
                    "grading_method",
                    "max_attempts",
                    "review",
                    "review_correctness",
                    "review_score",
                ],
                "description": "Changing the correct choices, the points or the grading "
                "method once students have answered regrades every attempt and updates "
                "their marks; the regrade is recorded below.",
            },
        ),
        (
            "Order",
            {
                "fields": ["shuffle_questions", "shuffle_choices"],
                "description": "Each attempt draws its own order when it starts and keeps "
                "it: a reload, the result page and the review show the student the same order. "
                "A change here applies to attempts started after it. Use “Preview as "
                "student” (top right) to see a fresh order.",
            },
        ),
        (
            "Dates",
            {
                "fields": ["opens_at", "closes_at", "time_limit_minutes"],
                "description": "Before it opens the quiz is listed as upcoming; after it "
                "closes it takes no new attempts. An attempt already started may still be "
                "submitted for 5 minutes after closing; with a time limit, it ends at its "
                "limit or at the closing time, whichever comes first, and is then submitted "
                "with the answers saved so far.",
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Quiz]:
        return quizzes_with_attempt_counts(super().get_queryset(request))

    @admin.display(description="type", ordering="quiz_type")
    def kind(self, obj):
        return "Tutorial" if obj.is_tutorial() else "Practice"

    @admin.display(description="published", boolean=True, ordering="is_published")
    def published(self, obj):
        return obj.is_published

    @admin.display(description="submitted attempts", ordering="attempt_count")
    def attempt_count(self, obj):
        return obj.attempt_count

    @admin.display(description="course", ordering="course_id")
    def course_label(self, obj):
        return obj.course_id or "–"

    @admin.display(description="tutorial", ordering="tutorial_number")
    def tutorial(self, obj):
        return obj.tutorial_number or "–"

    @admin.display(description="preview")
    def preview_link(self, obj):
        url = reverse("quizzes:quiz_preview", args=[obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Preview as student</a>', url
        )

    @admin.display(description="results")
    def results_link(self, obj):
        questions = format_html(
            '<a href="{}">Questions</a>', reverse("admin:quizzes_quiz_summary", args=[obj.pk])
        )
        if obj.course_id is None:
            return questions
        url = reverse("admin:quizzes_quiz_results", args=[obj.pk])
        return format_html('<a href="{}">Results</a> · {}', url, questions)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:quiz_id>/results/",
                view(lambda request, quiz_id: quiz_results_view(self, request, quiz_id)),
                name="quizzes_quiz_results",
            ),
            path(
                "<int:quiz_id>/questions/",
                view(lambda request, quiz_id: quiz_summary_view(self, request, quiz_id)),
                name="quizzes_quiz_summary",
            ),
            *super().get_urls(),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # A subclass of self.form, QuizAdminForm (modelform_factory's `form` argument).
        form = cast(type[QuizAdminForm], super().get_form(request, obj, change=change, **kwargs))
        form.current_user = request.user  # a fresh class per request
        return form

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.attempts.exists():
            return ["quiz_type", "course", "tutorial_number", "student_exceptions"]
        return ["student_exceptions"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.course_id is None:
            return fieldsets
        return [
            *fieldsets,
            (
                "Per-student exceptions",
                {
                    "fields": ["student_exceptions"],
                    "description": "Extra attempts, a later closing or extra time for one "
                    "student of the course, with the reason.",
                },
            ),
        ]

    @admin.display(description="exceptions")
    def student_exceptions(self, obj):
        return exceptions_link(obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        if obj.course_id:
            # The form offers only the teacher's courses and checks the creator; this holds
            # whatever the form does.
            quiz_course_check(user=request.user, creator=obj.created_by, course_id=obj.course_id)
        super().save_model(request, obj, form, change)


class ChoiceInline(admin.TabularInline):
    model = Choice
    formset = ChoiceInlineFormSet
    extra = 0
    max_num = MAX_CHOICES

    def get_formset(self, request, obj=None, **kwargs):
        return super().get_formset(request, obj, validate_max=True, **kwargs)


@admin.register(Question)
class QuestionAdmin(RegradeOnKeyChangeMixin, TeacherScopedMixin, _QuestionAdmin):
    quiz_prefix = "quiz__"

    def regrade_quiz(self, obj):
        return obj.quiz

    list_display = ["text", "quiz", "kind", "points", "multiple"]
    fields = [
        "quiz",
        "order",
        "text",
        "kind",
        "points",
        "multiple",
        "scoring",
        "numeric_answer",
        "numeric_tolerance",
        "accepted_answers",
        "ignore_case",
    ]
    list_select_related = ["quiz"]
    form = QuestionAdminForm
    inlines = [ChoiceInline]
    search_fields = ["text", "quiz__title"]

    def has_module_permission(self, request):
        return False  # edited on the quiz page; reachable by link for fine edits

    def get_readonly_fields(self, request, obj=None):
        return ["quiz"] if obj is not None else []  # a question never moves to another quiz

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "quiz":
            kwargs["queryset"] = quizzes_owned(user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class AttemptOrderFormSet(BaseInlineFormSet):
    """An attempt's answers in the order its student saw the questions (a shuffled quiz's
    order is on the attempt, quizzes/ordering.py), in the same one query."""

    def get_queryset(self):
        answers = super().get_queryset()
        ids = (self.instance.shuffled_order or {}).get("questions") or []
        if not ids:
            return answers
        shown = Case(
            *(When(question_id=pk, then=Value(i)) for i, pk in enumerate(ids)),
            default=Value(len(ids)),
        )
        return answers.order_by(shown, "pk")


class AnswerInline(admin.TabularInline):
    model = AttemptAnswer
    formset = AttemptOrderFormSet
    fields = readonly_fields = ("question", "response", "is_correct", "points_awarded")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(QuizAttempt)
class QuizAttemptAdmin(TeacherScopedMixin, _QuizAttemptAdmin):
    """Attempts, read-only; academic_integration/admin_quizzes.py adds each one's mark sync
    (columns, filters) and recomputes the marks of deleted attempts."""

    quiz_prefix = "quiz__"
    list_display = ["roll_number", "quiz", "slot", "score", "completed", "answers_link"]
    list_display_links = ["roll_number"]
    list_select_related = ["student", "quiz"]
    list_filter = ["completed_at", "submitted_automatically"]
    search_fields = ["student__username", "quiz__title", "quiz__course__id"]
    search_help_text = "Search by student roll number, quiz title or course id."
    ordering = ["-started_at", "-pk"]
    show_full_result_count = False
    inlines = [AnswerInline]
    readonly_fields = [
        "student",
        "quiz",
        "started_at",
        "completed_at",
        "submitted_automatically",
        "earned_points",
        "total_points",
        "score",
        "mark_version",
        "marks_synced",
        "last_sync_at",
        "answers_link",
    ]

    @admin.display(description="roll number", ordering="student__username")
    def roll_number(self, attempt):
        return attempt.student.username

    @admin.display(description="course · tutorial", ordering="quiz__course_id")
    def slot(self, attempt):
        quiz = attempt.quiz
        return f"{quiz.course_id} · T{quiz.tutorial_number}" if quiz.is_tutorial() else "–"

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, attempt):
        return attempt.completed_at

    @admin.display(description="answers")
    def answers_link(self, attempt):
        url = reverse("admin:quizzes_quizattempt_answers", args=[attempt.pk])
        return format_html('<a href="{}">Answers</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:attempt_id>/answers/",
                view(lambda request, attempt_id: attempt_answers_view(self, request, attempt_id)),
                name="quizzes_quizattempt_answers",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def delete_model(self, request, obj):
        self.delete_queryset(request, QuizAttempt.objects.filter(pk=obj.pk))


# After TeacherScopedMixin, which it builds on: registers the exceptions' admin.
from quizzes.admin_exceptions import exceptions_link  # noqa: E402
