"""Reads for the student pages."""

from django.db.models import Count, Max, OuterRef, Q, Subquery

from quizzes.models import Question, Quiz, QuizAttempt, QuizRegrade


def student_quiz_list(*, student):
    """Published quizzes with the student's attempts used, best and latest score: one query."""
    mine = Q(attempts__student=student, attempts__completed_at__isnull=False)
    latest = QuizAttempt.objects.filter(
        quiz=OuterRef("pk"), student=student, completed_at__isnull=False
    ).order_by("-completed_at")
    return (
        Quiz.objects.filter(is_published=True)
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


def student_mark(*, student, quiz):
    """The student's tutorial mark for the quiz's slot, or None (practice, or no mark yet)."""
    from academic_integration.models import TutorialMark

    if not quiz.is_tutorial():
        return None
    return TutorialMark.objects.filter(
        student=student, course_id=quiz.course_id, tutorial_number=quiz.tutorial_number
    ).first()


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


def regrade_since(*, quiz, moment):
    """The latest regrade of the quiz after ``moment`` (an attempt's submit), or None."""
    return QuizRegrade.objects.filter(quiz=quiz, changed_at__gt=moment).first()
