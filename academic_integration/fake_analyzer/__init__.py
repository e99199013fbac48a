"""The bundled fake Academic Analyzer, for the demo, integration tests and drills.

See `server` for the HTTP servers and `control` for the client and runners.
"""

from .control import (
    FakeAnalyzerControl,
    FakeAnalyzerControlError,
    FakeAnalyzerHandle,
    FakeAnalyzerProcess,
    running_fake_analyzer,
    start_fake_analyzer_process,
)
from .server import FAULT_KINDS, AnalyzerState, FakeAnalyzer, demo_seed

__all__ = [
    "FAULT_KINDS",
    "AnalyzerState",
    "FakeAnalyzer",
    "FakeAnalyzerControl",
    "FakeAnalyzerControlError",
    "FakeAnalyzerHandle",
    "FakeAnalyzerProcess",
    "demo_seed",
    "running_fake_analyzer",
    "start_fake_analyzer_process",
]
