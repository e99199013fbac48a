"""Login lockouts a teacher can lift for their own students (a superuser for anyone).

A lockout is django-axes' AccessAttempt at the failure limit within the cool-off; its key is
the username, or the username and a trusted browser (ops/devices.py). Lifting deletes every
key of the username, so the student can log in at once from any browser.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import site
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from ops.devices import DEVICE_MARK
from quizzes.http import LoggedInRequest
from quizzes.models import Course

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lockout:
    username: str
    browsers: int  # trusted browsers locked; 0 when only untrusted ones are
    untrusted: bool
    last_failure: datetime


def _username_of(key: str) -> str:
    return key.split(DEVICE_MARK, 1)[0]


def _students_of(user: User) -> set[str] | None:
    """Usernames `user` may unlock: None for a superuser (everyone)."""
    if user.is_superuser:
        return None
    return set(
        Course.students.through.objects.filter(course__teachers=user).values_list(
            "user__username", flat=True
        )
    )


def login_lockouts_list(*, by: User) -> list[Lockout]:
    """The usernames locked out now that `by` may unlock, most recent first."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.filter(
        failures_since_start__gte=settings.AXES_FAILURE_LIMIT, attempt_time__gte=since
    ).values_list("username", "attempt_time")
    allowed = _students_of(by)
    found: dict[str, list] = {}
    for key, when in attempts:
        username = _username_of(key or "")
        if allowed is not None and username not in allowed:
            continue
        entry = found.setdefault(username, [0, False, when])
        if DEVICE_MARK in key:
            entry[0] += 1
        else:
            entry[1] = True
        entry[2] = max(entry[2], when)
    locks = [Lockout(u, *entry) for u, entry in found.items()]
    return sorted(locks, key=lambda lock: lock.last_failure, reverse=True)


def login_lockout_lift(*, username: str, by: User) -> int:
    """Delete every failure count of `username`; PermissionDenied unless `by` may."""
    allowed = _students_of(by)
    if allowed is not None and username not in allowed:
        raise PermissionDenied
    deleted, _ = AccessAttempt.objects.filter(
        Q(username=username) | Q(username__startswith=username + DEVICE_MARK)
    ).delete()
    logger.info("login lockout lifted username=%s by=%s rows=%s", username, by.username, deleted)
    return deleted


def lockouts_view(request: LoggedInRequest) -> HttpResponse:
    """Admin page: the locked-out students of the teacher's courses, each with Unlock."""
    if not (request.user.is_superuser or request.user.courses_taught.exists()):
        raise PermissionDenied
    if request.method == "POST":
        username = request.POST.get("username", "")
        if login_lockout_lift(username=username, by=request.user):
            messages.success(request, f"{username} can log in again from any browser.")
        return redirect("login_lockouts")
    context = {
        **site.each_context(request),
        "title": "Locked-out logins",
        "lockouts": login_lockouts_list(by=request.user),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return TemplateResponse(request, "admin/ops/lockouts.html", context)
