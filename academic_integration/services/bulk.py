"""SQL building blocks shared by recording and write-back: a slot's attempts, per-mark CASE."""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db.models import Case, F, Q, Value, When

from academic_integration.models import TutorialMark
from quizzes.models import Quiz


def slot_q(*, student_id: int, course_id: str, tutorial_number: int) -> Q:
    return Q(
        student_id=student_id,
        quiz__quiz_type=Quiz.QuizType.TUTORIAL,
        quiz__course_id=course_id,
        quiz__tutorial_number=tutorial_number,
        completed_at__isnull=False,
    )


def tutorial_attempts_q() -> Q:
    """What every slot's attempts have in common (``slot_q`` without the slot): completed
    attempts of tutorial quizzes. Said once outside an OR of slots, not once per slot."""
    return Q(quiz__quiz_type=Quiz.QuizType.TUTORIAL, completed_at__isnull=False)


def per_mark(name: str, values: Mapping[int, Any], *, every_row: bool) -> Value | Case:
    """An update() value giving each mark (by pk) its own ``name``: one CASE, grouped by value.

    ``every_row``: the update touches only the marks in ``values``, so one value needs no CASE.
    """
    field = TutorialMark._meta.get_field(name)
    groups: dict[Any, list[int]] = defaultdict(list)
    for pk, value in values.items():
        groups[value].append(pk)
    if every_row and len(groups) == 1:
        return Value(next(iter(groups)), output_field=field)
    whens = [
        When(pk__in=pks, then=Value(value, output_field=field)) for value, pks in groups.items()
    ]
    return Case(*whens, default=F(name), output_field=field)
