"""Check the Academic Analyzer: each course before its marks are refused (for ``manage.py
check_analyzer``, the admin's "Check with Academic Analyzer" and the health page), and the
health page's settings (the token never shown, not even in part) and Test connection.

What is checked, and why it asks fresh (never from the remembered lookups), within what bound:
docs/operations.md, "Checking courses with the Analyzer".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError
from django.db.models import JSONField, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone

from academic_integration import sync_state
from academic_integration.client import CourseDetail, get_client, is_configured, masked_url
from academic_integration.exceptions import (
    REASONS,
    AnalyzerConfigError,
    Reason,
    SyncError,
    SyncRejectedError,
)
from academic_integration.models import SyncState, TutorialMark
from academic_integration.resync.summary import plural
from academic_integration.services import generated_teacher_email
from academic_integration.sync_state import (
    course_detail_fetch,
    problems_forget,
    teacher_courses_fetch,
)
from quizzes.models import Course, Quiz
from quizzes.selectors import courses_visible

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

Source = TutorialMark.EmailSource

#: Exit codes: nothing would be refused / something would / the Analyzer cannot be asked.
OK, REFUSED, CANNOT_ASK = 0, 1, 2
#: How many students a message names before "and N more" (the JSON lists them all).
NAMED_STUDENTS = 10


@dataclass(frozen=True)
class Student:
    roll_no: str
    name: str


@dataclass(frozen=True)
class Problem:
    """One thing to fix: ``level`` error / warning / info; ``exit_code`` what it costs the
    command (0 none, 1 marks would be refused, 2 the Analyzer could not be asked);
    ``quiz_ids`` the quizzes it concerns, empty for the whole course."""

    code: str
    message: str
    next_step: str
    level: str = "error"
    exit_code: int = REFUSED
    quiz_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sender:
    """The email a group of quizzes' marks go with, and which step of the chain gave it."""

    email: str
    source: str
    quizzes: tuple[str, ...]
    quiz_ids: tuple[int, ...] = ()


@dataclass
class CourseCheck:
    """What the Analyzer said about one course; ``exists`` is None when it was not asked."""

    course_id: str
    name: str
    exists: bool | None = None
    students_here: int = 0
    students_there: int | None = None
    teachers_known: list[str] = field(default_factory=list)
    teachers_handling: list[str] = field(default_factory=list)
    not_enrolled_there: list[Student] = field(default_factory=list)
    only_there: list[Student] = field(default_factory=list)
    senders: list[Sender] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return max((p.exit_code for p in self.problems), default=OK)

    @property
    def level(self) -> str:
        """success / warning / error: the worst problem's, as the admin shows it."""
        return _level(self.problems)

    def headline(self, *, senders: bool = True) -> str:
        course = f"Course {self.course_id}" + (f" ({self.name})" if self.name else "")
        if self.exists is None:
            return f"{course} could not be checked"
        if not self.exists:
            return f"{course} was not found on the Academic Analyzer"
        there = "?" if self.students_there is None else self.students_there
        emails = ", ".join(sorted({s.email for s in self.senders})) if senders else ""
        return (
            f"{course} exists on the Academic Analyzer: {self.students_here} students here, "
            f"{there} there" + (f"; marks go as {emails}" if emails else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "course_id": self.course_id,
            "name": self.name,
            "exists": self.exists,
            "students_here": self.students_here,
            "students_there": self.students_there,
            "teachers": {"known": self.teachers_known, "handling": self.teachers_handling},
            "not_enrolled_there": [asdict(s) for s in self.not_enrolled_there],
            "only_there": [asdict(s) for s in self.only_there],
            "senders": [
                {"email": s.email, "source": s.source, "quizzes": list(s.quizzes)}
                for s in self.senders
            ],
            "problems": [
                {k: v for k, v in asdict(p).items() if k != "quiz_ids"} for p in self.problems
            ],
            "exit_code": self.exit_code,
        }


@dataclass
class AnalyzerCheck:
    checked_at: datetime
    courses: list[CourseCheck]

    @property
    def exit_code(self) -> int:
        return max((c.exit_code for c in self.courses), default=OK)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "exit_code": self.exit_code,
            "courses": [c.as_dict() for c in self.courses],
        }


