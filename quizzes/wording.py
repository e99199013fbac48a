"""What the student is told about which attempt counts and the answer key, in plain words.

What they are told about the mark's delivery comes from the mark source (quizzes/marks.py).
"""

from django.utils import dateformat, timezone

from quizzes.scoring import format_score

#: The one way student pages write a moment: "11 Dec 2026 18:37 IST" (local time, its zone).
STUDENT_TIME = "j M Y H:i T"


def _score(value) -> str:
    return f"{format_score(value)} / 10"


def counting_message(
    *, quiz, rows, attempt, mark, score_shown: bool = True, rules=None
) -> str | None:
    """Which attempt's score is the mark, by the quiz's grading method; None for practice.

    ``rows`` are the student's attempts as the views number them (`attempt_rows`). With
    ``score_shown`` False (`review_score` holds it back): no value, and by the highest score
    not even which attempt counts, since that would rank the attempts' scores. ``rules``: the
    student's (quizzes/rules.py), with their extra attempts; the quiz's own when None.
    """
    max_attempts = (rules or quiz.rules()).max_attempts
    if not quiz.is_tutorial():
        return None
    counts = next((r for r in rows if r["counts"]), None)
    if counts is None:
        return None
    method = "highest" if quiz.grading_method == quiz.GradingMethod.HIGHEST else "latest"
    if not score_shown:
        slot = f"Your tutorial {quiz.tutorial_number} mark"
        if method == "highest":
            return f"{slot} is your highest score on this quiz."
        return f"{slot} is the score of your latest attempt."
    value = mark.value if mark is not None else counts["attempt"].score
    slot = f"tutorial {quiz.tutorial_number} mark"
    if counts["attempt"].pk == attempt.pk:
        if max_attempts is not None and len(rows) >= max_attempts and len(rows) == 1:
            return f"This attempt counts: its score is your {slot} ({_score(value)})."
        if len(rows) == 1:
            later = (
                "a better retake would replace it"
                if method == "highest"
                else "a retake replaces it"
            )
            return (
                f"This attempt counts: its score is your {slot} ({_score(value)}). This quiz is "
                f"graded by your {method} score: {later}."
            )
        return (
            f"This attempt counts: this quiz is graded by your {method} score, so your {slot} "
            f"is {_score(value)}."
        )
    when = dateformat.format(timezone.localtime(counts["attempt"].completed_at), STUDENT_TIME)
    return (
        f"This attempt does not change your mark. This quiz is graded by your {method} score: "
        f"attempt {counts['number']} ({when}) counts, so your {slot} is {_score(value)}."
    )


# The functions below take the student's ``rules`` (quizzes/rules.py): their attempts, and
# "after the quiz closes" as the review options mean it, the last closing of any student. None:
# the quiz's own rules.


def key_hidden_message(*, quiz, rules=None) -> str:
    """Why the correct answers are not shown, and when they will be."""
    if quiz.review == quiz.Review.NEVER:
        return "Your teacher does not show the correct answers for this quiz."
    return _shown_when(
        rules=rules or quiz.rules(), review=quiz.review, subject="The correct answers are"
    )


def _after_close(rules, closes: str) -> str:
    """ "after the quiz closes (…)"; "for every student" when someone's extension ends later
    than this student's closing (who it is, and that it is not them, is not said)."""
    every = " for every student" if rules.review_closes_at != rules.closes_at else ""
    return f"after the quiz closes{every} ({closes})"


def correctness_hidden_message(*, quiz, rules=None) -> str:
    """Why right/wrong per question is not shown (the score is), and when it will be."""
    rules = rules or quiz.rules()
    review = quiz.review_correctness
    if review == quiz.Review.NEVER:
        return "Your teacher does not show which questions you got right in this quiz."
    closes = (
        dateformat.format(timezone.localtime(rules.review_closes_at + rules.grace()), "j M Y H:i")
        if rules.review_closes_at
        else None
    )
    when = []
    if review == quiz.Review.AFTER_LAST_ATTEMPT and rules.max_attempts is not None:
        when.append("when you have used all your attempts")
    if closes:
        when.append(_after_close(rules, closes))
    if not when:
        return "Which questions you got right is not shown while you can still retake this quiz."
    return f"Which questions you got right is shown {' or '.join(when)}."


def score_hidden_message(*, quiz, rules=None) -> str:
    """Why the score (and the points, and the mark's value) is not shown, and when it will be."""
    if quiz.review_score == quiz.Review.NEVER:
        return "Your teacher does not show the score of this quiz; your mark is still recorded."
    return _shown_when(
        rules=rules or quiz.rules(), review=quiz.review_score, subject="Your score is"
    )


def _shown_when(*, rules, review, subject: str) -> str:
    """When something held back after the close or the last attempt is shown: "``subject``
    shown …". The closing time is the one students see everywhere: the grace period after it
    only tolerates a submit already on its way, it is never a second deadline to announce."""
    quiz = rules.quiz
    closes = (
        dateformat.format(timezone.localtime(rules.review_closes_at), STUDENT_TIME)
        if rules.review_closes_at
        else None
    )
    if review == quiz.Review.AFTER_CLOSE:
        if closes:
            return f"{subject} shown {_after_close(rules, closes)}."
        return f"{subject} shown after the quiz closes; it has no closing date yet."
    # after the last attempt
    if rules.max_attempts is None and not closes:
        return f"{subject} not shown: this quiz has unlimited attempts and no closing date."
    when = []
    if rules.max_attempts is not None:
        when.append("when you have used all your attempts")
    if closes:
        when.append(_after_close(rules, closes))
    return f"{subject} shown {' or '.join(when)}."
