"""Parsing a submitted quiz form into answers, strictly."""

from django.http import QueryDict

from quizzes.services import InvalidSubmission

PREFIX = "q_"
TYPED_PREFIX = "t_"


def parse_answers(data: QueryDict) -> dict[int, set[int]]:
    """Turn `q_<question id>` = `<choice id>` pairs into {question id: {choice ids}}.

    Raises InvalidSubmission for anything that is not a positive integer; whether the ids
    belong to the quiz is checked by the submit service.
    """
    answers: dict[int, set[int]] = {}
    for key in data:
        if not key.startswith(PREFIX):
            continue
        question_id = _positive_int(key[len(PREFIX) :])
        answers[question_id] = {_positive_int(value) for value in data.getlist(key)}
    return answers


def parse_responses(data: QueryDict) -> dict[int, str]:
    """Turn `t_<question id>` = `<typed answer>` into {question id: text}, as typed (the
    submit service checks the questions, the length, and reads numbers)."""
    return {
        _positive_int(key[len(TYPED_PREFIX) :]): data.get(key, "")
        for key in data
        if key.startswith(TYPED_PREFIX)
    }


def _positive_int(raw: str) -> int:
    # isascii(): str.isdigit() is also true for "²" and other digits int() rejects.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) <= 0:
        raise InvalidSubmission("The form holds a value that is not an answer to this quiz.")
    return int(raw)
