"""The deadline of each Analyzer request: a watchdog thread and the pools that report to it.

requests' own timeouts bound each socket read, not the request (docs/decisions/0014).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection

    # The mixins below sit before these classes in their subclasses' bases.
    _ConnectionBase = HTTPConnection
    _PoolBase = HTTPConnectionPool
else:
    _ConnectionBase = _PoolBase = object


@dataclass(slots=True, eq=False)
class _Guard:
    """One request under a deadline, and the pooled connection it is using meanwhile."""

    conn: BaseHTTPConnection | None = None
    done: bool = False  # the request ended: the watchdog leaves it alone
    fired: bool = False  # the deadline passed first: its socket was shut down


def _shutdown(conn: BaseHTTPConnection) -> None:
    # shutdown(), unlike close(), wakes a read blocked in another thread at once; the base
    # class's method works on the descriptor of a TLS socket too without touching its state.
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """Cuts off every request that outlives its deadline, however slowly its answer comes.

    A request registers its deadline (``guard()``); the connection it takes from the pool is
    attached to it. One daemon thread per process sleeps until the earliest deadline and shuts
    down the socket of a request still running then. A connection is detached, under the same
    lock, before it goes back to the pool: the thread never touches one another request took.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = itertools.count()
        self._local = threading.local()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def guard(self, deadline: float) -> Iterator[_Guard]:
        guard = _Guard()
        with self._cond:
            heapq.heappush(self._heap, (deadline, next(self._seq), guard))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="analyzer-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is guard:
                self._cond.notify()  # earlier than what the thread sleeps towards
        self._local.guard = guard
        try:
            yield guard
        finally:
            self._local.guard = None
            with self._cond:
                guard.done = True
                guard.conn = None

    def attach(self, conn: BaseHTTPConnection) -> None:
        """``conn`` now carries this thread's guarded request: taken from the pool, or just
        connected (its socket is shut down at once if the deadline passed meanwhile)."""
        guard: _Guard | None = getattr(self._local, "guard", None)
        if guard is None:
            return
        with self._cond:
            if not guard.done:
                guard.conn = conn
                if guard.fired:
                    _shutdown(conn)

    def detach(self, conn: BaseHTTPConnection) -> bool:
        """``conn`` goes back to the pool; True when the deadline cut it off."""
        guard: _Guard | None = getattr(self._local, "guard", None)
        if guard is None:
            return False
        with self._cond:
            if guard.conn is not conn:
                return False
            guard.conn = None
            return guard.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    guard = heapq.heappop(self._heap)[2]
                    if not guard.done:
                        guard.fired = True
                        if guard.conn is not None:
                            _shutdown(guard.conn)
                self._cond.wait(self._heap[0][0] - now if self._heap else None)


_watchdog = _Watchdog()

_budget = threading.local()


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Every request this thread sends meanwhile ends within ``seconds`` from now, together
    (the inline budget: a submit waits that long at most, whatever it asks the Analyzer)."""
    previous = getattr(_budget, "until", None)
    _budget.until = time.monotonic() + seconds
    try:
        yield
    finally:
        _budget.until = previous


def budget_until() -> float | None:
    """The monotonic time this thread's budget ends, or None outside ``budget``."""
    return getattr(_budget, "until", None)


class _DeadlineConnectionMixin(_ConnectionBase):
    def connect(self) -> None:
        super().connect()
        _watchdog.attach(self)


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlinePoolMixin(_PoolBase):
    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        conn = super()._get_conn(timeout)
        _watchdog.attach(conn)
        return conn

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        if conn is not None and _watchdog.detach(conn):
            conn.close()  # cut off mid-answer: never reused
        super()._put_conn(conn)


class _DeadlineHTTPPool(_DeadlinePoolMixin, HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(_DeadlinePoolMixin, HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    """An adapter whose pools attach their connections to the request's deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)
        return manager


class _BodyTooLarge(Exception):
    pass


class _DeadlinePassed(Exception):
    pass
