"""Layerwise training (#19 point 2, Skolik et al. 2021): the template grows a layer at a time,
each phase starting from the last one's weights with the new layer's at 0 and training only
the new layer; a last phase may train every weight."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qmlstudio.cli import main
from qmlstudio.core.circuit import Gate
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import load_project
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.layerwise import phases, run_layerwise


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def test_each_phase_starts_where_the_last_ended_and_keeps_the_trained_layers(registry):
    project = new_project(registry, name="lw", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 3},
                          epochs=1, seed=5)
    schedule = phases(project, registry, 2, final_epochs=1)
    assert [(p.layers, p.only_new, p.epochs) for p in schedule] == [(1, False, 2), (2, True, 2), (3, True, 2), (3, False, 1)]
    assert [p.project.circuit.num_weights for p in schedule] == [4, 6, 8, 8]
    records = list(run_layerwise(project, registry, schedule))
    assert [r.status for r in records] == ["completed"] * 4
    assert np.allclose(records[0].initial_weights, 0.0)  # the first layer starts at 0 too
    for before, after, phase in zip(records, records[1:], schedule[1:]):
        kept = len(before.final_weights)
        start, end = np.array(after.initial_weights), np.array(after.final_weights)
        np.testing.assert_array_equal(start[:kept], before.final_weights)  # where the last phase ended
        assert np.all(start[kept:] == 0)  # the new layer at 0
        if phase.only_new:
            np.testing.assert_array_equal(end[:kept], start[:kept])  # the trained layers stay
            assert np.any(end[kept:] != 0)  # the new one trains
        else:
            assert np.any(end != start)
        assert after.config["layerwise"]["phase"] == phase.index and after.config["layerwise"]["phases"] == 4
    assert [bool(r.baselines) for r in records] == [False, False, False, True]  # once, at the end


def test_what_cannot_grow_layer_by_layer_is_refused(registry):
    project = new_project(registry, name="lw", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 2})
    edited = new_project(registry, name="lw", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 2})
    edited.circuit.set_gates([*edited.circuit.gates, Gate("h", (0,), (), 40)], edited.circuit.num_qubits)
    with pytest.raises(QMLStudioError, match="edited"):
        phases(edited, registry, 1)
    spsa = new_project(registry, name="lw", dataset="moons", optimizer="spsa")
    with pytest.raises(QMLStudioError, match="gradient"):
        phases(spsa, registry, 1)
    kernel = new_project(registry, name="k", dataset="moons", model="kernel")
    with pytest.raises(QMLStudioError, match="kernel"):
        phases(kernel, registry, 1)
    with pytest.raises(QMLStudioError, match="at least 1 epoch"):
        phases(project, registry, 0)


def test_the_cli_runs_the_phases_and_saves_each(tmp_path, capsys):
    path = str(tmp_path / "lw.qmls")
    assert main(["new", path, "--dataset", "moons", "--reps", "2", "--seed", "3"]) == 0
    capsys.readouterr()
    assert main(["train", path, "--layerwise", "1", "--then-all", "1", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "layerwise: 2 phases of 1 epochs" in err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    done = lines[-1]
    assert done["event"] == "done" and done["status"] == "completed" and done["phases"] == 3
    assert {row["phase"] for row in lines[:-1]} == {1, 2, 3}
    project = load_project(path)
    assert [r.id for r in project.runs] == done["run_ids"]
    assert [r.config["layerwise"]["layers"] for r in project.runs] == [1, 2, 2]
    assert main(["train", path, "--layerwise", "1", "--epochs", "3"]) == 1
    assert "does not go with" in capsys.readouterr().err
