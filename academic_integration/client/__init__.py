"""HTTP client for the Academic Analyzer API (marks push, bulk marks, course roster, teacher
dashboard).

The only package in the project that imports ``requests``. One ``AnalyzerClient`` per process
(``get_client()``) owns one ``requests.Session``, so connections are reused and worker threads
share its pool. Each call makes exactly one HTTP request: retrying belongs to the caller that
schedules work, never to this package (so no urllib3 retries either).

``analyzer.py`` holds ``AnalyzerClient`` and the per-process singleton; ``deadline.py`` makes
every request end within ``ACADEMIC_ANALYZER_TOTAL_TIMEOUT`` (docs/decisions/0014).

Every failure is a ``SyncError`` subclass from ``exceptions.py``; a missing or invalid
setting is an ``AnalyzerConfigError``. The token never appears in exception text or logs.
Everything logs to the ``academic_integration.client`` logger.
"""

from .analyzer import (
    DEFAULT_MAX_RESPONSE_BYTES,
    POOL_MAXSIZE,
    USER_AGENT,
    AnalyzerClient,
    AnalyzerResult,
    CourseDetail,
    MarkItemResult,
    RosterEntry,
    TeacherCourses,
    get_client,
    is_configured,
    masked_url,
    parse_retry_after,
    reset_client,
    tutorial_marks_path,
)
from .deadline import budget

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "POOL_MAXSIZE",
    "USER_AGENT",
    "AnalyzerClient",
    "AnalyzerResult",
    "CourseDetail",
    "MarkItemResult",
    "RosterEntry",
    "TeacherCourses",
    "budget",
    "get_client",
    "is_configured",
    "masked_url",
    "parse_retry_after",
    "reset_client",
    "tutorial_marks_path",
]
