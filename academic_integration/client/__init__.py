"""HTTP client for the Academic Analyzer API (marks push, bulk marks, course roster, teacher
dashboard).

The only package in the project that imports ``requests``. One ``AnalyzerClient`` per
process (``get_client()``) owns one ``requests.Session`` so connections are reused and
worker threads share its pool. Each call is small steps — build payload, send, parse,
raise — and makes exactly one HTTP request: retrying belongs to the caller that
schedules work, never to this package (so no urllib3 retries either).

- ``request.py``: building a request (paths, the marks payload, checked before sending);
- ``analyzer.py``: ``AnalyzerClient`` (settings, session, the three calls, sending and
  reading the body) and the per-process singleton (``get_client``, ``reset_client``);
- ``deadline.py``: the deadline of each request (``_Watchdog`` and the pools reporting to it);
- ``answers.py``: mapping an answer or a network failure to a result or a typed error.

Every request ends within ``ACADEMIC_ANALYZER_TOTAL_TIMEOUT`` however the answer arrives
(requests' own timeouts bound each socket read, not the request: an Analyzer sending a byte a
second would hold it for ever), and at most ``ACADEMIC_ANALYZER_MAX_RESPONSE_BYTES`` of a body
are read. See ``_Watchdog`` and ``AnalyzerClient._read_body``.

Every failure is a ``SyncError`` subclass from ``exceptions.py``; a missing or invalid
setting is an ``AnalyzerConfigError``. The token never appears in exception text or logs.
Everything logs to the ``academic_integration.client`` logger.
"""

from .analyzer import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_READ_TIMEOUT,
    POOL_MAXSIZE,
    USER_AGENT,
    AnalyzerClient,
    get_client,
    is_configured,
    masked_url,
    reset_client,
)
from .answers import (
    AnalyzerResult,
    CourseDetail,
    MarkItemResult,
    RosterEntry,
    TeacherCourses,
    TutorialMarksResult,
    parse_retry_after,
)
from .deadline import budget
from .request import (
    COURSE_DETAIL_PATH,
    DASHBOARD_PATH,
    MAX_MARK,
    TUTORIAL_NUMBERS,
    UPDATE_MARKS_PATH,
    tutorial_marks_path,
)

__all__ = [
    "COURSE_DETAIL_PATH",
    "DASHBOARD_PATH",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "MAX_MARK",
    "POOL_MAXSIZE",
    "TUTORIAL_NUMBERS",
    "UPDATE_MARKS_PATH",
    "USER_AGENT",
    "AnalyzerClient",
    "AnalyzerResult",
    "CourseDetail",
    "MarkItemResult",
    "RosterEntry",
    "TeacherCourses",
    "TutorialMarksResult",
    "budget",
    "get_client",
    "is_configured",
    "masked_url",
    "parse_retry_after",
    "reset_client",
    "tutorial_marks_path",
]