# --- reads ------------------------------------------------------------------------------------


def courses_for_check(*, queryset: QuerySet[Course] | None = None) -> QuerySet[Course]:
    """Courses with what a check reads of them, in four queries whatever the roster size:
    teachers (by account age, as ``course_teacher_email`` picks), students, tutorial quizzes
    with their creators."""
    queryset = Course.objects.all() if queryset is None else queryset
    users = get_user_model()
    # prefetch_related(None): a page's own prefetches (CourseAdmin's teachers) give way.
    return (
        queryset.order_by("pk")
        .prefetch_related(None)
        .prefetch_related(
            Prefetch("teachers", queryset=users.objects.order_by("pk").only("pk", "email")),
            Prefetch(
                "students",
                queryset=users.objects.order_by("username").only(
                    "pk", "username", "first_name", "last_name"
                ),
            ),
            Prefetch(
                "quizzes",
                queryset=Quiz.objects.filter(quiz_type=Quiz.QuizType.TUTORIAL)
                .select_related("created_by")
                .order_by("tutorial_number", "title", "pk"),
                to_attr="tutorial_quizzes",
            ),
        )
    )


# --- the check --------------------------------------------------------------------------------


class _Stop(Exception):
    """The Analyzer cannot be asked (``problem`` says why): nothing more is asked in this run."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.code)
        self.problem = problem


class _Asker:
    """One course-detail per course and one dashboard per email per run; after a failure
    that means the Analyzer cannot be asked, it asks nothing more and says why."""

    def __init__(self) -> None:
        self.courses: dict[str, CourseDetail | None] = {}
        self.teachers: dict[str, frozenset[str] | None] = {}
        self.stopped: Problem | None = (
            None if is_configured() else _cannot_ask(Reason.SYNC_DISABLED)
        )

    def course(self, course_id: str) -> CourseDetail | None:
        """The course with its roster; None when the Analyzer has no such course."""
        if course_id not in self.courses:
            self.courses[course_id] = self._ask(
                course_detail_fetch, Reason.COURSE_NOT_FOUND, course_id=course_id
            )
        return self.courses[course_id]

    def teacher(self, email: str) -> frozenset[str] | None:
        """The course ids the Analyzer lists for ``email``; None when it knows no such teacher."""
        if email not in self.teachers:
            self.teachers[email] = self._ask(
                teacher_courses_fetch, Reason.TEACHER_NOT_FOUND, email=email
            )
        return self.teachers[email]

    def _ask(self, ask: Callable[..., _T], missing: str, **kwargs: str) -> _T | None:
        if self.stopped is not None:
            raise _Stop(self.stopped)
        try:
            return ask(**kwargs)
        except SyncError as err:
            if isinstance(err, SyncRejectedError) and err.reason == missing:
                return None
            stopped = _cannot_ask(err.reason)
        except AnalyzerConfigError as err:
            stopped = _cannot_ask(Reason.CONFIG_ERROR, detail=config_problem(err))
        logger.warning(
            "analyzer check stopped asking what=%s %s reason=%s: the rest is not checked",
            ask.__name__,
            kwargs,
            stopped.code,
        )
        self.stopped = stopped
        raise _Stop(stopped)


def courses_analyzer_check(
    *, courses: Iterable[Course], quizzes: dict[str, list[Quiz]] | None = None
) -> AnalyzerCheck:
    """Check each course (from ``courses_for_check``) against the Analyzer; never raises for
    Analyzer failures (they are problems with exit code 2). ``quizzes`` limits, per course
    id, the quizzes whose teacher email is checked; without it each course's tutorial quizzes
    are, and each result is kept as the course's last check (health page)."""
    asker = _Asker()
    checks = []
    for course in courses:
        # tutorial_quizzes: courses_for_check's Prefetch(to_attr=...).
        tutorial: list[Quiz] = course.tutorial_quizzes  # type: ignore[attr-defined]
        chosen = tutorial if quizzes is None else quizzes.get(course.pk, [])
        checks.append(course_analyzer_check(course=course, quizzes=chosen, asker=asker))
    result = AnalyzerCheck(checked_at=timezone.now(), courses=checks)
    if quizzes is None and checks:
        at = {"checked_at": result.checked_at.isoformat()}
        worst = {
            c.course_id: max(c.problems, key=lambda p: p.exit_code).code
            for c in checks
            if c.exit_code
        }
        sync_state.course_checks_remember(
            checks={c.course_id: (worst.get(c.course_id, ""), c.as_dict() | at) for c in checks},
            at=result.checked_at,
        )
    return result


