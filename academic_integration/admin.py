from django.contrib import admin

from academic_integration.models import MarkDeliveryLog, TutorialMark


class HistoryInline(admin.TabularInline):
    model = MarkDeliveryLog
    fields = [
        "tried_at",
        "trigger",
        "version",
        "value",
        "outcome",
        "reason",
        "http_status",
        "duration_ms",
        "teacher_email",
        "teacher_email_source",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TutorialMark)
class TutorialMarkAdmin(admin.ModelAdmin):
    list_display = ["student", "course_id", "tutorial_number", "value", "status", "reason"]
    list_select_related = ["student"]
    list_filter = ["status", "reason", "course_id", "tutorial_number"]
    search_fields = ["student__username", "course_id"]
    inlines = [HistoryInline]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(quiz__created_by=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
