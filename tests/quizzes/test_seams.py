"""The seams between quizzes and academic_integration (issue 11): quizzes imports nothing of
academic_integration, works alone, and reaches it only through the named seams:
quizzes/signals.py, quizzes/marks.py and admin subclasses (academic_integration/apps.py)."""

import ast
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from academic_integration import receivers
from academic_integration.admin_quizzes import SyncCourseAdmin, SyncQuizAdmin, SyncQuizAttemptAdmin
from academic_integration.mark_source import TutorialMarkSource
from academic_integration.models import TutorialMark
from quizzes import signals
from quizzes.marks import MarkSource, mark_source, mark_source_register
from quizzes.models import Course, Quiz, QuizAttempt
from quizzes.selectors import quiz_results
from quizzes.services import quiz_regrade
from tests.factories import answers_for

QUIZZES = Path(__file__).resolve().parents[2] / "quizzes"
OTHER_APP = "academic_integration"
#: Calls that reach a module or model by name, which would hide an import from the AST check.
BY_NAME = {"import_module", "__import__", "get_model", "import_string"}


def foreign_references(source: str, *, by_name: bool = True) -> list[int]:
    """Lines of ``source`` importing academic_integration, at any depth (function-local
    imports too), or naming it to import_module / get_model / import_string."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif by_name and isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in BY_NAME:
                continue
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            names = [n for n in names if isinstance(n, str)]
        else:
            continue
        if any(n == OTHER_APP or n.startswith(f"{OTHER_APP}.") for n in names):
            lines.append(node.lineno)
    return lines


def test_the_check_finds_every_way_of_importing_the_other_app():
    source = (
        "import academic_integration\n"
        "from academic_integration.roles import TEACHERS_GROUP\n"
        "def f():\n"
        "    from academic_integration import services\n"
        "    import_module('academic_integration.models')\n"
        "    apps.get_model('academic_integration.TutorialMark')\n"
        "from quizzes.models import Quiz\n"
        "import academic_integration_extra\n"
    )
    assert foreign_references(source) == [1, 2, 4, 5, 6]


def test_quizzes_imports_nothing_from_academic_integration():
    files = sorted(QUIZZES.rglob("*.py"))
    assert len(files) > 20  # the walk sees the package
    found = []
    for path in files:
        # Migrations are history: they may name the other app's models as they were.
        historical = "migrations" in path.relative_to(QUIZZES).parts
        for line in foreign_references(path.read_text(), by_name=not historical):
            found.append(f"{path.relative_to(QUIZZES.parent)}:{line}")
    assert found == [], (
        "quizzes must not import academic_integration; use a seam (quizzes/signals.py, "
        f"quizzes/marks.py, an admin subclass): {found}"
    )


def test_quizzes_templates_name_nothing_of_academic_integration():
    templates = sorted((QUIZZES / "templates").rglob("*.html"))
    assert templates
    found = [str(t) for t in templates if OTHER_APP in t.read_text()]
    assert found == []


# --- wired in a running process ----------------------------------------------------------


def test_academic_integration_wires_every_seam_when_django_starts():
    assert isinstance(mark_source(), TutorialMarkSource)
    assert signals.attempt_completed.has_listeners(QuizAttempt)
    assert signals.attempts_regraded.has_listeners(Quiz)
    assert type(admin.site._registry[Quiz]) is SyncQuizAdmin
    assert type(admin.site._registry[QuizAttempt]) is SyncQuizAttemptAdmin
    assert type(admin.site._registry[Course]) is SyncCourseAdmin


# --- quizzes alone -----------------------------------------------------------------------


@pytest.fixture
def quizzes_alone():
    """No receivers and the base mark source: quizzes as if academic_integration were gone."""
    signals.attempt_completed.disconnect(dispatch_uid="mark")
    signals.attempts_regraded.disconnect(dispatch_uid="marks")
    previous = mark_source_register(MarkSource())
    try:
        yield
    finally:
        mark_source_register(previous)
        signals.attempt_completed.connect(receivers.attempt_completed, dispatch_uid="mark")
        signals.attempts_regraded.connect(receivers.attempts_regraded, dispatch_uid="marks")


def _submit(client, quiz) -> QuizAttempt:
    attempt = client.get(quiz.get_absolute_url()).context["attempt"]
    response = client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), answers_for(quiz))
    assert response.status_code == 302
    attempt.refresh_from_db()
    return attempt


def test_alone_a_tutorial_submit_is_scored_and_kept_without_a_mark(
    quizzes_alone, student_client, quiz, teacher
):
    attempt = _submit(student_client, quiz)
    assert attempt.is_completed() and str(attempt.score) == "10.00"
    assert attempt.mark_version is None
    assert not TutorialMark.objects.exists()

    page = student_client.get(attempt.get_absolute_url()).content.decode()
    assert 'data-testid="score">10 / 10' in page
    assert 'data-testid="sync-status"' not in page
    assert "Academic Analyzer" not in page

    quiz.questions.first().choices.update(is_correct=False)
    result = quiz_regrade(quiz=quiz, changed_by=teacher, change="key")
    assert (result.attempts_rescored, result.marks_recomputed) == (1, 0)
    assert not TutorialMark.objects.exists()

    [row] = quiz_results(quiz=quiz)
    assert (row.attempts, row.mark, row.status) == (1, None, None)


def test_alone_a_held_back_score_is_not_shown_and_the_base_source_takes_the_flag(
    quizzes_alone, student_client, quiz
):
    quiz.review_score = Quiz.Review.NEVER
    quiz.save(update_fields=["review_score"])
    attempt = _submit(student_client, quiz)
    page = student_client.get(attempt.get_absolute_url()).content.decode()
    assert "/ 10" not in page
    assert 'data-testid="score-hidden"' in page
    assert "Academic Analyzer" not in page
    listing = student_client.get(quiz.get_absolute_url()).content.decode()
    assert "/ 10" not in listing and 'data-testid="analyzer-line"' not in listing
    source = MarkSource()
    assert source.result_message(mark=None, attempt=attempt, score_shown=False) is None
    assert source.attempts_line(mark=None, score_shown=False) is None


def test_with_the_seams_wired_the_same_submit_records_and_regrades_the_mark(
    student_client, quiz, teacher
):
    attempt = _submit(student_client, quiz)
    mark = TutorialMark.objects.get()
    assert attempt.mark_version == mark.version == 1
    assert str(mark.value) == "10.00"

    page = student_client.get(attempt.get_absolute_url()).content.decode()
    assert 'data-testid="sync-status"' in page

    quiz.questions.first().choices.update(is_correct=False)
    result = quiz_regrade(quiz=quiz, changed_by=teacher, change="key")
    assert result.marks_recomputed == 1
    mark.refresh_from_db()
    attempt.refresh_from_db()
    assert attempt.mark_version == mark.version == 2
    assert not attempt.marks_synced

    [row] = quiz_results(quiz=quiz)
    # SQLite gives the subquery's decimal as a float.
    assert (row.attempts, Decimal(str(row.mark)), row.status) == (1, mark.value, mark.status)
