"""The live training dock, driven through its real buttons on the demo project (pytest-qt).

Training runs on a worker thread; the tests wait on the dock's and the worker's signals
(``qtbot.waitSignal`` / ``waitUntil``) and read what the plots hold (``curve.getData()``).
The demo project trains in a fraction of a second, so tests that need time raise its epochs.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

import qmlstudio.gui  # noqa: F401
from qmlstudio.core.autosave import pending_recoveries
from qmlstudio.core.project import METRIC_NAMES, ModelChoice, PluginChoice, Project, load_project, save_project
from qmlstudio.gui.training_dock import IDLE, PAUSED, TrainingDock, run_metrics_csv
from qmlstudio.gui.workers import MIN_EMIT_INTERVAL_S, TrainingWorker
from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerSpec, OptimizerStep, hookimpl
from qmlstudio.plugins.manager import load_plugins

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"
LONG = 3000  # epochs: minutes of training, always stopped by the test


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_plugins()


def demo_project(tmp_path: Path, *, epochs: int | None = None, baselines: bool = False) -> Project:
    path = tmp_path / "demo.qmls"
    shutil.copy(DEMO, path)
    project = load_project(path)
    # The classical baselines take half a second a run: only the tests about them fit them.
    project.model = ModelChoice(project.model.kind, {**project.model.options, "baselines": baselines})
    if epochs is not None:
        project.training = dataclasses.replace(project.training, epochs=epochs)
    save_project(project)
    return project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return demo_project(tmp_path)


@pytest.fixture
def dock(qtbot, project: Project, registry: Any) -> Iterator[TrainingDock]:
    widget = TrainingDock(project, registry)
    qtbot.addWidget(widget)
    widget.resize(1300, 820)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.shutdown()


def points(dock: TrainingDock, metric: str = "loss") -> int:
    """How many points the plots' curves of ``metric`` hold."""
    panel = {"loss": dock.loss_plot, "val_loss": dock.loss_plot, "train_accuracy": dock.accuracy_plot,
             "val_accuracy": dock.accuracy_plot, "grad_norm": dock.grad_plot}[metric]
    total = 0
    for (_, name), curve in panel.curves.items():
        if name == metric:
            x, _ = curve.getData()
            total += 0 if x is None else len(x)
    return total


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def start_long_run(qtbot, dock: TrainingDock) -> None:
    dock.project.training = dataclasses.replace(dock.project.training, epochs=LONG)
    click(qtbot, dock.train_button)
    qtbot.waitUntil(lambda: points(dock) > 0, timeout=20_000)


# ------------------------------------------------------------------ training
def test_train_puts_loss_points_on_the_plot_within_seconds(qtbot, dock: TrainingDock) -> None:
    assert dock.train_button.isEnabled() and not dock.stop_button.isEnabled()
    start_long_run(qtbot, dock)
    assert dock.state in ("running", "paused")
    assert not dock.train_button.isEnabled() and dock.stop_button.isEnabled()
    x, y = next(c for (_, m), c in dock.loss_plot.curves.items() if m == "loss").getData()
    assert np.all(np.isfinite(y)) and x[0] == 1
    qtbot.waitUntil(lambda: "ETA" in dock.progress.format() and dock.progress.value() > 0, timeout=5000)
    assert "Iteration" in dock.progress.format() and "epoch" in dock.progress.format()
    assert dock.progress.maximum() == LONG * 4  # 110 training samples in batches of 32: 4 iterations an epoch
    # The runs list shows the run in progress on top.
    assert dock.runs_model.row_values(0)["status"] == "running"
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        click(qtbot, dock.stop_button)


def test_pause_stops_new_points_until_resume(qtbot, dock: TrainingDock) -> None:
    start_long_run(qtbot, dock)
    click(qtbot, dock.pause_button)
    assert dock.state == PAUSED and dock.pause_action.text() == "Resume"
    qtbot.wait(400)  # an iteration under way when Pause was pressed may still report
    before = points(dock)
    qtbot.wait(800)
    assert points(dock) == before
    assert dock.worker is not None and dock.worker.paused
    click(qtbot, dock.pause_button)  # Resume
    assert dock.state == "running" and dock.pause_action.text() == "Pause"
    qtbot.waitUntil(lambda: points(dock) > before + 10, timeout=10_000)
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        click(qtbot, dock.stop_button)


