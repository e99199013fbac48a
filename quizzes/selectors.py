"""Reads for the student pages, and who owns what.

A course's teachers own its quizzes, their attempts and its marks; a practice quiz without a
course belongs to its creator. Superusers own everything. Students see the quizzes of the
courses they are enrolled in, and practice quizzes without a course.
"""

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from quizzes.models import Course, Question, Quiz, QuizAttempt


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
    return Quiz.objects.filter(student_quiz_q(student=student), is_published=True)


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


def quiz_questions(*, quiz):
    return Question.objects.filter(quiz=quiz).prefetch_related("choices")


def student_attempts(*, student, quiz):
    return QuizAttempt.objects.filter(
        student=student, quiz=quiz, completed_at__isnull=False
    ).order_by("-completed_at")


def mark_for_attempt(*, attempt):
    """The tutorial mark an attempt feeds, or None (practice quizzes have none)."""
    from academic_integration.models import TutorialMark

    quiz = attempt.quiz
    if not quiz.is_tutorial():
        return None
    return TutorialMark.objects.filter(
        student_id=attempt.student_id,
        course_id=quiz.course_id,
        tutorial_number=quiz.tutorial_number,
    ).first()
