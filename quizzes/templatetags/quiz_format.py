"""Template filters for the student pages."""

from decimal import InvalidOperation

from django import template

from quizzes.scoring import format_score

register = template.Library()


@register.filter
def score(value) -> str:
    """Show a 0–10 score without trailing zeros (7.50 → 7.5); empty for None."""
    if value is None or value == "":
        return ""
    try:
        return format_score(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