def test_stop_ends_the_run_and_keeps_it_in_the_runs_list(qtbot, dock: TrainingDock, project: Project) -> None:
    start_long_run(qtbot, dock)
    with qtbot.waitSignal(dock.run_finished, timeout=10_000) as finished:
        click(qtbot, dock.stop_button)
    record = finished.args[0]
    assert record.status == "stopped" and "stopped by the user" in record.message
    assert project.runs == [record] and record.num_points > 0
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    model = dock.runs_model
    assert model.rowCount() == 1
    status = model.index(0, model.COLUMNS.index("Status"))
    assert model.data(status) == "stopped"
    assert dock.train_button.isEnabled() and not dock.stop_button.isEnabled()
    # Every reported point reached the plot, and the record holds the same rows.
    assert points(dock) == record.num_points
    assert record.config["training"]["epochs"] == LONG


def test_step_trains_one_iteration_then_pauses(qtbot, dock: TrainingDock) -> None:
    dock.project.training = dataclasses.replace(dock.project.training, epochs=LONG)
    click(qtbot, dock.step_button)
    qtbot.waitUntil(lambda: points(dock) == 1 and dock.state == PAUSED, timeout=20_000)
    qtbot.wait(300)
    assert points(dock) == 1
    click(qtbot, dock.step_button)
    qtbot.waitUntil(lambda: points(dock) == 2, timeout=5000)
    qtbot.wait(300)
    assert points(dock) == 2 and dock.state == PAUSED
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        click(qtbot, dock.stop_button)


def test_a_completed_run_shows_the_confusion_matrix_and_the_baselines(qtbot, tmp_path: Path, registry: Any) -> None:
    # 2 epochs, not the demo's 30: what is checked is how the end of a run is shown, whatever its length
    project = demo_project(tmp_path, epochs=2, baselines=True)
    project.preprocessing = dataclasses.replace(project.preprocessing, validation_size=0.2)
    dock = TrainingDock(project, registry)
    qtbot.addWidget(dock)
    dock.show()
    try:
        with qtbot.waitSignal(dock.run_finished, timeout=30_000) as finished:
            click(qtbot, dock.train_button)
        record = finished.args[0]
        assert record.status == "completed"
        assert set(record.baselines) == {"logistic regression", "MLP", "RBF SVM", "MLP (parameter-matched)"}
        qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
        # the last frame's panels are drawn one per turn of the event loop: wait for the matrix's
        qtbot.waitUntil(lambda: dock.confusion_plot.matrix is not None and dock.confusion_plot.matrix.sum() == 50,
                        timeout=5000)
        matrix = dock.confusion_plot.matrix
        assert matrix.shape == (2, 2) and matrix.sum() == 50  # the test split
        accuracy = np.trace(matrix) / matrix.sum()
        assert accuracy == pytest.approx(record.metrics["test_accuracy"][-1])
        table = dock.baselines_table
        names = [table.item(row, 0).text() for row in range(table.rowCount())]
        assert names == ["Quantum model", "logistic regression", "RBF SVM", "MLP", "MLP (parameter-matched)"]
        assert float(table.item(0, 2).text()) == pytest.approx(record.metrics["test_accuracy"][-1], abs=5e-4)
        # the test score was shown once, at the end: the accuracy plot's validation curve has
        # every evaluated point, its test curve one
        assert record.test["accuracy"] == record.metrics["test_accuracy"][-1]
        # parameter counts beside each other, and what was tuned in each baseline's tooltip
        header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
        assert header[-1] == "Params"
        counts = [table.item(row, 4).text() for row in range(table.rowCount())]
        assert counts[0] == str(record.parameters)
        assert counts[-1] == str(record.baselines["MLP (parameter-matched)"]["parameters"])
        assert "cross-validation on the training rows" in table.item(2, 0).toolTip()
        assert "untuned" in table.item(2, 0).toolTip()
        # The best baseline is a reference line on the accuracy plot.
        best = max(s["test_accuracy"] for s in record.baselines.values())
        assert [line.value() for line in dock.accuracy_plot.reference_lines] == [pytest.approx(best)]
        best_name = max(record.baselines, key=lambda name: record.baselines[name]["test_accuracy"])
        assert dock.accuracy_plot.value.text().endswith(f" · baseline {best:.3f}")
        assert dock.accuracy_plot.value.text().startswith("validation ")  # live curves: validation
        assert best_name in dock.accuracy_plot.reference_lines[0].toolTip()
    finally:
        dock.shutdown()


