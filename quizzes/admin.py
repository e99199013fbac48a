from django.contrib import admin
from django.db.models import Count

from quizzes.admin_forms import QuestionInlineForm, QuestionInlineFormSet, QuizAdminForm
from quizzes.models import AttemptAnswer, Choice, Question, Quiz, QuizAttempt


class TeacherScopedMixin:
    """Teachers (staff, not superusers) see only what belongs to quizzes they created."""

    owner_lookup = "created_by"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{self.owner_lookup: request.user})


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionInlineForm
    formset = QuestionInlineFormSet
    fields = ["order", "text", "points", "multiple", "choices_text"]
    extra = 1


@admin.register(Quiz)
class QuizAdmin(TeacherScopedMixin, admin.ModelAdmin):
    form = QuizAdminForm
    inlines = [QuestionInline]
    list_display = [
        "title",
        "course_id",
        "tutorial_number",
        "quiz_type",
        "is_published",
        "attempt_count",
    ]
    list_filter = ["quiz_type", "is_published", "course_id", "tutorial_number"]
    search_fields = ["title", "course_id"]
    fieldsets = [
        (None, {"fields": ["title", "description", "is_published"]}),
        (
            "Where the mark goes",
            {
                "fields": ["quiz_type", "course_id", "tutorial_number"],
                "description": "A tutorial quiz sets tutorial1–4 of its course in the Academic "
                "Analyzer. These cannot change once students have attempted the quiz.",
            },
        ),
        ("Attempts and grading", {"fields": ["grading_method", "max_attempts"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(attempt_count=Count("attempts"))

    @admin.display(description="attempts", ordering="attempt_count")
    def attempt_count(self, obj):
        return obj.attempt_count

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.attempts.exists():
            return ["quiz_type", "course_id", "tutorial_number"]
        return []

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0


@admin.register(Question)
class QuestionAdmin(TeacherScopedMixin, admin.ModelAdmin):
    owner_lookup = "quiz__created_by"
    list_display = ["text", "quiz", "points", "multiple"]
    list_select_related = ["quiz"]
    inlines = [ChoiceInline]
    search_fields = ["text", "quiz__title"]

    def has_module_permission(self, request):
        return False  # edited on the quiz page; reachable by link for fine edits


class AnswerInline(admin.TabularInline):
    model = AttemptAnswer
    fields = ["question", "is_correct", "points_awarded"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(QuizAttempt)
class QuizAttemptAdmin(TeacherScopedMixin, admin.ModelAdmin):
    owner_lookup = "quiz__created_by"
    list_display = ["student", "quiz", "score", "completed_at", "marks_synced", "last_sync_at"]
    list_select_related = ["student", "quiz"]
    list_filter = ["marks_synced", "quiz", "completed_at"]
    search_fields = ["student__username", "quiz__title", "quiz__course_id"]
    ordering = ["-started_at"]
    inlines = [AnswerInline]
    readonly_fields = [
        "student",
        "quiz",
        "started_at",
        "completed_at",
        "earned_points",
        "total_points",
        "score",
        "mark_version",
        "marks_synced",
        "last_sync_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
