"""Template helpers for the sync admin pages: status badges and plain-words reasons."""

from datetime import timedelta

from django import template

from academic_integration.admin_parts import status_badge
from academic_integration.exceptions import reason_label as _reason_label
from academic_integration.models import TutorialMark

register = template.Library()
register.simple_tag(status_badge, name="badge")


@register.simple_tag
def reason_label(code: str) -> str:
    return _reason_label(code) if code else "–"


@register.simple_tag
def email_source(code: str) -> str:
    return dict(TutorialMark.EmailSource.choices).get(code, code)


@register.filter
def age(delta: timedelta | None) -> str:
    """A timedelta in plain words: "3 days 4 hours", "25 minutes", "less than a minute"."""
    if delta is None:
        return "–"
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n][:2]
    return " ".join(words) or "less than a minute"