def test_the_decision_boundary_changes_as_training_goes(qtbot, dock: TrainingDock) -> None:
    start_long_run(qtbot, dock)
    qtbot.waitUntil(lambda: dock.boundary_plot.frame is not None, timeout=10_000)
    early_frame = dock.boundary_plot.frame
    early = dock.boundary_plot.image_data()
    assert early is not None and early.shape == (64, 64, 4)
    # The points of the train and test splits are on top of the image.
    assert len(dock.boundary_plot.train_points.data) == 110 and len(dock.boundary_plot.test_points.data) == 50
    qtbot.waitUntil(lambda: dock.boundary_plot.frame.iteration > early_frame.iteration + 100, timeout=15_000)
    later = dock.boundary_plot.image_data()
    assert not np.array_equal(early, later)
    # while training the confusion matrix is made of the validation rows (the demo holds 40
    # out): the test split is looked at once, when the run ends, also on Stop. A frame's panels
    # are drawn one per turn of the event loop (the boundary first): wait for the matrix's turn.
    qtbot.waitUntil(lambda: dock.confusion_plot.matrix is not None, timeout=10_000)
    assert dock.confusion_plot.matrix.sum() == 40
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        click(qtbot, dock.stop_button)
    qtbot.waitUntil(lambda: dock.confusion_plot.value.text().startswith("test "), timeout=5000)
    assert dock.confusion_plot.matrix.sum() == 50


# ------------------------------------------------------------------ failures
class ExplodingOptimizer(Optimizer):
    """Takes two sensible steps, then jumps to ``jump`` (NaN: the loss becomes NaN)."""

    jump = math.nan

    def minimize(self, problem: Any, x0: np.ndarray, *, max_iterations: int, callback: Any = None) -> OptimizerResult:
        x = np.array(x0, dtype=float)
        loss = math.nan
        for iteration in range(1, max_iterations + 1):
            loss, grad = problem.value_and_grad(x)
            x = x - 0.05 * grad if iteration < 3 else x + self.jump
            with np.errstate(all="ignore"):
                loss, grad = problem.value_and_grad(x)
            if callback is not None and callback(OptimizerStep(iteration, x.copy(), loss, float(np.linalg.norm(grad)))):
                return OptimizerResult(x, loss, iteration, True)
        return OptimizerResult(x, loss, max_iterations)


class InfiniteOptimizer(ExplodingOptimizer):
    """Jumps to infinite weights, where the simulator itself may raise."""

    jump = math.inf


class ExplodingPlugin:
    @hookimpl
    def qmlstudio_optimizers(self) -> list[OptimizerSpec]:
        return [OptimizerSpec(name="exploding", title="Exploding", factory=ExplodingOptimizer),
                OptimizerSpec(name="infinite", title="Infinite", factory=InfiniteOptimizer)]


@pytest.fixture
def exploding(registry: Any) -> Iterator[None]:
    registry.register(ExplodingPlugin(), "exploding-test-plugin")
    try:
        yield
    finally:
        registry.unregister("exploding-test-plugin")


def test_a_run_that_diverges_shows_its_message_with_details(qtbot, dock: TrainingDock, exploding: None) -> None:
    dock.project.optimizer = PluginChoice("exploding")
    with qtbot.waitSignal(dock.run_finished, timeout=30_000) as finished:
        click(qtbot, dock.train_button)
    record = finished.args[0]
    assert record.status == "failed" and "diverged" in record.message
    banner = dock.failure
    assert banner.isVisible()
    assert "diverged" in banner.message.text() and "smaller learning rate" in banner.message.text()
    click(qtbot, banner.details_button)
    assert banner.box is not None and banner.box.isVisible()
    assert "Settings of the run" in banner.box.detailedText() and '"exploding"' in banner.box.detailedText()
    banner.box.close()
    # The failed run is kept, with the points it made before it diverged.
    assert dock.project.runs[-1] is record and record.num_points == 2
    model = dock.runs_model
    assert model.data(model.index(0, model.COLUMNS.index("Status"))) == "failed"
    # The next run hides the message.
    dock.project.optimizer = PluginChoice("adam")
    with qtbot.waitSignal(dock.run_finished, timeout=30_000):
        click(qtbot, dock.train_button)
    assert not banner.isVisible()