def course_analyzer_check(*, course: Course, quizzes: list[Quiz], asker: _Asker) -> CourseCheck:
    """One course's check (see ``courses_analyzer_check``)."""
    check = CourseCheck(
        course_id=course.pk, name=course.name, students_here=len(course.students.all())
    )
    try:
        detail = asker.course(course.pk)
        check.exists = detail is not None
        if detail is None:
            check.problems.append(
                Problem(
                    Reason.COURSE_NOT_FOUND,
                    f"Course {course.pk} was not found on the Academic Analyzer (mistyped, never "
                    "created there, or archived): every mark for it will be refused.",
                    f"Check the course id; if {course.pk} was archived on the Analyzer, ask its "
                    "administrator to restore it (marks waiting for it are then delivered again).",
                )
            )
        else:
            check.name = detail.name or course.name
            _students_compare(check, course=course, detail=detail)
        _teachers_check(check, course=course, asker=asker)
        _senders_check(check, quizzes=quizzes, asker=asker)
    except _Stop as stop:
        check.problems.append(stop.problem)
    logger.info(
        "analyzer check course=%s exists=%s not_enrolled=%s only_there=%s problems=%s exit_code=%s",
        check.course_id,
        check.exists,
        len(check.not_enrolled_there),
        len(check.only_there),
        ",".join(p.code for p in check.problems) or "-",
        check.exit_code,
    )
    return check


def _students_compare(check: CourseCheck, *, course: Course, detail: CourseDetail) -> None:
    roster = detail.roll_numbers()
    if roster is None:
        check.problems.append(
            Problem(
                "roster_unknown",
                f"The Analyzer's answer for {course.pk} carried no roster, so enrolments "
                "could not be compared.",
                "Nothing to do here; if it lasts, ask the Analyzer administrator why "
                "course-detail lists no students.",
                level="warning",
                exit_code=OK,
            )
        )
        return
    check.students_there = len(roster)
    ours = {s.username: s.get_full_name() for s in course.students.all()}
    missing = [Student(r, n) for r, n in ours.items() if r not in roster]
    extra = [Student(e.roll_no, e.name) for e in detail.students or () if e.roll_no not in ours]
    check.not_enrolled_there, check.only_there = missing, sorted(extra, key=lambda s: s.roll_no)
    if missing:
        folded = {r.casefold(): r for r in roster}
        cased = [
            f"{s.roll_no} is {folded[s.roll_no.casefold()]} there"
            for s in missing
            if s.roll_no.casefold() in folded
        ]
        check.problems.append(
            Problem(
                Reason.NOT_ENROLLED,
                f"{plural(len(missing), 'student')} on our roster of {course.pk} "
                f"{'is' if len(missing) == 1 else 'are'} not enrolled in it on the Academic "
                f"Analyzer: {_named(missing)}. Their marks will be refused.",
                f"Ask the Analyzer administrator to enrol them in {course.pk}"
                + (
                    f" (roll numbers match case-sensitively: {_listed(cased)})"
                    if cased
                    else ", or fix their roll numbers here if they differ"
                )
                + f", then run check_analyzer --course {course.pk}.",
            )
        )
    if extra:
        check.problems.append(
            Problem(
                "only_there",
                f"{plural(len(extra), 'student')} enrolled in {course.pk} on the Academic "
                f"Analyzer are not on our roster: {_named(check.only_there)}. They cannot take "
                "its quizzes here.",
                "Import them into the course's roster here if they should take its quizzes.",
                level="info",
                exit_code=OK,
            )
        )


