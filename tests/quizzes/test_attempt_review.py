"""Issue 20, from the results grid to the attempt: a teacher's page of one attempt's answers per
question, and the per-question summary of a quiz; scoped by course, query counts pinned."""

import csv
import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from quizzes.models import AttemptAnswer, Choice, QuizAttempt
from quizzes.services import attempt_get_or_start
from tests.academic_integration.admin_fixtures import client_for
from tests.factories import (
    make_course,
    make_exception,
    make_quiz,
    make_student,
    make_teacher,
    submit_answers,
)
from tests.quizzes.conftest import parse_page

A, B = "19XW51", "19XW52"

SINGLE = {
    "text": "Which phase builds the parse tree?",
    "points": 2,
    "choices": [
        {"text": "Syntax analysis", "correct": True},
        {"text": "Lexical analysis"},
        {"text": "Code generation"},
    ],
}
MULTIPLE = {
    "text": "Select the IRs",
    "points": 2,
    "multiple": True,
    "choices": [
        {"text": "SSA form", "correct": True},
        {"text": "Three-address code", "correct": True},
        {"text": "Source text"},
    ],
}
PARTIAL = {
    "text": "Select the front-end phases",
    "points": 3,
    "multiple": True,
    "scoring": "partial",
    "choices": [
        {"text": "Lexing", "correct": True},
        {"text": "Parsing", "correct": True},
        {"text": "Type checking", "correct": True},
        {"text": "Register allocation"},
    ],
}
TRUE_FALSE = {
    "text": "LL(1) handles left recursion.",
    "points": 1,
    "type": "true_false",
    "answer": False,
}
NUMERIC = {
    "text": "What is 7 / 2?",
    "points": 2,
    "type": "numeric",
    "answer": 3.5,
    "tolerance": 0.1,
}
SHORT = {
    "text": "Name a lexer generator.",
    "points": 1,
    "type": "short_answer",
    "answers": ["lex", "flex"],
    "ignore_case": True,
}
ALL_KINDS = [SINGLE, MULTIPLE, PARTIAL, TRUE_FALSE, NUMERIC, SHORT]


@pytest.fixture
def world(db):
    """A: a1 teaches, sa (Arun) and sc enrolled, a quiz of every kind; B: b1 teaches, its quiz."""
    a1 = make_teacher(username="a1", email="a1@college.edu")
    b1 = make_teacher(username="b1", email="b1@college.edu")
    root = make_teacher(username="root", is_superuser=True)
    sa = make_student(username="21Z301", courses=[A], first_name="Arun", last_name="K")
    sc = make_student(username="21Z303", courses=[A])
    sb = make_student(username="21Z302", courses=[B])
    make_course(A, name="Compilers", teachers=[a1])
    make_course(B, name="Operating Systems", teachers=[b1])
    qa = make_quiz(
        title="QA",
        course_id=A,
        tutorial_number=1,
        created_by=a1.email,
        enrol_everyone=False,
        questions=ALL_KINDS,
        review="never",
        review_correctness="never",
        review_score="never",
    )
    qb = make_quiz(
        title="QB", course_id=B, tutorial_number=1, created_by=b1.email, enrol_everyone=False
    )
    return {
        "users": {"a1": a1, "b1": b1, "root": root, "sa": sa, "sc": sc, "sb": sb},
        "quiz": {A: qa, B: qb},
        "attempt_b": submit_answers(
            sb, qb, picks={"Which phase builds the parse tree?": ["Lexing"]}
        ),
    }


def answers_url(attempt):
    return reverse("admin:quizzes_quizattempt_answers", args=[attempt.pk])


def summary_url(quiz):
    return reverse("admin:quizzes_quiz_summary", args=[quiz.pk])


def arun_attempts(world):
    """Arun's two attempts: a poor first one, then a better one (which counts: highest)."""
    quiz, sa = world["quiz"][A], world["users"]["sa"]
    first = submit_answers(
        sa,
        quiz,
        picks={
            SINGLE["text"]: ["Lexical analysis"],
            MULTIPLE["text"]: ["SSA form"],
            PARTIAL["text"]: ["Lexing", "Register allocation"],
            TRUE_FALSE["text"]: ["True"],
        },
        typed={NUMERIC["text"]: "3.7", SHORT["text"]: "yacc"},
    )
    second = submit_answers(
        sa,
        quiz,
        picks={
            SINGLE["text"]: ["Syntax analysis"],
            MULTIPLE["text"]: ["SSA form", "Three-address code"],
            PARTIAL["text"]: ["Lexing", "Parsing"],
            TRUE_FALSE["text"]: ["False"],
        },
        typed={NUMERIC["text"]: "3,45", SHORT["text"]: "FLEX"},
    )
    return first, second


