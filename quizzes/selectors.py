"""Reads for the student pages, and who owns what.

A course's teachers own its quizzes, their attempts and its marks; a practice quiz without a
course belongs to its creator. Superusers own everything. Students see the quizzes of the
courses they are enrolled in, and practice quizzes without a course.
"""

from datetime import datetime

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from quizzes.marks import mark_source
from quizzes.models import Course, Question, Quiz, QuizAttempt, QuizRegrade, StudentException
from quizzes.rules import QuizRules


def taught_course_ids(*, user) -> QuerySet:
    """The ids of the courses the user teaches, as a subquery (no query of its own)."""
    return Course.teachers.through.objects.filter(user_id=user.pk).values("course_id")


def enrolled_course_ids(*, student) -> QuerySet:
    return Course.students.through.objects.filter(user_id=student.pk).values("course_id")


def courses_visible(*, user) -> QuerySet[Course]:
    courses = Course.objects.all()
    return courses if user.is_superuser else courses.filter(pk__in=taught_course_ids(user=user))


def quiz_owner_q(*, user, prefix: str = "") -> Q:
    """Quizzes (reached through `prefix`, e.g. "quiz__") owned by the user; not for superusers."""
    return Q(**{f"{prefix}course__in": taught_course_ids(user=user)}) | Q(
        **{f"{prefix}course__isnull": True, f"{prefix}created_by": user}
    )


def quizzes_owned(*, user) -> QuerySet[Quiz]:
    quizzes = Quiz.objects.all()
    return quizzes if user.is_superuser else quizzes.filter(quiz_owner_q(user=user))


def student_quiz_q(*, student, prefix: str = "") -> Q:
    """Quizzes a student may take: of courses they are enrolled in, or without a course."""
    return Q(**{f"{prefix}course__isnull": True}) | Q(
        **{f"{prefix}course__in": enrolled_course_ids(student=student)}
    )


def student_quizzes(*, student) -> QuerySet[Quiz]:
    """Published quizzes the student may take, each with its course (students read the
    course's name: slot_label) and the student's exception (`quiz_rules_for` reads it)."""
    return (
        Quiz.objects.filter(student_quiz_q(student=student), is_published=True)
        .select_related("course")
        .annotate(**_exception_annotations(student=student))
    )


# --- a student's rules: the quiz's, widened by their exception (quizzes/rules.py) ------------

#: What `student_quizzes` annotates each quiz with: the student's exception and the latest
#: closing of any exception of the quiz. Subqueries: the same one query for any list. Which
#: student they are for is annotated too, so they are never read for another.
_EXCEPTION_FIELDS = ("extra_attempts", "closes_at", "extra_minutes")
_LAST_CLOSES = "exceptions_last_closes_at"
_FOR_STUDENT = "exceptions_student_id"


def _exception_annotations(*, student) -> dict:
    mine = StudentException.objects.filter(quiz=OuterRef("pk"), student_id=student.pk)
    last = (
        StudentException.objects.filter(quiz=OuterRef("pk"))
        .order_by()
        .values("quiz")
        .annotate(last=Max("closes_at"))
        .values("last")
    )
    return {
        **{f"exception_{f}": Subquery(mine.values(f)[:1]) for f in _EXCEPTION_FIELDS},
        _LAST_CLOSES: Subquery(last),
        _FOR_STUDENT: Value(student.pk, output_field=IntegerField()),
    }


def quiz_rules_for(*, quiz: Quiz, student=None, student_id: int | None = None) -> QuizRules:
    """The student's effective rules for the quiz: closing, submit deadline, attempts, extra
    time and when they see the key. No query for a quiz from `student_quizzes` (its
    annotations are this student's), one otherwise. The student, or only their id."""
    if student is not None:
        student_id = student.pk
    if getattr(quiz, _FOR_STUDENT, None) == student_id:
        mine = {f: getattr(quiz, f"exception_{f}") for f in _EXCEPTION_FIELDS}
        last = getattr(quiz, _LAST_CLOSES)
    else:
        theirs = Q(student_id=student_id)
        row = StudentException.objects.filter(quiz=quiz).aggregate(
            last=Max("closes_at"),
            **{f: Max(f, filter=theirs) for f in _EXCEPTION_FIELDS},
        )
        last = row.pop("last")
        mine = row
    return QuizRules.build(quiz, **mine, last_closes_at=last)