def _teachers_check(check: CourseCheck, *, course: Course, asker: _Asker) -> None:
    no_email = []
    for teacher in course.teachers.all():
        email = teacher.email.strip()
        if not email:
            no_email.append(teacher.get_username())
            continue
        handled = asker.teacher(email)
        if handled is None:
            check.problems.append(
                Problem(
                    Reason.TEACHER_NOT_FOUND,
                    f"Teacher {email} of {course.pk} here is not a teacher on the Analyzer.",
                    "Set their email here to their Analyzer login email, or ask the Analyzer "
                    "administrator to add them; marks of their quizzes are refused until then.",
                    level="warning",
                    exit_code=OK,
                )
            )
            continue
        check.teachers_known.append(email)
        if course.pk in handled:
            check.teachers_handling.append(email)
    if no_email:
        check.problems.append(
            Problem(
                "teacher_no_email",
                f"Teachers of {course.pk} with no email here: {_listed(no_email)}.",
                "Set their email to their Analyzer login email.",
                level="info",
                exit_code=OK,
            )
        )
    if check.exists and check.teachers_known and not check.teachers_handling:
        check.problems.append(
            Problem(
                "no_teacher_handling",
                f"The Analyzer lists none of {course.pk}'s teachers here as handling it (a "
                "restored course is handled only by the teacher who restored it).",
                "Marks are still accepted with any known teacher's email; ask the Analyzer "
                f"administrator to assign a teacher of {course.pk} to it so quizzes whose "
                "creator has no email have a teacher to send as.",
                level="warning",
                exit_code=OK,
            )
        )


def _senders_check(check: CourseCheck, *, quizzes: list[Quiz], asker: _Asker) -> None:
    """Which email each quiz's marks go with (decision 0012's chain, less the session's staff
    email: it exists only in a browser)."""
    by_email: dict[tuple[str, str], list[Quiz]] = {}
    for quiz in quizzes:
        email, source = _sender(check, quiz=quiz)
        by_email.setdefault((email, source), []).append(quiz)
    for (email, source), group in by_email.items():
        ids = tuple(q.pk for q in group)
        titles = tuple(str(q) for q in group)
        if not email:
            creators = sorted({q.created_by.get_username() for q in group})
            check.problems.append(
                Problem(
                    Reason.NO_TEACHER_EMAIL,
                    f"{_listed(titles, quote=True)}: the creator ({_listed(creators)}) has no "
                    f"email and no teacher of {check.course_id} here is listed on the Analyzer "
                    "as handling it, so their marks have no teacher email to go with.",
                    "Set the quiz creator's email to their Analyzer login email.",
                    quiz_ids=ids,
                )
            )
            continue
        check.senders.append(Sender(email, source, titles, ids))
        if source != Source.COURSE_TEACHER and asker.teacher(email) is None:
            whose = "the quiz creator" if source == Source.QUIZ_CREATOR else "the generated"
            check.problems.append(
                Problem(
                    "creator_not_a_teacher"
                    if source == Source.QUIZ_CREATOR
                    else Reason.TEACHER_NOT_FOUND,
                    f"Marks of {_listed(titles, quote=True)} go as {whose} {email}, who is "
                    "not a teacher on the Analyzer: every one will be refused (teacher not "
                    "found).",
                    "Set the quiz creator's email to their Analyzer login email, or ask the "
                    "Analyzer administrator to add that teacher.",
                    quiz_ids=ids,
                )
            )


