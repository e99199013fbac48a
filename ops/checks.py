"""System checks that make `check --deploy` fail for an unsafe configuration.

Django's own deploy checks only warn about debug and a weak secret key, so `check --deploy`
exits 0 for both; these are errors, so it fails with or without `--fail-level WARNING`.
"""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

# Keys anyone can read: our own development key and Django's generated placeholder prefix.
_PUBLIC_KEY_PREFIX = "django-insecure-"


def _weak_secret_key(key: str) -> str | None:
    if key == getattr(settings, "DEV_SECRET_KEY", None) or key.startswith(_PUBLIC_KEY_PREFIX):
        return "is a publicly known development key"
    if len(key) < 50 or len(set(key)) < 5:
        return "is too short or too simple (use 50+ random characters)"
    return None


@checks.register(checks.Tags.security, deploy=True)
def check_deploy_settings(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if getattr(settings, "LOCAL_MODE", False):
        errors.append(
            checks.Error(
                "DJANGO_ENV=local is set: local mode is for development machines only.",
                hint="Unset DJANGO_ENV (or set DJANGO_ENV=production) on a deployment.",
                id="quizsite.E001",
            )
        )
    if settings.DEBUG:
        errors.append(
            checks.Error(
                "DEBUG is on: error pages would show settings and data to anyone.",
                hint="Unset DJANGO_DEBUG (it defaults to off outside local mode).",
                id="quizsite.E002",
            )
        )
    problem = _weak_secret_key(settings.SECRET_KEY)
    if problem:
        errors.append(
            checks.Error(
                f"SECRET_KEY {problem}: sessions and password-reset links could be forged.",
                hint="Set DJANGO_SECRET_KEY to a long random string, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
                id="quizsite.E003",
            )
        )
    token = getattr(settings, "METRICS_TOKEN", "")
    if token and (len(token) < 32 or len(set(token)) < 8):
        errors.append(
            checks.Warning(
                "METRICS_TOKEN is short or simple: anyone who guesses it reads the metrics.",
                hint="Use 32+ random characters, e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`.",
                id="quizsite.W004",
            )
        )
    return errors
