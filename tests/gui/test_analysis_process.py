"""Long analyses run in a child process (issue 17): chosen from the menu with the mouse, cancelled
with the dock's button, and a child that crashes is a message while the window goes on."""

from __future__ import annotations

import os
import signal
import time

from PySide6.QtCore import Qt

from qmlstudio.gui.background import Job
from qmlstudio.gui.process_job import ProcessJob

#: a barren-plateau study that takes many seconds (its child is killed or cancelled long before)
LONG = {"qubits": "2-12", "layers": "2,40", "samples": 400, "heatmap": False}


def _choose_from_menu(qtbot, win, key: str) -> None:
    """Opens the Analysis menu with a click on the menu bar and clicks the study's entry."""
    bar = win.menuBar()
    menu = win.menus["analysis"]
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(menu.menuAction()).center())
    qtbot.waitUntil(menu.isVisible)
    action = win.analysis.actions[key]
    qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())
    qtbot.waitUntil(lambda: not menu.isVisible())


def _child_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie not yet reaped counts as gone
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_a_study_chosen_from_the_menu_runs_in_a_child_process(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.ask = lambda study, defaults: {"qubits": "2-4", "layers": "2,6", "samples": 40}
    with qtbot.waitSignal(controller.finished, timeout=60_000) as finished:
        _choose_from_menu(qtbot, win, "barren-plateau")
        job = controller.threads["barren-plateau"]
        assert isinstance(job, ProcessJob) and job.pid not in (None, os.getpid())
        pid = job.pid
    study, (result, heat) = finished.args
    assert study == "barren-plateau" and result.qubits == [2, 3, 4] and heat is not None
    assert "a =" in controller.docks["barren-plateau"].status.text()
    qtbot.waitUntil(lambda: not _child_alive(pid), timeout=10_000)  # the child ended with its study


def test_the_docks_cancel_button_stops_the_child(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.ask = lambda study, defaults: LONG
    controller.barren_plateau(**LONG)
    job = controller.threads["barren-plateau"]
    dock = controller.docks["barren-plateau"]
    assert isinstance(job, ProcessJob)
    qtbot.waitUntil(lambda: dock.progress.maximum() > 0, timeout=60_000)  # the child reports progress
    started = time.monotonic()
    with qtbot.waitSignal(controller.failed, timeout=15_000) as failed:
        qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
    assert failed.args == ["barren-plateau", "cancelled"]
    assert time.monotonic() - started < 3.0  # within the second's grace, even mid-step
    qtbot.waitUntil(lambda: not _child_alive(job.pid), timeout=10_000)
    assert not dock.cancel_button.isVisible()


def test_a_child_that_crashes_is_a_message_and_the_window_goes_on(qtbot, analysis_window) -> None:
    win, controller = analysis_window
    controller.barren_plateau(**LONG)
    job = controller.threads["barren-plateau"]
    dock = controller.docks["barren-plateau"]
    qtbot.waitUntil(lambda: dock.progress.maximum() > 0, timeout=60_000)
    with qtbot.waitSignal(controller.failed, timeout=15_000) as failed:
        os.kill(job.pid, signal.SIGSEGV)
    study, message = failed.args
    assert study == "barren-plateau"
    assert "analysis process ended unexpectedly" in message and "SIGSEGV" in message
    assert "SIGSEGV" in dock.status.text() and "Traceback" not in dock.status.text()
    assert win.isVisible() and not dock.cancel_button.isVisible()
    # The window still works: the next study runs (in a new child) and shows its result.
    with qtbot.waitSignal(controller.finished, timeout=60_000):
        controller.kernel()
    assert controller.docks["kernel"].content is not None


def test_a_plugin_registered_in_memory_keeps_the_study_on_a_thread(qtbot, analysis_window, registry) -> None:
    from qmlstudio.plugins import hookimpl

    class Nothing:
        @hookimpl
        def qmlstudio_optimizers(self):
            return []

    win, controller = analysis_window
    registry.register(Nothing(), "in-memory-test-plugin")
    try:
        with qtbot.waitSignal(controller.finished, timeout=60_000):
            controller.barren_plateau(qubits="2-3", layers="2", samples=20, heatmap=False)
            assert isinstance(controller.threads["barren-plateau"], Job)
    finally:
        registry.unregister("in-memory-test-plugin")