def _sender(check: CourseCheck, *, quiz: Quiz) -> tuple[str, str]:
    if quiz.created_by.email:
        return quiz.created_by.email, Source.QUIZ_CREATOR
    if check.teachers_handling:
        return check.teachers_handling[0], Source.COURSE_TEACHER
    generated = generated_teacher_email(course_id=check.course_id)
    return (generated, Source.GENERATED) if generated else ("", "")


def _cannot_ask(reason: str, *, detail: str = "") -> Problem:
    """The Analyzer could not be asked, in the reason table's words (``detail``: the setting
    at fault); the message never carries the answer's body."""
    row = REASONS.get(reason, Reason.SYNC_ERROR)
    label = f"{row.label}: {detail}" if detail else row.label
    return Problem(
        reason,
        f"The Academic Analyzer could not be asked: {lower_first(label)}.",
        row.next_step(),
        exit_code=CANNOT_ASK,
    )


# --- the last result per course (health page) -------------------------------------------------


@dataclass(frozen=True)
class CheckedCourse:
    course_id: str
    exit_code: int
    problem: str  # the worst problem's message, "" when none
    next_step: str
    age: timedelta  # since the check: a result is kept until the next check replaces it


@dataclass(frozen=True)
class CheckSummary:
    """The last check of the courses a user sees: when, and which have problems."""

    courses: int  # visible courses
    checked: int
    last_checked_age: timedelta | None
    failing: list[CheckedCourse]  # exit code 1 or 2, worst first
    unreadable: bool = False  # the sync state could not be read

    @property
    def never_checked(self) -> int:
        return self.courses - self.checked


def course_checks_summary(*, user: AbstractBaseUser, now: datetime) -> CheckSummary:
    """The last check_analyzer result of each course ``user`` sees (one query)."""
    try:
        row = SyncState.objects.filter(key=Concat(Value(sync_state.CHECK), OuterRef("pk")))
        courses = courses_visible(user=user).annotate(
            check_data=Subquery(row.values("data")[:1], output_field=JSONField()),
            checked_at=Subquery(row.values("updated_at")[:1]),
        )
        visible = list(courses.order_by().values_list("check_data", "checked_at"))
    except DatabaseError as err:
        logger.warning("last course checks unreadable user=%s error=%s", user.pk, err)
        return CheckSummary(0, 0, None, [], unreadable=True)
    checks = [(at, data or {}) for data, at in visible if at is not None]
    failing = []
    for at, data in checks:
        if data.get("exit_code"):
            # The kept JSON (``CourseCheck.as_dict``), by its worst problem.
            problems = data.get("problems") or []
            worst: dict[str, Any] = max(problems, key=lambda p: p.get("exit_code", 0), default={})
            failing.append(
                CheckedCourse(
                    course_id=data.get("course_id", ""),
                    exit_code=data["exit_code"],
                    problem=worst.get("message", ""),
                    next_step=worst.get("next_step", ""),
                    age=now - at,
                )
            )
    last = max((at for at, _ in checks), default=None)
    return CheckSummary(
        courses=len(visible),
        checked=len(checks),
        last_checked_age=(now - last) if last else None,
        failing=sorted(failing, key=lambda c: (-c.exit_code, c.course_id)),
    )


# --- wording ----------------------------------------------------------------------------------


