"""Small fixtures and helpers for the quizzes tests."""

from html.parser import HTMLParser

import pytest
from django.test import Client

from tests.factories import make_quiz, make_student


class PageParser(HTMLParser):
    """Collects what the tests look at: links, form inputs and labels."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.inputs: list[dict] = []
        self.labels: dict[str, str] = {}  # for= -> text
        self._link = self._label = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self._link = [attrs.get("href", ""), ""]
        elif tag == "input":
            self.inputs.append(attrs)
        elif tag == "label":
            self._label = [attrs.get("for", ""), ""]

    def handle_data(self, data):
        if self._link is not None:
            self._link[1] += data
        if self._label is not None:
            self._label[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1].strip()))
            self._link = None
        elif tag == "label" and self._label is not None:
            self.labels[self._label[0]] = self._label[1].strip()
            self._label = None


def parse_page(response) -> PageParser:
    parser = PageParser()
    parser.feed(response.content.decode())
    return parser


# 3 + 1 = 4 points: answering only the 3-point question right scores 3/4 = 7.5 / 10.
SEVEN_AND_A_HALF_QUESTIONS = [
    {
        "text": "Which phase builds the parse tree?",
        "points": 3,
        "choices": [{"text": "Syntax analysis", "correct": True}, {"text": "Lexing"}],
    },
    {
        "text": "Select the IRs",
        "points": 1,
        "multiple": True,
        "choices": [
            {"text": "SSA form", "correct": True},
            {"text": "Three-address code", "correct": True},
            {"text": "Source text"},
        ],
    },
]


@pytest.fixture
def quiz(teacher):
    """A published tutorial quiz (19XW51 tutorial 2) by the teacher, unlimited attempts."""
    return make_quiz(questions=SEVEN_AND_A_HALF_QUESTIONS, created_by=teacher.email)


@pytest.fixture
def other_student_client(db):
    client = Client()
    client.force_login(make_student())
    return client
