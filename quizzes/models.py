from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import dateformat, timezone

from quizzes.rules import QuizRules

# The Analyzer's own create-course names a course `<courseCode>-<batch>` (19XW51-2021), so a
# hyphen is allowed between the letters and digits.
COURSE_ID_VALIDATOR = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{0,18}[A-Z0-9]$",
    "A course id is 2–20 capital letters, digits and inner hyphens, as the Academic Analyzer "
    "shows it, e.g. 19XW51 or 19XW51-2021.",
)


#: A time limit longer than a day is a typo (or a quiz that should close instead).
MAX_TIME_LIMIT_MINUTES = 24 * 60


class Course(models.Model):
    """A course as the Academic Analyzer knows it: its teachers own its quizzes and marks."""

    # The primary key IS the Analyzer's course id, so `quiz.course_id` and `mark.course_id`
    # keep meaning the id that is sent.
    id = models.CharField(
        "course id", primary_key=True, max_length=20, validators=[COURSE_ID_VALIDATOR]
    )
    name = models.CharField(max_length=200, blank=True)
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="courses_taught", blank=True
    )
    students = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="courses_enrolled", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.id} {self.name}".strip()


class Quiz(models.Model):
    class QuizType(models.TextChoices):
        TUTORIAL = "tutorial", "Tutorial (mark goes to the Academic Analyzer)"
        PRACTICE = "practice", "Practice (no mark)"

    class GradingMethod(models.TextChoices):
        HIGHEST = "highest", "Highest attempt"
        LATEST = "latest", "Latest attempt"

    class Review(models.TextChoices):
        """From when a student sees the answer key (`review`), right/wrong per question
        (`review_correctness`) and the score (`review_score`): Moodle's review options,
        reduced to one moment each."""

        IMMEDIATELY = "immediately", "Immediately after each attempt"
        AFTER_LAST_ATTEMPT = "after_last_attempt", "When the student has no attempts left"
        AFTER_CLOSE = "after_close", "After the quiz closes"
        NEVER = "never", "Never"

    #: An attempt in progress at closing time may still be submitted for this long.
    SUBMIT_GRACE = timedelta(minutes=5)

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    quiz_type = models.CharField(max_length=10, choices=QuizType.choices, default=QuizType.TUTORIAL)
    # Null for a practice quiz open to every student; `course_id` is the Analyzer's id.
    course = models.ForeignKey(
        Course, on_delete=models.PROTECT, null=True, blank=True, related_name="quizzes"
    )
    tutorial_number = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        help_text="1–4: the tutorialN mark this quiz sets in the Academic Analyzer.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="quizzes_created"
    )
    grading_method = models.CharField(
        max_length=10, choices=GradingMethod.choices, default=GradingMethod.HIGHEST
    )
    max_attempts = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Leave empty for unlimited attempts.",
    )
    review = models.CharField(
        "show the answer key",
        max_length=20,
        choices=Review.choices,
        default=Review.AFTER_LAST_ATTEMPT,
        help_text="“No attempts left” also covers a quiz that has closed; with unlimited "
        "attempts and no closing date the key is then never shown.",
    )
    review_correctness = models.CharField(
        "show right/wrong per question",
        max_length=20,
        choices=Review.choices,
        default=Review.IMMEDIATELY,
        help_text="Hide it until the last attempt or the close, so that retakes cannot find "
        "the key by elimination. Whenever the key is shown, right/wrong is too.",
    )
    review_score = models.CharField(
        "show the score",
        max_length=20,
        choices=Review.choices,
        default=Review.IMMEDIATELY,
        help_text="The score, the points and the mark as students see them. Held back, "
        "the mark still reaches the Academic Analyzer and you still see it here.",
    )
    opens_at = models.DateTimeField(
        "opens", null=True, blank=True, help_text="Empty: open as soon as it is published."
    )
    closes_at = models.DateTimeField(
        "closes",
        null=True,
        blank=True,
        help_text="Empty: never closes. An attempt in progress may still be submitted for "
        "5 minutes after closing.",
    )
    # Drawn once per attempt and kept on it (QuizAttempt.shuffled_order, quizzes/ordering.py).
    shuffle_questions = models.BooleanField(
        default=False,
        help_text="Each attempt gets its own order of the questions, kept for that attempt "
        "(a reload and the result page show the same order).",
    )
    shuffle_choices = models.BooleanField(
        default=False,
        help_text="Each attempt gets its own order of the choices of each choice question. "
        "True/false stays True, False. Avoid “all of the above” choices when on.",
    )
    time_limit_minutes = models.PositiveSmallIntegerField(
        "time limit (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TIME_LIMIT_MINUTES)],
        help_text="Empty: no time limit. Each attempt must be finished this many minutes "
        "after it starts (never later than the closing time); when the time is up it is "
        "submitted with the answers saved so far.",
    )
    is_published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["course_id", "tutorial_number", "title"]
        verbose_name_plural = "quizzes"
        constraints = [
            models.CheckConstraint(
                condition=Q(quiz_type="practice")
                | (
                    Q(quiz_type="tutorial")
                    & Q(course__isnull=False)
                    # Explicit: SQL lets a CHECK pass when it is NULL, so a bare range test
                    # would accept a tutorial quiz without a number.
                    & Q(tutorial_number__isnull=False)
                    & Q(tutorial_number__gte=1, tutorial_number__lte=4)
                ),
                name="quiz_tutorial_has_course_and_slot",
                violation_error_message=(
                    "A tutorial quiz needs a course id and a tutorial number 1–4."
                ),
            ),
            models.CheckConstraint(
                condition=Q(tutorial_number__isnull=True)
                | Q(tutorial_number__gte=1, tutorial_number__lte=4),
                name="quiz_tutorial_number_1_to_4",
                violation_error_message="The tutorial number is 1–4.",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__isnull=True) | Q(max_attempts__gte=1),
                name="quiz_max_attempts_positive",
                violation_error_message="Allow at least one attempt, or none for unlimited.",
            ),
            models.CheckConstraint(
                condition=Q(time_limit_minutes__isnull=True)
                | Q(time_limit_minutes__gte=1, time_limit_minutes__lte=MAX_TIME_LIMIT_MINUTES),
                name="quiz_time_limit_1_to_max",
                violation_error_message=(
                    f"The time limit is 1–{MAX_TIME_LIMIT_MINUTES} minutes, or empty for none."
                ),
            ),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True)
                | Q(closes_at__isnull=True)
                | Q(closes_at__gt=models.F("opens_at")),
                name="quiz_closes_after_opening",
                violation_error_message="The quiz must close after it opens.",
            ),
            models.UniqueConstraint(
                fields=["course", "tutorial_number"],
                condition=Q(quiz_type="tutorial", is_published=True),
                name="quiz_unique_published_tutorial_slot",
                violation_error_message=(
                    "Another published tutorial quiz already sets this course's tutorial mark."
                ),
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("quizzes:quiz", args=[self.pk])

    def is_tutorial(self) -> bool:
        return self.quiz_type == self.QuizType.TUTORIAL

    def shuffles(self) -> bool:
        return self.shuffle_questions or self.shuffle_choices

    # --- dates and review: quizzes/rules.py decides them all; student pages use
    # `quiz_rules_for(quiz=..., student=...)`, the quiz's rules plus their exception.

    def rules(self) -> QuizRules:
        """The quiz's own rules: those of a student without an exception."""
        return QuizRules.build(self)

    def is_timed(self) -> bool:
        return self.time_limit_minutes is not None

    @property
    def slot_label(self) -> str:
        if not self.is_tutorial():
            return "Practice"
        # The course's name when it came with the quiz (student pages select it); never a
        # query of its own, so lists and grids keep their pinned query counts.
        loaded = Quiz.course.is_cached(self)
        course = self.course.name if loaded and self.course else ""
        where = f"{course} ({self.course_id})" if course else self.course_id
        return f"{where} · tutorial {self.tutorial_number}"


class Question(models.Model):
    class Kind(models.TextChoices):
        CHOICE = "choice", "Choices (single or multiple answer)"
        TRUE_FALSE = "true_false", "True / false"
        NUMERIC = "numeric", "Numeric (a value with a tolerance)"
        SHORT_ANSWER = "short_answer", "Short answer (typed, exact match)"

    class Scoring(models.TextChoices):
        """How a multiple-answer question is scored (quizzes/scoring.py, choice_credit)."""

        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        PARTIAL = "partial", "Partial credit: +1/k per right choice, −1/k per wrong, floor 0"

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    text = models.TextField()
    kind = models.CharField("type", max_length=12, choices=Kind.choices, default=Kind.CHOICE)
    points = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1)])
    multiple = models.BooleanField(
        default=False,
        help_text="Multiple-answer: the student ticks every correct choice.",
    )
    scoring = models.CharField(
        max_length=14,
        choices=Scoring.choices,
        default=Scoring.ALL_OR_NOTHING,
        help_text="Multiple-answer only. With k correct choices, a student gets 1/k of the "
        "points for each correct choice ticked and loses 1/k for each wrong choice ticked, "
        "never below 0; all correct and nothing wrong is full points.",
    )
    numeric_answer = models.DecimalField(
        max_digits=18, decimal_places=6, null=True, blank=True, help_text="Numeric only."
    )
    numeric_tolerance = models.DecimalField(
        max_digits=18,
        decimal_places=6,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Numeric only: an answer within ± this of the value is right, edges included.",
    )
    accepted_answers = models.TextField(
        blank=True, help_text="Short answer only: one accepted answer per line."
    )
    ignore_case = models.BooleanField(
        default=False, help_text="Short answer only: “Paris” also accepts “paris”, “PARIS”."
    )
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="question_points_positive"),
            models.CheckConstraint(
                condition=~Q(kind="numeric")
                | (Q(numeric_answer__isnull=False) & Q(numeric_tolerance__gte=0)),
                name="question_numeric_has_answer",
                violation_error_message="A numeric question needs its value and a tolerance ≥ 0.",
            ),
        ]

    def __str__(self):
        return self.text[:80]

    def is_typed(self) -> bool:
        """The student types the answer (numeric, short answer) instead of picking choices."""
        return self.kind in (self.Kind.NUMERIC, self.Kind.SHORT_ANSWER)

    def accepted_answer_list(self) -> list[str]:
        return [line.strip() for line in self.accepted_answers.splitlines() if line.strip()]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=500)
    is_correct = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self):
        return self.text


