"""The screen geometry report that scripts/gui-smoke.sh drives the real app with."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPointF

from qmlstudio.gui.debug_geometry import GEOMETRY_ENV, describe, report_geometry_if_asked
from qmlstudio.gui.editor import PaletteEntry
from qmlstudio.gui.editor.palette import ENTRY_ROLE
from qmlstudio.gui.main_window import MainWindow


def test_the_report_points_at_the_palette_entries_canvas_cells_and_buttons(window: MainWindow) -> None:
    report = describe(window)
    h = report["palette"]["gate:h"]
    assert h["visible"]
    items = window.palette_widget.item_for("gate", "h").listWidget()
    at = items.viewport().mapFromGlobal(QPointF(h["x"], h["y"])).toPoint()
    assert items.itemAt(at).data(ENTRY_ROLE) == PaletteEntry("gate", "h")

    canvas, layout = window.editor.canvas, window.editor.scene.layout
    cells = report["canvas"]
    assert len(cells["wires"]) == window.project.circuit.num_qubits
    assert cells["num_columns"] == window.project.circuit.num_columns
    at = canvas.viewport().mapFromGlobal(QPointF(cells["columns"][3], cells["wires"][1])).toPoint()
    scene = canvas.mapToScene(at)
    assert (layout.column_at(scene.x()), layout.nearest_qubit(scene.y())) == (3, 1)

    train = report["actions"]["run.train"]
    button = window.toolbar.widgetForAction(window.named_actions["run.train"])
    assert button.rect().contains(button.mapFromGlobal(QPointF(train["x"], train["y"])).toPoint())
    assert report["gates"] == len(window.project.circuit.gates) and report["runs"] == []
    assert report["run_state"] == "idle"


def test_the_report_is_written_only_when_asked(window: MainWindow, tmp_path: Path, monkeypatch, qtbot) -> None:
    monkeypatch.delenv(GEOMETRY_ENV, raising=False)
    assert report_geometry_if_asked(window) is None
    path = tmp_path / "geometry.json"
    monkeypatch.setenv(GEOMETRY_ENV, str(path))
    report = report_geometry_if_asked(window)
    assert report is not None
    qtbot.waitUntil(path.exists, timeout=2000)
    assert json.loads(path.read_text())["gates"] == len(window.project.circuit.gates)
    window.editor.add_qubit()
    qtbot.waitUntil(lambda: len(json.loads(path.read_text())["canvas"]["wires"]) == window.project.circuit.num_qubits,
                    timeout=2000)
