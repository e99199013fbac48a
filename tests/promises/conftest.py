"""Tests of the product's promises across modules, each run end to end (README's seven):

- `test_sync_safety.py` — no stale overwrite, no herd after a cool-off, no request known to
  fail, an atomic write-back (promises 3 and 4), under races and rough edges;
- `test_killed_resync.py` — a resync killed mid-run loses nothing and sends nothing twice
  (promises 1 and 2);
- `test_resync_after_outage.py` — after an outage the resync delivers, says what waits and
  why, and heals with no human action (promises 2 and 7);
- `test_upstream_delivery.py` — the same, against the Analyzer's real code.

Tests of one module live under the package's folder, named after the module. The sync tests'
fixtures are shared from there.
"""

from tests.academic_integration.conftest import (  # noqa: F401 (fixtures)
    anand_client,
    anand_quiz,
    priya,
    priya_client,
    priya_quiz,
    quiz,
)
