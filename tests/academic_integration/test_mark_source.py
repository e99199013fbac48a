"""What a student is told about their mark's delivery (academic_integration/mark_source.py):
the sentences the result page and the attempt list get through quizzes' mark source."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from academic_integration.mark_source import analyzer_line, mark_message
from academic_integration.models import TutorialMark
from quizzes.models import QuizAttempt


def _mark(**fields):
    base = dict(student_id=1, course_id="19XW51", tutorial_number=2, value=Decimal("10"), version=2)
    return TutorialMark(**(base | fields))


def test_the_sync_message_says_the_value_the_analyzer_holds():
    attempt = QuizAttempt(mark_version=2, marks_synced=True)
    mark = _mark(status="delivered", delivered_version=2, delivered_value=Decimal("10"))
    assert mark_message(mark=mark, attempt=attempt).text == (
        "Your tutorial 2 mark (10 / 10) reached the Academic Analyzer."
    )


def test_the_sync_message_says_when_a_newer_mark_is_on_its_way():
    attempt = QuizAttempt(mark_version=1, marks_synced=True)
    mark = _mark(status="pending", delivered_version=1, delivered_value=Decimal("6.67"))
    text = mark_message(mark=mark, attempt=attempt).text
    assert text.startswith("Your tutorial 2 mark (6.67 / 10) reached the Academic Analyzer.")
    assert "since changed to 10 / 10; the new value is delivered automatically" in text


def test_the_attempt_list_line_says_what_the_analyzer_holds():
    delivered = _mark(status="delivered", delivered_version=2, delivered_value=Decimal("10"))
    assert analyzer_line(mark=delivered) == (
        "Your tutorial 2 mark is 10 / 10; the Academic Analyzer holds it."
    )
    behind = _mark(status="pending", delivered_version=1, delivered_value=Decimal("5"))
    assert analyzer_line(mark=behind) == (
        "Your tutorial 2 mark is 10 / 10; the Academic Analyzer still holds 5 / 10 and gets the "
        "new value automatically."
    )
    assert analyzer_line(mark=None) is None


def test_the_sync_message_for_a_pending_mark_names_the_value_still_held():
    attempt = QuizAttempt(mark_version=2, marks_synced=False)
    mark = _mark(status="retrying", delivered_version=1, delivered_value=Decimal("4"))
    message = mark_message(mark=mark, attempt=attempt)
    assert message.level == "info"
    assert "mark (10 / 10) has not reached the Academic Analyzer yet" in message.text
    assert "still holds your earlier mark, 4 / 10" in message.text


def test_a_mark_not_delivered_yet_says_when_it_is_tried_next(settings):
    """Issue 22: "not yet, and when it will be tried"."""
    settings.TIME_ZONE = "Asia/Kolkata"
    attempt = QuizAttempt(mark_version=2)
    soon = timezone.now().replace(second=0, microsecond=0) + timedelta(hours=1)
    backing_off = _mark(status="retrying", next_try_at=soon)
    text = mark_message(mark=backing_off, attempt=attempt).text
    assert f"delivered automatically later, next tried at {timezone.localtime(soon):%H:%M} IST" in (
        text
    )

    pending = _mark(status="pending")
    assert "later, by the next scheduled delivery run." in (
        mark_message(mark=pending, attempt=attempt).text
    )


# --- the quiz holds the score back (review_score): the same sentences, no value -------------


def test_a_held_back_score_reached_the_analyzer_without_its_value():
    attempt = QuizAttempt(mark_version=2, marks_synced=True)
    mark = _mark(status="delivered", delivered_version=2, delivered_value=Decimal("10"))
    assert mark_message(mark=mark, attempt=attempt, score_shown=False).text == (
        "Your tutorial 2 mark reached the Academic Analyzer."
    )
    newer = _mark(status="pending", delivered_version=1, delivered_value=Decimal("6.67"))
    text = mark_message(
        mark=newer, attempt=QuizAttempt(mark_version=1, marks_synced=True), score_shown=False
    ).text
    assert text == (
        "Your tutorial 2 mark reached the Academic Analyzer. Your mark has since changed; the "
        "new value is delivered automatically."
    )


def test_a_held_back_score_not_delivered_yet_names_no_value():
    attempt = QuizAttempt(mark_version=2, marks_synced=False)
    mark = _mark(status="retrying", delivered_version=1, delivered_value=Decimal("4"))
    text = mark_message(mark=mark, attempt=attempt, score_shown=False).text
    assert "/ 10" not in text
    assert text.startswith(
        "Your result is saved. Your tutorial 2 mark has not reached the Academic Analyzer yet;"
    )
    assert text.endswith("You need do nothing. The Analyzer still holds your earlier mark.")
    rejected = _mark(status="rejected")
    assert "/ 10" not in mark_message(mark=rejected, attempt=attempt, score_shown=False).text


def test_the_attempt_list_line_of_a_held_back_score_names_no_value():
    delivered = _mark(status="delivered", delivered_version=2, delivered_value=Decimal("10"))
    assert analyzer_line(mark=delivered, score_shown=False) == (
        "Your tutorial 2 mark reached the Academic Analyzer."
    )
    behind = _mark(status="pending", delivered_version=1, delivered_value=Decimal("5"))
    assert analyzer_line(mark=behind, score_shown=False) == (
        "Your tutorial 2 mark has changed; the Academic Analyzer gets the new value automatically."
    )
    first = _mark(status="pending")
    assert analyzer_line(mark=first, score_shown=False) == (
        "Your tutorial 2 mark has not reached the Academic Analyzer yet; it is delivered "
        "automatically."
    )
    assert analyzer_line(mark=None, score_shown=False) is None
