"""An in-memory fake of the Academic Analyzer, served over real HTTP.

Two ThreadingHTTPServers share one `FakeAnalyzer`: the API port speaks the Analyzer's
contract (upstream's, or a profile's variation of it, rough edges included); the control
port lets tests and the demo seed data, pick a profile, rotate the token, inject faults and
read back what was received. The control port is separate so the API port can really refuse
connections. Only state changes take the lock; latency and fault sleeps never do.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from typing import Any
from urllib.parse import unquote

from .faults import Fault
from .handlers import POLL_INTERVAL_S, ApiHandler, ControlHandler, Server, linger_zero
from .profiles import PROFILES
from .responses import ControlError
from .seed import parse_seed
from .state import UNSET, AnalyzerState

logger = logging.getLogger(__name__)


class FakeAnalyzer:
    """The fake Analyzer: state plus an API server and a control server.

    Use `start()`/`stop()` or a `with` block. Ports default to ephemeral ones; the API
    port is kept when the listener is closed and reopened for a "refuse" fault.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int = 0,
        profile: str | None = None,
        token: str | None = None,
        legacy: bool = False,
        latency_ms: float = 0,
        seed: bool | dict[str, Any] | None = True,
    ):
        self.host = host
        self.port = port
        self.control_port = control_port
        self.state = AnalyzerState(
            profile=profile, token=token, legacy=legacy, latency_ms=latency_ms, seed=seed
        )
        self.stopping = threading.Event()
        self._listener_lock = threading.Lock()
        self._api_server: Server | None = None
        self._control_server: Server | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # lifecycle

    def start(self) -> FakeAnalyzer:
        api = Server((self.host, self.port), ApiHandler, self)
        try:
            control = Server((self.host, self.control_port), ControlHandler, self)
        except OSError:
            api.server_close()
            raise
        self.port = api.server_address[1]
        self.control_port = control.server_address[1]
        self._api_server, self._control_server = api, control
        _serve_in_thread(api, "fake-analyzer-api")
        _serve_in_thread(control, "fake-analyzer-control")
        logger.debug("fake analyzer listening on %s, control %s", self.api_url, self.control_url)
        return self

    def stop(self) -> None:
        """Stop both servers and drop open connections; hanging requests are released."""
        self.stopping.set()
        with self._listener_lock:
            servers = [self._api_server, self._control_server]
            self._api_server = self._control_server = None
        for server in servers:
            if server is not None:
                server.shutdown()
                server.server_close()
        self._drop_connections()

    def __enter__(self) -> FakeAnalyzer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}/api"

    @property
    def control_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.control_port}"

    # operations (also reachable through the control API)

    def reset(
        self,
        seed: dict[str, Any] | None = None,
        *,
        profile: str | None = None,
        token: str | None = UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        self.state.reset(
            None if seed is None else parse_seed(seed),
            profile=profile,
            token=token,
            legacy=legacy,
            latency_ms=latency_ms,
        )
        self._sync_listener()

    def set_faults(self, faults: list[dict[str, Any]], seed: int | None = None) -> None:
        if not isinstance(faults, list):
            raise ControlError("faults must be a list")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ControlError("seed must be an integer")
        self.state.set_faults([Fault.from_json(f) for f in faults], seed)
        self._sync_listener()

    def control(self, method: str, path: str, data: Any) -> dict[str, Any]:
        """Run one control API request; raise ControlError for a bad one."""
        if not isinstance(data, dict):
            raise ControlError("the body must be a JSON object")
        state = self.state
        parts = [unquote(part) for part in path.strip("/").split("/")]
        route = (method, path)
        if route == ("GET", "/health"):
            return {"ok": True}
        if route == ("POST", "/reset"):
            _check_keys(data, {"seed", "profile", "token", "legacy", "latency_ms"})
            self.reset(
                data.get("seed"),
                profile=data.get("profile"),
                token=_token_arg(data["token"]) if "token" in data else UNSET,
                legacy=_bool_arg(data["legacy"], "legacy") if "legacy" in data else None,
                latency_ms=_latency_arg(data["latency_ms"]) if "latency_ms" in data else None,
            )
        elif route == ("POST", "/seed"):
            state.seed(parse_seed(data))
        elif method == "POST" and len(parts) == 3 and parts[0] == "courses":
            # "delete" is the old name of "archive": upstream deletes what it archives.
            if parts[2] in ("archive", "delete"):
                _check_keys(data, {"teacher"})
                teacher = data.get("teacher")
                if teacher is not None and not isinstance(teacher, str):
                    raise ControlError("teacher must be an email or null")
                return {"ok": True, "archived_id": state.archive_course(parts[1], teacher)}
            if parts[2] != "restore":
                raise ControlError(f"no control route {method} {path}", status=404)
            _check_keys(data, set())
            state.restore_course(parts[1])
        elif route == ("POST", "/profile"):
            _check_keys(data, {"profile"})
            state.set_profile(data.get("profile"))
        elif route == ("GET", "/profiles"):
            return {"ok": True, "profiles": [p.to_json() for p in PROFILES.values()]}
        elif route == ("POST", "/token"):
            _check_keys(data, {"token"})
            state.set_token(_token_arg(data.get("token")))
        elif route == ("POST", "/legacy"):
            _check_keys(data, {"enabled"})
            state.set_legacy(_bool_arg(data.get("enabled", True), "enabled"))
        elif route == ("POST", "/latency"):
            _check_keys(data, {"ms"})
            state.set_latency(_latency_arg(data.get("ms", 0)))
        elif route == ("POST", "/faults"):
            _check_keys(data, {"faults", "seed"})
            self.set_faults(data.get("faults", []), data.get("seed"))
        elif route == ("DELETE", "/faults"):
            self.set_faults([])
        elif route == ("GET", "/faults"):
            return {"ok": True, "faults": state.snapshot_config()["faults"]}
        elif route == ("GET", "/received"):
            return {"ok": True, "received": state.snapshot_received()}
        elif route == ("DELETE", "/received"):
            state.clear_received()
        elif route == ("GET", "/marks"):
            return {"ok": True, "marks": state.snapshot_marks()}
        elif route == ("GET", "/stats"):
            stats = state.snapshot_stats()
            with self._connections_lock:
                stats["open_connections"] = len(self._connections)
            return {"ok": True, "stats": stats}
        elif route == ("DELETE", "/stats"):
            state.clear_stats()
        elif route == ("GET", "/config"):
            return {"ok": True, "config": state.snapshot_config()}
        else:
            raise ControlError(f"no control route {method} {path}", status=404)
        return {"ok": True}

    # listener and connection management

    def _sync_listener(self) -> None:
        """Close the API listener while a refuse-everything fault is active, else reopen it."""
        with self._listener_lock:
            if self.stopping.is_set():
                return
            refuse = self.state.refusing_everything()
            if refuse and self._api_server is not None:
                server, self._api_server = self._api_server, None
                server.shutdown()
                server.server_close()
                # A server that goes down takes its open connections with it.
                self._drop_connections()
            elif not refuse and self._api_server is None:
                self._api_server = self._rebind_api()
                _serve_in_thread(self._api_server, "fake-analyzer-api")

    def _rebind_api(self) -> Server:
        deadline = time.monotonic() + 2
        while True:
            try:
                return Server((self.host, self.port), ApiHandler, self)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _track(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(sock)

    def _drop_connections(self) -> None:
        with self._connections_lock:
            sockets = list(self._connections)
        for sock in sockets:
            linger_zero(sock)
            # Wakes the handler blocked on this socket; the close that follows sends RST.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _serve_in_thread(server: Server, name: str) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, name=name
    )
    thread.daemon = True
    thread.start()
    return thread


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - mapping a wildcard bind to a reachable URL
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _check_keys(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ControlError(f"unknown keys: {sorted(unknown)}")


def _token_arg(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ControlError("token must be a string or null")
    return value or None


def _bool_arg(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ControlError(f"{name} must be true or false")
    return value


def _latency_arg(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError("latency must be a number of milliseconds")
    if not 0 <= value <= 600_000:
        raise ControlError("latency must be between 0 and 600000 ms")
    return float(value)
