"""Query expressions shared by bulk writes (here and in academic_integration)."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Case, F, Field, Model, Value, When

from quizzes.models import QuizAttempt


def grouped_case(
    field_name: str,
    values: Mapping[int, object],
    model: type[Model] = QuizAttempt,
    *,
    every_row: bool = False,
) -> Case | Value:
    """An update() value giving each row (by pk) its own ``field_name``: one CASE, with one
    WHEN per distinct value, so no query per row; rows not in ``values`` keep theirs.

    ``every_row``: the update touches only the rows in ``values``, so one value needs no CASE.
    """
    field = model._meta.get_field(field_name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{field_name} is a relation, not a column")
    groups: dict[object, list[int]] = {}
    for pk, value in values.items():
        groups.setdefault(value, []).append(pk)
    if every_row and len(groups) == 1:
        return Value(next(iter(groups)), output_field=field)
    whens = [When(pk__in=pks, then=Value(v, output_field=field)) for v, pks in groups.items()]
    return Case(*whens, default=F(field_name), output_field=field)
