"""Integrity lives in the database: each rule is checked by objects.create, not full_clean."""

from contextlib import contextmanager

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from quizzes.models import COURSE_ID_VALIDATOR, Question, Quiz, QuizAttempt
from tests.factories import make_course, make_quiz, make_student


def create_quiz(teacher, **fields):
    # An empty course id is "no course" (NULL) now; a named course must exist (a foreign key).
    if fields.get("course_id") == "":
        fields["course_id"] = None
    if fields.get("course_id", "19XW51"):
        make_course(fields.get("course_id", "19XW51"))
    values = dict(
        title="Compilers Tutorial 1",
        quiz_type=Quiz.QuizType.TUTORIAL,
        course_id="19XW51",
        tutorial_number=1,
        created_by=teacher,
        is_published=True,
    )
    values.update(fields)
    return Quiz.objects.create(**values)


@contextmanager
def rejected_by_db():
    """Expect an IntegrityError, inside a savepoint so PostgreSQL's transaction stays usable."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


def test_a_valid_tutorial_quiz_is_accepted(teacher):
    quiz = create_quiz(teacher)
    assert quiz.pk is not None
    assert quiz.is_tutorial()
    assert quiz.grading_method == Quiz.GradingMethod.HIGHEST
    assert quiz.max_attempts is None


def test_tutorial_quiz_without_course_id_is_rejected(teacher):
    with rejected_by_db():
        create_quiz(teacher, course_id="")


@pytest.mark.parametrize("number", [0, 5, None])
def test_tutorial_quiz_needs_a_tutorial_number_1_to_4(teacher, number):
    with rejected_by_db():
        create_quiz(teacher, tutorial_number=number)


@pytest.mark.parametrize("number", [1, 4])
def test_tutorial_numbers_1_and_4_are_accepted(teacher, number):
    assert create_quiz(teacher, tutorial_number=number).tutorial_number == number


def test_practice_quiz_needs_no_course_or_tutorial_number(teacher):
    quiz = create_quiz(
        teacher, quiz_type=Quiz.QuizType.PRACTICE, course_id="", tutorial_number=None
    )
    assert not quiz.is_tutorial()


def test_practice_quiz_cannot_claim_tutorial_number_5(teacher):
    with rejected_by_db():
        create_quiz(teacher, quiz_type=Quiz.QuizType.PRACTICE, tutorial_number=5)


def test_two_published_tutorial_quizzes_cannot_share_a_slot(teacher):
    create_quiz(teacher, title="First")
    with rejected_by_db():
        create_quiz(teacher, title="Second")


def test_an_unpublished_quiz_may_share_a_published_slot(teacher):
    create_quiz(teacher, title="Live")
    draft = create_quiz(teacher, title="Next year's draft", is_published=False)
    assert draft.pk is not None


def test_the_same_tutorial_number_in_another_course_is_a_different_slot(teacher):
    create_quiz(teacher, course_id="19XW51")
    assert create_quiz(teacher, course_id="19XW52").pk is not None


def test_two_published_practice_quizzes_are_fine(teacher):
    for title in ("Warm-up 1", "Warm-up 2"):
        create_quiz(
            teacher,
            title=title,
            quiz_type=Quiz.QuizType.PRACTICE,
            course_id="",
            tutorial_number=None,
        )
    assert Quiz.objects.filter(quiz_type=Quiz.QuizType.PRACTICE).count() == 2


def test_max_attempts_zero_is_rejected(teacher):
    with rejected_by_db():
        create_quiz(teacher, max_attempts=0)


def test_max_attempts_null_means_unlimited_and_1_is_fine(teacher):
    assert create_quiz(teacher, max_attempts=None).max_attempts is None
    assert create_quiz(teacher, course_id="19XW52", max_attempts=1).max_attempts == 1


def test_one_attempt_in_progress_per_student_and_quiz(student):
    quiz = make_quiz()
    QuizAttempt.objects.create(student=student, quiz=quiz)
    with rejected_by_db():
        QuizAttempt.objects.create(student=student, quiz=quiz)


def test_completed_attempts_do_not_block_a_new_one(student):
    quiz = make_quiz()
    QuizAttempt.objects.create(student=student, quiz=quiz, completed_at=timezone.now())
    QuizAttempt.objects.create(student=student, quiz=quiz, completed_at=timezone.now())
    assert QuizAttempt.objects.create(student=student, quiz=quiz).pk is not None


def test_another_student_has_their_own_attempt_in_progress(student):
    quiz = make_quiz()
    QuizAttempt.objects.create(student=student, quiz=quiz)
    assert QuizAttempt.objects.create(student=make_student(), quiz=quiz).pk is not None


@pytest.mark.parametrize("points", [0, -1])
def test_question_points_must_be_positive(teacher, points):
    quiz = create_quiz(teacher, is_published=False)
    with rejected_by_db():
        Question.objects.create(quiz=quiz, text="Why?", points=points)


def test_attempt_score_stays_within_0_to_10(student):
    quiz = make_quiz()
    with rejected_by_db():
        QuizAttempt.objects.create(
            student=student, quiz=quiz, completed_at=timezone.now(), score="10.01"
        )


@pytest.mark.parametrize("course_id", ["19XW51", "19XW51-2021", "CS-101-2021-25", "AB"])
def test_course_ids_as_the_analyzer_makes_them_are_valid(course_id):
    # Upstream's create-course names a course `<courseCode>-<batch>`.
    COURSE_ID_VALIDATOR(course_id)


@pytest.mark.parametrize("course_id", ["-19XW", "19XW-", "19xw51", "19 XW", "A", "X" * 21])
def test_other_course_ids_are_refused(course_id):
    with pytest.raises(ValidationError):
        COURSE_ID_VALIDATOR(course_id)
