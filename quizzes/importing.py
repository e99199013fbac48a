"""Import a quiz from its JSON description, all or nothing, with errors that name the field.

A file is read by quiz_file_parse (quizzes/quiz_file.py), which refuses what json.loads would
take silently or crash on, and then checked by quiz_validate, which also refuses keys it
does not know and quizzes over the size caps.
"""

import difflib
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from quizzes.models import (
    COURSE_ID_VALIDATOR,
    MAX_TIME_LIMIT_MINUTES,
    Choice,
    Course,
    Question,
    Quiz,
)
from quizzes.quiz_file import QuizFileError, path_join
from quizzes.roles import TEACHERS_GROUP
from quizzes.scoring import MAX_RESPONSE_CHARS

# Bounds that keep values inside their columns on every database (a smallint for attempts).
MAX_POINTS = 1000
MAX_ATTEMPTS = 1000

# Size caps, so that a quiz's forms stay under Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000):
# the student's form sends at most one field per choice (all boxes ticked) and admin's quiz
# page about nine per question. Admin enforces the same caps (quizzes/admin_forms.py).
MAX_QUESTIONS = 100
MAX_CHOICES = 8

# Every key a quiz file may use, at each level. New keys are added here (and validated below).
QUIZ_KEYS = frozenset(
    {
        "title",
        "description",
        "quiz_type",
        "course_id",
        "tutorial_number",
        "created_by",
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
        "questions",
    }
)
QUESTION_KEYS = frozenset(
    {
        "text",
        "points",
        "type",
        "multiple",
        "scoring",
        "choices",
        "answer",
        "tolerance",
        "answers",
        "ignore_case",
    }
)
# Which of those each question type uses (besides text and points); others are refused.
TYPE_KEYS = {
    "choice": frozenset({"multiple", "scoring", "choices"}),
    "true_false": frozenset({"answer"}),
    "numeric": frozenset({"answer", "tolerance"}),
    "short_answer": frozenset({"answers", "ignore_case"}),
}
# A numeric key fits its column (18 digits, 6 after the point).
MAX_NUMERIC = Decimal(10) ** 12
NUMERIC_PLACES = 6
CHOICE_KEYS = frozenset({"text", "correct"})


#: Admin's choice lines mark a correct choice with it (quizzes/admin_forms.py).
CORRECT_MARK = "*"


