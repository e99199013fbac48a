"""A write-back transaction that does not wait for its commit to reach the disk (PostgreSQL).

What a delivery writes back (the outcome, the history row, the attempts settled) is worth less
than the wait: lost in a database crash, the mark is as it was before, still claimed with a
short lease; when the lease expires the resync finds it due and sends the same version again
(the Analyzer stores a value, so sending it twice is harmless) and writes it back then.
Nothing a submission writes relaxes its commit: the attempt and the mark stay durable.
``SET LOCAL`` ends with its transaction, so the connection goes back to durable commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction

#: Sent in the same round trip as the transaction's first statement.
RELAXED_COMMIT_SQL = "SET LOCAL synchronous_commit TO OFF; "


@contextlib.contextmanager
def relaxed_commit() -> Iterator[None]:
    """Open a transaction whose commit does not wait for the disk (PostgreSQL only).

    Outside any transaction, the block is one transaction and its first statement carries
    the ``SET LOCAL``, costing no extra round trip. Inside a caller's transaction (or on
    another database) it is a plain savepoint: a caller's work is never made less durable.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    first = True

    def prefix(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal first
        if first and not many:
            first = False
            sql = RELAXED_COMMIT_SQL + sql
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(prefix):
        yield