def test_a_run_whose_engine_raises_keeps_its_points(qtbot, dock: TrainingDock, exploding: None) -> None:
    dock.project.optimizer = PluginChoice("infinite")
    with qtbot.waitSignal(dock.run_finished, timeout=30_000) as finished:
        click(qtbot, dock.train_button)
    record = finished.args[0]
    assert record.status == "failed" and record.num_points == 2
    assert dock.failure.isVisible() and "iteration" in dock.failure.message.text()
    assert dock.project.runs == [record]


def test_a_run_that_cannot_start_says_why(qtbot, dock: TrainingDock) -> None:
    dock.project.dataset = PluginChoice("csv", {"path": "/no/such/folder/data.csv"})
    with qtbot.waitSignal(dock.run_failed, timeout=20_000) as failed:
        click(qtbot, dock.train_button)
    message, details = failed.args
    assert "Cannot start training" in message and "data.csv" in message
    assert "Traceback" in details
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    assert dock.failure.isVisible() and "data.csv" in dock.failure.message.text()
    assert dock.project.runs == [] and dock.train_button.isEnabled()


# ---------------------------------------------------------------------- runs
def train_quickly(qtbot, dock: TrainingDock, epochs: int) -> Any:
    with qtbot.waitSignal(dock.run_finished, timeout=30_000) as finished:
        dock.train(epochs=epochs)
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    return finished.args[0]


def test_a_run_without_a_validation_split_has_no_validation_curve(qtbot, dock: TrainingDock) -> None:
    """The loss and accuracy legends name a validation curve only for a run that has a validation split."""
    from qmlstudio.core.project import RunRecord
    from qmlstudio.gui.plot_data import RunCurves

    def record(validation_size: float) -> RunRecord:
        run = RunRecord(config={"preprocessing": {"validation_size": validation_size}})
        for i in range(1, 4):
            val = None if not validation_size else 0.5 / i
            run.append_metrics(iteration=i, epoch=1, loss=1.0 / i, train_accuracy=0.5, val_loss=val,
                               val_accuracy=None if val is None else 0.6)
        return run

    without, with_split = RunCurves.from_record(record(0.0)), RunCurves.from_record(record(0.2))
    assert (without.has_validation, with_split.has_validation) == (False, True)
    for plot in (dock.loss_plot, dock.accuracy_plot):
        plot.show_runs([without])
        assert not plot.legend.isVisible() and len(plot.curves) == 1  # the training curve alone
        plot.show_runs([with_split])
        assert [item.text for _, item in plot.legend.items] == ["train", "validation"]
        plot.show_runs([without, with_split])  # overlaid: each run its own curves
        names = [item.text for _, item in plot.legend.items]
        assert sum("validation" in name for name in names) == 1 and len(names) == 3


def test_selecting_two_runs_overlays_their_curves(qtbot, dock: TrainingDock) -> None:
    first = train_quickly(qtbot, dock, 4)
    second = train_quickly(qtbot, dock, 6)
    assert [run.id for run in dock.project.runs] == [first.id, second.id]
    assert dock.shown_run_ids() == [second.id]
    dock.runs_view.selectAll()
    assert sorted(dock.shown_run_ids()) == sorted([first.id, second.id])
    loss_curves = {run_id: c for (run_id, metric), c in dock.loss_plot.curves.items() if metric == "loss"}
    assert set(loss_curves) == {first.id, second.id}
    assert len(loss_curves[first.id].getData()[0]) == first.num_points == 16
    assert len(loss_curves[second.id].getData()[0]) == second.num_points == 24
    pens = {c.opts["pen"].color().name() for c in loss_curves.values()}
    assert len(pens) == 2  # one colour per run
    # Clicking one row shows that run alone.
    model = dock.runs_model
    qtbot.mouseClick(dock.runs_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=dock.runs_view.visualRect(model.index(model.row_of(first.id), 0)).center())
    assert dock.shown_run_ids() == [first.id]


def test_a_runs_metrics_export_as_csv(qtbot, dock: TrainingDock, tmp_path: Path) -> None:
    record = train_quickly(qtbot, dock, 3)
    out = dock.export_run_csv(record.id, tmp_path / "run.csv")
    with open(out, newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(METRIC_NAMES)
    assert len(rows) == 1 + record.num_points == 13
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 13))
    assert float(rows[-1][2]) == pytest.approx(record.metrics["loss"][-1])
    assert run_metrics_csv(record) == out.read_text()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_every_plot_exports(qtbot, dock: TrainingDock, tmp_path: Path, suffix: str) -> None:
    train_quickly(qtbot, dock, 2)
    for name in dock.plots:
        out = dock.export_plot(name, tmp_path / f"{name}{suffix}")
        data = out.read_bytes()
        assert len(data) > 500
        assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:400]


