"""SQL building blocks shared by recording and write-back: a slot's attempts, per-mark CASE,
a one-row UPDATE written out."""

import functools
from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import Case, Model, Q, Value

from academic_integration.models import TutorialMark
from quizzes.expressions import grouped_case
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
    """An update() value giving each mark (by pk) its own ``name`` (see ``grouped_case``)."""
    return grouped_case(name, values, TutorialMark, every_row=every_row)


@functools.cache
def _update_sql(
    vendor: str, model: type[Model], sets: tuple[str, ...], where: tuple[str, ...]
) -> str:
    qn = connection.ops.quote_name

    def col(name: str) -> str:
        return qn(model._meta.get_field(name).column)

    assignments = ", ".join(f"{col(name)} = %s" for name in sets)
    conditions = " AND ".join(f"{col(name)} = %s" for name in where)
    return f"UPDATE {qn(model._meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608


def update_row(model: type[Model], *, where: Mapping[str, Any], values: Mapping[str, Any]) -> int:
    """``model.objects.filter(**where).update(**values)`` for plain equality filters on the
    model's own columns and plain values, without the ORM's query building: the SQL is built
    once per shape, the values go through each field's own preparation. Returns the row count.

    For the hot path of every inline delivery, where building the UPDATE with the ORM cost
    more CPU than the database spends running it.
    """
    meta = model._meta
    sql = _update_sql(connection.vendor, model, tuple(values), tuple(where))
    params = [meta.get_field(name).get_db_prep_save(v, connection) for name, v in values.items()]
    params += [
        meta.get_field(name).get_db_prep_value(v, connection, prepared=False)
        for name, v in where.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
