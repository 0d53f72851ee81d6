"""Rough edges a newcomer hit (issue 14, point 6), one test (or two) per item.

a. File ▸ New resets every view        → test_file_new_resets_every_view
b. analysis results at a usable size    → test_analysis_results_open_at_a_usable_size
c. no clipped or overlapping text       → test_decision_boundary_message_fits_its_plot,
                                          test_confusion_matrix_class_names_fit_their_axes,
                                          test_long_class_names_never_overlap_under_a_narrow_matrix,
                                          test_runs_table_text_is_never_cut
d. elapsed time stops while paused      → test_elapsed_card_does_not_run_while_paused (and core:
                                          tests/core/test_training.py::test_elapsed_time_does_not_run_while_paused)
e. small values in scientific notation  → test_small_option_values_show_and_edit_in_scientific_notation,
                                          test_runs_table_shows_small_option_values
f. disabled buttons look disabled       → test_disabled_buttons_look_disabled
g. a reopened project's status agrees   → test_a_reopened_stopped_run_says_where_it_stopped
h. the wheel scrolls, Ctrl+wheel zooms  → test_wheel_over_a_plot_scrolls_the_panel_and_ctrl_wheel_zooms
i. Help ▸ Documentation, packaged       → test_documentation_is_shipped_with_the_package (and
                                          tests/test_docs.py::test_a_wheel_ships_the_documentation)
7. the quick quit                       → test_the_gui_command_exits_at_once_and_still_saves_what_it_must
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest

import qmlstudio.gui  # noqa: F401
from qmlstudio.core.project import load_project, save_project
from qmlstudio.gui.dataset_options import NumberSpinBox, format_number
from qmlstudio.gui.settings_panel import SettingsPanel
from qmlstudio.gui.training_dock import TrainingDock

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"


def demo_copy(tmp_path: Path, **training: Any):
    path = tmp_path / "demo.qmls"
    shutil.copy(DEMO, path)
    project = load_project(path)
    if training:
        project.training = dataclasses.replace(project.training, **training)
        save_project(project)
    return project


def seconds_of(text: str) -> float:
    """The seconds in an "Elapsed" card's text ("0.4 s", "1 min 3 s")."""
    total, number = 0.0, ""
    for part in text.replace("min", " min").split():
        if part == "min":
            total += float(number) * 60
        elif part == "s":
            total += float(number)
        elif part == "h":
            total += float(number) * 3600
        else:
            number = part
    return total


# ------------------------------------------------------------------ d. elapsed
def test_elapsed_card_does_not_run_while_paused(qtbot, tmp_path, registry) -> None:
    project = demo_copy(tmp_path, epochs=3000)
    dock = TrainingDock(project, registry, autosave=False)
    qtbot.addWidget(dock)
    dock.resize(1300, 820)
    dock.show()
    qtbot.mouseClick(dock.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.live_curves is not None and (dock.live_curves.last("iteration") or 0) > 5,
                    timeout=20_000)
    qtbot.mouseClick(dock.pause_button, Qt.MouseButton.LeftButton)
    qtbot.wait(400)
    before = dock.live_curves.last("elapsed_s")
    card_before = seconds_of(dock.cards["elapsed"].value.text())
    qtbot.wait(1500)
    assert seconds_of(dock.cards["elapsed"].value.text()) == card_before  # nothing ticks while paused
    qtbot.mouseClick(dock.pause_button, Qt.MouseButton.LeftButton)  # Resume
    iteration = dock.live_curves.last("iteration")
    qtbot.waitUntil(lambda: dock.live_curves.last("iteration") > iteration + 2, timeout=10_000)
    qtbot.wait(300)
    after = dock.live_curves.last("elapsed_s")
    # A few iterations take a fraction of a second; the 1.9 s pause is not counted.
    assert after - before < 1.2, (before, after)
    assert seconds_of(dock.cards["elapsed"].value.text()) < card_before + 1.2
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
    dock.shutdown()