# ---------------------------------------------------------------- actions, autosave
def test_run_menu_actions_drive_the_dock(qtbot, dock: TrainingDock) -> None:
    train, pause, stop, step = (QAction(text, dock) for text in ("&Train", "&Pause", "&Stop", "S&tep"))
    dock.connect_actions(train, pause, stop, step)
    assert train.shortcut().toString() == "F5" and stop.shortcut().toString() == "Shift+F5"
    assert dock.train_action.shortcut().isEmpty()  # no key is bound twice
    assert train.isEnabled() and not pause.isEnabled() and not stop.isEnabled()
    dock.project.training = dataclasses.replace(dock.project.training, epochs=LONG)
    train.trigger()
    qtbot.waitUntil(lambda: points(dock) > 0, timeout=20_000)
    assert not train.isEnabled() and pause.isEnabled() and stop.isEnabled()
    pause.trigger()
    assert pause.isChecked() and pause.text() == "&Resume" and dock.state == PAUSED
    pause.trigger()
    assert not pause.isChecked() and dock.state == "running"
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        stop.trigger()
    qtbot.waitUntil(lambda: train.isEnabled() and not stop.isEnabled(), timeout=5000)


def test_the_project_is_autosaved_after_a_run_and_the_autosave_goes_with_a_save(
    qtbot, dock: TrainingDock, config_dir: Path
) -> None:
    with qtbot.waitSignal(dock.autosaved, timeout=30_000) as saved:
        dock.train(epochs=2)
    path = Path(saved.args[0])
    assert path.parent == config_dir / "autosave" and path.exists()
    autosaved = json.loads(path.read_text())
    assert len(autosaved["runs"]) == 1 and autosaved["runs"][0]["status"] == "completed"
    sidecar = json.loads(path.with_name(path.name.replace(".qmls", ".autosave.json")).read_text())
    assert sidecar["original_path"] == str(dock.project.path) and sidecar["num_runs"] == 1
    assert pending_recoveries() == []  # this process is alive: nothing to recover
    save_project(dock.project)
    qtbot.waitUntil(lambda: not path.exists(), timeout=5000)


def test_a_minute_into_a_run_the_autosave_holds_the_run_so_far(qtbot, dock: TrainingDock, config_dir: Path) -> None:
    dock._autosave_timer.setInterval(300)  # noqa: SLF001 - a minute is too long for a test
    start_long_run(qtbot, dock)
    # Under load an autosave may come before the run's first report has arrived (it then holds
    # the project without the run): the test waits for the autosaves, not for a time.
    for _ in range(50):
        with qtbot.waitSignal(dock.autosaved, timeout=10_000) as saved:
            pass
        data = json.loads(Path(saved.args[0]).read_text())
        if data["runs"]:
            break
    (run,) = data["runs"]
    assert run["status"] == "stopped" and "interrupted" in run["message"]
    assert len(run["metrics"]["loss"]) > 0 and run["config"]["training"]["epochs"] == LONG
    with qtbot.waitSignal(dock.run_finished, timeout=10_000):
        click(qtbot, dock.stop_button)


def test_shutdown_mid_run_ends_the_thread(qtbot, dock: TrainingDock) -> None:
    start_long_run(qtbot, dock)
    worker = dock.worker
    assert worker is not None and worker.running
    dock.shutdown()
    assert not worker.running and dock.worker is None


