"""Reading a quiz file before any of it is trusted: JSON, and nothing json.loads would take
silently or crash on (deep nesting, huge numbers, duplicate keys, NUL, an oversized file).

`quiz_file_parse` gives the data to quizzes/importing.py's `quiz_validate`; both raise
`QuizFileError` with `path: problem` lines.
"""

import json
import re

# What a file may be, before any of it is trusted.
MAX_FILE_BYTES = 4 * 1024 * 1024  # a quiz at the caps with the longest texts is ~1 MiB
MAX_DEPTH = 8  # a quiz nests 5 deep: quiz > questions > question > choices > choice
MAX_NUMBER_CHARS = 20


class QuizFileError(Exception):
    """The file does not describe a valid quiz; `errors` lists `path: problem` lines."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


# --- reading the file ------------------------------------------------------------------------


class _Object(dict):
    """A JSON object that remembers the keys given more than once (json keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _object_from_pairs(pairs):
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen, dups = set(), []
        for key, _ in pairs:
            if key in seen and key not in dups:
                dups.append(key)
            seen.add(key)
        obj.duplicates = tuple(dups)
    return obj


class _NumberTooLong(ValueError):
    pass


def _number(kind):
    def parse(text: str):
        if len(text) > MAX_NUMBER_CHARS:
            raise _NumberTooLong(text[:10])
        return kind(text)

    return parse


def _constant(name: str):
    raise json.JSONDecodeError(f"{name} is not a JSON number", name, 0)


# A string (with its escapes) or one bracket: enough to measure nesting without recursion.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _max_depth(text: str) -> int:
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif piece in ("]", "}"):
            depth -= 1
    return deepest


def quiz_file_parse(raw: bytes) -> dict:
    """The JSON of a quiz file, or QuizFileError naming what is wrong with the file itself."""
    if len(raw) > MAX_FILE_BYTES:
        raise QuizFileError(
            [f"(file): {len(raw):,} bytes; a quiz file is at most {MAX_FILE_BYTES:,} bytes"]
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise QuizFileError([f"(file): not valid JSON: not UTF-8 text ({err.reason})"]) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise QuizFileError([f"(file): contains a NUL character (line {line})"])
    if _max_depth(text) > MAX_DEPTH:
        raise QuizFileError(
            [f"(file): nested more than {MAX_DEPTH} levels deep; a quiz nests 5 levels"]
        )
    try:
        data = json.loads(
            text,
            object_pairs_hook=_object_from_pairs,
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=_constant,
        )
    except _NumberTooLong as err:
        raise QuizFileError(
            [f"(file): a number of more than {MAX_NUMBER_CHARS} characters ({err}…)"]
        ) from None
    except json.JSONDecodeError as err:
        raise QuizFileError([f"(file): not valid JSON: {err}"]) from None
    except RecursionError:  # the depth scan should have caught it; never a traceback
        raise QuizFileError([f"(file): nested more than {MAX_DEPTH} levels deep"]) from None
    problems: list[str] = []
    _find_duplicates(data, "", problems)
    if problems:
        raise QuizFileError(problems)
    return data


def _find_duplicates(value, path: str, problems: list[str]) -> None:
    if isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            problems.append(
                f"{path_join(path, key)}: duplicate key: given more than once in the same object"
            )
        for key, item in value.items():
            _find_duplicates(item, path_join(path, key), problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _find_duplicates(item, f"{path}[{i}]", problems)


def path_join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
