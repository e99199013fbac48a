"""Device cookies: a login lockout that a classmate cannot trigger (OWASP's "Slow Down Online
Guessing Attacks with Device Cookies"; docs/decisions/0001-login-lockout-device-cookies.md).

A browser that has logged in as a user carries a signed cookie naming that user and a random
device id. django-axes counts failures per *lockout key*: for a browser trusted for the typed
username the key is the username and the device, so only that browser can lock itself; for
any other browser it is the username alone, from any address. Five failures from a lab's
shared address lock the student's untrusted browsers, never the browser they used before.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from axes.conf import settings as axes_settings  # django's, with axes' defaults filled in
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.core import signing
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

COOKIE_NAME = "quizsite_device"
_SALT = "ops.devices"
_MAX_AGE = 365 * 24 * 3600
#: A shared lab computer is trusted for at most this many accounts (the most recent ones).
MAX_USERS_PER_DEVICE = 20
#: Separates a username from its device in the lockout key (no username has a space).
DEVICE_MARK = " @browser "


def _device(request: HttpRequest | None) -> dict[str, Any] | None:
    """The valid device cookie's contents ({"id", "users"}), or None."""
    value = getattr(request, "COOKIES", {}).get(COOKIE_NAME)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_SALT, max_age=_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("users"), list):
        return None
    return data


def typed_username(request: HttpRequest | None, credentials: Mapping[str, Any] | None) -> str:
    field = axes_settings.AXES_USERNAME_FORM_FIELD
    if credentials and credentials.get(field) is not None:
        return str(credentials[field])
    return str(getattr(request, "POST", {}).get(field, ""))


def trusted_device_id(request: HttpRequest | None, username: str) -> str | None:
    """The id of this browser's device cookie when it has logged in as `username` before."""
    device = _device(request)
    if device and username and username in device["users"]:
        return str(device["id"])
    return None


def lockout_key(request: HttpRequest | None, credentials: Mapping[str, Any] | None = None) -> str:
    """AXES_USERNAME_CALLABLE: what django-axes counts failures against (see the docstring)."""
    username = typed_username(request, credentials)
    device_id = trusted_device_id(request, username)
    return f"{username}{DEVICE_MARK}{device_id}" if device_id else username


def _remember_login(
    sender: type[Model], request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    if request is not None:
        # Read back, after the view, by DeviceCookieMiddleware: our own mark on the request.
        request.device_trusted_for = user.get_username()  # type: ignore[attr-defined]


user_logged_in.connect(_remember_login, dispatch_uid="ops.devices.remember_login")


class DeviceCookieMiddleware:
    """After a successful login, (re)issue the device cookie naming the user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        username = getattr(request, "device_trusted_for", None)
        if username:
            device = _device(request) or {"id": secrets.token_urlsafe(12), "users": []}
            users = [username] + [u for u in device["users"] if u != username]
            value = signing.dumps(
                {"id": device["id"], "users": users[:MAX_USERS_PER_DEVICE]},
                salt=_SALT,
                compress=True,
            )
            response.set_cookie(
                COOKIE_NAME,
                value,
                max_age=_MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