def test_the_worker_batches_reports_that_come_faster_than_200_a_second(qtbot, project: Project, registry: Any) -> None:
    """10 000 reports as fast as the callback can take them arrive complete, in order, in few batches."""
    from qmlstudio.core.training import IterationReport
    from qmlstudio.workflow import build_run

    count = 10_000

    def fast_run(*args: Any, **kwargs: Any) -> Any:
        run = build_run(*args, **kwargs)

        def flat_out() -> Any:
            weights = np.zeros(run.num_parameters)
            for i in range(1, count + 1):
                report = IterationReport(i, i // 5 + 1, 1.0 / i, None, None, None, 0.1, weights, i * 1e-5,
                                         total_iterations=count)
                run.record.append_metrics(**report.metrics())
                kwargs["callback"](report)
            run.record.finish("completed")
            return run.record

        run.run = flat_out
        return run

    worker = TrainingWorker(project, registry, run_factory=fast_run)
    batches: list[list[Any]] = []
    worker.iteration.connect(batches.append, Qt.ConnectionType.QueuedConnection)
    started = time.perf_counter()
    with qtbot.waitSignal(worker.done, timeout=60_000):
        worker.start()
    seconds = time.perf_counter() - started
    worker.wait()
    iterations = [report.iteration for batch in batches for report in batch]
    assert iterations == list(range(1, count + 1))  # every report, once, in order
    assert len(batches) <= seconds / MIN_EMIT_INTERVAL_S + 10  # at most ~20 signals a second
    assert len(batches) < count / 10


def test_remote_job_status_shows_in_the_dock(qtbot, project: Project, registry: Any) -> None:
    """A hardware backend's job reports (id, status, queue position) reach the dock's job line."""
    from qmlstudio.workflow import build_run

    class JobReportingBackend:
        def subscribe_jobs(self, listener):
            listener("d1abc23", "QUEUED", 4)  # as the ibm backend calls it, from the worker thread
            return lambda: None

    def factory(*args: Any, **kwargs: Any) -> Any:
        run = build_run(*args, **kwargs)
        run.backend = JobReportingBackend()
        return run

    widget = TrainingDock(project, registry, run_factory=factory)
    qtbot.addWidget(widget)
    widget.show()
    try:
        with qtbot.waitSignal(widget.run_finished, timeout=30_000):
            click(qtbot, widget.train_button)
        qtbot.waitUntil(lambda: "d1abc23" in widget.job_label.text())
        assert widget.job_label.text() == "IBM job d1abc23: QUEUED · queue position 4"
        assert widget.job_label.isVisible()
    finally:
        widget.shutdown()


def test_evaluate_on_another_backend_keeps_the_accuracy_with_the_run(qtbot, dock: TrainingDock) -> None:
    """Evaluate on…: the trained weights on another backend, without retraining, side by side."""
    # any trained weights will do: 2 epochs, not the demo's 30
    dock.project.training = dataclasses.replace(dock.project.training, epochs=2)
    with qtbot.waitSignal(dock.run_finished, timeout=30_000):
        click(qtbot, dock.train_button)
    run = dock.project.runs[-1]
    dock.select_runs([run.id])
    with qtbot.waitSignal(dock.evaluated, timeout=60_000) as evaluated:
        dock.evaluate_on(run.id, "statevector")
    assert evaluated.args[0] == run.id
    # The exact backend reproduces the run's own test accuracy.
    assert evaluated.args[1] == pytest.approx(run.metrics["test_accuracy"][-1])
    assert run.evaluations[-1]["backend"] == "statevector"
    with qtbot.waitSignal(dock.evaluated, timeout=60_000):
        dock.evaluate_on(run.id, "aer-shots,shots=2000,seed=3")
    assert [e["backend"] for e in run.evaluations] == ["statevector", "aer-shots"]
    assert "aer-shots" in dock.evaluations_label.text() and dock.evaluations_label.isVisible()
    # Recorded as the CLI records it (workflow.record_evaluation): the seed and what the backend applied.
    assert run.evaluations[-1]["backend_applied"].get("shots") == 2000
    assert run.evaluations[-1]["seeds"]


def test_compare_with_classical_baselines_shows_the_table_or_says_how_to_get_one(qtbot, tmp_path: Path, registry: Any) -> None:
    from qmlstudio.gui.main_window import MainWindow

    window = MainWindow(demo_project(tmp_path, epochs=2, baselines=True), registry=registry)
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    action = window.named_actions["run.compare"]
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+B"
    training, dataset = window.docks["trainingDock"], window.docks["datasetDock"]
    dataset.raise_()  # the training dock hidden behind its tab
    qtbot.waitUntil(lambda: training.visibleRegion().isEmpty())

    action.trigger()

    qtbot.waitUntil(lambda: not training.visibleRegion().isEmpty())
    assert dataset.visibleRegion().isEmpty()
    assert "No classical baselines yet" in window.statusBar().currentMessage()
    project = window.project
    options = dict(project.model.options)
    project.model = ModelChoice(project.model.kind, {**options, "baselines": False})
    action.trigger()
    assert "turned off in this project" in window.statusBar().currentMessage()
    project.model = ModelChoice(project.model.kind, options)

    dock = window.training_dock
    with qtbot.waitSignal(dock.run_finished, timeout=30_000):
        window.named_actions["run.train"].trigger()
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    dataset.raise_()
    qtbot.waitUntil(lambda: training.visibleRegion().isEmpty())
    dock.select_runs([])

    action.trigger()

    qtbot.waitUntil(lambda: not dock.baselines_table.visibleRegion().isEmpty())
    assert "beside 4 classical baselines on the same split" in window.statusBar().currentMessage()
    assert dock.baselines_table.rowCount() == 5
    dock.shutdown()


