"""The training dashboard's plots (pyqtgraph): curves, weights, decision boundary, confusion matrix.

Data and drawing are kept apart. A :class:`RunCurves` holds one run's metrics in growable
numpy arrays, filled from the engine's reports (a live run) or from a saved
:class:`~qmlstudio.core.project.RunRecord`; it never touches Qt. The plot panels show a list
of ``RunCurves`` and redraw only when asked (:meth:`CurvesPanel.refresh`), with one
``setData`` per curve, so the dock can redraw at a bounded frame rate however fast
iterations come. Long runs stay cheap to draw: curves are clipped to the view and
peak-downsampled, and weight trajectories are thinned as they grow.

Every panel is a titled card with an export button (PNG or SVG through pyqtgraph's
exporters, also :meth:`PlotPanel.export`).

The module is split by responsibility: :mod:`~qmlstudio.gui.plot_data` (the runs' data),
:mod:`~qmlstudio.gui.plot_panels` (the card, the curves and the weights) and
:mod:`~qmlstudio.gui.plot_maps` (decision boundary, confusion matrix); every name is
re-exported here.
"""

from __future__ import annotations

from qmlstudio.gui.plot_data import *  # noqa: F403
from qmlstudio.gui.plot_data import split_rows, _number, _task_of  # noqa: F401
from qmlstudio.gui.plot_maps import *  # noqa: F403
from qmlstudio.gui.plot_maps import probability_image  # noqa: F401
from qmlstudio.gui.plot_panels import *  # noqa: F403
from qmlstudio.gui.plot_panels import (  # noqa: F401
    CurveSpec, LogAxis, StickyRange, _palette_colours, export_plot_item, wheel_zooms_with_ctrl, wrap_text,
)


__all__ = [
    "CLASS_COLOURS",
    "RUN_COLOURS",
    "TEST_COLOUR",
    "TRAIN_COLOUR",
    "BoundaryPanel",
    "ConfusionPanel",
    "CurvesPanel",
    "PlotPanel",
    "RunCurves",
    "Series",
    "WeightsPanel",
    "export_plot_item",
]
