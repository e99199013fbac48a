"""A teacher in a real browser, on the demo data: from the quiz's results grid to a student's
attempt (every question type, answer, key and points), to their other attempt, and to how each
question went across the class (issue 20)."""

from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from quizzes import demo_data
from quizzes.models import Quiz
from tests.factories import submit_answers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TF = "An LL(1) parser can use a left-recursive grammar as it is."
NUMERIC = (
    "A lexer reads 4,000 tokens per millisecond. How many milliseconds does it take for "
    "10,000 tokens?"
)
SHORT = "Name a tool that generates a lexer from regular expressions."
PARTIAL = "Select every phase of the compiler's front end"
SINGLE = "Which phase builds the parse tree?"


def _watch_csp(page) -> list[str]:
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(f"page error: {error}"))
    return violations


@pytest.fixture
def shot(request):
    """shot(page, name) saves test-results/e2e/attempt-review-<name>.png, for people to see."""

    def take(page, name):
        folder = request.config.rootpath / "test-results" / "e2e"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"attempt-review-{name}.png"), full_page=True)

    return take


def test_teacher_goes_from_the_grid_to_the_attempt_and_to_the_question_summary(page, shot):
    from django.contrib.auth import get_user_model

    call_command("seed_demo", stdout=StringIO())
    users = {u.username: u for u in get_user_model().objects.all()}
    quiz = Quiz.objects.get(title="Compilers Tutorial 1")
    # 21Z201: a first try with wrong answers, then a better one (highest score counts).
    submit_answers(
        users["21Z201"],
        quiz,
        picks={SINGLE: ["Lexical analysis"], TF: ["True"], PARTIAL: ["Register allocation"]},
        typed={NUMERIC: "25", SHORT: "yacc"},
    )
    submit_answers(
        users["21Z201"],
        quiz,
        picks={SINGLE: ["Syntax analysis"], TF: ["False"], PARTIAL: ["Lexical analysis"]},
        typed={NUMERIC: "2,5", SHORT: "Flex"},
    )
    submit_answers(users["21Z202"], quiz, picks={TF: ["True"]}, typed={NUMERIC: "25"})
    violations = _watch_csp(page)

    page.goto("/admin/")
    page.get_by_label("Username").fill("anand")
    page.get_by_label("Password").fill(demo_data.DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/admin/quizzes/quiz/")
    page.get_by_role("row", name="Compilers Tutorial 1").get_by_role("link", name="Results").click()
    grid = page.locator("#results")
    expect(grid.get_by_role("link", name="21Z201")).to_be_visible()
    expect(grid.get_by_role("link", name="21Z203")).to_have_count(0)  # no attempt yet

    shot(page, "0-grid")
    grid.get_by_role("link", name="21Z201").click()
    expect(page.get_by_test_id("attempt-number")).to_have_text("Attempt 2 of 2")
    expect(page.get_by_test_id("attempt-counts")).to_contain_text("This attempt counts")
    answers = page.locator("#attempt-answers")
    expect(answers.get_by_role("row").filter(has_text=NUMERIC)).to_contain_text("2,5")
    expect(answers.get_by_role("row").filter(has_text=NUMERIC)).to_contain_text("2.5 ± 0.05")
    expect(answers.get_by_role("row").filter(has_text=SHORT)).to_contain_text("✓ right")
    expect(answers.get_by_role("row").filter(has_text=SHORT)).to_contain_text(
        "lex · flex · re2c (any case)"
    )
    partial = answers.get_by_role("row").filter(has_text=PARTIAL)
    expect(partial).to_contain_text("◐ partly right")
    expect(partial).to_contain_text("1 / 3")
    shot(page, "1-attempt")

    page.locator("#student-attempts").get_by_role("link", name="Attempt 1").click()
    expect(page.get_by_test_id("attempt-counts")).to_contain_text(
        "No: the quiz is graded by the highest score, so attempt 2 counts (5.38 / 10)."
    )
    expect(page.locator("#attempt-answers").get_by_role("row").filter(has_text=TF)).to_contain_text(
        "✗ wrong"
    )

    page.get_by_role("link", name="How each question went").click()
    expect(page.locator("#summary-basis")).to_contain_text("2 attempts by 2 students")
    summary = page.locator("#question-summary")
    expect(summary.get_by_role("row").filter(has_text=TF)).to_contain_text("True (1)")
    expect(summary.get_by_role("row").filter(has_text=NUMERIC)).to_contain_text("“25” (1)")
    shot(page, "2-questions")
    page.get_by_role("link", name="Show all submitted attempts").click()
    expect(page.locator("#summary-basis")).to_contain_text("3 attempts by 2 students")
    expect(summary.get_by_role("row").filter(has_text=NUMERIC)).to_contain_text("“25” (2)")
    expect(summary.get_by_role("row").filter(has_text=TF)).to_contain_text("True (2)")
    assert violations == []
