"""Admin forms: a whole quiz — questions and their choices — edited on one page."""

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from quizzes.importing import (
    CORRECT_MARK,
    MAX_CHOICES,
    MAX_QUESTIONS,
    numeric_key_problem,
    same_choice_text,
)
from quizzes.models import AttemptAnswer, Choice, Course, Question, Quiz
from quizzes.scoring import MAX_RESPONSE_CHARS, parse_number


def parse_choices_text(text: str) -> list[tuple[str, bool]]:
    """One choice per line; a leading `*` marks a correct one."""
    choices = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        correct = line.startswith(CORRECT_MARK)
        choices.append((line.lstrip(CORRECT_MARK).strip(), correct))
    return choices


def format_choices_text(choices) -> str:
    return "\n".join(f"{CORRECT_MARK if c.is_correct else ''}{c.text}" for c in choices)


def selected_choice_ids(choice_ids) -> set[int]:
    """Which of these choices some student selected in an answer. One query (none for none)."""
    if not choice_ids:
        return set()
    through = AttemptAnswer.selected_choices.through
    return set(
        through.objects.filter(choice_id__in=list(choice_ids))
        .values_list("choice_id", flat=True)
        .distinct()
    )


def selected_choice_error(texts) -> str:
    names = ", ".join(f"“{t}”" for t in texts)
    return (
        f"Students selected {names}: a choice students selected cannot be removed or "
        "re-worded, or their recorded answers would change. Keep its text (untick * if it is "
        "wrong; the quiz is then regraded) and add a new choice instead."
    )


def match_choices(existing, wanted):
    """Pair the wanted (text, correct) lines with existing choices BY TEXT: a reorder or a
    key change keeps each choice (and the answers that selected it); a new text is a new
    choice. Returns ([(choice or None, text, correct, order)], [existing choices left over])."""
    pool: dict[str, list] = {}
    for choice in existing:
        pool.setdefault(choice.text, []).append(choice)
    paired = []
    for index, (text, correct) in enumerate(wanted):
        same = pool.get(text)
        paired.append((same.pop(0) if same else None, text, correct, index))
    return paired, [c for left in pool.values() for c in left]


# The question types a teacher picks from on the quiz page: one select, so a question's row
# posts as many fields as before (the 1,000-field cap, quizzes/importing.py), and each type's
# answer is written in the one "Choices or answer" box.
QUESTION_TYPES = [
    ("single", "Single answer (radio buttons)"),
    ("multiple", "Multiple answers, all or nothing"),
    ("multiple_partial", "Multiple answers, partial credit (+1/k right, −1/k wrong, floor 0)"),
    ("true_false", "True / false"),
    ("numeric", "Numeric, with a tolerance"),
    ("short_answer", "Short answer, case must match"),
    ("short_answer_any_case", "Short answer, any case"),
]
TRUE_FALSE_CHOICES = ("True", "False")
NUMERIC_TEXT = re.compile(r"\s*(?P<value>[^±+\s]+)\s*(?:(?:±|\+/?-)\s*(?P<tolerance>\S+))?\s*")


def question_type_of(question: Question) -> str:
    """The admin's question type for a stored question."""
    kind = question.kind
    if kind == Question.Kind.CHOICE:
        if not question.multiple:
            return "single"
        partial = question.scoring == Question.Scoring.PARTIAL
        return "multiple_partial" if partial else "multiple"
    if kind == Question.Kind.SHORT_ANSWER and question.ignore_case:
        return "short_answer_any_case"
    return kind


def format_answer_text(question: Question) -> str:
    """The "Choices or answer" box for a stored question."""
    if question.kind == Question.Kind.NUMERIC:
        answer = question.numeric_answer
        assert answer is not None, "a numeric question has its value (question_numeric_has_answer)"
        value = f"{answer.normalize():f}"
        tolerance = question.numeric_tolerance
        return f"{value} ± {tolerance.normalize():f}" if tolerance else value
    if question.kind == Question.Kind.SHORT_ANSWER:
        return "\n".join(question.accepted_answer_list())
    if question.kind == Question.Kind.TRUE_FALSE:
        return next((c.text for c in question.choices.all() if c.is_correct), "")
    return format_choices_text(question.choices.all())


