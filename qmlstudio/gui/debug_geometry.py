"""Where the main window's widgets are on screen, for scripts that drive the real app with a real mouse.

With ``QMLSTUDIO_DEBUG_GEOMETRY=FILE`` in the environment, ``qmlstudio gui`` keeps FILE up
to date (JSON, rewritten atomically whenever it changes, checked four times a second) with
screen coordinates that ``xdotool`` can use as they are:

``window``
    the main window's frame, ``[x, y, width, height]``.
``palette``
    ``{"gate:h": {"x": ..., "y": ..., "visible": true}, ...}``: the centre of every palette
    entry (``kind:name``), and whether it can be clicked now (its section is shown and it
    is inside the palette's scrolled area).
``canvas``
    ``viewport`` (a rectangle), ``wires`` (the y of each qubit wire), ``columns`` (the x
    of each column's centre, a few past the circuit's end) and ``num_columns`` (the
    circuit's length).
``actions``
    the centre of each toolbar button by action name (``"run.train"``...).
``tabs``
    the centre of every visible dock tab by its title, and whether it is the current one.
``settings``, ``backend``
    the Device noise combo of the Model and Training panel (its centre, the device chosen,
    whether it is scrolled into view)
    and the note under it; the project's backend (name and options).
``evaluate_dialog``
    while *Evaluate on…* is open: the centres of its backend list, of each option's editor and
    of its Evaluate button, and the refusal and command lines it shows.
``plugin_dialog``
    while Plugins ▸ Manage Plugins is open: the centres, state and text of its install field and
    its Install, confirm and Close buttons, its status line, the end of pip's output, and whether
    an operation runs.
``layerwise_dialog``, ``layer_strip``
    while *Train Layerwise…* is open: the centres and values of its two spin boxes, the centre
    of its Train button and its summary line; and the training dock's layer strip (whether it
    is shown, its caption, each layer's state).
``run_state``, ``gates``, ``runs``
    the Run actions' state, the number of gates in the circuit, and each run's status and
    number of recorded iterations, so that a script can wait for a drop or a run to finish.

``scripts/gui-smoke.sh`` uses it, so that the smoke run follows the layout wherever the
docks and tool bars are.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPoint, QPointF, QRect, QTimer
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QScrollArea, QTabBar, QWidget

from qmlstudio.gui.editor.palette import ENTRY_ROLE

GEOMETRY_ENV = "QMLSTUDIO_DEBUG_GEOMETRY"


def _rect(widget: QWidget, rect: QRect | None = None) -> list[int]:
    rect = widget.rect() if rect is None else rect
    top_left = widget.mapToGlobal(rect.topLeft())
    return [top_left.x(), top_left.y(), rect.width(), rect.height()]


def _point(widget: QWidget, point: QPoint) -> dict[str, int]:
    at = widget.mapToGlobal(point)
    return {"x": at.x(), "y": at.y()}


def _in_view(widget: QWidget) -> bool:
    """Whether ``widget``'s centre can be clicked: it is shown and inside the viewport of every
    scrolled area around it."""
    if not widget.isVisible():
        return False
    centre = widget.rect().center()
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            viewport = parent.viewport()
            if not viewport.rect().contains(widget.mapTo(viewport, centre)):
                return False
        parent = parent.parentWidget()
    return True


def describe(window: Any) -> dict[str, Any]:
    """The screen geometry of ``window``'s palette, canvas and tool bar, and its state."""
    palette = window.palette_widget
    scroll = palette.findChild(QScrollArea, "paletteScroll")
    entries: dict[str, Any] = {}
    for _, items in palette.sections.values():
        for i in range(items.count()):
            item = items.item(i)
            entry = item.data(ENTRY_ROLE)
            centre = items.visualItemRect(item).center()
            inside = scroll is not None and scroll.viewport().rect().contains(
                items.viewport().mapTo(scroll.viewport(), centre))
            visible = bool(items.isVisible() and not item.isHidden() and inside)
            entries[f"{entry.kind}:{entry.name}"] = {**_point(items.viewport(), centre), "visible": visible}

    canvas = window.editor.canvas
    layout = window.editor.scene.layout
    viewport = canvas.viewport()

    def on_screen(x: float, y: float) -> QPoint:
        return viewport.mapToGlobal(canvas.mapFromScene(QPointF(x, y)))

    wires = [on_screen(layout.x0, layout.wire_y(q)).y() for q in range(layout.num_qubits)]
    columns = [on_screen(layout.column_x(c), layout.wire_y(0)).x() for c in range(layout.num_columns + 6)]

    actions: dict[str, Any] = {}
    for key, action in window.named_actions.items():
        button = window.toolbar.widgetForAction(action)
        if button is not None and button.isVisible():
            actions[key] = {**_point(button, button.rect().center()), "enabled": action.isEnabled()}

    buttons: dict[str, Any] = {}
    dock = getattr(window, "training_dock", None)
    for key, name in (("evaluate", "evaluate_button"), ("train", "train_button"), ("layerwise", "layerwise_button"),
                      ("stop", "stop_button")):
        button = getattr(dock, name, None)
        if button is not None and button.isVisible():
            buttons[key] = {**_point(button, button.rect().center()), "enabled": button.isEnabled()}
    label = getattr(dock, "evaluations_label", None)
    project = window.project
    tabs: dict[str, Any] = {}
    for bar in window.findChildren(QTabBar):
        if bar.isVisible():
            for i in range(bar.count()):
                tabs[bar.tabText(i)] = {**_point(bar, bar.tabRect(i).center()), "current": i == bar.currentIndex()}
    settings: dict[str, Any] = {}
    panel = getattr(window, "settings_panel", None)
    combo = getattr(panel, "noise_combo", None)
    if combo is not None and combo.isVisible():
        settings["noise"] = {**_point(combo, combo.rect().center()), "device": combo.currentData(),
                             "in_view": _in_view(combo)}
        note = panel.noise_note
        settings["noise_note"] = note.text() if note.isVisible() else ""
    kind = getattr(panel, "kind_combo", None)
    if kind is not None and kind.isVisible():
        settings["kind"] = {**_point(kind, kind.rect().center()), "kind": kind.currentData(), "in_view": _in_view(kind),
                            "items": {kind.itemData(i): {"text": kind.itemText(i), "enabled": kind.model().item(i).isEnabled()}
                                      for i in range(kind.count())}}
    parts: dict[str, Any] = {}
    for key, item in window.editor.scene.part_items.items():
        center = on_screen(item.rect.center().x(), item.rect.center().y())
        parts[key] = {"x": center.x(), "y": center.y(), "lines": list(item.part.get("lines", ())),
                      "parameters": item.part.get("parameters"), "selected": item.isSelected()}
    inspector: dict[str, Any] = {}
    shown = getattr(window, "inspector", None)
    if shown is not None and shown.isVisible():
        inspector["title"] = shown.title.text()
        if shown.part_form.isVisible():
            inspector["options"] = {o.name: _point(shown.part_form.editor(o.name),
                                                   shown.part_form.editor(o.name).rect().center())
                                    for o in shown.part_form.options}
    dialog: dict[str, Any] = {}
    modal = QApplication.activeModalWidget()
    if modal is not None and modal.objectName() == "evaluateDialog" and modal.isVisible():
        dialog = {"backend": {**_point(modal.backend_combo, modal.backend_combo.rect().center()),
                              "name": modal.backend_combo.currentData()},
                  "options": {o.name: _point(modal.options.editor(o.name), modal.options.editor(o.name).rect().center())
                              for o in modal.options.options},
                  "evaluate": {**_point(modal.evaluate_button, modal.evaluate_button.rect().center()),
                               "enabled": modal.evaluate_button.isEnabled()},
                  "refusal": modal.refusal.text() if modal.refusal.isVisible() else "",
                  "command": modal.command.text()}
    plugins: dict[str, Any] = {}
    if modal is not None and modal.objectName() == "pluginManagerDialog" and modal.isVisible():
        plugins = {name: {**_point(widget, widget.rect().center()), "enabled": widget.isEnabled(),
                          "visible": widget.isVisible(), "text": widget.text()}
                   for name, widget in (("install_field", modal.install_edit), ("install", modal.install_button),
                                        ("confirm", modal.confirm_button), ("close", modal.close_button))}
        plugins["status"] = modal.status_label.text()
        plugins["output"] = modal.output.toPlainText()[-2000:]
        plugins["busy"] = modal.busy
    layerwise: dict[str, Any] = {}
    if modal is not None and modal.objectName() == "layerwiseDialog" and modal.isVisible():
        train = modal.buttons.buttons()[0]
        layerwise = {"per_layer": {**_point(modal.per_layer, modal.per_layer.rect().center()), "value": modal.per_layer.value()},
                     "then_all": {**_point(modal.then_all, modal.then_all.rect().center()), "value": modal.then_all.value()},
                     "train": {**_point(train, train.rect().center()), "enabled": train.isEnabled()},
                     "summary": modal.summary.text()}
    strip = getattr(dock, "layer_strip", None)
    return {
        "evaluate_dialog": dialog,
        "layerwise_dialog": layerwise,
        "layer_strip": {"visible": strip.isVisible(), "caption": strip.caption, "states": list(strip.states)}
        if strip is not None else {},
        "plugin_dialog": plugins,
        "tabs": tabs,
        "settings": settings,
        "backend": {"name": project.backend.name, "options": dict(project.backend.options)} if project is not None else None,
        "model": {"kind": project.model.kind, "options": dict(project.model.options)} if project is not None else None,
        "buttons": buttons,
        "evaluations": [len(run.evaluations) for run in getattr(project, "runs", [])],
        "evaluations_text": label.text() if label is not None and label.isVisible() else "",
        "window": [window.frameGeometry().x(), window.frameGeometry().y(),
                   window.frameGeometry().width(), window.frameGeometry().height()],
        "palette": entries,
        "canvas": {"viewport": _rect(viewport), "wires": wires, "columns": columns,
                   "num_columns": layout.num_columns, "parts": parts},
        "inspector": inspector,
        "actions": actions,
        "run_state": window.run_state,
        "gates": len(project.circuit.gates) if project is not None else 0,
        "runs": [{"status": run.status, "iterations": run.num_points} for run in getattr(project, "runs", [])],
    }


class GeometryReport(QObject):
    """Keeps ``path`` up to date with :func:`describe` of ``window`` while the window lives."""

    INTERVAL_MS = 250

    def __init__(self, window: Any, path: str | os.PathLike[str]) -> None:
        super().__init__(window)
        self.window = window
        self.path = Path(path)
        self._last = ""
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.write)
        self._timer.start()

    def write(self) -> None:
        if not self.window.isVisible():
            return
        text = json.dumps(describe(self.window), indent=1)
        if text == self._last:
            return
        self._last = text
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            print(f"qmlstudio: cannot write {GEOMETRY_ENV}={self.path}: {exc}", file=sys.stderr)
            self._timer.stop()


def report_geometry_if_asked(window: Any) -> GeometryReport | None:
    """Starts a :class:`GeometryReport` when ``$QMLSTUDIO_DEBUG_GEOMETRY`` names a file."""
    path = os.environ.get(GEOMETRY_ENV, "").strip()
    return GeometryReport(window, path) if path else None