def attempts_rules(attempts) -> dict[int, QuizRules]:
    """`quiz_rules_for` of each attempt (its quiz loaded), by attempt id, reading the quizzes'
    exceptions in one query whatever the number of attempts (the overdue batch's entry)."""
    attempts = list(attempts)
    exceptions: dict[tuple[int, int], StudentException] = {}
    last: dict[int, datetime] = {}
    for exception in StudentException.objects.filter(
        quiz_id__in={a.quiz_id for a in attempts}
    ).only("quiz_id", "student_id", *_EXCEPTION_FIELDS):
        exceptions[exception.quiz_id, exception.student_id] = exception
        if exception.closes_at is not None:
            known = last.get(exception.quiz_id)
            last[exception.quiz_id] = (
                max(known, exception.closes_at) if known else exception.closes_at
            )
    rules = {}
    for attempt in attempts:
        mine = exceptions.get((attempt.quiz_id, attempt.student_id))
        fields = {f: getattr(mine, f) for f in _EXCEPTION_FIELDS} if mine else {}
        rules[attempt.pk] = QuizRules.build(
            attempt.quiz, **fields, last_closes_at=last.get(attempt.quiz_id)
        )
    return rules


def student_quiz_list(*, student):
    """Published quizzes with the student's attempts used, best and latest score: one query."""
    mine = Q(attempts__student=student, attempts__completed_at__isnull=False)
    latest = QuizAttempt.objects.filter(
        quiz=OuterRef("pk"), student=student, completed_at__isnull=False
    ).order_by("-completed_at")
    return (
        student_quizzes(student=student)
        .annotate(
            attempts_used=Count("attempts", filter=mine),
            best_score=Max("attempts__score", filter=mine),
            latest_score=Subquery(latest.values("score")[:1]),
        )
        .order_by("course_id", "tutorial_number", "title")
    )


def quizzes_with_attempt_counts(queryset: QuerySet[Quiz]) -> QuerySet[Quiz]:
    """Annotate quizzes with ``attempt_count``: submitted attempts (a subquery: one query).
    An attempt opened but never submitted is not counted, as the results grid does not."""
    attempts = (
        QuizAttempt.objects.filter(quiz=OuterRef("pk"), completed_at__isnull=False)
        .order_by()
        .values("quiz")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        attempt_count=Coalesce(Subquery(attempts, output_field=IntegerField()), Value(0))
    )


def quiz_questions(*, quiz):
    return Question.objects.filter(quiz=quiz).prefetch_related("choices")


def student_attempts(*, student, quiz):
    return QuizAttempt.objects.filter(
        student=student, quiz=quiz, completed_at__isnull=False
    ).order_by("-completed_at")


def student_mark(*, student, quiz):
    """The student's tutorial mark for the quiz's slot, or None (practice, or no mark yet),
    from the mark source (quizzes/marks.py)."""
    if not quiz.is_tutorial():
        return None
    return mark_source().slot_mark(student_id=student.pk, quiz=quiz)


def mark_for_attempt(*, attempt):
    """The tutorial mark an attempt feeds, or None (practice quizzes have none)."""
    quiz = attempt.quiz
    if not quiz.is_tutorial():
        return None
    return mark_source().slot_mark(student_id=attempt.student_id, quiz=quiz)


def counted_attempt_order(method: str) -> tuple[str, ...]:
    """The order that puts first the attempt whose score is the mark, as
    scoring.counting_attempt picks it: the latest, or the highest (the first on a tie)."""
    if method == Quiz.GradingMethod.LATEST:
        return ("-completed_at", "-pk")
    return ("-score", "completed_at", "pk")


def counted_attempt_id(*, quiz: Quiz, student) -> Subquery:
    """The id of the student's attempt that counts on ``quiz`` (None without one), as a
    subquery; ``student`` is usually an OuterRef."""
    attempts = QuizAttempt.objects.filter(
        quiz=quiz, student=student, completed_at__isnull=False, score__isnull=False
    ).order_by(*counted_attempt_order(quiz.grading_method))
    return Subquery(attempts.values("pk")[:1], output_field=IntegerField())


def counted_attempts(*, quiz: Quiz) -> QuerySet[QuizAttempt]:
    """Each student's attempt that counts on the quiz: one per student who submitted one."""
    return QuizAttempt.objects.filter(
        quiz=quiz, pk=counted_attempt_id(quiz=quiz, student=OuterRef("student"))
    )


def regrade_since(*, quiz, moment):
    """The latest regrade of the quiz after ``moment`` (an attempt's submit), or None."""
    return QuizRegrade.objects.filter(quiz=quiz, changed_at__gt=moment).first()


# --- results grids ---------------------------------------------------------------------------

#: The results grid's status filter: (label, what it keeps).
RESULT_FILTERS = {
    "not_attempted": "Not attempted yet",
    "attempted": "Attempted",
    "undelivered": "Mark not delivered",
    "delivered": "Mark delivered",
}


def _attempts_used(*, quiz_ids) -> Coalesce:
    """Completed attempts of the row's student on these quizzes, as a subquery (0 when none)."""
    attempts = (
        QuizAttempt.objects.filter(
            student=OuterRef("pk"), quiz_id__in=quiz_ids, completed_at__isnull=False
        )
        .order_by()
        .values("student")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(attempts, output_field=IntegerField()), Value(0))