def parse_numeric_text(text: str) -> tuple[Decimal, Decimal]:
    """ "3.5 ± 0.1" (or "3.5 +- 0.1", or "3.5" for an exact value) -> (value, tolerance).
    Raises ValidationError naming the problem."""
    match = NUMERIC_TEXT.fullmatch(text)
    try:
        if match is None:
            raise ValueError(f"“{text.strip()}” is not a value")
        value = parse_number(match["value"])
        tolerance = parse_number(match["tolerance"]) if match["tolerance"] else Decimal(0)
    except ValueError:
        raise ValidationError(
            "Write the correct value and, if answers near it are right too, the tolerance: "
            "“3.5 ± 0.1” (or “3.5 +- 0.1”), or “3.5” for exactly 3.5."
        ) from None
    problem = numeric_key_problem(value, tolerance)
    if problem:
        raise ValidationError(problem)
    return value, tolerance


class QuestionInlineForm(forms.ModelForm):
    question_type = forms.ChoiceField(label="Type", choices=QUESTION_TYPES, initial="single")
    choices_text = forms.CharField(
        label="Choices or answer",
        required=False,  # each type says what is missing (clean)
        widget=forms.Textarea(attrs={"rows": 4, "cols": 50}),
        help_text="Choices: one per line, start correct ones with *, e.g. “*Syntax analysis”. "
        "True / false: “True” or “False”. Numeric: the value and its tolerance, “3.5 ± 0.1” "
        "(right from 3.4 to 3.6, edges included) or “3.5” for exactly 3.5. Short answer: one "
        "accepted answer per line; the student's answer must equal one after trimming spaces.",
    )

    class Meta:
        model = Question
        fields = ["order", "text", "points"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["question_type"].initial = question_type_of(self.instance)
            self.fields["choices_text"].initial = format_answer_text(self.instance)

    def clean_choices_text(self):
        """Checked in clean(), which knows the question's type."""
        return self.cleaned_data["choices_text"]

    def _clean_answer(self, kind: str, text: str):
        """The answer box for this type -> the choices to keep, as (text, correct) pairs;
        sets the type's other fields on the instance. Raises ValidationError."""
        question = self.instance
        question.kind = kind
        question.multiple = kind in ("multiple", "multiple_partial")
        question.scoring = (
            Question.Scoring.PARTIAL
            if kind == "multiple_partial"
            else Question.Scoring.ALL_OR_NOTHING
        )
        question.ignore_case = kind == "short_answer_any_case"
        question.numeric_answer, question.numeric_tolerance = None, Decimal(0)
        question.accepted_answers = ""
        if kind in ("single", "multiple", "multiple_partial"):
            question.kind = Question.Kind.CHOICE
            return self._clean_choices(text, multiple=question.multiple)
        if kind == "true_false":
            answer = text.strip().lstrip(CORRECT_MARK).strip().capitalize()
            if answer not in TRUE_FALSE_CHOICES:
                raise ValidationError("Write the right answer: “True” or “False”.")
            return [(choice, choice == answer) for choice in TRUE_FALSE_CHOICES]
        if kind == "numeric":
            question.numeric_answer, question.numeric_tolerance = parse_numeric_text(text)
            return []
        question.kind = Question.Kind.SHORT_ANSWER
        answers = [line.strip() for line in text.splitlines() if line.strip()]
        if not answers:
            raise ValidationError("Give at least one accepted answer, one per line.")
        if len(answers) > MAX_CHOICES:
            raise ValidationError(
                f"{len(answers)} accepted answers: a question has at most {MAX_CHOICES}."
            )
        if any(len(a) > MAX_RESPONSE_CHARS for a in answers):
            raise ValidationError(f"An accepted answer is at most {MAX_RESPONSE_CHARS} characters.")
        question.accepted_answers = "\n".join(answers)
        return []

    def _clean_choices(self, text: str, *, multiple: bool):
        choices = parse_choices_text(text)
        if len(choices) < 2:
            raise ValidationError("Give at least two choices, one per line.")
        if len(choices) > MAX_CHOICES:
            raise ValidationError(
                f"{len(choices)} choices: a question has at most {MAX_CHOICES} (MAX_CHOICES)."
            )
        if any(len(text) > 500 for text, _ in choices):
            raise ValidationError("A choice is at most 500 characters.")
        for i, (text, _) in enumerate(choices):
            if any(same_choice_text(text, other) for other, _ in choices[:i]):
                raise ValidationError(
                    f"“{text}” is given twice: each choice of a question reads differently."
                )
        if not any(correct for _, correct in choices):
            raise ValidationError("Mark at least one choice correct by starting its line with *.")
        if not multiple and sum(c for _, c in choices) > 1:
            raise ValidationError(
                "A single-answer question has exactly one correct choice; choose a “Multiple "
                "answers” type to allow several."
            )
        return choices

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs allow None)
        text, kind = cleaned.get("choices_text"), cleaned.get("question_type")
        choices = None
        if text is not None and kind:
            try:
                choices = self._clean_answer(kind, text)
            except ValidationError as err:
                self.add_error("choices_text", err)
        cleaned["choices_text"] = choices
        if choices is not None and self.instance.pk and not self.has_error("choices_text"):
            _, removed = match_choices(list(self.instance.choices.all()), choices)
            taken = selected_choice_ids(c.pk for c in removed)
            if taken:
                self.add_error(
                    "choices_text",
                    selected_choice_error(c.text for c in removed if c.pk in taken),
                )
        return cleaned

    def save(self, commit=True):
        question = super().save(commit=commit)
        if commit:
            self.save_choices()
        return question

    def save_choices(self):
        """Match choices by text (clean refused removing one a student selected): a reorder
        or a key change keeps each choice, so the answers that selected it keep their
        meaning; a new text is a new choice."""
        question = self.instance
        paired, removed = match_choices(
            list(question.choices.all()), self.cleaned_data["choices_text"]
        )
        kept = []
        for choice, text, correct, order in paired:
            if choice is None:
                choice = Choice(question=question, text=text)
            choice.is_correct, choice.order = correct, order
            kept.append(choice)
        Choice.objects.filter(pk__in=[c.pk for c in removed]).delete()
        Choice.objects.bulk_update([c for c in kept if c.pk], ["is_correct", "order"])
        Choice.objects.bulk_create([c for c in kept if not c.pk])


class QuestionInlineFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if len(kept) > MAX_QUESTIONS:
            raise ValidationError(
                f"{len(kept)} questions: a quiz has at most {MAX_QUESTIONS} (MAX_QUESTIONS), so "
                "that its pages stay under Django's 1,000-field limit. Split it into two quizzes."
            )
        total = sum(
            form.cleaned_data.get("points") or 0
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        if self.instance.is_published and total <= 0:
            raise ValidationError(
                "A published quiz needs at least one question worth points: add a question "
                "or untick “published”."
            )

    def save_existing(self, form, obj, commit=True):
        return form.save(commit=commit)


class ChoiceInlineFormSet(BaseInlineFormSet):
    """The single-question page edits choices row by row: a choice some student selected may
    not be deleted or re-worded there either (its correctness may change: a regrade)."""

    if TYPE_CHECKING:
        # BaseFormSet's own hook (DELETE ticked), which django-stubs does not declare.
        def _should_delete_form(self, form: forms.BaseForm) -> bool: ...

    def clean(self):
        super().clean()
        touched = {
            form.instance.pk: form.initial.get("text", form.instance.text)
            for form in self.initial_forms
            if form.instance.pk
            and (
                (self.can_delete and self._should_delete_form(form)) or "text" in form.changed_data
            )
        }
        taken = selected_choice_ids(touched)
        if taken:
            raise ValidationError(selected_choice_error(touched[pk] for pk in sorted(taken)))
        kept = [
            form.cleaned_data["text"]
            for form in self.forms
            if form.cleaned_data.get("text")
            and not (self.can_delete and self._should_delete_form(form))
        ]
        for i, text in enumerate(kept):
            if any(same_choice_text(text, other) for other in kept[:i]):
                raise ValidationError(
                    f"“{text}” is given twice: each choice of a question reads differently."
                )


class QuestionAdminForm(forms.ModelForm):
    """The single-question page: a new question may not take its quiz over the cap."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs allow None)
        quiz = cleaned.get("quiz")
        if (
            quiz is not None
            and quiz.pk != self.instance.quiz_id  # a new question, or one moving
            and quiz.questions.count() >= MAX_QUESTIONS
        ):
            self.add_error(
                "quiz",
                f"This quiz already has {MAX_QUESTIONS} questions, the most a quiz may have "
                "(MAX_QUESTIONS).",
            )
        self._check_type_fields(cleaned)
        return cleaned

    def _check_type_fields(self, cleaned):
        """The fields of the question's type are filled in and consistent."""
        kind = cleaned.get("kind")
        if (
            kind == Question.Kind.SHORT_ANSWER
            and not (cleaned.get("accepted_answers") or "").strip()
        ):
            self.add_error("accepted_answers", "Give at least one accepted answer, one per line.")
        if kind == Question.Kind.NUMERIC:
            value, tolerance = cleaned.get("numeric_answer"), cleaned.get("numeric_tolerance")
            if value is None:
                self.add_error("numeric_answer", "A numeric question needs its correct value.")
            elif tolerance is not None and (problem := numeric_key_problem(value, tolerance)):
                self.add_error("numeric_tolerance", problem)
        partial = cleaned.get("scoring") == Question.Scoring.PARTIAL
        if partial and not (kind == Question.Kind.CHOICE and cleaned.get("multiple")):
            self.add_error("scoring", "Partial credit is for multiple-answer choice questions.")


class QuizAdminForm(forms.ModelForm):
    # Set by the admin, to name the teacher's own quiz in slot errors.
    current_user: User | AnonymousUser | None = None

    class Meta:
        model = Quiz
        fields = [
            "title",
            "description",
            "is_published",
            "quiz_type",
            "course",
            "tutorial_number",
            "grading_method",
            "max_attempts",
            "review",
            "review_correctness",
            "review_score",
            "shuffle_questions",
            "shuffle_choices",
            "opens_at",
            "closes_at",
            "time_limit_minutes",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "course" in self.fields and self.current_user is not None:
            # Only the courses this teacher teaches: another course's id is not a valid choice.
            from quizzes.selectors import courses_visible

            field = cast("forms.ModelChoiceField[Course]", self.fields["course"])  # a ForeignKey's
            field.queryset = courses_visible(user=self.current_user)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data  # what ModelForm.clean returns (the stubs allow None)
        quiz_type = cleaned.get("quiz_type")
        if quiz_type == Quiz.QuizType.TUTORIAL:
            if not cleaned.get("course") and not self.has_error("course"):
                self.add_error("course", "A tutorial quiz needs its course, e.g. 19XW51.")
            if not cleaned.get("tutorial_number"):
                self.add_error("tutorial_number", "A tutorial quiz needs a tutorial number 1–4.")
        elif quiz_type == Quiz.QuizType.PRACTICE:
            cleaned["tutorial_number"] = None
        self._check_creator_teaches(cleaned)
        self._check_slot_free(cleaned)
        opens_at, closes_at = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens_at and closes_at and closes_at <= opens_at:
            self.add_error("closes_at", "The quiz must close after it opens.")
        if self.instance.pk and self.instance.attempts.exists():
            locked = ("quiz_type", "course", "tutorial_number")
            original = Quiz.objects.values(*locked).get(pk=self.instance.pk)
            for field in locked:
                new = getattr(cleaned.get(field), "pk", cleaned.get(field))
                if field in cleaned and new != original[field]:
                    self.add_error(
                        field,
                        "This quiz has attempts, so its marks belong to this slot: it cannot "
                        "change. Create a new quiz instead.",
                    )
        return cleaned

    def _check_creator_teaches(self, cleaned):
        """Moving another teacher's quiz: its creator must teach the new course too."""
        course = cleaned.get("course")
        if course is None or self.has_error("course") or self.current_user is None:
            return
        if not self.instance.pk or course.pk == self.instance.course_id:
            return
        from quizzes.services import NotCourseTeacher, quiz_course_check

        try:
            quiz_course_check(
                user=self.current_user, creator=self.instance.created_by, course_id=course.pk
            )
        except NotCourseTeacher as exc:
            self.add_error("course", str(exc))

    def _check_slot_free(self, cleaned):
        """A published tutorial quiz needs its course's tutorial slot to itself.

        Checked here, not only by the database constraint, because the slot fields are
        read-only once a quiz has attempts and the constraint check then skips them.
        """

        def value(name):
            return cleaned[name] if name in cleaned else getattr(self.instance, name)

        from quizzes.services import slot_holder

        course, tutorial = value("course"), value("tutorial_number")
        course_id = getattr(course, "pk", None)
        if value("quiz_type") != Quiz.QuizType.TUTORIAL or not value("is_published"):
            return
        slot_fields = ("quiz_type", "course", "tutorial_number", "is_published")
        if not course_id or not tutorial or any(self.has_error(f) for f in slot_fields):
            return
        taken = slot_holder(
            course_id=course_id, tutorial_number=tutorial, exclude_pk=self.instance.pk
        )
        if taken is None:
            return
        if not taken.is_published:
            self.add_error(
                "tutorial_number" if "tutorial_number" in self.fields else "is_published",
                f"{course_id} tutorial {tutorial} has students' attempts on the quiz "
                f"“{taken.title}”, so its marks come from that quiz only: republish it, or "
                "pick another tutorial number.",
            )
            return
        owner_id = self.instance.created_by_id or getattr(self.current_user, "pk", None)
        mine = taken.created_by_id == owner_id
        which = f"your quiz “{taken.title}”" if mine else "a quiz by another teacher"
        field = "tutorial_number" if "tutorial_number" in self.fields else "is_published"
        self.add_error(
            field,
            "Another published tutorial quiz already sets this course's tutorial mark. "
            f"{course_id} tutorial {tutorial} is taken by {which}: pick another tutorial "
            "number, or save this quiz unpublished.",
        )
