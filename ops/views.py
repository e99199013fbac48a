"""Pages and endpoints for operators: the login lockout page."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ops.devices import trusted_device_id, typed_username


def login_locked_out(
    request: HttpRequest,
    credentials: Mapping[str, Any] | None,
    *args: object,
    **kwargs: object,
) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: a page that says what happened and what to do."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    username = typed_username(request, credentials)
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": minutes,
        "trusted_browser": trusted_device_id(request, username) is not None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
