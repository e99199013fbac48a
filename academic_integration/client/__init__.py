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

# `X as X`: re-exported under mypy's implicit_reexport = false.
from .analyzer import DEFAULT_MAX_RESPONSE_BYTES as DEFAULT_MAX_RESPONSE_BYTES
from .analyzer import POOL_MAXSIZE as POOL_MAXSIZE
from .analyzer import USER_AGENT as USER_AGENT
from .analyzer import AnalyzerClient as AnalyzerClient
from .analyzer import AnalyzerResult as AnalyzerResult
from .analyzer import CourseDetail as CourseDetail
from .analyzer import MarkItemResult as MarkItemResult
from .analyzer import RosterEntry as RosterEntry
from .analyzer import get_client as get_client
from .analyzer import is_configured as is_configured
from .analyzer import masked_url as masked_url
from .analyzer import parse_retry_after as parse_retry_after
from .analyzer import reset_client as reset_client
from .analyzer import total_timeout_s as total_timeout_s
from .analyzer import tutorial_marks_path as tutorial_marks_path
from .deadline import budget as budget