# ---------------------------------------------------------- e. small values
def test_small_option_values_show_and_edit_in_scientific_notation(qtbot, project, registry) -> None:
    stack = QUndoStack()
    panel = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(panel)
    panel.show()
    combo = panel.optimizer_combo
    combo.setCurrentIndex(combo.findData("adam"))
    spin = panel.optimizer_form.editor("eps")
    assert isinstance(spin, NumberSpinBox)
    assert spin.value() == pytest.approx(1e-8, rel=1e-12)
    assert spin.text() == "1e-08"  # not 0.0000
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin, "2.5e-7")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert project.optimizer.options["eps"] == pytest.approx(2.5e-7, rel=1e-12)
    assert spin.text() == "2.5e-07"
    QTest.keyClick(spin, Qt.Key.Key_Up)  # a small value steps by a factor of ten
    assert project.optimizer.options["eps"] == pytest.approx(2.5e-6, rel=1e-9)
    # Ordinary values keep their usual look.
    assert panel.optimizer_form.editor("learning_rate").text() == format_number(
        project.optimizer.options["learning_rate"])
    assert format_number(0.01) == "0.01" and format_number(1e-8) == "1e-08"


def test_runs_table_shows_small_option_values(qtbot, tmp_path, registry) -> None:
    project = demo_copy(tmp_path)
    project.optimizer = dataclasses.replace(project.optimizer, options={**project.optimizer.options,
                                                                       "learning_rate": 2e-5, "eps": 1e-8})
    dock = TrainingDock(project, registry, autosave=False)
    qtbot.addWidget(dock)
    with qtbot.waitSignal(dock.run_finished, timeout=30_000):
        dock.train(epochs=1)
    model = dock.runs_model
    row = 0
    optimizer = model.data(model.index(row, model.COLUMNS.index("Optimizer")))
    assert "lr 2e-05" in optimizer
    tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "eps 1e-08" in tip and "0.0000" not in tip
    dock.shutdown()


# ------------------------------------------------------- f. disabled buttons
def _dark_pixels(widget, below: int = 90) -> int:
    """How many pixels of ``widget`` as drawn are darker than ``below`` (0-255): its text, mostly."""
    image = widget.grab().toImage()
    return sum(image.pixelColor(x, y).lightness() < below for x in range(image.width()) for y in range(image.height()))


@pytest.fixture
def themed(qapp):
    """The application's theme (palette and style sheet), put back as it was afterwards."""
    from PySide6.QtGui import QPalette

    from qmlstudio.gui.theme import apply_theme

    saved = (qapp.styleSheet(), QPalette(qapp.palette()), qapp.style().name())
    apply_theme(qapp)
    yield qapp
    qapp.setStyleSheet(saved[0])
    qapp.setPalette(saved[1])
    qapp.setStyle(saved[2])


def test_disabled_buttons_look_disabled(qtbot, themed, tmp_path, registry) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QPushButton

    palette = themed.palette()
    for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
        enabled = palette.color(QPalette.ColorGroup.Active, role)
        disabled = palette.color(QPalette.ColorGroup.Disabled, role)
        assert disabled.lightness() - enabled.lightness() > 80, role
    dock = TrainingDock(demo_copy(tmp_path), registry, autosave=False)
    qtbot.addWidget(dock)
    dock.show()
    qtbot.waitExposed(dock)
    assert dock.train_button.isEnabled() and not dock.stop_button.isEnabled() and not dock.pause_button.isEnabled()
    # The enabled button's text is near black; a disabled one's text and icon are grey.
    assert _dark_pixels(dock.train_button) > 40
    assert _dark_pixels(dock.stop_button) == 0
    assert _dark_pixels(dock.pause_button) == 0
    on, off = QPushButton("Apply"), QPushButton("Apply")
    off.setEnabled(False)
    for button in (on, off):
        qtbot.addWidget(button)
        button.show()
    assert _dark_pixels(on) > 20 and _dark_pixels(off) == 0


