"""`python -m quizsite.demo`: what `make demo` runs after seeding, until Ctrl-C.

Three processes: the fake Academic Analyzer, the site (runserver), and the resync command
every ``--every`` seconds, so a mark that could not be delivered at submit is delivered
later as the student is told. The fake keeps its data in memory and starts empty each
time, so the site's record of what it holds is reset first: marks it had are due again and
the first resync, at once, sends them to the new fake.

Each child runs in its own session, so Ctrl-C reaches only this runner, which stops them
with SIGTERM (their process groups: runserver's autoreloader too) and exits 0: no
traceback, no "Segmentation fault" from a shell trap killing its own process group.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m quizsite.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="The site's port.")
    parser.add_argument("--analyzer-port", type=int, default=5055, help="The fake's API port.")
    parser.add_argument("--profile", default="token", help="The fake Analyzer's profile.")
    parser.add_argument("--token", default="demo-analyzer-token", help="The demo's token.")
    parser.add_argument(
        "--every", type=float, default=30, help="Seconds between resync runs (default 30)."
    )
    return parser


class Demo:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.python = sys.executable
        self.url = f"http://127.0.0.1:{options.analyzer_port}/api"
        self.env = {
            **os.environ,
            "DJANGO_ENV": os.environ.get("DJANGO_ENV", "local"),
            "ACADEMIC_ANALYZER_URL": self.url,
            "ACADEMIC_ANALYZER_TOKEN": options.token,
        }
        self.children: list[subprocess.Popen] = []
        self.stop = threading.Event()

    def start(self, *args: str) -> subprocess.Popen:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [self.python, *args], env=self.env, start_new_session=True
        )
        self.children.append(child)
        return child

    def manage(self, *args: str) -> None:
        """Run a management command to its end, or until Ctrl-C (then stop it too)."""
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [self.python, "manage.py", *args], env=self.env, start_new_session=True
        )
        while child.poll() is None:
            if self.stop.wait(0.2):
                os.killpg(child.pid, signal.SIGTERM)
                child.wait()

    def run(self) -> int:
        options = self.options
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda *_: self.stop.set())
        self.manage("forget_delivered_marks")
        self.start(
            "-m",
            "fake_analyzer",
            "--port",
            str(options.analyzer_port),
            "--profile",
            options.profile,
            "--token",
            options.token,
        )
        if not self.wait_for_port(options.analyzer_port):
            return self.shutdown("The fake Analyzer did not start (is the port in use?).", 1)
        self.start("manage.py", "runserver", f"127.0.0.1:{options.port}")
        print(
            f"Resync every {options.every:g} s (manage.py resync_tutorial_marks); the first "
            "runs now. Ctrl-C stops the site, the fake Analyzer and the resync.",
            flush=True,
        )
        while not self.stop.is_set():
            if any(child.poll() is not None for child in self.children):
                return self.shutdown("A demo process ended on its own; stopping the rest.", 1)
            print(f"[{datetime.now():%H:%M:%S}] resync:", flush=True)
            self.manage("resync_tutorial_marks")
            self.stop.wait(options.every)
        return self.shutdown("Demo stopped.", 0)

    def wait_for_port(self, port: int, seconds: float = 15) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.2)
        return False

    def shutdown(self, message: str, code: int) -> int:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        print(message, flush=True)
        return code


def main(argv: list[str] | None = None) -> int:
    return Demo(_parser().parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
