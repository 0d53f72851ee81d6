"""The state view (probabilities for one sample) and the live circuit figures (transpiled in the background)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack
from qiskit.quantum_info import Statevector

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.models import compose
from qmlstudio.core.project import Project
from qmlstudio.gui.editor.figures import CircuitFigures
from qmlstudio.gui.project_data import ProjectData
from qmlstudio.gui.state_view import StateView

TIMEOUT = 60_000


@pytest.fixture
def project() -> Project:
    return Project.new("moons", circuit=CircuitDesign(2, [
        Gate("ry", (0,), ("θ[0]",), 0),
        Gate("ry", (1,), ("θ[1]",), 0),
        Gate("cx", (0, 1), (), 1),
    ]))


@pytest.fixture
def state(qtbot, project, registry) -> tuple[StateView, ProjectData]:
    data = ProjectData(registry)
    view = StateView(registry, data)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(data.changed, timeout=TIMEOUT, check_params_cb=lambda *a: data.data is not None):
        data.set_project(project)
        view.set_project(project)
    qtbot.waitUntil(lambda: view.probabilities is not None, timeout=TIMEOUT)
    return view, data


def _expected(project: Project, registry, data, index: int, weights: np.ndarray) -> np.ndarray:
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    design = compose(encoder.circuit(data.num_features), project.circuit)
    circuit = design.to_circuit()
    values = {p: (weights[p.index] if p.vector.name == "θ" else encoder.transform(data.x_train[index:index + 1])[0][p.index])
              for p in circuit.parameters}
    return Statevector(circuit.assign_parameters(values)).probabilities()


def test_the_state_view_shows_the_probabilities_of_encoding_then_circuit(state, project, registry) -> None:
    view, data = state
    view.weights.setCurrentIndex(view.weights.findData("zeros"))
    view.recompute()
    assert np.allclose(view.probabilities, _expected(project, registry, data.data, 0, np.zeros(2)))
    assert view.chart.num_classes == 2  # bars coloured by the class they vote for
    assert "P(" in view.caption.text()

    view.sample.setValue(5)
    view.recompute()
    assert np.allclose(view.probabilities, _expected(project, registry, data.data, 5, np.zeros(2)))


def test_the_state_view_follows_edits_of_the_circuit(state, project, registry, qtbot) -> None:
    view, data = state
    view.weights.setCurrentIndex(view.weights.findData("initial"))
    view.recompute()
    before = view.probabilities.copy()
    with qtbot.waitSignal(view.updated, timeout=5000):
        project.circuit.add_gate(Gate("x", (1,), (), 2))
    assert not np.allclose(view.probabilities, before)
    rng = np.random.default_rng(project.seed)
    weights = rng.uniform(-np.pi, np.pi, 2)
    assert np.allclose(view.probabilities, _expected(project, registry, data.data, 0, weights))


def test_the_state_view_refuses_more_than_ten_qubits(state, project, qtbot) -> None:
    view, _ = state
    with qtbot.waitSignal(view.updated, timeout=5000):
        project.circuit.set_num_qubits(11)
    assert view.probabilities is None
    assert "up to 10 qubits" in view.chart.message


def test_the_figures_count_the_circuit_and_transpile_in_the_background(qtbot, project, registry) -> None:
    figures = CircuitFigures(registry)
    qtbot.addWidget(figures)
    with qtbot.waitSignal(figures.transpiledDepthChanged, timeout=TIMEOUT) as done:
        figures.set_project(project)
        assert figures.values["transpiled"].text() == "…"  # never computed on the GUI thread
    assert done.args == [2]
    values = {key: label.text() for key, label in figures.values.items()}
    assert values == {"qubits": "2", "gates": "3", "depth": "2", "weights": "2", "inputs": "0",
                      "two_qubit": "1", "transpiled": "2", "transpiled_two_qubit": "1"}
    with qtbot.waitSignal(figures.transpiledDepthChanged, timeout=TIMEOUT) as done:
        project.circuit.add_gate(Gate("h", (0,), (), 2))
    assert done.args == [3]
    assert figures.values["depth"].text() == "3"


def test_an_unknown_backend_shows_a_dash_not_an_error(qtbot, project, registry) -> None:
    from qmlstudio.core.project import PluginChoice

    project.backend = PluginChoice("no-such-backend")
    figures = CircuitFigures(registry)
    qtbot.addWidget(figures)
    with qtbot.waitSignal(figures.transpiledDepthChanged, timeout=TIMEOUT) as done:
        figures.set_project(project)
    assert done.args == [None]
    assert figures.values["transpiled"].text() == "—"
    assert "no-such-backend" in figures.values["transpiled"].toolTip()


def test_editor_figures_follow_undo(qtbot, project, registry) -> None:
    from qmlstudio.gui.editor import CircuitEditor

    stack = QUndoStack()
    editor = CircuitEditor(stack, registry)
    qtbot.addWidget(editor)
    editor.set_project(project)
    editor.add_gate("h", 0, 2)
    assert editor.figures.values["gates"].text() == "4"
    stack.undo()
    assert editor.figures.values["gates"].text() == "3"


def test_the_figures_count_two_qubit_gates_on_the_chosen_device(qtbot, project, registry) -> None:
    """On a device (fake Manila: a line of 5 qubits) a triangle of CX needs SWAPs: more two-qubit gates."""
    from qmlstudio.core.project import PluginChoice

    project.circuit.set_gates([Gate("cx", (0, 1), (), 0), Gate("cx", (1, 2), (), 1), Gate("cx", (0, 2), (), 2)],
                              num_qubits=3)
    project.backend = PluginChoice("aer-noise", {"fake_backend": "fake_manila"})
    figures = CircuitFigures(registry)
    qtbot.addWidget(figures)
    with qtbot.waitSignal(figures.transpiledDepthChanged, timeout=TIMEOUT):
        figures.set_project(project)
    assert figures.values["two_qubit"].text() == "3"
    assert figures.transpiled_two_qubit is not None and figures.transpiled_two_qubit > 3
    assert figures.values["transpiled_two_qubit"].text() == str(figures.transpiled_two_qubit)
    assert "aer-noise" in figures.names["transpiled"].text()


def test_the_state_view_of_a_hybrid_says_its_front_feeds_the_circuit(state, project, qtbot) -> None:
    from qmlstudio.core.project import ModelChoice

    view, _ = state
    with qtbot.waitSignal(view.updated, timeout=5000):
        project.model = ModelChoice("hybrid", {})
        project.mark_changed("model")
    assert view.probabilities is None
    assert "gets its inputs from its classical front" in view.chart.message