# --------------------------------------------------------------- h. the wheel
def _wheel(widget, ctrl: bool = False, steps: int = -3) -> None:
    """A real wheel event (``steps`` notches; negative: towards the user) at the middle of ``widget``."""
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(widget.width() / 2, widget.height() / 2)
    modifiers = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    event = QWheelEvent(local, QPointF(widget.mapToGlobal(local.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_over_a_plot_scrolls_the_panel_and_ctrl_wheel_zooms(qtbot, window) -> None:
    window.resize(1100, 700)
    dock = window.docks["trainingDock"]
    dock.show()
    dock.raise_()
    qtbot.wait(50)
    area = dock.widget()
    bar = area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=3000)  # the dashboard is taller than its dock
    bar.setValue(0)
    panel = window.training_dock.loss_plot
    view = panel.plot.getViewBox()
    before = [list(r) for r in view.viewRange()]
    _wheel(panel.plot_widget.viewport())
    assert bar.value() > 0, "the wheel over a plot did not scroll the panel"
    assert [list(r) for r in view.viewRange()] == before, "the plot zoomed without Ctrl"
    scrolled = bar.value()
    _wheel(panel.plot_widget.viewport(), ctrl=True, steps=2)
    assert bar.value() == scrolled
    after = view.viewRange()
    assert after[0][1] - after[0][0] < before[0][1] - before[0][0], "Ctrl + wheel did not zoom in"


# ------------------------------------------------------------- a. File ▸ New
def _curve_points(panel) -> int:
    total = 0
    for curve in panel.curves.values():
        x, _ = curve.getData()
        total += 0 if x is None else len(x)
    return total


def test_file_new_resets_every_view(qtbot, window, tmp_path) -> None:
    from qmlstudio.core.project import ModelChoice

    project = demo_copy(tmp_path)
    project.model = ModelChoice(project.model.kind, {**project.model.options, "baselines": False})
    window.set_project(project)
    dock = window.training_dock
    with qtbot.waitSignal(dock.run_finished, timeout=60_000):
        dock.train(epochs=2)
    qtbot.waitUntil(lambda: dock.state == "idle", timeout=5000)
    confusion, boundary = dock.confusion_plot, dock.boundary_plot
    assert confusion.matrix is not None and confusion.plot.getAxis("left")._tickLevels is not None
    assert _curve_points(dock.loss_plot) > 0 and dock.runs_model.rowCount() == 1
    assert dock.loss_plot.plot.getViewBox().viewRange()[0][1] > 5
    assert boundary.plot.getAxis("bottom").labelText  # the feature's name

    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)  # File ▸ New
    qtbot.waitUntil(lambda: window.project is not project, timeout=3000)

    assert dock.runs_model.rowCount() == 0
    for panel in (dock.loss_plot, dock.accuracy_plot, dock.grad_plot):
        assert _curve_points(panel) == 0, panel.name
        assert panel.plot.getViewBox().viewRange()[0][1] < 5, panel.name  # not the old run's iterations
    weights_x = [c.getData()[0] for c in dock.weights_plot.curves] if hasattr(dock.weights_plot, "curves") else []
    assert all(x is None or len(x) == 0 for x in weights_x)
    # The confusion matrix forgets the old classes and its axes; the boundary its points and axes.
    assert confusion.matrix is None and confusion.image.image is None
    for side in ("left", "bottom"):
        assert confusion.plot.getAxis(side)._tickLevels is None, side
        assert confusion.plot.getAxis(side).labelText == "", side
        assert boundary.plot.getAxis(side).labelText == "", side
    assert boundary.image.image is None and len(boundary.train_points.data) == 0 and len(boundary.test_points.data) == 0
    assert not boundary.legend.isVisible()
    for name, card in dock.cards.items():
        assert card.value.text() in ("", "—"), name
    assert dock.baselines_table.rowCount() == 0
    assert dock.progress.format() == "No run yet" and dock.state == "idle"
    assert "Untitled" in window.windowTitle()


# ------------------------------------------------- g. a reopened project's status
def test_a_reopened_stopped_run_says_where_it_stopped(qtbot, tmp_path, registry) -> None:
    from qmlstudio.core.project import ModelChoice
    from qmlstudio.core.training import Controls
    from qmlstudio.gui.main_window import MainWindow
    from qmlstudio.workflow import build_run

    project = demo_copy(tmp_path, epochs=100)
    project.model = ModelChoice(project.model.kind, {**project.model.options, "baselines": False})
    controls = Controls()

    def stop_after_seven(report) -> None:
        if report.iteration >= 7:
            controls.cancel()

    record = build_run(project, registry, controls=controls, callback=stop_after_seven).run()
    assert record.status == "stopped" and record.metrics["iteration"][-1] == 7
    project.add_run(record)
    path = save_project(project)

    window = MainWindow(load_project(path), registry=registry)  # what `qmlstudio gui demo.qmls` opens
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    dock = window.training_dock
    loss = [c.getData()[0] for (_, metric), c in dock.loss_plot.curves.items() if metric == "loss"]
    assert [len(x) for x in loss] == [7]  # the plots show the 7 iterations...
    status = dock.progress.format()
    assert "Stopped after 7 iterations" in status, status  # ...and the status says the same
    assert dock.state == "idle" and dock.state_label.text() != ""


# ------------------------------------------------------- i. the documentation
class _UrlCatcher(QObject):
    """Stands in for the desktop's URL opener (``QDesktopServices.setUrlHandler``)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list = []

    @Slot(QUrl)
    def open(self, url) -> None:
        self.urls.append(url)


def test_documentation_is_shipped_with_the_package(qtbot, window) -> None:
    from PySide6.QtGui import QDesktopServices

    import qmlstudio

    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        window.activateWindow()
        QTest.keyClick(window, Qt.Key.Key_F1)  # Help ▸ Documentation
        qtbot.waitUntil(lambda: bool(catcher.urls), timeout=3000)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    url = catcher.urls[0]
    assert url.isLocalFile()
    opened = Path(url.toLocalFile())
    package = Path(qmlstudio.__file__).parent
    assert opened.is_file() and opened.name == "index.md"
    # Inside the package (qmlstudio/docs/), not the checkout's docs/ folder.
    assert opened.parent == package / "docs"
    text = opened.read_text(encoding="utf-8")
    for page in ("project-format.md", "plugins.md", "backends.md", "analysis.md"):
        assert f"]({page})" in text and (package / "docs" / page).is_file(), page


# ------------------------------------------------- b. analysis results' size
def test_analysis_results_open_at_a_usable_size(qtbot, window) -> None:
    window.resize(1300, 850)
    controller = window.analysis
    controller.ask = lambda study, defaults: {"qubits": "2-3", "layers": "2", "samples": 30}
    try:
        with qtbot.waitSignal(controller.finished, timeout=60_000):
            controller.actions["barren-plateau"].trigger()
        dock = controller.docks["barren-plateau"]
        assert dock.isVisible() and dock.isFloating()
        # 900 × 600 at least, or the whole screen where it is smaller (offscreen: 800 × 600).
        screen = window.screen().availableGeometry()
        assert dock.width() >= min(900, screen.width()) and dock.height() >= min(600, screen.height()), dock.size()
        assert screen.contains(dock.frameGeometry()) or screen.intersected(dock.geometry()).width() >= 0.9 * dock.width()
        plot = dock.content.plot
        assert plot.width() >= 300 and plot.height() >= 350, plot.size()
        # The main window's own panels kept their place: the results did not squeeze in among them.
        assert not window.docks["trainingDock"].isFloating()
        assert window.dockWidgetArea(window.docks["trainingDock"]) == Qt.DockWidgetArea.BottomDockWidgetArea
    finally:
        controller.cancel()
        controller.wait()


# ------------------------------------------------------ c. no clipped text
def _scene_rect_in_view(item, view_box):
    """``item``'s bounding rectangle and ``view_box``'s, both in scene pixels."""
    return item.mapRectToScene(item.boundingRect()), view_box.mapRectToScene(view_box.boundingRect())


def test_decision_boundary_message_fits_its_plot(qtbot, tmp_path, registry) -> None:
    from qmlstudio.workflow import new_project

    project = new_project(registry, name="iris", dataset="iris", epochs=1, seed=3)
    dock = TrainingDock(project, registry, autosave=False)
    qtbot.addWidget(dock)
    dock.resize(900, 700)  # a dashboard of three narrow columns
    dock.show()
    qtbot.waitExposed(dock)
    with qtbot.waitSignal(dock.run_finished, timeout=60_000):
        dock.train(epochs=1)
    panel = dock.boundary_plot
    qtbot.waitUntil(lambda: "features" in panel.placeholder.toPlainText(), timeout=3000)
    qtbot.wait(50)
    view_box = panel.plot.getViewBox()
    for width in (900, 700):
        dock.resize(width, 700)
        qtbot.wait(50)
        text_rect, view_rect = _scene_rect_in_view(panel.placeholder, view_box)
        assert view_rect.contains(text_rect), (panel.placeholder.toPlainText(), text_rect, view_rect)
    dock.shutdown()


def test_confusion_matrix_class_names_fit_their_axes(qtbot, tmp_path, registry) -> None:
    from PySide6.QtGui import QFontMetrics

    project = demo_copy(tmp_path)  # two moons: "upper moon" and "lower moon"
    dock = TrainingDock(project, registry, autosave=False)
    qtbot.addWidget(dock)
    dock.resize(1000, 760)
    dock.show()
    qtbot.waitExposed(dock)
    with qtbot.waitSignal(dock.run_finished, timeout=60_000):
        dock.train(epochs=1)
    panel = dock.confusion_plot
    qtbot.waitUntil(lambda: panel.matrix is not None, timeout=5000)
    qtbot.wait(50)
    left = panel.plot.getAxis("left")
    font = left.style.get("tickFont") or left.font()
    metrics = QFontMetrics(font)
    names = [text for _, text in left._tickLevels[0]]
    assert names == ["upper moon", "lower moon"]
    # The left axis is wide enough for the longest name (plus the tick and its gap).
    needed = max(metrics.horizontalAdvance(n) for n in names) + left.style["tickTextOffset"][0]
    assert left.width() >= needed, (left.width(), needed)
    # Under the columns each line of a name fits its column's width in pixels.
    bottom = panel.plot.getAxis("bottom")
    view_box = panel.plot.getViewBox()
    column_px = view_box.mapViewToScene(QPointF(1, 0)).x() - view_box.mapViewToScene(QPointF(0, 0)).x()
    for _, text in bottom._tickLevels[0]:
        for line in text.split("\n"):
            assert QFontMetrics(bottom.style.get("tickFont") or bottom.font()).horizontalAdvance(line) <= column_px
        lines = text.count("\n") + 1
        assert bottom.height() >= lines * metrics.height(), (bottom.height(), lines)
    dock.shutdown()


def test_runs_table_text_is_never_cut(qtbot, tmp_path, registry) -> None:
    from PySide6.QtGui import QFontMetrics

    project = demo_copy(tmp_path)
    dock = TrainingDock(project, registry, autosave=False)
    qtbot.addWidget(dock)
    dock.resize(520, 700)  # narrow: a cell that must be cut says itself whole on hover
    dock.show()
    qtbot.waitExposed(dock)
    with qtbot.waitSignal(dock.run_finished, timeout=60_000):
        dock.train(epochs=1)
    view, model = dock.runs_view, dock.runs_model
    qtbot.wait(50)
    margin = 2 * (view.style().pixelMetric(view.style().PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            text = str(model.data(index) or "")
            font = model.data(index, Qt.ItemDataRole.FontRole) or view.font()
            needed = QFontMetrics(font).horizontalAdvance(text) + margin
            tip = model.data(index, Qt.ItemDataRole.ToolTipRole) or ""
            assert view.columnWidth(column) >= needed or text in tip, (model.COLUMNS[column], text)
    header = view.horizontalHeader()
    for column, title in enumerate(model.COLUMNS):
        assert header.sectionSize(column) >= QFontMetrics(header.font()).horizontalAdvance(title), title
    # The results table beside it: each cell fits, or says itself whole on hover.
    table = dock.baselines_table
    assert table.rowCount() >= 1
    for row in range(table.rowCount()):
        for column in range(table.columnCount()):
            item = table.item(row, column)
            needed = QFontMetrics(item.font()).horizontalAdvance(item.text()) + margin
            assert table.columnWidth(column) >= needed or item.text() in (item.toolTip() or ""), item.text()
    dock.shutdown()


def test_long_class_names_never_overlap_under_a_narrow_matrix(qtbot) -> None:
    """Three long names (a CSV's "Iris-versicolor") under a narrow confusion matrix."""
    from types import SimpleNamespace

    import numpy as np
    from PySide6.QtGui import QFontMetrics

    from qmlstudio.gui.plots import ConfusionPanel

    panel = ConfusionPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    names = ["Iris-setosa", "Iris-versicolor", "Iris-virginica of the north"]
    frame = SimpleNamespace(task="classification", confusion=np.array([[5, 1, 0], [0, 4, 2], [1, 0, 6]]), split="test")
    panel.set_frame(frame, SimpleNamespace(class_names=names))
    for width in (300, 200):
        panel.resize(width, 300)
        qtbot.wait(50)
        bottom, left = panel.plot.getAxis("bottom"), panel.plot.getAxis("left")
        metrics = QFontMetrics(bottom.style.get("tickFont") or bottom.font())
        view_box = panel.plot.getViewBox()
        column = view_box.mapViewToScene(QPointF(1, 0)).x() - view_box.mapViewToScene(QPointF(0, 0)).x()
        texts = [t for _, t in bottom._tickLevels[0]]
        assert len(texts) == 3
        for text in texts:
            for line in text.split("\n"):
                assert metrics.horizontalAdvance(line) <= column, (line, column)
            assert bottom.height() >= (text.count("\n") + 1) * metrics.height()
        widest = max(metrics.horizontalAdvance(t) for _, t in left._tickLevels[0])
        assert left.width() >= widest + left.style["tickTextOffset"][0]
    assert all(name in panel.plot_widget.toolTip() for name in names)


# ------------------------------------------------------------- 7. a fast quit
def test_the_gui_command_exits_at_once_and_still_saves_what_it_must(tmp_path) -> None:
    """`qmlstudio gui` ends with os._exit after the window closed (issue 14, point 7): exit
    handlers still run, the layout is saved, no autosave is left, and a background job still
    running is not waited for."""
    import os
    import subprocess
    import sys
    import time

    repo = Path(__file__).resolve().parents[2]
    config = tmp_path / "config"
    marker, started_job = tmp_path / "atexit-ran", tmp_path / "job-started"
    code = f"""
import atexit, sys, time
atexit.register(lambda: open({str(marker)!r}, "w").write("yes"))
from qmlstudio.gui import background
from PySide6.QtCore import QTimer
# A preview job that would hold an ordinary exit for 20 s.
def job():
    open({str(started_job)!r}, "w").write("yes")
    time.sleep(20)
from qmlstudio.gui import app as gui_app
made = gui_app.application
def application():
    qapp = made()
    QTimer.singleShot(300, lambda: background.run_in_background(job, lambda ok, v: None))
    return qapp
gui_app.application = application
sys.argv = ["qmlstudio", "gui", "--quit-after", "5000"]
from qmlstudio.cli import main
sys.exit(main())
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QMLSTUDIO_CONFIG_DIR=str(config))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), str(repo / "plugins"), env.get("PYTHONPATH")]))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert took < 15, took  # not the 20 s of the abandoned job
    assert marker.read_text() == "yes"
    assert started_job.read_text() == "yes"  # the job was running when the window closed
    assert (config / "gui.ini").is_file()  # the window's layout was saved
    assert not list(config.rglob("*.autosave"))
