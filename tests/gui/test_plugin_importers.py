"""A third-party plugin brings its own dataset importer: it appears in the dataset panel's
Import menu and works with real clicks; the window reads nothing of the built-in plugins."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from qmlstudio.core.dataset import Dataset, DatasetError
from qmlstudio.core.project import Project
from qmlstudio.gui.dataset_panel import DatasetPanel
from qmlstudio.plugins import DatasetSpec, ImporterSpec, Option, hookimpl
from qmlstudio.plugins.manager import load_plugins

TIMEOUT = 30_000


def read_points(path: str) -> Dataset:
    """The plugin's own format: one 'x y class' line per sample, '#' starts a comment."""
    with open(path, encoding="utf-8") as handle:
        rows = [line.split() for line in handle if line.strip() and not line.startswith("#")]
    if not rows or any(len(r) != 3 for r in rows):
        raise DatasetError(f"{path}: every line needs 'x y class'")
    names = sorted({r[2] for r in rows})
    return Dataset(np.array([[float(r[0]), float(r[1])] for r in rows]),
                   np.array([names.index(r[2]) for r in rows]), ("x", "y"), names)


def points_options(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        if not handle.readline().startswith("# points"):
            raise DatasetError("not a point list: the first line must be '# points'")
    return {"path": path}


PLUGIN = SimpleNamespace(
    qmlstudio_datasets=hookimpl(lambda: [DatasetSpec(
        name="points", title="Point list", factory=read_points,
        options=(Option("path", "path", "", title="File"),))]),
    qmlstudio_importers=hookimpl(lambda: [ImporterSpec(
        name="points", title="Point list…", factory=points_options, dataset="points",
        file_filter="Point lists (*.pts)", description="x y class, one sample a line")]),
)


@pytest.fixture
def registry():
    found = load_plugins(disabled=[])
    found.register(PLUGIN, "third-party-points")
    return found


def choose_import(button, name):
    """Clicks Import… and then the importer's entry of the menu that pops up."""
    action = button.action(name)
    assert action is not None, f"{name!r} is not in the Import menu"

    def click_entry():
        menu = button.menu()
        assert menu.isVisible()
        QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(0, click_entry)  # the menu runs its own event loop once the button is pressed
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def shown_panel(qtbot, registry, project):
    panel = DatasetPanel(project, registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.show()
    return panel


def test_a_third_party_importer_is_in_the_menu_next_to_the_builtin_one(qtbot, registry):
    panel = shown_panel(qtbot, registry, Project.new("moons"))
    titles = [a.text() for a in panel.import_button.menu().actions()]
    assert "Point list…" in titles and "CSV table…" in titles
    panel.wait_idle()


def test_the_third_party_importer_loads_its_file_with_real_clicks(qtbot, registry, tmp_path, monkeypatch):
    path = tmp_path / "twenty.pts"
    rows = [(i % 5, i // 5, "ab"[i % 2]) for i in range(20)]
    path.write_text("# points\n" + "".join(f"{x} {y} {c}\n" for x, y, c in rows), encoding="utf-8")
    asked = []

    def file_dialog(parent, caption, start, file_filter):  # the system's file dialog: the user picks the file
        asked.append(file_filter)
        return str(path), file_filter

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(file_dialog))
    project = Project.new("moons")
    panel = shown_panel(qtbot, registry, project)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        choose_import(panel.import_button, "points")
    assert asked == ["Point lists (*.pts)"]
    assert project.dataset.name == "points" and project.dataset.options["path"] == str(path)
    loaded = blocker.args[0].dataset
    assert loaded.class_names == ["a", "b"]
    np.testing.assert_array_equal(loaded.features, [[x, y] for x, y, _ in rows])
    np.testing.assert_array_equal(loaded.labels, [i % 2 for i in range(20)])
    assert panel.dataset_combo.currentData() == "points"
    panel.wait_idle()


def test_a_file_the_importer_refuses_shows_its_message(qtbot, registry, tmp_path, monkeypatch):
    path = tmp_path / "bad.pts"
    path.write_text("hello\n", encoding="utf-8")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a: (str(path), "")))
    project = Project.new("moons")
    panel = shown_panel(qtbot, registry, project)
    choose_import(panel.import_button, "points")
    qtbot.waitUntil(lambda: panel.error_label.isVisible(), timeout=TIMEOUT)
    assert "not a point list" in panel.error_label.text()
    assert project.dataset.name == "moons"
    panel.wait_idle()
