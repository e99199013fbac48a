"""django-axes' admin, for superusers only: they see failed logins and unlock an account by
deleting its access attempt. Teachers (staff) never see login records, even if a permission
is granted to them by mistake."""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest


class _SuperuserOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # records of what happened: unlock by deleting, never by editing

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser


class LoginLockAdmin(_SuperuserOnly, AccessAttemptAdmin):
    pass


class LoginLogAdmin(_SuperuserOnly, AccessLogAdmin):
    pass


class LoginFailureLogAdmin(_SuperuserOnly, AccessFailureLogAdmin):
    pass


for model, model_admin in (
    (AccessAttempt, LoginLockAdmin),
    (AccessLog, LoginLogAdmin),
    (AccessFailureLog, LoginFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
