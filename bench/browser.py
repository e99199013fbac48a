"""A logged-in student driving the site over HTTP, as a browser would: open the quiz (which
starts or resumes the attempt), then post the form with its CSRF token."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import requests

_ACTION = re.compile(r'action="(/attempts/\d+/submit/)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_RESULT = re.compile(r"^/attempts/\d+/$")
# What the result page tells the student (academic_integration/mark_source.py).
_SAYS = (
    ("delivered", "/ 10) reached"),
    ("later", "delivered automatically later"),
    ("rejected", "did not accept the mark"),
)


class BenchHTTPError(RuntimeError):
    """The site answered something a student's browser would not expect."""


@dataclass(frozen=True)
class OpenForm:
    submit_path: str
    csrf_token: str


@dataclass(frozen=True)
class Submission:
    ok: bool
    latency_ms: float
    status: int | None
    error: str = ""
    location: str = ""


@dataclass(frozen=True)
class ResultPage:
    latency_ms: float
    says: str  # delivered / later / rejected / other: what it tells the student about the mark


class StudentBrowser:
    """One student's cookie jar; a new connection per request, as gunicorn's sync workers
    answer. (Kept alive, a connection idle while 300 students take turns can be closed by
    the server just as a POST goes out on it; a browser would send that POST again, this
    client would count an error.)"""

    def __init__(self, *, base_url: str, username: str, session_id: str, timeout: float = 60):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self.http = requests.Session()
        self.http.cookies.set("sessionid", session_id)
        self.http.headers["Connection"] = "close"

    def open_quiz(self, quiz_path: str) -> OpenForm:
        """GET the quiz page (starting the attempt) and read the form's action and token."""
        page = self.http.get(self.base_url + quiz_path, timeout=self.timeout)
        if page.status_code != 200:
            raise BenchHTTPError(f"{self.username}: GET {quiz_path} answered {page.status_code}")
        action, token = _ACTION.search(page.text), _CSRF.search(page.text)
        if not (action and token):
            raise BenchHTTPError(f"{self.username}: the quiz page has no submit form")
        return OpenForm(action.group(1), token.group(1))

    def submit(self, form: OpenForm, answers: dict[str, int]) -> Submission:
        """POST the form; the latency is until the redirect response has been read whole."""
        data = {"csrfmiddlewaretoken": form.csrf_token, **answers}
        started = time.perf_counter()
        try:
            response = self.http.post(
                self.base_url + form.submit_path,
                data=data,
                allow_redirects=False,
                timeout=self.timeout,
            )
        except requests.RequestException as err:
            elapsed = (time.perf_counter() - started) * 1000
            return Submission(False, elapsed, None, type(err).__name__)
        elapsed = (time.perf_counter() - started) * 1000
        location = response.headers.get("Location", "")
        if response.status_code != 302 or not _RESULT.match(location):
            return Submission(
                False, elapsed, response.status_code, f"-> {location or 'no redirect'}"
            )
        return Submission(True, elapsed, response.status_code, location=location)

    def result_page(self, submission: Submission) -> ResultPage:
        """GET the page the submit redirected to, timed, and what it says about the mark."""
        started = time.perf_counter()
        page = self.http.get(self.base_url + submission.location, timeout=self.timeout)
        elapsed = (time.perf_counter() - started) * 1000
        text = page.text if page.status_code == 200 else ""
        says = next((key for key, phrase in _SAYS if phrase in text), "other")
        return ResultPage(elapsed, says)

    def close(self) -> None:
        self.http.close()
