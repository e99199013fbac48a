"""Timed attempts (issue 20): the start page, answers saved as the student goes, the time
left, and what happens when the time is up (mid-attempt, at closing, on return, by cron)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from academic_integration.models import TutorialMark
from quizzes.models import AttemptAnswer, Question, QuizAttempt
from quizzes.time_limits import NETWORK_GRACE
from quizzes.timed_attempts import attempts_submit_overdue
from tests.factories import answers_for, make_exception, make_quiz, make_student
from tests.quizzes.conftest import SEVEN_AND_A_HALF_QUESTIONS

NINE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIMIT = timedelta(minutes=30)
TIME_UP = NINE + LIMIT + NETWORK_GRACE + timedelta(seconds=1)


@pytest.fixture
def timed(teacher):
    """A published tutorial quiz with a 30-minute limit: 3 + 1 points."""
    return make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, time_limit_minutes=30)


def ids(quiz):
    """{question text: (question id, {choice text: choice id})}."""
    out = {}
    for q in Question.objects.filter(quiz=quiz).prefetch_related("choices"):
        out[q.text] = (q.pk, {c.text: c.pk for c in q.choices.all()})
    return out


def parse_tree_right(quiz):
    """Right on the 3-point question only: 3 / 4 = 7.5."""
    question, choices = ids(quiz)["Which phase builds the parse tree?"]
    return {f"q_{question}": [choices["Syntax analysis"]]}


def start(client, quiz, at=NINE) -> QuizAttempt:
    with time_machine.travel(at, tick=False):
        response = client.post(reverse("quizzes:quiz_start", args=[quiz.pk]))
    assert response.status_code == 302
    assert response.url == quiz.get_absolute_url()
    return QuizAttempt.objects.get(quiz=quiz, completed_at__isnull=True)


def save(client, attempt, data, at, **headers):
    with time_machine.travel(at, tick=False):
        return client.post(reverse("quizzes:attempt_save", args=[attempt.pk]), data, **headers)


def save_json(client, attempt, data, at):
    return save(client, attempt, data, at, headers={"Accept": "application/json"})


def submit(client, attempt, data, at):
    with time_machine.travel(at, tick=False):
        return client.post(reverse("quizzes:attempt_submit", args=[attempt.pk]), data)


# --- before starting ------------------------------------------------------------------------


def test_a_timed_quiz_shows_its_limit_and_starts_only_on_a_press(student_client, timed):
    with time_machine.travel(NINE, tick=False):
        home = student_client.get("/").content.decode()
        page = student_client.get(timed.get_absolute_url())
    assert "time limit 30 min" in home
    assert page.status_code == 200
    assert "Time limit: 30 minutes." in page.content.decode()
    assert not QuizAttempt.objects.exists(), "looking at a timed quiz must not start its clock"
    attempt = start(student_client, timed)
    assert attempt.started_at == NINE


def test_the_start_page_says_when_the_closing_time_cuts_the_attempt_short(student_client, teacher):
    quiz = make_quiz(time_limit_minutes=30, closes_at="2026-12-01T09:20:00+00:00")
    with time_machine.travel(NINE, tick=False):
        page = student_client.get(quiz.get_absolute_url()).content.decode()
    closes = timezone.localtime(datetime(2026, 12, 1, 9, 20, tzinfo=UTC))
    assert f"The quiz closes at {closes:%H:%M}" in page
    assert "ends then, before its full time" in page


def test_a_closed_timed_quiz_shows_no_start_button(student_client, teacher):
    quiz = make_quiz(time_limit_minutes=30, closes_at="2026-12-01T08:00:00+00:00")
    with time_machine.travel(NINE, tick=False):
        response = student_client.get(quiz.get_absolute_url())
        assert student_client.post(reverse("quizzes:quiz_start", args=[quiz.pk])).status_code == 302
    assert response.status_code == 403
    assert "Start attempt" not in response.content.decode()
    assert not QuizAttempt.objects.exists()


def test_a_timed_quiz_with_no_attempts_left_cannot_be_started(student_client, timed):
    timed.max_attempts = 1
    timed.save()
    attempt = start(student_client, timed)
    submit(student_client, attempt, parse_tree_right(timed) | {"confirm": "1"}, NINE)
    with time_machine.travel(NINE + timedelta(minutes=1), tick=False):
        student_client.post(reverse("quizzes:quiz_start", args=[timed.pk]))
        page = student_client.get(timed.get_absolute_url())
    assert page.status_code == 403
    assert QuizAttempt.objects.count() == 1


def test_starting_twice_keeps_one_attempt_and_its_clock(student_client, timed):
    first = start(student_client, timed)
    second = start(student_client, timed, at=NINE + timedelta(minutes=5))
    assert first.pk == second.pk and second.started_at == NINE


def test_without_a_time_limit_nothing_changes(student_client, quiz):
    """No limit: the page starts the attempt, shows no clock, and a late submit is refused."""
    quiz.closes_at = NINE + timedelta(minutes=10)
    quiz.save()
    with time_machine.travel(NINE, tick=False):
        response = student_client.get(quiz.get_absolute_url())
    attempt = response.context["attempt"]
    assert response.context["timing"] is None
    assert 'data-testid="time-left"' not in response.content.decode()
    with time_machine.travel(NINE + timedelta(days=3), tick=False):
        assert attempts_submit_overdue() == 0
        assert student_client.get("/").status_code == 200
    late = submit(student_client, attempt, parse_tree_right(quiz), NINE + timedelta(minutes=16))
    assert late.status_code == 403  # past closing + 5 minutes: refused as before
    attempt.refresh_from_db()
    assert attempt.completed_at is None and not attempt.submitted_automatically


# --- the time left --------------------------------------------------------------------------


def test_the_page_shows_the_time_left_and_warns_in_the_last_five_minutes(student_client, timed):
    start(student_client, timed)
    with time_machine.travel(NINE + timedelta(minutes=20, seconds=5), tick=False):
        early = student_client.get(timed.get_absolute_url())
    with time_machine.travel(NINE + timedelta(minutes=25), tick=False):
        late = student_client.get(timed.get_absolute_url())
    assert early.context["timing"]["seconds_left"] == 9 * 60 + 55
    assert 'Time left: <span id="time-left-value">9:55</span>' in early.content.decode()
    assert "Almost out of time" not in early.content.decode()
    assert late.context["timing"]["warning"]
    assert "Almost out of time" in late.content.decode()


def test_the_time_left_stops_at_the_closing_time(student_client, teacher):
    quiz = make_quiz(time_limit_minutes=30, closes_at="2026-12-01T09:10:00+00:00")
    start(student_client, quiz)
    with time_machine.travel(NINE + timedelta(minutes=4), tick=False):
        page = student_client.get(quiz.get_absolute_url())
    assert page.context["timing"]["seconds_left"] == 6 * 60
    assert "when the quiz closes" in page.content.decode()


# --- saving as the student goes ---------------------------------------------------------------


def test_save_answers_without_javascript_keeps_them_for_the_next_visit(student_client, timed):
    attempt = start(student_client, timed)
    data = parse_tree_right(timed)
    response = save(student_client, attempt, data, NINE + timedelta(minutes=3))
    assert response.status_code == 302 and response.url == timed.get_absolute_url()
    with time_machine.travel(NINE + timedelta(minutes=4), tick=False):
        page = student_client.get(response.url)
    attempt.refresh_from_db()
    assert attempt.completed_at is None, "saving must not submit"
    assert attempt.draft_saved_at == NINE + timedelta(minutes=3)
    choice = data[next(iter(data))][0]
    assert choice in page.context["selected"]
    assert f'id="c_{choice}" checked' in page.content.decode()
    assert "Answers saved at" in page.content.decode()


def test_a_typed_answer_is_saved_and_shown_again(student_client, teacher):
    quiz = make_quiz(
        time_limit_minutes=30,
        questions=[{"text": "2 + 1.5?", "points": 1, "type": "numeric", "answer": 3.5}],
    )
    attempt = start(student_client, quiz)
    question = Question.objects.get(quiz=quiz)
    save_json(student_client, attempt, {f"t_{question.pk}": "3,5"}, NINE + timedelta(minutes=1))
    with time_machine.travel(NINE + timedelta(minutes=2), tick=False):
        page = student_client.get(quiz.get_absolute_url()).content.decode()
    assert 'value="3,5"' in page


def test_saving_with_javascript_answers_json(student_client, timed):
    attempt = start(student_client, timed)
    response = save_json(student_client, attempt, parse_tree_right(timed), NINE)
    assert response.status_code == 200
    assert response.json()["state"] == "saved"
    assert "Answers saved at" in response.json()["message"]


def test_a_number_that_is_not_a_number_is_not_saved_but_the_rest_is(student_client, teacher):
    quiz = make_quiz(
        time_limit_minutes=30,
        questions=[
            {"text": "2 + 1.5?", "points": 1, "type": "numeric", "answer": 3.5},
            *SEVEN_AND_A_HALF_QUESTIONS,
        ],
    )
    attempt = start(student_client, quiz)
    numeric = Question.objects.get(quiz=quiz, kind="numeric")
    data = parse_tree_right(quiz) | {f"t_{numeric.pk}": "three"}
    response = save(student_client, attempt, data, NINE + timedelta(minutes=1))
    assert response.status_code == 400
    assert "is not a number" in response.content.decode()
    assert 'value="three"' in response.content.decode(), "what was typed stays on the page"
    attempt.refresh_from_db()
    assert attempt.draft["responses"] == {}
    assert list(attempt.draft["answers"]) == [next(iter(parse_tree_right(quiz)))[2:]]


@pytest.mark.parametrize(
    "tampered",
    [
        {"q_abc": "1"},
        {"q_999999": "1"},  # a question of no quiz
        {"t_1": "x" * 201},
    ],
)
def test_a_tampered_save_is_refused_and_changes_nothing(student_client, timed, tampered):
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE)
    response = save(student_client, attempt, tampered, NINE + timedelta(minutes=1))
    assert response.status_code == 400
    attempt.refresh_from_db()
    assert attempt.draft_saved_at == NINE


def test_a_choice_of_another_question_is_refused(student_client, timed):
    attempt = start(student_client, timed)
    by_text = ids(timed)
    question, _ = by_text["Which phase builds the parse tree?"]
    _, other = by_text["Select the IRs"]
    response = save_json(student_client, attempt, {f"q_{question}": [other["SSA form"]]}, NINE)
    assert response.status_code == 400
    attempt.refresh_from_db()
    assert attempt.draft == {}


def test_no_one_saves_into_another_students_attempt(student_client, timed, other_student_client):
    attempt = start(student_client, timed)
    response = save(other_student_client, attempt, parse_tree_right(timed), NINE)
    assert response.status_code == 404
    attempt.refresh_from_db()
    assert attempt.draft == {}


def test_a_save_within_the_network_grace_is_kept(student_client, timed):
    attempt = start(student_client, timed)
    response = save_json(
        student_client, attempt, parse_tree_right(timed), NINE + LIMIT + NETWORK_GRACE
    )
    assert response.json()["state"] == "saved"


def test_a_save_after_the_deadline_is_refused_and_the_attempt_submitted(student_client, timed):
    attempt = start(student_client, timed)
    everything = answers_for(timed, correct=True)
    response = save_json(student_client, attempt, everything, TIME_UP)
    assert response.status_code == 409
    assert response.json() == {"state": "time_up", "url": attempt.get_absolute_url()}
    attempt.refresh_from_db()
    assert attempt.draft == {}, "a late save is not stored"
    assert attempt.submitted_automatically and attempt.score == 0


def test_a_save_of_a_submitted_attempt_is_refused(student_client, timed):
    attempt = start(student_client, timed)
    submit(student_client, attempt, parse_tree_right(timed) | {"confirm": "1"}, NINE)
    response = save_json(student_client, attempt, answers_for(timed), NINE + timedelta(minutes=1))
    assert response.status_code == 409 and response.json()["state"] == "submitted"


# --- when the time is up ----------------------------------------------------------------------


def test_a_submit_in_time_counts_what_it_sends(student_client, timed):
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=5))
    # The browser's auto-submit at 0:00, arriving within the network grace.
    submit(student_client, attempt, answers_for(timed), NINE + LIMIT + NETWORK_GRACE)
    attempt.refresh_from_db()
    assert attempt.score == 10 and not attempt.submitted_automatically


def test_a_late_submit_scores_only_the_answers_saved_in_time(student_client, timed, caplog):
    """The limit expires mid-attempt: the submit that arrives later is a completed attempt
    scored on the saved answers (never its own), and its mark is recorded for delivery."""
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=29))
    response = submit(student_client, attempt, answers_for(timed, correct=True), TIME_UP)
    assert response.status_code == 302 and response.url == attempt.get_absolute_url()
    attempt.refresh_from_db()
    assert (attempt.score, attempt.earned_points) == (Decimal("7.50"), Decimal("3.00"))
    assert attempt.submitted_automatically and attempt.completed_at == TIME_UP
    assert AttemptAnswer.objects.filter(attempt=attempt).count() == 2
    mark = TutorialMark.objects.get(student=attempt.student)
    assert (mark.value, mark.version, attempt.mark_version) == (Decimal("7.50"), 1, 1)
    assert "late timed submit: saved answers scored" in caplog.text, "late answers are logged"
    page = student_client.get(response.url).content.decode()
    assert "submitted automatically" in page.lower()


def test_a_late_submit_without_saved_answers_scores_zero_and_is_still_completed(
    student_client, timed
):
    attempt = start(student_client, timed)
    submit(student_client, attempt, answers_for(timed), TIME_UP)
    attempt.refresh_from_db()
    assert attempt.completed_at == TIME_UP and attempt.score == 0


def test_the_closing_time_ends_a_timed_attempt_before_its_limit(student_client, teacher):
    """Closing at 9:10 caps a 30-minute attempt started at 9:00; the untimed five minutes of
    grace after closing do not apply: the clock said so."""
    quiz = make_quiz(
        questions=SEVEN_AND_A_HALF_QUESTIONS,
        time_limit_minutes=30,
        closes_at="2026-12-01T09:10:00+00:00",
    )
    attempt = start(student_client, quiz)
    save(student_client, attempt, parse_tree_right(quiz), NINE + timedelta(minutes=9))
    after_close = NINE + timedelta(minutes=10) + NETWORK_GRACE + timedelta(seconds=1)
    submit(student_client, attempt, answers_for(quiz), after_close)
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == Decimal("7.50")


def test_answers_saved_for_a_question_since_removed_are_left_out(student_client, timed):
    attempt = start(student_client, timed)
    data = answers_for(timed, correct=True)
    save(student_client, attempt, data, NINE + timedelta(minutes=1))
    Question.objects.filter(quiz=timed, text="Select the IRs").delete()
    with time_machine.travel(TIME_UP, tick=False):
        assert attempts_submit_overdue() == 1
    attempt.refresh_from_db()
    assert (attempt.score, attempt.total_points) == (10, 3)


# --- overdue attempts: on return, and by the batch ----------------------------------------------


def test_coming_back_to_the_quiz_after_the_time_is_up_submits_the_saved_answers(
    student_client, timed, caplog
):
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=2))
    with time_machine.travel(NINE + timedelta(days=1), tick=False):
        response = student_client.get(timed.get_absolute_url())
    assert response.status_code == 302 and response.url == attempt.get_absolute_url()
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == Decimal("7.50")
    page = student_client.get(response.url).content.decode()
    assert "The time for this attempt was up" in page
    assert "late timed submit" not in caplog.text  # nothing was sent late: nothing to log


def test_coming_back_to_the_result_link_or_start_submits_it_too(student_client, timed):
    attempt = start(student_client, timed)
    with time_machine.travel(TIME_UP, tick=False):
        response = student_client.get(attempt.get_absolute_url())  # in progress: to the quiz
        assert student_client.get(response.url).status_code == 302
    attempt.refresh_from_db()
    assert attempt.completed_at == TIME_UP
    second = start(student_client, timed, at=TIME_UP + timedelta(minutes=1))
    assert second.pk != attempt.pk and second.started_at == TIME_UP + timedelta(minutes=1)


def test_the_start_button_after_the_time_is_up_submits_the_old_attempt_first(student_client, timed):
    attempt = start(student_client, timed)
    with time_machine.travel(TIME_UP, tick=False):
        response = student_client.post(reverse("quizzes:quiz_start", args=[timed.pk]))
    assert response.url == attempt.get_absolute_url()
    assert QuizAttempt.objects.get().submitted_automatically


def test_coming_back_to_the_home_list_submits_every_overdue_attempt(student_client, timed):
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=1))
    with time_machine.travel(TIME_UP, tick=False):
        page = student_client.get("/").content.decode()
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == Decimal("7.50")
    assert "Best score 7.5 / 10" in page


def test_an_attempt_with_time_left_is_not_submitted(student_client, timed):
    attempt = start(student_client, timed)
    with time_machine.travel(NINE + LIMIT + NETWORK_GRACE, tick=False):
        assert attempts_submit_overdue() == 0
        student_client.get("/")
    attempt.refresh_from_db()
    assert attempt.completed_at is None


def test_the_command_submits_overdue_attempts_of_everyone(timed):
    students = [make_student() for _ in range(3)]
    for student in students:
        with time_machine.travel(NINE, tick=False):
            QuizAttempt.objects.create(student=student, quiz=timed, draft={})
    out = StringIO()
    with time_machine.travel(TIME_UP, tick=False):
        call_command("submit_overdue_attempts", stdout=out)
        call_command("submit_overdue_attempts", stdout=out)
    assert out.getvalue().splitlines() == [
        "3 timed attempts whose time was up submitted with their saved answers.",
        "0 timed attempts whose time was up submitted with their saved answers.",
    ]
    assert (
        QuizAttempt.objects.filter(completed_at=TIME_UP, submitted_automatically=True).count() == 3
    )


def _overdue_attempts(quiz, n):
    by_text = ids(quiz)
    question, choices = by_text["Which phase builds the parse tree?"]
    irs, ir_choices = by_text["Select the IRs"]
    for _ in range(n):
        with time_machine.travel(NINE, tick=False):
            QuizAttempt.objects.create(
                student=make_student(),
                quiz=quiz,
                draft={
                    "answers": {
                        str(question): [choices["Syntax analysis"]],
                        str(irs): [ir_choices["SSA form"], ir_choices["Three-address code"]],
                    }
                },
            )


# The unlocked scan and the quizzes' exceptions; savepoint, the attempts locked and their
# exceptions again; questions, choices; answers, their choices; the attempts' scores; then
# the marks (academic_integration's receiver): new marks, due_since, the slots' attempts, the
# marks locked, their update, mark_version; release.
OVERDUE_BATCH_QUERIES = 17


@pytest.mark.parametrize("n", [1, 20])
def test_the_batch_costs_the_same_queries_for_1_or_20_overdue_attempts(
    timed, n, django_assert_num_queries
):
    _overdue_attempts(timed, n)
    with time_machine.travel(TIME_UP, tick=False), django_assert_num_queries(OVERDUE_BATCH_QUERIES):
        assert attempts_submit_overdue() == n
    assert set(QuizAttempt.objects.values_list("score", "mark_version")) == {(Decimal(10), 1)}
    assert TutorialMark.objects.filter(value=10, version=1, status="pending").count() == n


def test_a_late_submit_with_tampered_answers_still_scores_the_saved_ones(student_client, timed):
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=1))
    other = make_quiz(tutorial_number=3, n_questions=1)
    [foreign] = answers_for(other).items()  # a question and choice of another quiz
    submit(student_client, attempt, dict([foreign]), TIME_UP)
    attempt.refresh_from_db()
    assert attempt.submitted_automatically and attempt.score == Decimal("7.50")


def test_teachers_find_attempts_submitted_when_the_time_was_up_in_admin(
    client, teacher, student_client, timed
):
    attempt = start(student_client, timed)
    with time_machine.travel(TIME_UP, tick=False):
        attempts_submit_overdue()
    client.force_login(teacher)
    url = reverse("admin:quizzes_quizattempt_changelist")
    listed = client.get(url, {"submitted_automatically__exact": "1"})
    assert [a.pk for a in listed.context["cl"].result_list] == [attempt.pk]
    assert not client.get(url, {"submitted_automatically__exact": "0"}).context["cl"].result_list
    page = client.get(reverse("admin:quizzes_quizattempt_change", args=[attempt.pk]))
    assert "Submitted automatically" in page.content.decode()


# --- per-student exceptions: extra minutes and a later closing ----------------------------


def test_extra_minutes_give_one_student_more_time_and_nobody_else(
    student, student_client, timed, teacher
):
    make_exception(quiz=timed, student=student, extra_minutes=15)
    with time_machine.travel(NINE, tick=False):
        page = student_client.get(timed.get_absolute_url()).content.decode()
    assert "Time limit: 30 minutes, plus 15 extra minutes for you." in page
    with time_machine.travel(NINE, tick=False):
        home = student_client.get("/").content.decode()
    assert "time limit 45 min (extended for you)" in home, "their list says their own time"
    attempt = start(student_client, timed)
    other = make_student()
    with time_machine.travel(NINE, tick=False):
        QuizAttempt.objects.create(student=other, quiz=timed, draft={})
    with time_machine.travel(TIME_UP, tick=False):
        assert attempts_submit_overdue() == 1  # the classmate's; the student has 15 min more
    assert QuizAttempt.objects.get(student=other).submitted_automatically
    submit(student_client, attempt, answers_for(timed), NINE + timedelta(minutes=44))
    attempt.refresh_from_db()
    assert attempt.score == 10 and not attempt.submitted_automatically


def test_extra_minutes_run_out_too(student, student_client, timed, teacher):
    make_exception(quiz=timed, student=student, extra_minutes=15)
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=40))
    late = NINE + timedelta(minutes=45) + NETWORK_GRACE + timedelta(seconds=1)
    with time_machine.travel(late, tick=False):
        assert attempts_submit_overdue() == 1
    attempt.refresh_from_db()
    assert attempt.score == Decimal("7.5") and attempt.submitted_automatically


def test_a_later_closing_lifts_the_cap_of_a_timed_attempt(student, student_client, teacher):
    quiz = make_quiz(
        questions=SEVEN_AND_A_HALF_QUESTIONS,
        time_limit_minutes=30,
        closes_at="2026-12-01T09:20:00+00:00",
    )
    make_exception(quiz=quiz, student=student, closes_at=NINE + timedelta(hours=2))
    attempt = start(student_client, quiz)
    submit(student_client, attempt, answers_for(quiz), NINE + timedelta(minutes=29))
    attempt.refresh_from_db()
    assert attempt.score == 10 and not attempt.submitted_automatically


def test_extra_minutes_need_a_time_limit(student, quiz):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        make_exception(quiz=quiz, student=student, extra_minutes=10)
    assert "no time limit" in str(refused.value)


# --- found in review ---------------------------------------------------------------------------


def test_the_auto_submit_at_0_00_with_a_number_that_is_not_a_number_still_submits(
    student_client, teacher
):
    """At 0:00 answers.js submits the form as it is. A numeric answer that is not a number
    must not send the form back: the page would show 0:00 and submit itself again, in a loop,
    until the network grace ran out. It scores 0, as unanswered; the other answers count."""
    quiz = make_quiz(
        time_limit_minutes=30,
        questions=[
            {"text": "2 + 1.5?", "points": 1, "type": "numeric", "answer": 3.5},
            *SEVEN_AND_A_HALF_QUESTIONS,
        ],
    )
    attempt = start(student_client, quiz)
    numeric = Question.objects.get(quiz=quiz, kind="numeric")
    data = parse_tree_right(quiz) | {f"t_{numeric.pk}": "three", "confirm": "1"}
    response = submit(student_client, attempt, data, NINE + LIMIT + timedelta(seconds=2))
    assert response.status_code == 302 and response.url == attempt.get_absolute_url()
    attempt.refresh_from_db()
    assert attempt.completed_at is not None and not attempt.submitted_automatically
    assert attempt.earned_points == Decimal("3.00")


def test_a_late_submit_of_an_attempt_the_site_already_submitted_says_so(student_client, timed):
    """The overdue job submitted the attempt; the student's browser (a laptop waking up)
    submits later: they are told their saved answers counted, not "your first answers"."""
    attempt = start(student_client, timed)
    save(student_client, attempt, parse_tree_right(timed), NINE + timedelta(minutes=1))
    with time_machine.travel(TIME_UP, tick=False):
        call_command("submit_overdue_attempts", stdout=StringIO())
    response = submit(student_client, attempt, answers_for(timed, correct=True), TIME_UP)
    page = student_client.get(response.url).content.decode()
    assert "your first answers count" not in page
    assert "The time for this attempt was up, so it was submitted automatically" in page


def test_the_saved_line_names_the_answers_that_are_not_numbers_in_plain_words(
    student_client, teacher
):
    quiz = make_quiz(
        time_limit_minutes=30,
        questions=[
            {"text": "2 + 1.5?", "points": 1, "type": "numeric", "answer": 3.5},
            {"text": "1 + 1.5?", "points": 1, "type": "numeric", "answer": 2.5},
        ],
    )
    attempt = start(student_client, quiz)
    first, second = Question.objects.filter(quiz=quiz).order_by("pk")
    one = save_json(student_client, attempt, {f"t_{first.pk}": "three"}, NINE)
    assert one.json()["message"].endswith("Not saved: question 1, which is not a number.")
    both = {f"t_{first.pk}": "three", f"t_{second.pk}": "2.5 ms"}
    two = save_json(student_client, attempt, both, NINE)
    assert two.json()["message"].endswith("Not saved: questions 1 and 2, which are not numbers.")