def check_message(check: CourseCheck, *, quiz: Quiz | None = None) -> tuple[str, str]:
    """The admin's message for a course, or for one of its quizzes: its level (success /
    warning / error) and text: the headline, then each problem (of the whole course, and of
    ``quiz`` when given) with its next step."""
    problems = [
        p for p in check.problems if quiz is None or not p.quiz_ids or quiz.pk in p.quiz_ids
    ]
    # A missing course's problem says all its headline would.
    parts = [] if check.exists is False else [check.headline(senders=quiz is None) + "."]
    if quiz is not None:
        sender = next((s for s in check.senders if quiz.pk in s.quiz_ids), None)
        if sender is not None:
            parts.append(f"Its marks go as {sender.email} ({Source(sender.source).label.lower()}).")
    parts += [f"{p.message} Next step: {p.next_step}" for p in problems]
    return _level(problems), " ".join(parts)


def _level(problems: list[Problem]) -> str:
    if any(p.exit_code for p in problems):
        return "error"
    return "warning" if any(p.level == "warning" for p in problems) else "success"


def _named(students: list[Student]) -> str:
    return _listed(f"{s.roll_no} {s.name}".strip() for s in students)


def _listed(items: Iterable[str], *, quote: bool = False) -> str:
    items = list(items)
    shown = [f"“{i}”" if quote else i for i in items[:NAMED_STUDENTS]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


# --- the settings and Test connection (health page) -----------------------------------------


#: Asked about when the user has no tutorial quiz: any answer but 401/403 proves the token.
PROBE_COURSE_ID = "CONNECTION-TEST"


@dataclass(frozen=True)
class SyncConfiguration:
    enabled: bool
    url: str  # credentials and query removed
    token: str  # "set (••••)" or "not set", never the token
    problem: str  # why the client cannot start, or ""


def sync_configuration() -> SyncConfiguration:
    """How sync is configured, safe to show to staff."""
    url = (getattr(settings, "ACADEMIC_ANALYZER_URL", None) or "").strip()
    token = (getattr(settings, "ACADEMIC_ANALYZER_TOKEN", None) or "").strip()
    problem = ""
    if url:
        try:
            get_client()
        except AnalyzerConfigError as err:
            problem = config_problem(err)
    return SyncConfiguration(
        enabled=bool(url),
        url=masked_url(url) if url else "",
        token="set (••••)" if token else "not set",
        problem=problem,
    )


def config_problem(err: AnalyzerConfigError) -> str:
    """The settings error's message, unless it would show the token."""
    token = (getattr(settings, "ACADEMIC_ANALYZER_TOKEN", None) or "").strip()
    return str(err) if not token or token not in str(err) else "invalid settings"


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to Test connection: ``ok`` when the Analyzer answered and took the token."""

    ok: bool
    message: str


#: Reasons for which no answer came back at all.
_UNREACHED = frozenset({Reason.CONNECTION_ERROR, Reason.TIMEOUT})


def connection_test(*, course_id: str | None = None) -> ConnectionTest:
    """Make one harmless read (course detail) and say whether the Analyzer and token work, in
    the reason table's words. "Course not found" proves both: the token is checked first."""
    if not is_configured():
        return _failed(Reason.SYNC_DISABLED)
    try:
        get_client().course_detail(course_id=course_id or PROBE_COURSE_ID)
    except AnalyzerConfigError as err:
        return _failed(Reason.CONFIG_ERROR, detail=config_problem(err))
    except SyncRejectedError:
        pass
    except SyncError as err:
        reason = REASONS.get(err.reason, Reason.SYNC_ERROR)
        return _failed(reason, reached=reason not in _UNREACHED)
    # Proven working: inline deliveries need not wait for a probe or a resync to find out.
    problems_forget()
    return ConnectionTest(
        True, "Reachable, and the token was accepted: the Academic Analyzer answered."
    )


def _failed(reason: Reason, *, reached: bool = False, detail: str = "") -> ConnectionTest:
    """The reason's label (with ``detail``) and next step, "Reachable, but ..." if answered."""
    label = f"{reason.label}: {detail}" if detail else reason.label
    step = reason.next_step()
    if reached:
        label = f"Reachable, but {lower_first(label)}"
    text = step if step.startswith(label) else f"{label}. {step}"
    return ConnectionTest(False, text)


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
