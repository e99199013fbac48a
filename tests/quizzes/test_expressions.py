"""quizzes/expressions.py: one CASE per bulk update, one WHEN per distinct value."""

from decimal import Decimal

from django.db.models import Case, F, Value

from academic_integration.models import TutorialMark
from quizzes.expressions import grouped_case


def test_one_when_per_distinct_value_and_other_rows_keep_theirs():
    case = grouped_case("score", {1: Decimal(5), 2: Decimal(5), 3: Decimal(7)})
    assert isinstance(case, Case)
    assert [(w.condition.children, w.result.value) for w in case.cases] == [
        ([("pk__in", [1, 2])], Decimal(5)),
        ([("pk__in", [3])], Decimal(7)),
    ]
    assert case.default == F("score")


def test_one_value_for_every_row_needs_no_case():
    value = grouped_case("value", {1: Decimal(3), 2: Decimal(3)}, TutorialMark, every_row=True)
    assert isinstance(value, Value) and value.value == Decimal(3)
    assert value.output_field.model is TutorialMark
    assert isinstance(grouped_case("value", {1: 1, 2: 2}, TutorialMark, every_row=True), Case)
