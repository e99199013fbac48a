"""The bundled fake Academic Analyzer, for the demo, integration tests and drills.

Not part of the product: nothing in `academic_integration` or `quizzes` imports it.
Run it with `python -m fake_analyzer`. Modules, in the order a request meets them:
`server` (the two listeners), `handlers` (HTTP plumbing and acted-out faults), `state`
(the data and the Analyzer contract), `seed`, `faults`, `responses`; `control` drives it
from tests, the demo, the bench and the drill.
"""

from .control import (
    FakeAnalyzerControl,
    FakeAnalyzerControlError,
    FakeAnalyzerHandle,
    FakeAnalyzerProcess,
    running_fake_analyzer,
    start_fake_analyzer_process,
)
from .faults import FAULT_KINDS
from .seed import demo_seed
from .server import FakeAnalyzer
from .state import AnalyzerState

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
