"""The site's WSGI application with each submit POST under cProfile (bench/profile_submit.py).

Every request whose path ends in /submit/ runs under one shared profiler; the stats are dumped
to $BENCH_PROFILE_OUT.<pid> (required) when the worker exits (on SIGTERM, SIGINT or SIGQUIT
from gunicorn's arbiter, or at exit). Only for profiling: never deployed.
"""

from __future__ import annotations

import atexit
import cProfile
import os
import signal
import sys
from typing import Any

from quizsite.wsgi import application as _site

_profiler = cProfile.Profile()
_out = os.environ["BENCH_PROFILE_OUT"]  # a path in the profiling run's own temporary folder
_dumped = False


def _dump(*_args: Any) -> None:
    global _dumped
    if not _dumped:
        _dumped = True
        _profiler.dump_stats(f"{_out}.{os.getpid()}")


def _on_signal(signum: int, frame: Any) -> None:
    _dump()
    sys.exit(0)


atexit.register(_dump)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
    signal.signal(_sig, _on_signal)


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if not environ.get("PATH_INFO", "").endswith("/submit/"):
        return _site(environ, start_response)
    _profiler.enable()
    try:
        return list(_site(environ, start_response))
    finally:
        _profiler.disable()
