"""Account pages: login and logout always; password pages only when email is configured.

Password reset sends mail, so without email it can only mislead ("we've emailed you...")
and, throttled or not, it has nothing to do. With email, a reset request is throttled per
address and per client so nobody can flood a mailbox or the mail server.
"""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from ops.client_ip import client_ip

logger = logging.getLogger(__name__)

_WINDOW_SECONDS = 3600


def _over_limit(kind: str, value: str, limit: int) -> bool:
    """Count one request for `value` in this hour's window; True past `limit`.

    A cache counter: approximate across processes with the file cache, which is enough for
    a throttle (it errs by a request or two, never by a flood). Cache down: not throttled.
    """
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]  # no address in cache keys
    key = f"password-reset:{kind}:{digest}"
    try:
        cache.add(key, 0, _WINDOW_SECONDS)
        count = cache.incr(key)
    except Exception:
        logger.warning("password reset: throttle store unavailable; request not counted")
        return False
    return count > limit


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        client = client_ip(request) or "unknown"
        if _over_limit("client", client, settings.PASSWORD_RESET_PER_CLIENT_PER_HOUR):
            logger.warning("password reset: refused, too many requests from one client")
            return render(request, "registration/password_reset_throttled.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = form.cleaned_data["email"].strip().lower()
        if _over_limit("email", email, settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR):
            # Same "done" page as always, so the limit tells nothing about the address.
            logger.warning("password reset: no mail sent, hourly limit for the address reached")
            return super(auth_views.PasswordResetView, self).form_valid(form)
        return super().form_valid(form)


def account_urls(*, email_configured: bool) -> list:
    patterns = [
        path("login/", auth_views.LoginView.as_view(), name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
        # Set-password links: one-time tokens made only by a mailed reset or by
        # `import_roster --password-links` for new accounts. They send no mail, so they are
        # published with or without email.
        path(
            "reset/<uidb64>/<token>/",
            auth_views.PasswordResetConfirmView.as_view(),
            name="password_reset_confirm",
        ),
        path(
            "reset/done/",
            auth_views.PasswordResetCompleteView.as_view(),
            name="password_reset_complete",
        ),
    ]
    if email_configured:
        patterns += [
            path(
                "password_change/",
                auth_views.PasswordChangeView.as_view(),
                name="password_change",
            ),
            path(
                "password_change/done/",
                auth_views.PasswordChangeDoneView.as_view(),
                name="password_change_done",
            ),
            path("password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
            path(
                "password_reset/done/",
                auth_views.PasswordResetDoneView.as_view(),
                name="password_reset_done",
            ),
        ]
    return patterns