# ------------------------------------------------------- one set of numbers
def iris_project(tmp_path: Path, registry: Any, *, eval_every: int = 1, baselines: bool = False) -> Project:
    """Iris (3 classes, a 38-sample test split) on 4 qubits, trained for minutes unless stopped."""
    from qmlstudio.workflow import new_project

    project = new_project(registry, name="iris", dataset="iris", epochs=LONG)
    project.model = ModelChoice("vqc", {"eval_every": eval_every, "baselines": baselines})
    save_project(project, tmp_path / "iris.qmls")
    return project


@pytest.mark.parametrize("eval_every", [1, 7])
def test_after_a_stopped_run_the_matrix_the_tiles_and_the_table_agree(
    qtbot, tmp_path: Path, registry: Any, eval_every: int
) -> None:
    """The confusion matrix's accuracy (trace / total), the test-accuracy tile and the quantum
    row of the baselines table come from the same final weights and predictions, also when
    Stop lands in the middle of a simulation and when the last iteration was not evaluated."""
    project = iris_project(tmp_path, registry, eval_every=eval_every, baselines=True)
    dock = TrainingDock(project, registry)
    qtbot.addWidget(dock)
    dock.resize(1300, 820)
    dock.show()
    try:
        click(qtbot, dock.train_button)
        qtbot.waitUntil(lambda: points(dock, "train_accuracy") >= 3, timeout=30_000)
        with qtbot.waitSignal(dock.run_finished, timeout=10_000) as finished:
            click(qtbot, dock.stop_button)
        record = finished.args[0]
        qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
        assert record.status == "stopped"
        qtbot.waitUntil(lambda: dock.confusion_plot.matrix is not None and dock.confusion_plot.matrix.sum() == 38,
                        timeout=5000)
        matrix = dock.confusion_plot.matrix
        assert matrix.shape == (3, 3) and matrix.sum() == 38
        shown = np.trace(matrix) / matrix.sum()
        # The record's last row describes the final weights, and every view shows it.
        assert record.metrics["test_accuracy"][-1] == pytest.approx(shown)
        assert dock.cards["test_accuracy"].value.text() == f"{shown:.1%}"
        assert float(dock.baselines_table.item(0, 2).text()) == pytest.approx(shown, abs=5e-4)
        # ... and they are the final weights' own predictions, checked again from scratch.
        from qmlstudio.workflow import build_run

        run = build_run(project, registry)
        weights = np.array(record.final_weights)
        assert run.evaluate(weights, "test")[1] == pytest.approx(shown)
    finally:
        dock.shutdown()


