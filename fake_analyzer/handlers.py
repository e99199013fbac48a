"""HTTP plumbing: the API and control request handlers and the faults they act out."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import selectors
import socket
import socketserver
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .faults import FLOOD_PREFIX, Fault
from .responses import (
    JSON_TYPE,
    LOGIN_PAGE,
    PROXY_PAGES,
    ControlError,
    Response,
    failure,
    html_response,
    json_response,
)

if TYPE_CHECKING:
    from .server import FakeAnalyzer

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
#: A caller's own name for a request, kept in its entry of /received (``request_id``): the
#: fault drill tags each request with the action that sent it.
REQUEST_ID_HEADER = "X-Request-Id"
IDLE_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.05  # how quickly serve_forever notices shutdown()
FLOOD_CHUNK = 64 * 1024


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops SYNs under the concurrency tests (1 s retransmits).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, analyzer: FakeAnalyzer):
        self.analyzer = analyzer
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall.
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)  # AF_INET: already a str

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("fake analyzer: error serving %s", client_address, exc_info=sys.exc_info())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAcademicAnalyzer/1.0"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server: Server

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Answer unparsable requests like Node does: an HTTP/1.1 status line, then close.
        # The stdlib would reply to them HTTP/0.9-style, with a body and no status line.
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._send(failure(code, message or "Bad Request"))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BadRequest(400, "Invalid Content-Length") from None
        if length < 0:
            raise _BadRequest(400, "Invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request body too large")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadRequest(400, "Request body shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Connection", "close" if self.close_connection else "keep-alive")
            # One write for head and body: two small writes meet Nagle/delayed-ACK stalls.
            # _headers_buffer: BaseHTTPRequestHandler's own, which typeshed does not declare.
            self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
            if self.command != "HEAD":
                self._headers_buffer.append(response.body)  # type: ignore[attr-defined]
            self.flush_headers()
        except OSError:
            self.close_connection = True

    def _abort(self) -> None:
        """Drop the connection with a TCP RST instead of an orderly close."""
        self.close_connection = True
        linger_zero(self.connection)
        # rfile holds a reference to the socket: the RST only goes once both are closed.
        for closable in (self.rfile, self.connection):
            with contextlib.suppress(OSError):
                closable.close()


class _BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _parse_query(query: str) -> dict[str, Any]:
    return {
        key: values[0] if len(values) == 1 else values
        for key, values in parse_qs(query, keep_blank_values=True).items()
    }


class ApiHandler(_Handler):
    def handle(self) -> None:
        analyzer = self.server.analyzer
        analyzer._track(self.connection)
        try:
            if analyzer.state.connection_accepted():
                self._abort()
                return
            self._first_on_connection = True
            super().handle()
        finally:
            analyzer._untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        # The Analyzer's own time starts once the request's head is parsed: the body read,
        # the latency, the work and the answer written are all the Analyzer's.
        started = time.perf_counter()
        analyzer = self.server.analyzer
        state = analyzer.state
        period = state.stats_period
        first = self._first_on_connection
        self._first_on_connection = False
        split = urlsplit(self.path)
        path, query = split.path, _parse_query(split.query)
        authorization = self.headers.get("Authorization")
        body, body_ok, bad = None, True, None
        try:
            raw = self._read_body()
            if raw.strip():
                body = json.loads(raw)
        except _BadRequest as exc:
            bad, body_ok = exc, False
            self.close_connection = True  # the rest of the stream cannot be trusted
        except (ValueError, RecursionError):
            body_ok = False
        entry = state.begin_request(
            self.command,
            path,
            query,
            body,
            authorization,
            request_id=self.headers.get(REQUEST_ID_HEADER),
        )
        # What upstream's express.json() makes of it: only a JSON-typed body is read (else
        # req.body stays undefined), and strict mode takes only an object or an array.
        # A body announced as empty (Content-Length: 0) is parsed as {}; no body at all
        # leaves req.body undefined.
        announced = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        if "json" not in self.headers.get("Content-Type", "").lower() or not announced:
            body, body_ok = None, bad is None
        elif body is None and body_ok:
            body = {}
        elif not isinstance(body, dict | list):
            body_ok = False
        if bad is not None:
            # Recorded before answering, so a client reading /received right after its
            # answer always sees the status.
            state.finish(entry, bad.status, None)
            self._send(failure(bad.status, bad.message))
            return
        if state.latency_ms > 0 and analyzer.stopping.wait(state.latency_ms / 1000):
            return self._give_up(entry)

        fault, generation = state.pick_fault(entry, first)
        kind = fault.kind if fault else None
        if fault is not None and kind == "slow" and analyzer.stopping.wait(fault.delay_ms / 1000):
            return self._give_up(entry, kind)
        if kind in ("refuse", "reset"):
            self._abort()
            state.finish(entry, None, kind)
        elif kind == "hang":
            self._hang(generation)
            self.close_connection = True
            state.finish(entry, None, kind)
        elif fault is not None and kind in ("trickle", "flood"):
            # The Analyzer does the work (a mark is stored), then its answer crawls or never
            # ends: recorded before it is sent, like every answer.
            response = state.respond(self.command, path, query, body, body_ok, authorization, entry)
            state.finish(entry, response.status, kind)
            self.close_connection = True
            if kind == "trickle":
                self._trickle(response, fault.delay_ms / 1000, generation)
            else:
                self._flood(response, fault.body_bytes, generation)
        else:
            if fault is not None and kind != "slow":
                response = _fault_response(fault)
            else:
                response = state.respond(
                    self.command, path, query, body, body_ok, authorization, entry
                )
            state.finish(entry, response.status, kind)
            self._send(response)
            state.record_service_time((time.perf_counter() - started) * 1000, period=period)

    def _head(self, response: Response, headers: list[tuple[str, str]]) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in [*response.headers, *headers, ("Connection", "close")]:
            self.send_header(name, value)
        self.end_headers()

    def _still_wanted(self, generation: int) -> bool:
        analyzer = self.server.analyzer
        return not analyzer.stopping.is_set() and analyzer.state.fault_generation == generation

    def _pause(self, seconds: float, generation: int) -> bool:
        """Wait `seconds`; False as soon as faults change or the server stops."""
        until = time.monotonic() + seconds
        while self._still_wanted(generation):
            left = until - time.monotonic()
            if left <= 0:
                return True
            self.server.analyzer.stopping.wait(min(left, POLL_INTERVAL_S))
        return False

    def _trickle(self, response: Response, interval: float, generation: int) -> None:
        """The real answer's headers at once, then its body one byte per `interval`, until it
        is all sent, the client leaves, faults change or the server stops."""
        try:
            self._head(response, [("Content-Length", str(len(response.body)))])
            for i in range(len(response.body)):
                if not self._pause(interval, generation):
                    return
                self.wfile.write(response.body[i : i + 1])
                self.wfile.flush()
        except OSError:
            return  # the client gave up

    def _flood(self, response: Response, size: int | None, generation: int) -> None:
        """A 200 JSON answer of `size` bytes (valid JSON if read to the end), or without end
        (chunked), until it is sent, the client leaves, faults change or the server stops."""
        filler = b"x" * FLOOD_CHUNK
        try:
            if size is None:
                self._head(response, [("Transfer-Encoding", "chunked")])
                frame = b"%x\r\n" % FLOOD_CHUNK + filler + b"\r\n"
                self.wfile.write(b"%x\r\n" % len(FLOOD_PREFIX) + FLOOD_PREFIX + b"\r\n")
                while self._still_wanted(generation):
                    self.wfile.write(frame)
                return
            self._head(response, [("Content-Length", str(size))])
            self.wfile.write(FLOOD_PREFIX)
            left = size - len(FLOOD_PREFIX) - 2
            while left > 0 and self._still_wanted(generation):
                self.wfile.write(filler[: min(left, FLOOD_CHUNK)])
                left -= FLOOD_CHUNK
            if left <= 0:
                self.wfile.write(b'"}')
        except OSError:
            return  # the client gave up

    def _give_up(self, entry: dict[str, Any], kind: str | None = None) -> None:
        self.close_connection = True
        self.server.analyzer.state.finish(entry, None, kind)

    def _hang(self, generation: int) -> None:
        """Hold the request until the client leaves, faults change or the server stops."""
        analyzer = self.server.analyzer
        sock = self.connection
        # A selector rather than select.select(), which fails for descriptors above 1023.
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(sock, selectors.EVENT_READ)
            except (OSError, ValueError):
                return
            while not analyzer.stopping.is_set() and analyzer.state.fault_generation == generation:
                try:
                    readable = bool(selector.select(POLL_INTERVAL_S))
                    if readable and not sock.recv(1, socket.MSG_PEEK):
                        return  # the client closed its end
                except (OSError, ValueError):
                    return
                if readable:
                    # Pipelined bytes keep the socket readable; do not spin on them.
                    analyzer.stopping.wait(POLL_INTERVAL_S)


def _fault_response(fault: Fault) -> Response:
    kind = fault.kind
    if kind == "500":
        return json_response(
            500,
            {
                "success": False,
                "message": "Server error",
                "error": "MongoServerSelectionError: connection timed out",
            },
        )
    if kind in ("502", "503", "504"):
        status = int(kind)
        title = PROXY_PAGES[status]
        headers: tuple[tuple[str, str], ...] = ()
        if status == 503 and fault.retry_after is not None:
            headers = (("Retry-After", str(math.ceil(fault.retry_after))),)
        page = (
            f"<html>\n<head><title>{title}</title></head>\n<body>\n"
            f"<center><h1>{title}</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n"
        )
        return html_response(status, page, headers)
    if kind == "html":
        return html_response(200, LOGIN_PAGE)
    if kind == "broken_json":
        return Response(200, b'{"success": tr', JSON_TYPE)
    if kind == "success_false":
        return json_response(200, {"success": False, "message": "Update not applied"})
    raise AssertionError(f"fault {kind} has no canned response")


class ControlHandler(_Handler):
    def do_GET(self) -> None:
        try:
            raw = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._send(json_response(exc.status, {"ok": False, "error": exc.message}))
            return
        try:
            data = json.loads(raw) if raw.strip() else {}
        except (ValueError, RecursionError):
            self._send(json_response(400, {"ok": False, "error": "invalid JSON body"}))
            return
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            payload = self.server.analyzer.control(self.command, path, data)
        except ControlError as exc:
            self._send(json_response(exc.status, {"ok": False, "error": exc.message}))
            return
        except Exception:
            logger.exception("fake analyzer control request %s %s failed", self.command, path)
            self._send(json_response(500, {"ok": False, "error": "internal error"}))
            return
        self._send(json_response(200, payload))

    do_POST = do_PUT = do_DELETE = do_GET


# --- the server --------------------------------------------------------------------------


def linger_zero(sock: socket.socket) -> None:
    """Make the next close send RST rather than FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
