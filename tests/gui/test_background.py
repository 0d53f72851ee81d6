"""The GUI's one background mechanism (qmlstudio.gui.background.Job): progress, partial
results, cancel and failures arrive as signals on the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QWidget

from qmlstudio.core.analysis import Cancelled
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.gui.background import BackgroundRunner, Job, long_pool, run_in_background

TIMEOUT = 10_000


def test_progress_partial_results_and_the_result_arrive_on_the_gui_thread(qtbot):
    gui = QThread.currentThread()
    seen: list = []

    def work(report):
        assert QThread.currentThread() is not gui
        for i in range(3):
            report(i + 1, 3, f"step {i + 1}")
            report.partial(i * i)
        return "done"

    job = Job(work)
    job.progressed.connect(lambda d, t, m: seen.append(("progress", d, t, m, QThread.currentThread() is gui)))
    job.partial.connect(lambda v: seen.append(("partial", v, QThread.currentThread() is gui)))
    with qtbot.waitSignal(job.succeeded, timeout=TIMEOUT) as blocker:
        job.start(long_pool())
    assert blocker.args == ["done"]
    assert [s for s in seen if s[0] == "progress"] == [("progress", i, 3, f"step {i}", True) for i in (1, 2, 3)]
    assert [s for s in seen if s[0] == "partial"] == [("partial", v, True) for v in (0, 1, 4)]
    assert not job.running


def test_cancel_stops_the_work_and_says_cancelled(qtbot):
    started, steps = threading.Event(), []

    class Controls:
        cancelled = False

        def cancel(self):
            self.cancelled = True

    def work(report):
        started.set()
        while not report(len(steps), 1_000_000, "working"):
            steps.append(1)
            if len(steps) > 10_000_000:
                raise AssertionError("cancel was never seen")
        raise Cancelled("stopped")

    controls = Controls()
    job = Job(work, controls=controls)
    job.start(long_pool())
    assert started.wait(5)
    with qtbot.waitSignal(job.failed, timeout=TIMEOUT) as blocker:
        job.cancel()
    assert blocker.args == ["cancelled"] and controls.cancelled
    assert job.wait(1000) and not job.running


@pytest.mark.parametrize(("error", "message"), [
    (QMLStudioError("the study needs two qubits"), "the study needs two qubits"),
    (ValueError("bad"), "ValueError: bad"),
])
def test_a_failure_is_a_message_never_a_crash(qtbot, error, message):
    def work(_report):
        raise error

    job = Job(work)
    with qtbot.waitSignal(job.failed, timeout=TIMEOUT) as blocker:
        job.start()
    assert blocker.args == [message]


def test_run_in_background_calls_back_with_ok_and_value(qtbot):
    answers = []
    run_in_background(lambda: 6 * 7, lambda ok, value: answers.append((ok, value)))
    run_in_background(lambda: 1 / 0, lambda ok, value: answers.append((ok, value)))
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=TIMEOUT)
    assert (True, 42) in answers
    assert (False, "ZeroDivisionError: division by zero") in answers


def test_the_runner_delivers_only_the_latest_answer(qtbot):
    gate = threading.Event()
    runner = BackgroundRunner()
    answers = []
    runner.finished.connect(answers.append)
    runner.submit(lambda: gate.wait(5) and "first")
    runner.submit(lambda: "second (overtaken)")
    with qtbot.waitSignal(runner.busy_changed, timeout=TIMEOUT, check_params_cb=lambda busy: not busy):
        runner.submit(lambda: "third")
        gate.set()
    assert answers == ["third"]


def test_a_cycle_holding_a_widget_is_freed_on_the_gui_thread_not_on_a_busy_worker(qtbot) -> None:
    """A window in a reference cycle, freed by a collection a worker's allocations set off, was
    destroyed on that worker: Qt then deadlocked with the GUI thread (seen in the suite).
    Collection runs on a GUI-thread timer instead (qmlstudio/gui/collector.py)."""
    from qmlstudio.gui.collector import collect_on_gui_thread

    collect_on_gui_thread()
    assert not gc.isenabled()
    destroyed_on: list[int] = []
    widget = QWidget()
    widget.cycle = widget  # only the cyclic collector can free it
    widget.destroyed.connect(lambda *_: destroyed_on.append(threading.get_ident()))
    ref = weakref.ref(widget)
    del widget
    job = Job(lambda report: len([[] for _ in range(200_000)])).start(long_pool())  # far past gen 0's threshold
    assert job.wait(30_000)
    assert ref() is not None and destroyed_on == []  # the worker's allocations collected nothing
    # The GUI thread's timer collects once there is garbage to collect (Python's own threshold):
    # the worker's lists are gone, so this thread allocates past the threshold, as it does in use.
    allocated = [[] for _ in range(2 * gc.get_threshold()[0])]
    qtbot.waitUntil(lambda: ref() is None, timeout=5000)  # the GUI thread's timer did
    del allocated
    assert destroyed_on == [threading.main_thread().ident]