def same_choice_text(a: str, b: str) -> bool:
    """Two choices a student could not tell apart (case and spacing aside). Admin pairs
    choices by text, so two alike in one question are refused by every path."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def numeric_key_problem(value: Decimal, tolerance: Decimal) -> str | None:
    """What is wrong with a numeric question's value and tolerance, or None. Used by the
    import and by admin."""
    for name, number in (("value", value), ("tolerance", tolerance)):
        if abs(number) >= MAX_NUMERIC:
            return f"the {name} must be less than 10^12 in size"
        exponent = number.as_tuple().exponent  # a letter only for NaN and infinities
        if isinstance(exponent, int) and exponent < -NUMERIC_PLACES:
            return f"the {name} has at most {NUMERIC_PLACES} digits after the decimal point"
    if tolerance < 0:
        return "the tolerance must be 0 or more"
    return None


@dataclass(frozen=True)
class ImportResult:
    quiz: Quiz
    teacher_created: bool


class _Checker:
    def __init__(self):
        self.errors: list[str] = []

    def fail(self, path: str, problem: str) -> None:
        self.errors.append(f"{path}: {problem}")

    def text(self, data: dict, key: str, path: str, *, max_length: int, required=True, lines=False):
        """A string of at most `max_length` characters without control characters (line
        breaks and tabs only where `lines`: a title or a choice is one line everywhere)."""
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "required: a non-empty string")
            return ""
        if len(value) > max_length:
            self.fail(path, f"at most {max_length} characters")
        allowed = "\n\r\t" if lines else ""
        bad = next(
            (c for c in value.strip() if unicodedata.category(c) == "Cc" and c not in allowed),
            None,
        )
        if bad is not None and bad != "\x00":  # NUL has its own message (no_nul)
            self.fail(path, f"contains a control character (U+{ord(bad):04X})")
        return value.strip()

    def integer(self, value, path: str, *, minimum: int, maximum: int | None = None):
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "must be a whole number")
            return None
        if value < minimum:
            self.fail(path, f"must be >= {minimum}" if minimum != 1 else "must be > 0")
            return None
        if maximum is not None and value > maximum:
            self.fail(path, f"must be between {minimum} and {maximum}")
            return None
        return value

    def course_id(self, data: dict, *, required: bool) -> str:
        if not required and data.get("course_id") in (None, ""):
            return ""
        value = self.text(data, "course_id", "course_id", max_length=20).upper()
        if value:
            try:
                COURSE_ID_VALIDATOR(value)
            except ValidationError as err:
                self.fail("course_id", err.messages[0])
        return value

    def known_keys(self, data: dict, known: frozenset, path: str) -> None:
        for key in data:
            if key in known:
                continue
            shown = str(key).replace("\x00", "\\u0000")
            where = path_join(path, shown if len(shown) <= 60 else f"{shown[:60]}…")
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean “{close[0]}”?)" if close else ""
            self.fail(where, f"unknown key{hint}; known keys: {', '.join(sorted(known))}")

    def no_nul(self, value, path: str) -> None:
        """PostgreSQL cannot store NUL in text, and no quiz needs one (\\u0000 in JSON)."""
        if isinstance(value, str):
            if "\x00" in value:
                self.fail(path or "(top level)", "contains a NUL character (\\u0000)")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.no_nul(item, path_join(path, str(key).replace("\x00", "\\u0000")))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.no_nul(item, f"{path}[{i}]")

    def moment(self, data: dict, key: str):
        """An ISO 8601 date and time with its time zone, or None when absent."""
        value = data.get(key)
        if value is None:
            return None
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(key, "must be an ISO 8601 date and time, e.g. 2026-12-01T09:00:00+05:30")
            return None
        if parsed.tzinfo is None:
            self.fail(key, "add the time zone, e.g. 2026-12-01T09:00:00+05:30 or ...T03:30:00Z")
            return None
        return parsed

    def boolean(self, data: dict, key: str) -> bool:
        """true or false, false when absent (JSON's, not 0/1 or "yes")."""
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.fail(key, "must be true or false")
        return value is True

    def choice(self, data, key, path, options, default):
        value = data.get(key, default)
        if value not in options:
            self.fail(path, f"must be one of {', '.join(options)}")
        return value


def quiz_validate(data) -> dict:
    """Check a quiz description; return cleaned values or raise QuizFileError listing all."""
    check = _Checker()
    if not isinstance(data, dict):
        raise QuizFileError(["(top level): must be a JSON object"])
    check.known_keys(data, QUIZ_KEYS, "")
    check.no_nul(data, "")
    clean = {
        "title": check.text(data, "title", "title", max_length=200),
        "description": check.text(
            data, "description", "description", max_length=5000, required=False, lines=True
        ),
        "quiz_type": check.choice(data, "quiz_type", "quiz_type", Quiz.QuizType.values, None),
        "grading_method": check.choice(
            data, "grading_method", "grading_method", Quiz.GradingMethod.values, "highest"
        ),
        # Review and dates (issue 12): when the key is shown, when the quiz opens and closes.
        "review": check.choice(
            data, "review", "review", Quiz.Review.values, Quiz.Review.AFTER_LAST_ATTEMPT
        ),
        "review_correctness": check.choice(
            data,
            "review_correctness",
            "review_correctness",
            Quiz.Review.values,
            Quiz.Review.IMMEDIATELY,
        ),
        "review_score": check.choice(
            data, "review_score", "review_score", Quiz.Review.values, Quiz.Review.IMMEDIATELY
        ),
        # Shuffling (issue 20): each attempt's own order of questions and of choices.
        "shuffle_questions": check.boolean(data, "shuffle_questions"),
        "shuffle_choices": check.boolean(data, "shuffle_choices"),
        "opens_at": check.moment(data, "opens_at"),
        "closes_at": check.moment(data, "closes_at"),
    }
    if clean["opens_at"] and clean["closes_at"] and clean["closes_at"] <= clean["opens_at"]:
        check.fail("closes_at", "must be after opens_at")
    course_id = data.get("course_id")
    tutorial_number = data.get("tutorial_number")
    if clean["quiz_type"] == Quiz.QuizType.TUTORIAL:
        course_id = check.course_id(data, required=True)
        tutorial_number = check.integer(tutorial_number, "tutorial_number", minimum=1, maximum=4)
    elif clean["quiz_type"] == Quiz.QuizType.PRACTICE:
        if tutorial_number is not None:
            check.fail("tutorial_number", "must be null or absent for a practice quiz")
        course_id = check.course_id(data, required=False)  # optional, but a real id if given
        tutorial_number = None
    clean["course_id"], clean["tutorial_number"] = course_id or "", tutorial_number

    max_attempts = data.get("max_attempts")
    if max_attempts is not None:
        max_attempts = check.integer(max_attempts, "max_attempts", minimum=1, maximum=MAX_ATTEMPTS)
    clean["max_attempts"] = max_attempts

    time_limit = data.get("time_limit_minutes")
    if time_limit is not None:
        time_limit = check.integer(
            time_limit, "time_limit_minutes", minimum=1, maximum=MAX_TIME_LIMIT_MINUTES
        )
    clean["time_limit_minutes"] = time_limit

    email = data.get("created_by")
    try:
        validate_email(email if isinstance(email, str) else "")
    except ValidationError:
        check.fail("created_by", "must be the teacher's email address")
    else:
        if isinstance(email, str) and len(email) > 150:  # the username of a new teacher
            check.fail("created_by", "at most 150 characters")
    clean["created_by"] = email.strip().lower() if isinstance(email, str) else ""

    clean["questions"] = _validate_questions(check, data.get("questions"))
    if check.errors:
        raise QuizFileError(check.errors)
    return clean


def _validate_questions(check: _Checker, questions) -> list[dict]:
    if not isinstance(questions, list) or not questions:
        check.fail("questions", "required: a non-empty list")
        return []
    if len(questions) > MAX_QUESTIONS:
        check.fail(
            "questions",
            f"{len(questions)} questions; a quiz has at most {MAX_QUESTIONS} (MAX_QUESTIONS), "
            "so that its forms stay under Django's 1,000-field limit: split it into several "
            "quizzes",
        )
        return []
    cleaned = []
    for i, question in enumerate(questions):
        path = f"questions[{i}]"
        if not isinstance(question, dict):
            check.fail(path, "must be an object")
            continue
        check.known_keys(question, QUESTION_KEYS, path)
        kind = question.get("type", "choice")
        if kind not in TYPE_KEYS:
            check.fail(f"{path}.type", f"must be one of {', '.join(TYPE_KEYS)}")
            continue
        for key in sorted(QUESTION_KEYS - TYPE_KEYS[kind] - {"text", "points", "type"}):
            if key in question:
                check.fail(f"{path}.{key}", f"not used by a {kind} question; remove it")
        item = {
            "text": check.text(question, "text", f"{path}.text", max_length=5000, lines=True),
            "points": check.integer(
                question.get("points"), f"{path}.points", minimum=1, maximum=MAX_POINTS
            ),
            "kind": kind,
            "multiple": False,
            "scoring": Question.Scoring.ALL_OR_NOTHING,
            "choices": [],
        }
        if kind == "choice":
            _validate_choices(check, question, path, item)
        elif kind == "true_false":
            answer = question.get("answer")
            if not isinstance(answer, bool):
                check.fail(f"{path}.answer", "required: true or false")
            item["choices"] = [
                {"text": "True", "correct": answer is True},
                {"text": "False", "correct": answer is False},
            ]
        elif kind == "numeric":
            _validate_numeric(check, question, path, item)
        else:
            _validate_short_answer(check, question, path, item)
        cleaned.append(item)
    return cleaned


def _validate_choices(check: _Checker, question: dict, path: str, item: dict) -> None:
    multiple = question.get("multiple", False)
    if not isinstance(multiple, bool):
        check.fail(f"{path}.multiple", "must be true or false")
    item["multiple"] = multiple is True
    scoring = question.get("scoring", Question.Scoring.ALL_OR_NOTHING)
    if scoring not in Question.Scoring.values:
        check.fail(f"{path}.scoring", f"must be one of {', '.join(Question.Scoring.values)}")
    elif scoring == Question.Scoring.PARTIAL and not item["multiple"]:
        check.fail(f"{path}.scoring", 'partial credit is for "multiple": true questions only')
    item["scoring"] = scoring
    choices = question.get("choices")
    if not isinstance(choices, list) or len(choices) < 2:
        check.fail(f"{path}.choices", "required: a list of at least two choices")
        choices = []
    elif len(choices) > MAX_CHOICES:
        check.fail(
            f"{path}.choices",
            f"{len(choices)} choices; a question has at most {MAX_CHOICES} (MAX_CHOICES)",
        )
        choices = []
    for j, choice in enumerate(choices):
        cpath = f"{path}.choices[{j}]"
        if not isinstance(choice, dict):
            check.fail(cpath, "must be an object")
            continue
        check.known_keys(choice, CHOICE_KEYS, cpath)
        correct = choice.get("correct", False)
        if not isinstance(correct, bool):
            check.fail(f"{cpath}.correct", "must be true or false")
        text = check.text(choice, "text", f"{cpath}.text", max_length=500)
        if text.startswith(CORRECT_MARK):
            check.fail(
                f"{cpath}.text",
                f"cannot start with {CORRECT_MARK}: admin's choice lines use it to mark "
                'the correct ones (use "correct": true)',
            )
        twin = next(
            (k for k, c in enumerate(item["choices"]) if same_choice_text(c["text"], text)),
            None,
        )
        if text and twin is not None:
            check.fail(
                f"{cpath}.text",
                f"the same text as choices[{twin}]; each choice of a question reads differently",
            )
        item["choices"].append({"text": text, "correct": correct is True})
    n_correct = sum(c["correct"] for c in item["choices"])
    if choices and n_correct == 0:
        check.fail(f"{path}.choices", 'mark at least one choice "correct": true')
    elif n_correct > 1 and not item["multiple"]:
        check.fail(
            f"{path}.choices",
            'a single-answer question has exactly one correct choice (or set "multiple": true)',
        )


def _json_number(check: _Checker, value, path: str, *, required: bool) -> Decimal | None:
    if value is None and not required:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        check.fail(path, "required: a number, e.g. 3.5" if required else "must be a number")
        return None
    # str() of a float is its shortest exact spelling: 0.1 stays 0.1, not 0.1000000000000000055.
    return Decimal(str(value))


def _validate_numeric(check: _Checker, question: dict, path: str, item: dict) -> None:
    value = _json_number(check, question.get("answer"), f"{path}.answer", required=True)
    tolerance = _json_number(check, question.get("tolerance"), f"{path}.tolerance", required=False)
    if value is None or tolerance is None:
        return
    problem = numeric_key_problem(value, tolerance)
    if problem:
        field = "tolerance" if problem.startswith("the tolerance") else "answer"
        check.fail(
            f"{path}.{field}", problem.removeprefix("the value ").removeprefix("the tolerance ")
        )
    item["numeric_answer"], item["numeric_tolerance"] = value, tolerance


def _validate_short_answer(check: _Checker, question: dict, path: str, item: dict) -> None:
    answers = question.get("answers")
    ignore_case = question.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        check.fail(f"{path}.ignore_case", "must be true or false")
    item["ignore_case"] = ignore_case is True
    if not isinstance(answers, list) or not answers:
        check.fail(f"{path}.answers", 'required: a list of accepted answers, e.g. ["Paris"]')
        return
    if len(answers) > MAX_CHOICES:
        check.fail(
            f"{path}.answers",
            f"{len(answers)} accepted answers; a question has at most {MAX_CHOICES}",
        )
        return
    kept = []
    for j, answer in enumerate(answers):
        apath = f"{path}.answers[{j}]"
        if not isinstance(answer, str) or not answer.strip():
            check.fail(apath, "must be a non-empty string")
        elif "\n" in answer or "\r" in answer:
            check.fail(apath, "must be one line")
        elif len(answer.strip()) > MAX_RESPONSE_CHARS:
            check.fail(apath, f"at most {MAX_RESPONSE_CHARS} characters")
        else:
            kept.append(answer.strip())
    item["accepted_answers"] = "\n".join(kept)


def teacher_get_or_create(*, email: str):
    """The staff user with this email, created in Teachers (no password) when missing.

    Only staff are looked up: a student whose email or username is a teacher's email (a
    roster can carry anything) never becomes a quiz's creator. Raises QuizFileError when
    such an account holds the email, rather than creating a second owner of it."""
    User = get_user_model()
    teacher = User.objects.filter(email__iexact=email, is_staff=True).order_by("pk").first()
    created = teacher is None
    if created:
        squatter = (
            User.objects.filter(Q(email__iexact=email) | Q(username__iexact=email))
            .order_by("pk")
            .first()
        )
        if squatter is not None:
            raise QuizFileError([_not_staff(email, squatter)])
        teacher = User(username=email, email=email, is_staff=True)
        teacher.set_unusable_password()
        teacher.save()
        teacher.groups.add(Group.objects.get(name=TEACHERS_GROUP))
    return teacher, created


def _not_staff(email: str, user) -> str:
    return (
        f"created_by: {email} belongs to the non-staff account {user.get_username()}, which "
        "cannot create quizzes; a superuser must check that account (a student's roster row "
        "may have taken the teacher's email) and fix it in admin"
    )


def _creator_for(clean: dict):
    """The quiz's creator: a teacher of its course (checked), or for a practice quiz without
    a course any teacher, created when missing. Raises QuizFileError naming `created_by`."""
    course_id = clean["course_id"]
    if not course_id:
        return teacher_get_or_create(email=clean["created_by"])
    teacher = (
        get_user_model()
        .objects.filter(
            email__iexact=clean["created_by"], is_staff=True, courses_taught__id=course_id
        )
        .order_by("pk")
        .first()
    )
    if teacher is None:
        known = Course.objects.filter(pk=course_id).exists()
        raise QuizFileError(
            [
                f"created_by: {clean['created_by']} is not a teacher of course {course_id}; "
                "only its teachers may add quizzes to it (import the course's roster with "
                "`manage.py import_roster`)"
                if known
                else f"course_id: course {course_id} does not exist here; import its roster "
                "first (`manage.py import_roster`)"
            ]
        )
    return teacher, False


@transaction.atomic
def quiz_import(*, data, publish: bool = True) -> ImportResult:
    """Create a quiz with its questions and choices from a description, all or nothing.

    Raises QuizFileError (nothing written) for an invalid description or a taken slot.
    """
    clean = quiz_validate(data)
    if clean["quiz_type"] == Quiz.QuizType.TUTORIAL and publish:
        from quizzes.services import slot_holder

        taken = slot_holder(course_id=clean["course_id"], tutorial_number=clean["tutorial_number"])
        if taken:
            how = "published quiz" if taken.is_published else "quiz with students' attempts"
            raise QuizFileError(
                [
                    f"tutorial_number: {clean['course_id']} tutorial {clean['tutorial_number']} "
                    f"is already set by the {how} “{taken.title}” (id {taken.pk})"
                ]
            )
    teacher, created = _creator_for(clean)
    questions = clean.pop("questions")
    clean.pop("created_by")
    clean["course_id"] = clean["course_id"] or None
    quiz = Quiz.objects.create(**clean, created_by=teacher, is_published=publish)
    rows = Question.objects.bulk_create(
        Question(
            quiz=quiz,
            order=i,
            **{key: value for key, value in q.items() if key != "choices"},
        )
        for i, q in enumerate(questions)
    )
    Choice.objects.bulk_create(
        Choice(question=row, text=c["text"], is_correct=c["correct"], order=j)
        for row, q in zip(rows, questions, strict=True)
        for j, c in enumerate(q["choices"])
    )
    return ImportResult(quiz, created)