def test_evaluate_on_with_mitigation_by_mouse_and_keyboard_shows_raw_and_mitigated_figures(qtbot, dock: TrainingDock) -> None:
    """#18: the user clicks the run, clicks Evaluate on…, picks noisy-exact in the dialog's
    backend list, picks linear zero-noise extrapolation, types its scale factors and presses
    Enter: the dock shows the raw and the extrapolated figures side by side with the mean
    |Δp| against the exact simulator, and the run keeps them. A refused option (scale factors
    that do not start at 1) says why and disables Evaluate first."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit

    from qmlstudio.gui.evaluate_dialog import EvaluateDialog

    pytest.importorskip("mitiq")
    run = train_quickly(qtbot, dock, 3)
    model = dock.runs_model
    qtbot.mouseClick(dock.runs_view.viewport(), Qt.MouseButton.LeftButton,
                     pos=dock.runs_view.visualRect(model.index(model.row_of(run.id), 0)).center())
    typed: dict[str, Any] = {}

    def choose(combo: QComboBox, text: str) -> None:  # the popup opened with the mouse, the item typed
        qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(combo.view().isVisible, timeout=5000)
        qtbot.keyClicks(combo.view(), text)
        qtbot.keyClick(combo.view(), Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not combo.view().isVisible(), timeout=5000)

    def type_into(edit: QLineEdit, text: str) -> None:
        qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
        edit.selectAll()
        qtbot.keyClick(edit, Qt.Key.Key_Delete)
        qtbot.keyClicks(edit, text)
        # Enter commits the value; it also presses the dialog's default button, Evaluate, which
        # is disabled while the options are refused
        qtbot.keyClick(edit, Qt.Key.Key_Return)

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, EvaluateDialog):
            QTimer.singleShot(50, fill_in)
            return
        try:
            typed["start"] = dialog.backend_combo.currentData()
            choose(dialog.backend_combo, "Exact noisy")
            typed["backend"] = dialog.backend_combo.currentData()
            choose(dialog.options.editor("zne"), "linear")
            type_into(dialog.options.editor("zne_scales"), "2,3")
            typed["refused"] = (dialog.refusal.isVisible() and "must start at 1" in dialog.refusal.text()
                                and not dialog.evaluate_button.isEnabled())
            typed["still_open"] = dialog.isVisible()
            type_into(dialog.options.editor("zne_scales"), "1/3")  # accepted, and Enter evaluates
            typed["command"] = dialog.command.text()
        finally:
            typed["done"] = True
            if dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, fill_in)
    messages: list[str] = []
    dock.status_message.connect(messages.append)
    with qtbot.waitSignal(dock.evaluated, timeout=120_000):
        click(qtbot, dock.evaluate_button)
    assert typed.get("done") and typed["start"] == "aer-noise" and typed["backend"] == "noisy-exact", typed
    assert typed["refused"] and typed["still_open"], typed
    assert "qmlstudio evaluate PROJECT --backend noisy-exact:fake_manila,zne=linear,zne_scales=1/3" in typed["command"]
    rows = run.evaluations[-1]["cost"]["circuits"] // 2  # each test sample, and its copy folded 3 times
    # what it would cost was said before it ran
    assert any(f"{rows} test samples: {rows} circuits (exact), + {rows} folded (ZNE)" in m
               for m in messages), messages
    evaluation = run.evaluations[-1]
    assert evaluation["backend"] == "noisy-exact" and set(evaluation["metrics"]) == {"raw", "zne"}
    text = dock.evaluations_label.text()
    assert dock.evaluations_label.isVisible()
    assert "zero-noise extrapolated (mitiq)" in text and "mean |Δp|" in text
    assert f"{evaluation['metrics']['zne']['mean_abs_dp']:.4f}" in text


def test_a_hybrid_run_draws_its_classical_and_quantum_gradient_norms_apart(qtbot, tmp_path: Path, registry: Any) -> None:
    """A hybrid trained from the dock (a click on Train): the gradient plot has the total and
    the two parts' curves, with a point per iteration, as recorded; a VQC run has none of them."""
    from qmlstudio.workflow import new_project

    # no baselines (a second or more of fitting): nothing here looks at them
    project = new_project(registry, name="h", dataset="moons", dataset_options={"samples": 60}, model="hybrid",
                          qubits=2, epochs=2, model_options={"ablation": False, "baselines": False})
    dock = TrainingDock(project, registry)
    qtbot.addWidget(dock)
    dock.show()
    with qtbot.waitSignal(dock.run_finished, timeout=60_000) as finished:
        click(qtbot, dock.train_button)
    record = finished.args[0]
    assert record.status == "completed"
    quantum = record.metrics["grad_norm_quantum"]
    assert len(quantum) == record.num_points and all(v is not None and v > 0 for v in quantum)
    assert all(v is not None and v > 0 for v in record.metrics["grad_norm_classical"])
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    drawn = {metric for (_, metric), curve in dock.grad_plot.curves.items()
             if curve.getData()[0] is not None and len(curve.getData()[0])}
    assert drawn == {"grad_norm", "grad_norm_classical", "grad_norm_quantum"}
    names = [label.text for _, label in dock.grad_plot.legend.items]
    assert names == ["‖∇‖", "classical", "quantum"]
    # the file keeps them; a VQC run's record writes no such lists
    assert "grad_norm_quantum" in record.to_dict()["metrics"]
    vqc = demo_project(tmp_path)
    from qmlstudio.workflow import build_run

    plain = build_run(vqc, registry, epochs=1).run()
    assert "grad_norm_quantum" not in plain.to_dict()["metrics"]
