"""Driving the fake Analyzer: a control client and ways to run the server.

`running_fake_analyzer()` runs it in background threads of this process;
`start_fake_analyzer_process()` runs `python -m fake_analyzer` as a child process.
Both hand back `api_url`, `control_url` and a `FakeAnalyzerControl`.
"""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from .server import FakeAnalyzer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TOKEN_ENV = "FAKE_ANALYZER_TOKEN"  # noqa: S105 - a variable name, not a secret

UNSET: Any = object()


class FakeAnalyzerControlError(RuntimeError):
    """The control API refused a request, or could not be reached."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class FakeAnalyzerControl:
    """A small client for the fake Analyzer's control API (stdlib http.client only)."""

    def __init__(self, base_url: str, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        split = urlsplit(self.base_url)
        if split.scheme != "http" or not split.hostname or not split.port:
            raise ValueError(f"control URL must look like http://host:port, not {base_url!r}")
        self._host, self._port, self._prefix = split.hostname, split.port, split.path
        self.timeout = timeout

    def request(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        """Send one control request and return its JSON answer."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Connection": "close", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request(method, self._prefix + path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except OSError as exc:
            raise FakeAnalyzerControlError(
                f"fake analyzer control {method} {path} failed: {exc}"
            ) from exc
        finally:
            conn.close()
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"ok": False, "error": raw[:200].decode(errors="replace")}
        if response.status != 200:
            raise FakeAnalyzerControlError(
                f"fake analyzer control {method} {path}: {response.status} {data.get('error')}",
                status=response.status,
            )
        return data

    def health(self) -> bool:
        try:
            return bool(self.request("GET", "/health").get("ok"))
        except FakeAnalyzerControlError:
            return False

    def reset(
        self,
        seed: dict[str, Any] | None = None,
        *,
        profile: str | None = None,
        token: str | None = UNSET,
        legacy: bool | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Back to the startup state (profile, token, latency), reseeded with `seed` (demo
        data when None); `profile`, `token`, `legacy` and `latency_ms` then override it. A
        token alone on a profile without a token front switches to `token`, `legacy=True` to
        `legacy`, as the old flags did; an explicit `profile` wins over both."""
        payload: dict[str, Any] = {}
        if seed is not None:
            payload["seed"] = seed
        if profile is not None:
            payload["profile"] = profile
        if token is not UNSET:
            payload["token"] = token
        if legacy is not None:
            payload["legacy"] = legacy
        if latency_ms is not None:
            payload["latency_ms"] = latency_ms
        self.request("POST", "/reset", payload)

    def seed(self, seed: dict[str, Any]) -> None:
        self.request("POST", "/seed", seed)

    def archive_course(self, course_id: str, teacher: str | None = None) -> str:
        """Archive a course as upstream's archive-course does (the course and its performance
        records are deleted), as `teacher` (default: its first assigned teacher, who must
        handle it). Returns the archive's id (what upstream's restore-course takes)."""
        payload = {} if teacher is None else {"teacher": teacher}
        path = f"/courses/{quote(course_id, safe='')}/archive"
        return self.request("POST", path, payload)["archived_id"]

    def delete_course(self, course_id: str) -> None:
        """The old name of `archive_course(course_id)`."""
        self.archive_course(course_id)

    def restore_course(self, course_id: str) -> None:
        """Restore an archived course as upstream's restore-course does: marks back (a null
        mark as 0), and only the teacher who archived it assigned."""
        self.request("POST", f"/courses/{quote(course_id, safe='')}/restore")

    def set_profile(self, profile: str) -> None:
        """Switch profile now (`upstream`, `token`, `legacy`, `no-bulk`, `custom`)."""
        self.request("POST", "/profile", {"profile": profile})

    def profiles(self) -> list[dict[str, Any]]:
        return self.request("GET", "/profiles")["profiles"]

    def set_token(self, token: str | None) -> None:
        """Set (or, with None, unset) the token; on a profile without a token front, a token
        switches to the `token` profile."""
        self.request("POST", "/token", {"token": token})

    def set_legacy(self, enabled: bool = True) -> None:
        """The `legacy` profile; False leaves it for `token` (a token set) or `upstream`."""
        self.request("POST", "/legacy", {"enabled": enabled})

    def set_latency(self, ms: float) -> None:
        self.request("POST", "/latency", {"ms": ms})

    def set_faults(self, faults: list[dict[str, Any]], seed: int | None = None) -> None:
        """Replace the active faults (see POST /faults)."""
        payload: dict[str, Any] = {"faults": faults}
        if seed is not None:
            payload["seed"] = seed
        self.request("POST", "/faults", payload)

    def set_fault(self, kind: str, *, seed: int | None = None, **options: Any) -> None:
        """Shorthand for a single fault: `set_fault("503", retry_after=2)`."""
        self.set_faults([{"kind": kind, **options}], seed=seed)

    def clear_faults(self) -> None:
        self.request("DELETE", "/faults")

    def faults(self) -> list[dict[str, Any]]:
        return self.request("GET", "/faults")["faults"]

    def received(self) -> list[dict[str, Any]]:
        return self.request("GET", "/received")["received"]

    def clear_received(self) -> None:
        self.request("DELETE", "/received")

    def marks(self) -> dict[str, dict[str, dict[str, float | None]]]:
        return self.request("GET", "/marks")["marks"]

    def stats(self) -> dict[str, Any]:
        return self.request("GET", "/stats")["stats"]

    def clear_stats(self) -> None:
        self.request("DELETE", "/stats")

    def config(self) -> dict[str, Any]:
        return self.request("GET", "/config")["config"]


@dataclass(frozen=True)
class FakeAnalyzerHandle:
    """A fake Analyzer running in this process."""

    api_url: str
    control_url: str
    control: FakeAnalyzerControl
    analyzer: FakeAnalyzer


@contextlib.contextmanager
def running_fake_analyzer(**options: Any) -> Iterator[FakeAnalyzerHandle]:
    """Run a fake Analyzer in background threads on ephemeral 127.0.0.1 ports.

    `options` go to `FakeAnalyzer` (profile, token, legacy, latency_ms, seed, host, port,
    control_port). The servers are stopped, hanging requests included, on exit.
    """
    analyzer = FakeAnalyzer(**options).start()
    try:
        yield FakeAnalyzerHandle(
            api_url=analyzer.api_url,
            control_url=analyzer.control_url,
            control=FakeAnalyzerControl(analyzer.control_url),
            analyzer=analyzer,
        )
    finally:
        analyzer.stop()


class FakeAnalyzerProcess:
    """A `python -m fake_analyzer` child process; stop it with `terminate()`."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        api_url: str,
        control_url: str,
        output: _OutputReader | None = None,
    ):
        self.process = process
        self.api_url = api_url
        self.control_url = control_url
        self.control = FakeAnalyzerControl(control_url)
        self._output = output

    @property
    def output(self) -> str:
        """The last lines the process printed (stdout and stderr)."""
        return self._output.text() if self._output else ""

    def terminate(self, timeout: float = 5.0) -> int:
        """Stop the process (SIGTERM, then SIGKILL after `timeout`) and return its code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode

    def __enter__(self) -> FakeAnalyzerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.terminate()


def start_fake_analyzer_process(
    *,
    port: int = 0,
    control_port: int | None = None,
    host: str = "127.0.0.1",
    profile: str | None = None,
    token: str | None = None,
    legacy: bool = False,
    latency_ms: float = 0,
    seed: bool = True,
    python: str | None = None,
    env: dict[str, str] | None = None,
    startup_timeout: float = 30.0,
) -> FakeAnalyzerProcess:
    """Start `python -m fake_analyzer` and wait until its control API answers.

    Port 0 picks free ports; the real ones are read from the command's output. The token
    travels in the environment rather than argv, which other users can see in `ps`.
    """
    command = [python or sys.executable, "-m", "fake_analyzer"]
    command += ["--host", host, "--port", str(port)]
    if control_port is not None:
        command += ["--control-port", str(control_port)]
    if profile is not None:
        command += ["--profile", profile]
    if legacy:
        command.append("--legacy")
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    if not seed:
        command.append("--no-seed")
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    child_env.pop(TOKEN_ENV, None)
    if token:
        child_env[TOKEN_ENV] = token

    process = subprocess.Popen(  # noqa: S603 - fixed argv built above, no shell
        command,
        cwd=PROJECT_ROOT,
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _OutputReader(process)
    deadline = time.monotonic() + startup_timeout
    try:
        urls = output.wait_for_urls(deadline)
        if urls is None:
            raise RuntimeError(
                "python -m fake_analyzer did not start:\n" + (output.text() or "(no output)")
            )
        handle = FakeAnalyzerProcess(process, *urls, output)
        while not handle.control.health():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "python -m fake_analyzer never became healthy:\n" + output.text()
                )
            time.sleep(0.05)
    except BaseException:
        _kill(process)
        raise
    return handle


class _OutputReader:
    """Drains the child's output (so its pipe never fills) and spots the URLs it prints."""

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.tail: collections.deque[str] = collections.deque(maxlen=50)
        self._api_url: str | None = None
        self._control_url: str | None = None
        self._changed = threading.Condition()
        self._done = False
        threading.Thread(target=self._drain, name="fake-analyzer-output", daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.tail.append(line)
                key, _, value = line.strip().partition(": ")
                if key == "API" and self._api_url is None:
                    self._api_url = value.strip()
                elif key == "Control" and self._control_url is None:
                    self._control_url = value.strip()
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self.tail)

    def wait_for_urls(self, deadline: float) -> tuple[str, str] | None:
        with self._changed:
            while not (self._api_url and self._control_url):
                remaining = deadline - time.monotonic()
                if self._done or remaining <= 0:
                    return None
                self._changed.wait(remaining)
            return self._api_url, self._control_url


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
