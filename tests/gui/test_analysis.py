"""The Analysis menu on a real main window: each study from its menu action, in a worker
thread, with its result in a dock."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _menu_titles(win) -> list[str]:
    return [a.text().replace("&", "") for a in win.menuBar().actions()]


def test_menu_sits_before_help(analysis_window) -> None:
    win, controller = analysis_window
    titles = _menu_titles(win)
    assert titles.index("Analysis") == titles.index("Help") - 1
    assert set(controller.actions) == {"barren-plateau", "encodings", "kernel", "report", "cancel"}
    assert win.analysis is controller


def test_barren_plateau_from_the_menu(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.ask = lambda study, defaults: {"qubits": "2-5", "layers": "2,10", "samples": 60}
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.actions["barren-plateau"].trigger()
    study, (result, heat) = blocker.args
    assert study == "barren-plateau"
    dock = controller.docks["barren-plateau"]
    assert dock.isVisible() and not dock.progress.isVisible()
    view = dock.content
    names = [item.text for _, item in view.plot.legend.items]
    assert any(name.startswith("global, 10 layers: a = ") for name in names)
    # every curve carries its variances' 95% bootstrap intervals, drawn around its points
    assert len(view.plot.error_bars) == 4
    bars = view.plot.error_bars[0].opts
    low, high = np.asarray(result.variance_ci95["global"]["2"]).T
    np.testing.assert_allclose(10 ** (bars["y"] + bars["top"]), high)
    np.testing.assert_allclose(10 ** (bars["y"] - bars["bottom"]), low)
    assert (low <= np.asarray(result.variance["global"]["2"])).all()
    assert len(view.heatmaps) == 2
    image = view.heatmaps[0].image.values
    assert image.shape == (win.project.circuit.num_qubits, win.project.circuit.num_columns)
    assert "a =" in dock.status.text()


def test_encoding_study_fills_the_table(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.ask = lambda study, defaults: {**defaults, "encodings": ["angle", "zz-feature-map", "iqp"], "epochs": 2,
                                              "keep_runs": True, "device": "fake_manila"}
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        controller.actions["encodings"].trigger()
    table = controller.docks["encodings"].content.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    column = {name: headers.index(name) for name in headers}
    assert table.rowCount() == 3
    assert [table.item(r, 0).text() for r in range(3)] == ["angle", "zz-feature-map", "iqp"]
    assert all(table.item(r, column["test accuracy"]).text() != "–" for r in range(3))
    assert len({table.item(r, column["weights"]).text() for r in range(3)}) == 1  # the same ansatz
    for name in ("enc. depth", "enc. 2q", "depth", "2q", "dev. depth", "dev. 2q"):  # IQP = ZZ transpiled
        assert table.item(1, column[name]).text() == table.item(2, column[name]).text() != "–", name
    assert "fake_manila" in controller.docks["encodings"].status.text()
    assert len(win.project.runs) == 3


def test_kernel_study_shows_the_gram_matrix(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    with qtbot.waitSignal(controller.finished, timeout=30_000) as blocker:
        controller.actions["kernel"].trigger()
    result = blocker.args[1]
    content = controller.docks["kernel"].content
    image = content.heatmap.image.values
    assert image.shape == (result.num_train, result.num_train)
    np.testing.assert_allclose(np.diag(image), 1.0)
    assert "RBF SVC" in content.summary.text()


def test_report_is_written_and_shown(qtbot, analysis_window, tmp_path: Path) -> None:
    win, controller = analysis_window
    controller.ask_report_path = lambda suggestion: tmp_path / "report.html"
    with qtbot.waitSignal(controller.finished, timeout=30_000):
        controller.actions["report"].trigger()
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "Configuration" in controller.docks["report"].content.toPlainText()


def test_bad_settings_and_cancel_give_messages(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.ask = lambda study, defaults: {"qubits": "nine", "layers": "2", "samples": 10}
    with qtbot.waitSignal(controller.failed, timeout=10_000) as blocker:
        controller.actions["barren-plateau"].trigger()
    assert "qubits" in blocker.args[1]
    controller.ask = lambda study, defaults: {"qubits": "2-12", "layers": "40", "samples": 400}
    with qtbot.waitSignal(controller.failed, timeout=30_000) as blocker:
        controller.actions["barren-plateau"].trigger()
        controller.actions["cancel"].trigger()
    assert blocker.args[1] == "cancelled"
    controller.ask = lambda study, defaults: None  # the dialog was cancelled: nothing runs
    assert controller.barren_plateau() is None