class QuizAttempt(models.Model):
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    quiz = models.ForeignKey(Quiz, on_delete=models.PROTECT, related_name="attempts")
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # {"questions": [ids], "choices": {"<question id>": [ids]}}, drawn when the attempt starts
    # on a quiz that shuffles; null: the quiz's own order (quizzes/ordering.py).
    shuffled_order = models.JSONField(null=True, blank=True, editable=False)
    # Decimal: partial credit earns fractions of a point (rounded to 2 places; the score is
    # computed from the exact value).
    earned_points = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    total_points = models.PositiveIntegerField(null=True, blank=True)
    score = models.DecimalField(
        max_digits=4, decimal_places=2, null=True, blank=True, help_text="0–10"
    )
    # The version of the student's tutorial mark that first included this attempt; a
    # delivery of that version (or a later one) settles it.
    mark_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    marks_synced = models.BooleanField(default=False)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    # Answers saved while the attempt is in progress ("Save answers", or each change with
    # JavaScript), by question id as strings: {"answers": {"3": [7, 8]}, "responses": {"4":
    # "3.5"}}. Only validated answers are stored; the submit scores them when the time is up.
    draft = models.JSONField(default=dict, blank=True, editable=False)
    draft_saved_at = models.DateTimeField(null=True, blank=True, editable=False)
    submitted_automatically = models.BooleanField(
        default=False,
        editable=False,
        help_text="The time limit ran out: the answers saved by then were submitted.",
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One attempt in progress per student and quiz: two tabs share it.
            models.UniqueConstraint(
                fields=["student", "quiz"],
                condition=Q(completed_at__isnull=True),
                name="attempt_one_in_progress",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="attempt_score_0_to_10",
            ),
        ]
        indexes = [models.Index(fields=["student", "quiz", "completed_at"])]

    def __str__(self):
        return f"{self.student} · {self.quiz} · #{self.pk}"

    def get_absolute_url(self):
        return reverse("quizzes:attempt_result", args=[self.pk])

    def is_completed(self) -> bool:
        return self.completed_at is not None


