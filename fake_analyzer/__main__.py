"""`python -m fake_analyzer`: serve the bundled fake Academic Analyzer until Ctrl-C or SIGTERM.

A development and test tool, not part of the product: it needs neither Django nor the
database, so it is a plain module entry point rather than a management command.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from .control import TOKEN_ENV
from .profiles import PROFILE_NAMES, PROFILES, profile_for_flags
from .server import FakeAnalyzer


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(value)
    return port


_port.__name__ = "port"  # argparse names the type in its error message


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fake_analyzer",
        description=(
            "Run the bundled fake Academic Analyzer (in memory) until Ctrl-C or SIGTERM: the "
            "API under /api on --port and the control API (seeding, faults, read-back) on "
            "--control-port."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="Interface to bind (default 127.0.0.1)."
    )
    parser.add_argument(
        "--port", type=_port, default=5055, help="API port (default 5055; 0 picks one)."
    )
    parser.add_argument(
        "--control-port",
        type=_port,
        default=None,
        help="Control API port (default: --port + 1, or a free one when --port is 0).",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default=None,
        help="Which Analyzer to act out: "
        + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values())
        + " (default: upstream; token when only --token is given, legacy with --legacy).",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"Require 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV}; none).",
    )
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="The old name of --profile legacy.",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0,
        help="Fixed latency added to every API request, in milliseconds.",
    )
    parser.add_argument(
        "--no-seed",
        action="store_true",
        help="Start empty instead of with the demo teachers, students and courses.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    # The same format and level knob as the site's own logging (DJANGO_LOG_LEVEL).
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
        level=os.environ.get("DJANGO_LOG_LEVEL", "INFO").upper(),
    )
    port = options.port
    control_port = options.control_port
    if control_port is None:
        control_port = port + 1 if port else 0
    if control_port > 65535:
        parser.error("--control-port is needed when --port is 65535.")
    if options.latency_ms < 0:
        parser.error("--latency-ms cannot be negative.")
    if options.profile is not None and options.legacy:
        parser.error("--legacy is --profile legacy: give one of them.")
    profile = PROFILES.get(options.profile or "") or profile_for_flags(
        token=options.token, legacy=options.legacy
    )
    analyzer = FakeAnalyzer(
        host=options.host,
        port=port,
        control_port=control_port,
        profile=profile.name,
        token=options.token,
        latency_ms=options.latency_ms,
        seed=not options.no_seed,
    )
    try:
        analyzer.start()
    except OSError as exc:
        print(f"Cannot listen on {options.host}:{port} / {control_port}: {exc}", file=sys.stderr)
        return 1

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

    if profile.front is None:
        token = "no token checked" + (" (--token ignored)" if options.token else "")
    else:
        token = "token: set" if options.token else "token: none set, nothing checked"
    data = "empty" if options.no_seed else "demo data"
    latency = f"latency {options.latency_ms:g} ms"
    print(f"Fake Academic Analyzer (profile {profile.name}, {token}, {latency}, {data})")
    # start_fake_analyzer_process() parses these two lines.
    print(f"API: {analyzer.api_url}")
    print(f"Control: {analyzer.control_url}")
    print("Quit with CONTROL-C.", flush=True)
    try:
        # A timed wait keeps the main thread responsive to Ctrl-C.
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        analyzer.stop()
    print("Fake Academic Analyzer stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