def answer_rows(response):
    return [
        (row.number, row.question.text, row.verdict, row.points, row.correct)
        for row in response.context["review"].rows
    ]


# --- the attempt page ------------------------------------------------------------------------


def test_the_attempt_page_shows_every_kind_of_answer_with_the_key_and_points(world):
    first, second = arun_attempts(world)
    client = client_for(world["users"]["a1"])
    response = client.get(answers_url(first))
    assert response.status_code == 200
    assert answer_rows(response) == [
        (1, SINGLE["text"], "wrong", Decimal("0.00"), "Syntax analysis"),
        (2, MULTIPLE["text"], "wrong", Decimal("0.00"), "SSA form · Three-address code"),
        # 1/3 right (Lexing) − 1/3 wrong (Register allocation) = 0: answered, no points.
        (3, PARTIAL["text"], "wrong", Decimal("0.00"), "Lexing · Parsing · Type checking"),
        (4, TRUE_FALSE["text"], "wrong", Decimal("0.00"), "False"),
        (5, NUMERIC["text"], "wrong", Decimal("0.00"), "3.5 ± 0.1"),
        (6, SHORT["text"], "wrong", Decimal("0.00"), "lex · flex (any case)"),
    ]
    page = response.content.decode()
    for shown in ("Lexical analysis", "Register allocation", "3.7", "yacc", "✗ wrong"):
        assert shown in page
    assert "Attempt 1 of 2" in page
    # The better second attempt counts, by the highest score; the page links to it.
    assert f'href="{answers_url(second)}"' in page
    assert "No: the quiz is graded by the highest score, so attempt 2 counts (9.09 / 10)" in (
        strip_tags(page)
    )

    response = client.get(answers_url(second))
    assert answer_rows(response) == [
        (1, SINGLE["text"], "right", Decimal("2.00"), "Syntax analysis"),
        (2, MULTIPLE["text"], "right", Decimal("2.00"), "SSA form · Three-address code"),
        (3, PARTIAL["text"], "partly", Decimal("2.00"), "Lexing · Parsing · Type checking"),
        (4, TRUE_FALSE["text"], "right", Decimal("1.00"), "False"),
        (5, NUMERIC["text"], "right", Decimal("2.00"), "3.5 ± 0.1"),
        (6, SHORT["text"], "right", Decimal("1.00"), "lex · flex (any case)"),
    ]
    page = response.content.decode()
    assert "This attempt counts" in page and "tutorial 1 mark" in page
    assert "10 of 11 points" in page and "9.09 / 10" in page
    assert "◐ partly right" in page and "3,45" in page and "FLEX" in page
    # The teacher sees everything although the student is shown nothing (review "never").
    assert "answer key: not shown yet (never)" in page
    assert "Not answered" not in page


def test_an_unanswered_question_and_an_attempt_in_progress(world):
    quiz, sc = world["quiz"][A], world["users"]["sc"]
    attempt = submit_answers(sc, quiz, picks={SINGLE["text"]: ["Syntax analysis"]})
    client = client_for(world["users"]["a1"])
    rows = client.get(answers_url(attempt)).context["review"].rows
    assert [r.verdict for r in rows] == ["right"] + ["unanswered"] * 5
    assert client.get(answers_url(attempt)).content.decode().count("Not answered") == 5

    started = attempt_get_or_start(student=sc, quiz=quiz)
    page = client.get(answers_url(started)).content.decode()
    assert "In progress: not submitted yet" in page
    # Answers may be saved already (a timed quiz saves them as the student goes): the page
    # must not say that nothing is.
    assert "nothing is scored or saved" not in page
    assert 'id="attempt-answers"' not in page
    # Its list shows both, the submitted one (which counts) linked.
    assert f'href="{answers_url(attempt)}"' in page and "✓ counts" in page


def test_after_a_regrade_the_page_says_the_points_follow_the_current_key(world):
    from quizzes.services import quiz_regrade

    first, _ = arun_attempts(world)
    quiz = world["quiz"][A]
    single = quiz.questions.get(text=SINGLE["text"])
    single.choices.update(is_correct=False)
    single.choices.filter(text="Lexical analysis").update(is_correct=True)
    quiz_regrade(quiz=quiz, changed_by=world["users"]["a1"], change="key of question 1")
    response = client_for(world["users"]["a1"]).get(answers_url(first))
    assert "key of question 1" in response.content.decode()
    row = response.context["review"].rows[0]
    assert (row.verdict, row.points, row.correct) == ("right", Decimal("2.00"), "Lexical analysis")