def _slot_annotations(*, course_id: str, tutorial_number: int, quiz_ids, prefix: str) -> dict:
    marks = mark_source().slot_columns(course_id=course_id, tutorial_number=tutorial_number)
    return {
        f"{prefix}attempts": _attempts_used(quiz_ids=quiz_ids),
        f"{prefix}mark": marks["mark"],
        f"{prefix}status": marks["status"],
    }


def _results_filter(rows, *, status: str | None, search: str | None, prefixes: list[str]):
    if search:
        rows = rows.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    any_attempt = Q()
    for prefix in prefixes:
        any_attempt |= Q(**{f"{prefix}attempts__gt": 0})
    if status == "not_attempted":
        rows = rows.exclude(any_attempt)
    elif status == "attempted":
        rows = rows.filter(any_attempt)
    elif status in ("undelivered", "delivered"):
        done = mark_source().delivered
        delivered = Q()
        undelivered = Q()
        for prefix in prefixes:
            delivered |= Q(**{f"{prefix}status": done})
            undelivered |= Q(**{f"{prefix}status__isnull": False}) & ~Q(**{f"{prefix}status": done})
        rows = rows.filter(delivered if status == "delivered" else undelivered)
    return rows


def quiz_results(*, quiz: Quiz, status: str | None = None, search: str | None = None):
    """Every enrolled student of the quiz's course with attempts used on this quiz, the id of
    their attempt that counts (``counted_attempt``), and the mark of its slot (the one that
    counts) with its sync status: one query."""
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(courses_enrolled=quiz.course_id).order_by("username")
    if quiz.is_tutorial():
        # A tutorial quiz has both (the constraint quiz_tutorial_has_course_and_slot).
        assert quiz.course_id is not None and quiz.tutorial_number is not None
        rows = rows.annotate(
            **_slot_annotations(
                course_id=quiz.course_id,
                tutorial_number=quiz.tutorial_number,
                quiz_ids=[quiz.pk],
                prefix="",
            )
        )
    else:
        rows = rows.annotate(
            attempts=_attempts_used(quiz_ids=[quiz.pk]),
            mark=Value(None, output_field=IntegerField()),
            status=Value(None, output_field=IntegerField()),
        )
    rows = rows.annotate(counted_attempt=counted_attempt_id(quiz=quiz, student=OuterRef("pk")))
    return _results_filter(rows, status=status, search=search, prefixes=[""])


def course_slots(*, course: Course) -> dict[int, list[int]]:
    """Tutorial number -> ids of the course's tutorial quizzes in that slot (one query)."""
    slots: dict[int, list[int]] = {}
    for pk, number in (
        Quiz.objects.filter(course=course, quiz_type=Quiz.QuizType.TUTORIAL)
        .order_by("tutorial_number", "pk")
        .values_list("pk", "tutorial_number")
    ):
        assert number is not None  # a tutorial quiz has one (the model's constraint)
        slots.setdefault(number, []).append(pk)
    return slots


def course_results(*, course: Course, slots: dict[int, list[int]], status=None, search=None):
    """Every enrolled student with, per tutorial slot, attempts used, mark and status, and
    the id of their attempt that counts (``t<n>_counted``)."""
    from django.contrib.auth import get_user_model

    rows = get_user_model().objects.filter(courses_enrolled=course).order_by("username")
    annotations = {}
    for number, quiz_ids in slots.items():
        annotations.update(
            _slot_annotations(
                course_id=course.pk, tutorial_number=number, quiz_ids=quiz_ids, prefix=f"t{number}_"
            )
        )
        annotations[f"t{number}_counted"] = _slot_counted_attempt(quiz_ids=quiz_ids)
    rows = rows.annotate(**annotations)
    return _results_filter(rows, status=status, search=search, prefixes=[f"t{n}_" for n in slots])


def _slot_counted_attempt(*, quiz_ids) -> Subquery:
    """The id of the row's student's attempt that counts among these quizzes' (a tutorial
    slot's), each ordered by its quiz's grading method: a slot's quizzes share one, else the
    latest-graded ones come first."""
    latest = Case(When(quiz__grading_method=Quiz.GradingMethod.LATEST, then=F("completed_at")))
    attempts = QuizAttempt.objects.filter(
        student=OuterRef("pk"),
        quiz_id__in=quiz_ids,
        completed_at__isnull=False,
        score__isnull=False,
    ).order_by(latest.desc(nulls_last=True), "-score", "completed_at", "pk")
    return Subquery(attempts.values("pk")[:1], output_field=IntegerField())


def exception_summaries(*, quiz_ids) -> dict[int, dict[int, str]]:
    """Student id -> quiz id -> what their exception gives ("1 extra attempt, closes …"), for the
    results grids' exception column: one query, whatever the number of students."""
    summaries: dict[int, dict[int, str]] = {}
    for exception in StudentException.objects.filter(quiz_id__in=quiz_ids).only(
        "quiz_id", "student_id", "extra_attempts", "closes_at", "extra_minutes"
    ):
        summaries.setdefault(exception.student_id, {})[exception.quiz_id] = exception.summary()
    return summaries
