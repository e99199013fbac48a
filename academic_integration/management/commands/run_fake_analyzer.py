"""`manage.py run_fake_analyzer`: serve the bundled fake Academic Analyzer."""

import os
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from academic_integration.fake_analyzer.control import TOKEN_ENV
from academic_integration.fake_analyzer.server import FakeAnalyzer


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(value)
    return port


class Command(BaseCommand):
    help = (
        "Run the bundled fake Academic Analyzer (in memory) until Ctrl-C or SIGTERM: the API "
        "under /api on --port and the control API (seeding, faults, read-back) on "
        "--control-port."
    )
    # It touches neither models nor the database, so it starts even without migrations.
    requires_system_checks = []

    def add_arguments(self, parser):
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
            "--token",
            default=os.environ.get(TOKEN_ENV) or None,
            help=f"Require 'Authorization: Bearer TOKEN' (default: ${TOKEN_ENV}; none).",
        )
        parser.add_argument(
            "--legacy",
            action="store_true",
            help="Behave like an older deployment (403 HTML for bad tokens, no verify-email, "
            "500 stack trace for deleted courses).",
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

    def handle(self, *args, **options):
        port = options["port"]
        control_port = options["control_port"]
        if control_port is None:
            control_port = port + 1 if port else 0
        if control_port > 65535:
            raise CommandError("--control-port is needed when --port is 65535.")
        if options["latency_ms"] < 0:
            raise CommandError("--latency-ms cannot be negative.")
        analyzer = FakeAnalyzer(
            host=options["host"],
            port=port,
            control_port=control_port,
            token=options["token"],
            legacy=options["legacy"],
            latency_ms=options["latency_ms"],
            seed=not options["no_seed"],
        )
        try:
            analyzer.start()
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{port} / {control_port}: {exc}"
            ) from exc

        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())

        flavour = "legacy" if options["legacy"] else "modern"
        token = "token: set" if options["token"] else "no token"
        data = "empty" if options["no_seed"] else "demo data"
        self.stdout.write(
            f"Fake Academic Analyzer ({flavour}, {token}, "
            f"latency {options['latency_ms']:g} ms, {data})"
        )
        # start_fake_analyzer_process() parses these two lines.
        self.stdout.write(f"API: {analyzer.api_url}")
        self.stdout.write(f"Control: {analyzer.control_url}")
        self.stdout.write("Quit with CONTROL-C.")
        self.stdout.flush()
        try:
            # A timed wait keeps the main thread responsive to Ctrl-C.
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            analyzer.stop()
        self.stdout.write("Fake Academic Analyzer stopped.")