def test_the_grid_links_each_student_to_the_attempt_that_counts(world):
    first, second = arun_attempts(world)
    quiz = world["quiz"][A]
    client = client_for(world["users"]["a1"])
    page = parse_page(client.get(reverse("admin:quizzes_quiz_results", args=[quiz.pk])))
    assert (answers_url(second), "21Z301") in page.links
    assert not any(text == "21Z303" for _, text in page.links)  # no attempt: no link
    assert (summary_url(quiz), "How each question went") in page.links
    # By the latest attempt, the first one would count if it were submitted last.
    quiz.grading_method = "latest"
    quiz.save()
    QuizAttempt.objects.filter(pk=first.pk).update(completed_at=timezone.now())
    page = parse_page(client.get(reverse("admin:quizzes_quiz_results", args=[quiz.pk])))
    assert (answers_url(first), "21Z301") in page.links


def test_the_course_grid_links_each_slots_attempts_to_the_one_that_counts(world):
    _, second = arun_attempts(world)
    a1, sa = world["users"]["a1"], world["users"]["sa"]
    t2 = make_quiz(
        title="QA2",
        course_id=A,
        tutorial_number=2,
        created_by=a1.email,
        enrol_everyone=False,
        grading_method="latest",
    )
    later = submit_answers(sa, t2)
    latest = submit_answers(sa, t2)
    assert later.score == latest.score
    response = client_for(a1).get(reverse("admin:quizzes_course_results", args=[A]))
    arun = next(row for row in response.context["rows"] if row[0] == "21Z301")
    assert arun.links == {2: answers_url(second), 5: answers_url(latest)}
    assert (answers_url(second), "2") in parse_page(response).links
    sc = next(row for row in response.context["rows"] if row[0] == "21Z303")
    assert sc.links == {}


def test_the_quiz_list_and_the_attempt_list_link_to_the_pages(world):
    first, _ = arun_attempts(world)
    client = client_for(world["users"]["a1"])
    quizzes = parse_page(client.get(reverse("admin:quizzes_quiz_changelist")))
    assert (summary_url(world["quiz"][A]), "Questions") in quizzes.links
    attempts = parse_page(client.get(reverse("admin:quizzes_quizattempt_changelist")))
    assert (answers_url(first), "Answers") in attempts.links
    change = reverse("admin:quizzes_quizattempt_change", args=[first.pk])
    assert (answers_url(first), "Answers") in parse_page(client.get(change)).links


# --- scoping ---------------------------------------------------------------------------------


def test_only_the_courses_teachers_and_superusers_reach_the_pages(world):
    first, _ = arun_attempts(world)
    urls = {
        A: [answers_url(first), summary_url(world["quiz"][A])],
        B: [answers_url(world["attempt_b"]), summary_url(world["quiz"][B])],
    }
    sees = {"a1": {A}, "b1": {B}, "root": {A, B}}
    for role, courses in sees.items():
        client = client_for(world["users"][role])
        for course, course_urls in urls.items():
            for url in [*course_urls, course_urls[1] + "?format=csv"]:
                expected = 200 if course in courses else 404
                assert client.get(url).status_code == expected, (role, url)
        missing = reverse("admin:quizzes_quizattempt_answers", args=[999999])
        assert client.get(missing).status_code == 404


def test_a_student_and_anonymous_are_sent_to_the_admin_login(world, client):
    first, _ = arun_attempts(world)
    for who in (client_for(world["users"]["sa"]), client):
        for url in (answers_url(first), summary_url(world["quiz"][A])):
            response = who.get(url)
            assert response.status_code == 302 and response["Location"].startswith(
                "/admin/login/"
            ), url


def test_a_practice_quiz_belongs_to_its_creator(world):
    a1 = world["users"]["a1"]
    practice = make_quiz(
        title="Warm-up",
        quiz_type="practice",
        course_id=None,
        tutorial_number=None,
        created_by=a1.email,
    )
    attempt = submit_answers(
        world["users"]["sa"], practice, picks={SINGLE["text"]: ["Syntax analysis"]}
    )
    assert client_for(a1).get(answers_url(attempt)).status_code == 200
    assert client_for(a1).get(summary_url(practice)).status_code == 200
    assert client_for(world["users"]["b1"]).get(answers_url(attempt)).status_code == 404


