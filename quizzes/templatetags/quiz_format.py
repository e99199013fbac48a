"""Template filters for the student pages."""

from decimal import Decimal, InvalidOperation

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


@register.filter
def plain_number(value) -> str:
    """A Decimal as typed, without trailing zeros or an exponent: 3.500000 → "3.5"."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value).normalize():f}"