class QuizRegrade(models.Model):
    """A change to a quiz's answer key or points that rescored its attempts: who, when, what."""

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="regrades")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    attempts_rescored = models.PositiveIntegerField()
    scores_changed = models.PositiveIntegerField()
    marks_recomputed = models.PositiveIntegerField()
    change = models.CharField(max_length=500, help_text="What changed, in words.")

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self):
        return f"{self.quiz} regraded {self.changed_at:%Y-%m-%d %H:%M}"


class AttemptAnswer(models.Model):
    attempt = models.ForeignKey(QuizAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    selected_choices = models.ManyToManyField(Choice, blank=True, related_name="+")
    # What a student typed for a numeric or short-answer question, trimmed; "" otherwise.
    response = models.CharField(max_length=200, blank=True)
    is_correct = models.BooleanField(default=False, help_text="Full points.")
    points_awarded = models.DecimalField(max_digits=9, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["attempt", "question"], name="answer_once_per_question")
        ]

    def __str__(self):
        return f"{self.attempt_id}/{self.question_id}"


#: An exception's ranges: more is a typo, not an accommodation (a later closing more than a
#: year after the quiz's own is 2062 typed for 2026).
MAX_EXTRA_ATTEMPTS = 20
MAX_EXTRA_MINUTES = 600
MAX_EXTENSION = timedelta(days=366)