# --- the per-question summary ----------------------------------------------------------------


def summary_rows(response):
    return {
        s.question.text: (s.answered, s.right, s.partly, s.wrong, s.unanswered, s.mean_points)
        for s in response.context["summary"].questions
    }


def test_the_summary_counts_each_question_on_counted_or_all_attempts(world):
    arun_attempts(world)  # Arun: all wrong, then all right but PARTIAL partly
    quiz, sc = world["quiz"][A], world["users"]["sc"]
    submit_answers(
        sc,
        quiz,
        picks={
            SINGLE["text"]: ["Lexical analysis"],
            PARTIAL["text"]: ["Register allocation"],
            TRUE_FALSE["text"]: ["True"],
        },
        typed={NUMERIC["text"]: "3.7", SHORT["text"]: "yacc"},
    )
    client = client_for(world["users"]["a1"])
    counted = client.get(summary_url(quiz))
    assert counted.context["summary"].attempts == 2 and counted.context["summary"].students == 2
    assert summary_rows(counted) == {
        SINGLE["text"]: (2, 1, 0, 1, 0, Decimal("1.00")),
        MULTIPLE["text"]: (1, 1, 0, 0, 1, Decimal("1.00")),
        PARTIAL["text"]: (2, 0, 1, 1, 0, Decimal("1.00")),
        TRUE_FALSE["text"]: (2, 1, 0, 1, 0, Decimal("0.50")),
        NUMERIC["text"]: (2, 1, 0, 1, 0, Decimal("1.00")),
        SHORT["text"]: (2, 1, 0, 1, 0, Decimal("0.50")),
    }
    page = counted.content.decode()
    assert "Counted attempts" in page and "their highest-scoring attempt" in page
    assert "Lexical analysis (1)" in page and "“yacc” (1)" in page and "“3.7” (1)" in page

    every = client.get(summary_url(quiz), {"attempts": "all"})
    assert every.context["summary"].attempts == 3 and every.context["summary"].students == 2
    rows = summary_rows(every)
    assert rows[SINGLE["text"]] == (3, 1, 0, 2, 0, Decimal("0.67"))
    assert rows[PARTIAL["text"]] == (3, 0, 1, 2, 0, Decimal("0.67"))
    stats = {s.question.text: s for s in every.context["summary"].questions}
    assert [(p.text, p.times) for p in stats[SINGLE["text"]].top_wrong_choices] == [
        ("Lexical analysis", 2)
    ]
    # Register allocation was ticked twice (Arun's first, the other student), True twice.
    assert [(p.text, p.times) for p in stats[PARTIAL["text"]].top_wrong_choices] == [
        ("Register allocation", 2)
    ]
    assert [(p.text, p.times) for p in stats[TRUE_FALSE["text"]].top_wrong_choices] == [("True", 2)]
    assert [(p.text, p.times) for p in stats[NUMERIC["text"]].wrong_responses] == [("3.7", 2)]
    assert [(p.text, p.times) for p in stats[SHORT["text"]].wrong_responses] == [("yacc", 2)]
    assert "All submitted attempts" in every.content.decode()


def test_the_summary_shows_ties_and_the_three_commonest_typed_answers(world):
    quiz = world["quiz"][A]
    typos = ["3.7", "3.7", "3.7", "4", "4", "35", "35", "0", "abc"]
    picks = ["Lexical analysis", "Code generation"]
    for i, typed in enumerate(typos):
        student = make_student(username=f"21Z4{i:02d}", courses=[A])
        submit_answers(
            student,
            quiz,
            picks={SINGLE["text"]: [picks[i % 2]]} if i < 4 else None,
            typed={NUMERIC["text"]: typed if typed != "abc" else "3.5"},
        )
    stats = {
        s.question.text: s
        for s in client_for(world["users"]["a1"])
        .get(summary_url(quiz))
        .context["summary"]
        .questions
    }
    assert [(p.text, p.times) for p in stats[NUMERIC["text"]].wrong_responses] == [
        ("3.7", 3),
        ("35", 2),
        ("4", 2),
    ]
    assert [(p.text, p.times) for p in stats[SINGLE["text"]].top_wrong_choices] == [
        ("Lexical analysis", 2),
        ("Code generation", 2),
    ]


