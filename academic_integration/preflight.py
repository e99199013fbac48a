"""Check a quiz against the Academic Analyzer before any student submits.

One course-detail request, and one verify-email request for the quiz creator where the
Analyzer has that route; the answer is one plain-words finding a teacher can act on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from academic_integration.client import get_client, is_configured
from academic_integration.courses import course_detail_fetch
from academic_integration.exceptions import (
    AnalyzerConfigError,
    SyncAuthError,
    SyncError,
    SyncNotAnalyzerError,
    SyncRejectedError,
    SyncTemporaryError,
)
from academic_integration.reasons import Reason
from quizzes.models import Quiz

logger = logging.getLogger(__name__)


class Finding:
    """Outcome codes of a quiz check."""

    INSTRUCTOR_MATCHES = "instructor_matches"
    INSTRUCTOR_DIFFERS = "instructor_differs"
    NO_INSTRUCTOR = "no_instructor"
    CREATOR_UNKNOWN = "creator_not_a_teacher"
    CREATOR_NO_EMAIL = "creator_no_email"
    COURSE_NOT_FOUND = Reason.COURSE_NOT_FOUND
    UNREACHABLE = "unreachable"
    TOKEN_REJECTED = Reason.TOKEN_REJECTED
    NOT_THE_ANALYZER = Reason.NOT_THE_ANALYZER
    NOT_CONFIGURED = "not_configured"
    PRACTICE = "practice"


@dataclass(frozen=True)
class QuizCheck:
    """What the Analyzer said about a quiz: ``ok`` is False when deliveries would fail."""

    quiz: Quiz
    finding: str
    ok: bool
    message: str
    warning: bool = False


def quiz_check(*, quiz: Quiz, memo: dict | None = None) -> QuizCheck:
    """Ask the Analyzer about the quiz's course and its creator, and say what it means.

    ``memo`` keeps answers across the quizzes of one action, so each course and each
    creator is asked about once. Never raises for Analyzer failures: they are findings too.
    """
    if not quiz.is_tutorial():
        return _result(quiz, Finding.PRACTICE, "a practice quiz has no mark: nothing to check.")
    if not is_configured():
        return _fail(
            quiz,
            Finding.NOT_CONFIGURED,
            "sync is not configured (ACADEMIC_ANALYZER_URL is unset), so nothing was asked.",
        )
    try:
        memo = {} if memo is None else memo
        detail = _asked(
            memo, ("course", quiz.course_id), course_detail_fetch, course_id=quiz.course_id
        )
        creator = (quiz.created_by.email or "").strip()
        verify = get_client().verify_email
        known = (
            _asked(memo, ("teacher", creator.lower()), verify, email=creator) if creator else None
        )
    except SyncError as err:
        return _failure(quiz, err)
    except AnalyzerConfigError as err:
        return _fail(quiz, Finding.NOT_CONFIGURED, f"sync is misconfigured: {err}")
    course = f"course {detail.course_id}" + (f" ({detail.name})" if detail.name else "")
    instructor = detail.instructor_email
    if not creator:
        return _warn(
            quiz,
            Finding.CREATOR_NO_EMAIL,
            f"{course} exists, but the quiz creator has no email: marks will be sent as the "
            f"course instructor {instructor or '(none set)'}. Set the creator's email to "
            "their Analyzer login email.",
        )
    if known is False:
        return _fail(
            quiz,
            Finding.CREATOR_UNKNOWN,
            f"{course} exists, but the quiz creator {creator} is not a known teacher in the "
            "Academic Analyzer: every mark would be rejected (teacher not found). Set the "
            "creator's email to their Analyzer login email.",
        )
    unverified = (
        " (this Analyzer cannot confirm teacher emails, so the creator was not checked)"
        if known is None
        else ""
    )
    if instructor is None:
        return _warn(
            quiz,
            Finding.NO_INSTRUCTOR,
            f"{course} exists but has no instructor in the Academic Analyzer; marks will be "
            f"sent as {creator}{unverified}.",
        )
    if instructor.lower() == creator.lower():
        return _result(
            quiz,
            Finding.INSTRUCTOR_MATCHES,
            f"{course} exists and its instructor is the quiz creator, {creator}"
            f"{unverified}. Marks will be accepted.",
        )
    return _warn(
        quiz,
        Finding.INSTRUCTOR_DIFFERS,
        f"{course} exists, but its instructor is {instructor}, not the quiz creator "
        f"{creator}. Marks are sent as {creator}"
        + (", who is a known teacher, so they will be accepted." if known else f"{unverified}.")
        + " Check that the course id is right.",
    )


def _asked(memo: dict, key: tuple, ask, **kwargs):
    """``ask(**kwargs)`` once per key; a failure is remembered and raised again too."""
    if key not in memo:
        try:
            memo[key] = (ask(**kwargs), None)
        except SyncError as err:
            memo[key] = (None, err)
    answer, error = memo[key]
    if error is not None:
        raise error
    return answer


def _failure(quiz: Quiz, err: SyncError) -> QuizCheck:
    if isinstance(err, SyncRejectedError) and err.reason == Reason.COURSE_NOT_FOUND:
        return _fail(
            quiz,
            Finding.COURSE_NOT_FOUND,
            f"course {quiz.course_id} was not found in the Academic Analyzer — it may have "
            "been deleted or mistyped. Fix the course id on the quiz before students submit.",
        )
    if isinstance(err, SyncAuthError):
        return _fail(quiz, Finding.TOKEN_REJECTED, f"{err.label}. {err.next_step}")
    if isinstance(err, SyncNotAnalyzerError):
        return _fail(quiz, Finding.NOT_THE_ANALYZER, f"{err.label}. {err.next_step}")
    if isinstance(err, SyncTemporaryError) and err.reason in (
        Reason.CONNECTION_ERROR,
        Reason.TIMEOUT,
    ):
        return _fail(
            quiz,
            Finding.UNREACHABLE,
            f"the Academic Analyzer could not be reached ({err.label.lower()}); try again "
            "later. Marks submitted meanwhile wait and are delivered when it is back.",
        )
    return _fail(
        quiz, Finding.UNREACHABLE, f"the Academic Analyzer did not answer properly: {err.label}."
    )


def _result(quiz: Quiz, finding: str, text: str, *, ok=True, warning=False) -> QuizCheck:
    logger.info("quiz check quiz=%s course=%s finding=%s", quiz.pk, quiz.course_id, finding)
    message = f"“{quiz}”: {text[0].upper()}{text[1:]}"
    return QuizCheck(quiz, finding, ok, message, warning=warning)


def _fail(quiz: Quiz, finding: str, text: str) -> QuizCheck:
    return _result(quiz, finding, text, ok=False)


def _warn(quiz: Quiz, finding: str, text: str) -> QuizCheck:
    return _result(quiz, finding, text, warning=True)


# --- per course ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _CourseSubject:
    """What the findings above need of a quiz, for a course: its id and a label."""

    pk: str
    course_id: str
    label: str

    def __str__(self) -> str:
        return self.label


def course_check(*, course, teacher_emails: list[str], memo: dict | None = None) -> QuizCheck:
    """Ask the Analyzer whether the course exists and its instructor is one of its teachers.

    ``teacher_emails`` are the course's teachers here (the roster). One course-detail request;
    never raises for Analyzer failures.
    """
    subject = _CourseSubject(pk=course.pk, course_id=course.pk, label=f"Course {course.pk}")
    if not is_configured():
        return _fail(
            subject,
            Finding.NOT_CONFIGURED,
            "sync is not configured (ACADEMIC_ANALYZER_URL is unset), so nothing was asked.",
        )
    try:
        memo = {} if memo is None else memo
        detail = _asked(memo, ("course", course.pk), course_detail_fetch, course_id=course.pk)
    except SyncError as err:
        return _failure(subject, err)
    except AnalyzerConfigError as err:
        return _fail(subject, Finding.NOT_CONFIGURED, f"sync is misconfigured: {err}")
    name = f" ({detail.name})" if detail.name else ""
    ours = sorted({e.strip().lower() for e in teacher_emails if e and e.strip()})
    teachers = ", ".join(ours) or "none with an email"
    instructor = (detail.instructor_email or "").lower()
    if not instructor:
        return _warn(
            subject,
            Finding.NO_INSTRUCTOR,
            f"exists{name} but has no instructor in the Academic Analyzer; marks are sent "
            f"with the quiz creator's email (its teachers here: {teachers}).",
        )
    if instructor in ours:
        return _result(
            subject,
            Finding.INSTRUCTOR_MATCHES,
            f"exists{name} and its instructor {instructor} is one of its teachers here.",
        )
    return _warn(
        subject,
        Finding.INSTRUCTOR_DIFFERS,
        f"exists{name}, but its instructor {instructor} is not one of its teachers here "
        f"({teachers}). Check the course id, or add the instructor to the course's roster.",
    )