class StudentException(models.Model):
    """One student's exception to one quiz's rules, set by the course's teachers (Canvas's
    "moderate", Moodle's "user overrides"): extra attempts, a later closing, extra time.

    An exception only ever gives more (docs/decisions/0022-per-student-exceptions.md): the
    student's rules are the quiz's, widened (quizzes/rules.py), never narrowed.
    """

    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="student_exceptions")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_exceptions"
    )
    extra_attempts = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_EXTRA_ATTEMPTS)],
        help_text=f"Attempts on top of the quiz's maximum (0–{MAX_EXTRA_ATTEMPTS}).",
    )
    closes_at = models.DateTimeField(
        "closes for this student",
        null=True,
        blank=True,
        help_text="Empty: the quiz's own closing. Must be after it; the 5-minute grace "
        "period for a submit on its way applies to this closing too.",
    )
    extra_minutes = models.PositiveSmallIntegerField(
        "extra time (minutes)",
        default=0,
        validators=[MaxValueValidator(MAX_EXTRA_MINUTES)],
        help_text=f"Added to a time-limited quiz's time limit (0–{MAX_EXTRA_MINUTES}).",
    )
    reason = models.CharField(
        max_length=200,
        help_text="Why, for the teachers (e.g. “medical certificate 3 Dec”). Never shown "
        "to students.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        editable=False,
        related_name="+",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["quiz_id", "student_id"]
        verbose_name = "student exception"
        constraints = [
            models.UniqueConstraint(
                fields=["quiz", "student"],
                name="exception_once_per_quiz_and_student",
                violation_error_message="This student already has an exception for this quiz: "
                "change that one.",
            ),
            models.CheckConstraint(
                condition=Q(extra_attempts__lte=MAX_EXTRA_ATTEMPTS)
                & Q(extra_minutes__lte=MAX_EXTRA_MINUTES),
                name="exception_values_in_range",
                violation_error_message="Extra attempts are 0–20 and extra time 0–600 minutes.",
            ),
            models.CheckConstraint(
                condition=Q(extra_attempts__gt=0)
                | Q(extra_minutes__gt=0)
                | Q(closes_at__isnull=False),
                name="exception_gives_something",
                violation_error_message="An exception gives something: extra attempts, a later "
                "closing or extra time.",
            ),
        ]

    def __str__(self):
        return f"{self.quiz} · {self.student} · {self.summary()}"

    def summary(self) -> str:
        """What it gives, for teachers: "1 extra attempt, closes 12 Dec 2026 18:00, 15 extra
        minutes" (no leading "+": a spreadsheet would read the grid's CSV cell as a formula)."""
        parts = []
        if self.extra_attempts:
            many = "s" if self.extra_attempts != 1 else ""
            parts.append(f"{self.extra_attempts} extra attempt{many}")
        if self.closes_at:
            parts.append(f"closes {admin_time(self.closes_at)}")
        if self.extra_minutes:
            parts.append(
                f"{self.extra_minutes} extra minute{'s' if self.extra_minutes != 1 else ''}"
            )
        return ", ".join(parts)

    def clean(self):
        """What needs the quiz and its course: run by the admin's form and the service."""
        if self.quiz_id is None:
            return
        quiz = self.quiz
        if quiz.course_id is None:
            raise ValidationError(
                {
                    "quiz": "A quiz without a course is open to every student: it has no roster "
                    "to make exceptions for."
                }
            )
        errors = {}
        if (
            self.student_id is not None
            and not Course.students.through.objects.filter(
                course_id=quiz.course_id, user_id=self.student_id
            ).exists()
        ):
            errors["student"] = f"This student is not on the roster of {quiz.course_id}."
        if self.closes_at is not None:
            if quiz.closes_at is None:
                errors["closes_at"] = "This quiz never closes: there is no closing to extend."
            elif self.closes_at <= quiz.closes_at:
                errors["closes_at"] = (
                    "A later closing must be after the quiz's own closing "
                    f"({admin_time(quiz.closes_at)}): an exception never shortens a "
                    "student's time."
                )
            elif self.closes_at > quiz.closes_at + MAX_EXTENSION:
                errors["closes_at"] = "A later closing is at most a year after the quiz's own."
        if self.extra_attempts and quiz.max_attempts is None:
            errors["extra_attempts"] = "This quiz allows unlimited attempts already."
        if self.extra_minutes and quiz.time_limit_minutes is None:
            errors["extra_minutes"] = "This quiz has no time limit: there is no time to add to."
        if errors:
            raise ValidationError(errors)


def admin_time(moment) -> str:
    """A moment as teachers read it in admin and the results grids: "12 Dec 2026 18:00"."""
    return dateformat.format(timezone.localtime(moment), "j M Y H:i")