def test_the_summary_csv_has_a_row_per_question(world):
    arun_attempts(world)
    quiz = world["quiz"][A]
    response = client_for(world["users"]["a1"]).get(
        summary_url(quiz), {"format": "csv", "attempts": "all"}
    )
    assert response["Content-Disposition"] == (
        f'attachment; filename="questions-quiz{quiz.pk}-all.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:6] == ["number", "question", "type", "points", "correct answer", "answered"]
    assert len(rows) == 1 + len(ALL_KINDS)
    assert rows[1] == [
        "1",
        SINGLE["text"],
        "single answer",
        "2",
        "Syntax analysis",
        "2",
        "1",
        "0",
        "1",
        "0",
        "1",
        "Lexical analysis (1)",
        "",
    ]
    assert rows[3][2] == "multiple, partial credit"
    assert rows[6][-1] == "yacc (1)"


def test_a_summary_without_attempts_says_so(world):
    response = client_for(world["users"]["a1"]).get(summary_url(world["quiz"][A]))
    assert response.status_code == 200
    assert "0 attempts by 0 students" in response.content.decode()
    assert all(s.mean_points is None for s in response.context["summary"].questions)


# --- query counts ----------------------------------------------------------------------------


def _bulk_quiz(teacher, n_questions):
    return make_quiz(
        title=f"Q{n_questions}",
        course_id=A,
        tutorial_number=2,
        created_by=teacher.email,
        enrol_everyone=False,
        questions=[
            {**kind, "text": f"{kind['text']} #{i}"}
            for i, kind in zip(range(n_questions), ALL_KINDS * n_questions, strict=False)
        ],
    )


def _bulk_attempts(quiz, students, per_student=2):
    """Completed attempts with an answer to every question, a choice ticked on each choice
    question and a wrong number typed on each numeric one: bulk inserts, no scoring."""
    now = timezone.now()
    questions = list(quiz.questions.all())
    wrong_choice = dict(
        Choice.objects.filter(question__quiz=quiz, is_correct=False)
        .order_by("question_id", "pk")
        .values_list("question_id", "pk")
    )
    attempts = QuizAttempt.objects.bulk_create(
        QuizAttempt(
            student=student,
            quiz=quiz,
            completed_at=now,
            earned_points=1,
            total_points=len(questions),
            score=Decimal(k + i % 7),
        )
        for i, student in enumerate(students)
        for k in range(per_student)
    )
    answers = AttemptAnswer.objects.bulk_create(
        AttemptAnswer(
            attempt=attempt,
            question=question,
            response=f"{i % 13}" if question.is_typed() else "",
            is_correct=False,
        )
        for i, attempt in enumerate(attempts)
        for question in questions
    )
    Through = AttemptAnswer.selected_choices.through
    Through.objects.bulk_create(
        Through(attemptanswer_id=answer.pk, choice_id=wrong_choice[answer.question_id])
        for answer in answers
        if answer.question_id in wrong_choice
    )
    return attempts


@pytest.mark.parametrize("n_questions", [5, 50])
def test_the_attempt_page_costs_the_same_queries_for_5_and_50_questions(
    world, n_questions, django_assert_num_queries
):
    quiz = _bulk_quiz(world["users"]["a1"], n_questions)
    attempt = _bulk_attempts(quiz, [world["users"]["sa"]], per_student=3)[1]
    client = client_for(world["users"]["a1"])
    # session, user, 2 permission reads; the attempt; the student's attempts; the questions
    # and their choices; the answers; the choices ticked; the regrade since; the exceptions
    # (the student's, and the quiz's latest closing: what the student sees).
    with django_assert_num_queries(4 + 1 + 1 + 2 + 1 + 1 + 1 + 1):
        response = client.get(answers_url(attempt))
    assert response.status_code == 200
    assert len(response.context["review"].rows) == n_questions
    assert response.content.decode().count('class="answer-wrong"') == n_questions


@pytest.mark.parametrize("n", [10, 500])
def test_the_summary_costs_the_same_queries_for_10_and_500_students(
    world, n, django_assert_num_queries
):
    User = get_user_model()
    User.objects.bulk_create([User(username=f"G{i:04d}") for i in range(n)])
    students = list(User.objects.filter(username__startswith="G"))
    quiz = _bulk_quiz(world["users"]["a1"], 6)
    _bulk_attempts(quiz, students)
    client = client_for(world["users"]["a1"])
    # session, user, 2 permission reads; the quiz; the totals; the questions and their
    # choices; the counts per question; the wrong choices; the wrong typed answers.
    for params in ({}, {"attempts": "all", "format": "csv"}):
        with django_assert_num_queries(4 + 1 + 1 + 2 + 1 + 1 + 1):
            response = client.get(summary_url(quiz), params)
        assert response.status_code == 200
    summary = client.get(summary_url(quiz)).context["summary"]
    assert (summary.attempts, summary.students) == (n, n)
    assert all(s.answered == n for s in summary.questions)
    assert len(next(s for s in summary.questions if s.question.is_typed()).wrong_responses) == 3


def test_the_grid_keeps_its_pinned_queries_with_the_links(world, django_assert_num_queries):
    User = get_user_model()
    User.objects.bulk_create([User(username=f"G{i:04d}") for i in range(50)])
    students = list(User.objects.filter(username__startswith="G"))
    quiz = world["quiz"][A]
    quiz.course.students.add(*students)
    _bulk_attempts(quiz, students)
    client = client_for(world["users"]["a1"])
    # session, user, 2 permission reads; the quiz; the rows; the students' exceptions.
    with django_assert_num_queries(4 + 1 + 1 + 1):
        response = client.get(reverse("admin:quizzes_quiz_results", args=[quiz.pk]))
    assert response.content.decode().count("/answers/") == 50


def test_the_attempt_page_lists_a_shuffled_attempts_questions_and_choices_in_its_order(world):
    """The teacher reads the attempt as the student saw it (ordering.arrange, as on the
    student's result page): questions and the ticked choices in the attempt's order."""
    quiz, sa = world["quiz"][A], world["users"]["sa"]
    attempt = submit_answers(sa, quiz, picks={MULTIPLE["text"]: ["SSA form", "Three-address code"]})
    questions = list(quiz.questions.order_by("-pk").prefetch_related("choices"))
    multiple = next(q for q in questions if q.text == MULTIPLE["text"])
    choice_ids = [c.pk for c in multiple.choices.all()][::-1]
    attempt.shuffled_order = {
        "questions": [q.pk for q in questions],
        "choices": {str(multiple.pk): choice_ids},
    }
    attempt.save(update_fields=["shuffled_order"])
    response = client_for(world["users"]["a1"]).get(answers_url(attempt))
    rows = answer_rows(response)
    assert [row[1] for row in rows] == [q.text for q in questions]
    page = strip_tags(response.content.decode())
    assert page.index("Three-address code") < page.index("SSA form")


def test_the_student_sees_line_follows_the_students_rules_with_exceptions(world):
    """The quiz closed, but another student's extension still runs: the key, right/wrong and
    the score are held back for everyone (docs/teachers/exceptions.md), and the attempt page
    must say "not shown yet", not what the quiz's own rules alone would show."""
    quiz, sa, sc = world["quiz"][A], world["users"]["sa"], world["users"]["sc"]
    closes = timezone.now() + timezone.timedelta(days=1)
    quiz.closes_at, quiz.review = closes, "after_close"
    quiz.review_correctness = quiz.review_score = "after_close"
    quiz.save()
    attempt = submit_answers(sa, quiz, picks={SINGLE["text"]: ["Syntax analysis"]})
    make_exception(quiz=quiz, student=sc, closes_at=closes + timezone.timedelta(days=2))
    type(quiz).objects.filter(pk=quiz.pk).update(
        closes_at=timezone.now() - timezone.timedelta(hours=1)
    )
    page = strip_tags(client_for(world["users"]["a1"]).get(answers_url(attempt)).content.decode())
    assert "answer key: not shown yet (after the quiz closes)" in page
    assert "score: not shown yet (after the quiz closes)" in page


def test_an_attempt_submitted_when_its_time_was_up_says_so(world):
    """Its late answers were not counted: the teacher reading "Not answered" rows must know
    that the site submitted it with the answers saved by the deadline."""
    from quizzes.timed_attempts import attempts_submit_overdue

    quiz, sa = world["quiz"][A], world["users"]["sa"]
    type(quiz).objects.filter(pk=quiz.pk).update(time_limit_minutes=30)
    quiz.refresh_from_db()
    attempt = attempt_get_or_start(student=sa, quiz=quiz)
    QuizAttempt.objects.filter(pk=attempt.pk).update(
        started_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert attempts_submit_overdue() == 1
    page = strip_tags(client_for(world["users"]["a1"]).get(answers_url(attempt)).content.decode())
    assert "submitted automatically when the time was up" in page
