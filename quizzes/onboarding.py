"""Set-password links for students who have no password yet, made in admin: day one for
imported students without mail (roster imports create accounts without passwords).

A link is Django's password-reset token for the account: it works once (setting a password
changes what the token is made from), ends after ``PASSWORD_RESET_TIMEOUT``, and is never
stored or logged — it is shown to the teacher once, in the page that made it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.tokens import default_token_generator
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from quizzes.models import Course

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PasswordLink:
    username: str
    name: str
    courses: str
    path: str  # the site-relative link; the page makes it absolute


def password_links_make(*, courses: QuerySet[Course], by) -> list[PasswordLink]:
    """One set-password link per student of ``courses`` (already scoped to what ``by`` may
    see) who has no usable password. Logs who made how many, for which courses; never a
    token."""
    students = (
        get_user_model()
        .objects.filter(courses_enrolled__in=courses, password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .distinct()
        .order_by("username")
        .prefetch_related("courses_enrolled")
    )
    course_ids = set(courses.values_list("pk", flat=True))
    links = [
        PasswordLink(
            username=user.username,
            name=user.get_full_name(),
            courses=", ".join(
                sorted(c.pk for c in user.courses_enrolled.all() if c.pk in course_ids)
            ),
            path=reverse(
                "password_reset_confirm",
                kwargs={
                    "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                    "token": default_token_generator.make_token(user),
                },
            ),
        )
        for user in students
    ]
    logger.info(
        "set-password links made by=%s courses=%s links=%s",
        by.username,
        ",".join(sorted(course_ids)),
        len(links),
    )
    return links


def password_links_expire_at(*, now: datetime | None = None) -> datetime:
    """When links made now stop working (unless used before)."""
    return (now or timezone.now()) + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
