"""The engine's names that the windows and the CLI use, re-exported by the application layer.

``qmlstudio.gui`` and ``qmlstudio.cli`` never import the engine's modules
(``qmlstudio.core.training``, ``models``, ``statevector``, ``analysis``...: an import-linter
contract in pyproject.toml); what they need of them comes from here, so that the engine's
modules can change without the windows following. Everything here is imported from
``qmlstudio.workflow``.
"""

from __future__ import annotations

from qmlstudio.core.analysis import (
    AnalysisError,
    barren_plateau_study,
    encoding_study,
    gradient_heatmap,
    initialisation_study,
    parse_range,
    project_kernel_study,
    template_builder,
)
from qmlstudio.core.control import Cancelled, Controls, Run
from qmlstudio.core.memory import SimulationTooLarge, format_bytes
from qmlstudio.core.preprocessing import PreparedData
from qmlstudio.core.report import render_report, write_report
from qmlstudio.core.training import (
    IterationReport,
    Predictions,
    TrainingError,
    batches_per_epoch,
    confusion_matrix,
)

__all__ = [
    "AnalysisError",
    "Cancelled",
    "Controls",
    "IterationReport",
    "Predictions",
    "PreparedData",
    "Run",
    "SimulationTooLarge",
    "TrainingError",
    "barren_plateau_study",
    "batches_per_epoch",
    "confusion_matrix",
    "encoding_study",
    "format_bytes",
    "gradient_heatmap",
    "initialisation_study",
    "parse_range",
    "project_kernel_study",
    "render_report",
    "template_builder",
    "warm_up",
    "write_report",
]


def warm_up() -> None:
    """Compiles the exact simulator's loops, or loads them from Numba's cache (seconds the
    first time): call it off the GUI thread before the first run or state view needs them."""
    from qmlstudio.core._loops import warm_up as compile_loops

    compile_loops()
