"""`qmlstudio export --torch`: a trained run as a self-contained PyTorch module, loaded in a
fresh interpreter where QML Studio cannot be imported, reproduces the run's predictions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qmlstudio.core.project import load_project, save_project
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, export_run_to_torch, load_dataset, new_project, project_for_run

#: run in the fresh interpreter: QML Studio and its plugins cannot be imported there
_FRESH = r"""
import sys, json, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("qmlstudio", "qmls_torch", "qmls_statevector", "qmls_encodings", "numba"):
            raise ImportError(f"{name} must not be needed")
sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
import torch
model = __import__(sys.argv[2])
net = model.load(sys.argv[3])
raw = torch.tensor(json.load(open(sys.argv[4])), dtype=torch.float64)
with torch.no_grad():
    out = net(raw)
    labels = net.predict(raw)
print(json.dumps({"out": out.tolist(), "labels": labels.tolist(), "classes": net.class_names,
                  "mods": sorted(m for m in sys.modules if m.startswith("qmls"))}))
"""


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def _trained(tmp_path: Path, registry, **kwargs):
    options = {"baselines": False, **kwargs.pop("model_options", {})}
    project = new_project(registry, name="export", epochs=3, seed=4, model_options=options, **kwargs)
    path = tmp_path / "p.qmls"
    save_project(project, path)
    run = build_run(project, registry)
    record = run.run()
    project.add_run(record)
    save_project(project, path)
    return load_project(path)


def _fresh(folder: Path, pt: Path, raw: np.ndarray) -> dict:
    rows = folder / "rows.json"
    rows.write_text(json.dumps(raw.tolist()))
    done = subprocess.run([sys.executable, "-c", _FRESH, str(pt.parent), pt.stem, str(pt), str(rows)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("kwargs", [
    {"dataset": "iris"},  # 3 classes, modulo readout, minmax scaling
    {"dataset": "breast-cancer", "features": 4},  # PCA to 4 components
    {"dataset": "iris", "model_options": {"readout": "z", "trainable_output": True}},  # softmax of scaled ⟨Z⟩ + bias
    {"dataset": "moons", "encoding": "zz-feature-map", "model_options": {"readout": "parity"}},  # a ZZ feature map's formulas
])
def test_exported_module_reproduces_the_runs_predictions_in_a_fresh_interpreter(tmp_path, registry, kwargs):
    project = _trained(tmp_path, registry, **kwargs)
    record = project.runs[-1]
    pt = tmp_path / "model.pt"
    weights, source = export_run_to_torch(project, registry, "last", pt)
    assert weights == pt and source == tmp_path / "model.py" and source.is_file()
    # the run rebuilt as QML Studio evaluates it: its probabilities for every raw row of the dataset
    built = build_run(project_for_run(project, record), registry, widen=True, evaluating=True)
    dataset = load_dataset(project, registry)
    raw = np.asarray(dataset.features, dtype=float)
    prepared = built.data.fitted.apply(raw)
    expected = built.predict_proba(prepared, np.asarray(record.final_weights))
    got = _fresh(tmp_path, pt, raw)
    assert got["mods"] == []
    np.testing.assert_allclose(np.asarray(got["out"]), expected, atol=1e-12)
    assert got["labels"] == np.argmax(expected, axis=1).tolist()
    assert got["classes"] == list(built.data.class_names)
    # the test rows: the exported module's labels are the run's test predictions
    test_labels = np.argmax(built.predict_proba(built.data.x_test, np.asarray(record.final_weights)), axis=1)
    assert float(np.mean(test_labels == built.data.y_test)) == pytest.approx(record.test["accuracy"])


def test_angle_formulas_and_every_rotation_match_the_engine(tmp_path, registry):
    """A circuit with every parametric gate and formulas of weights and inputs: the exported
    simulator's values equal the engine's."""
    import torch

    from qmlstudio.core.circuit import CircuitDesign, Gate
    from qmlstudio.core.expressions import Angle
    from qmlstudio.core.gate_matrices import z_diagonal
    from qmlstudio.core.statevector import StatevectorProgram
    from qmlstudio.workflow.export_torch import _SOURCE, _ops

    a = Angle
    gates = [Gate("h", (0,), (), column=0), Gate("rx", (1,), (a("x[0]"),), column=0),
             Gate("ry", (2,), (a("θ[0] * x[1]"),), column=0), Gate("rz", (0,), (a("sin(x[0]) + θ[1]"),), column=1),
             Gate("p", (1,), (a("θ[2]"),), column=1), Gate("u", (2,), (a("θ[3]"), a("x[1] ** 2"), a("-θ[4]")), column=1),
             Gate("crx", (0, 2), (a("θ[5]"),), column=2), Gate("cry", (2, 1), (a("θ[6] / 2"),), column=3),
             Gate("crz", (1, 0), (a("pi - x[0]"),), column=4), Gate("rxx", (0, 1), (a("θ[7]"),), column=5),
             Gate("ryy", (1, 2), (a("exp(θ[8])"),), column=6), Gate("rzz", (2, 0), (a("(pi - x[0]) * (pi - x[1])"),), column=7),
             Gate("cx", (2, 0), (), column=8), Gate("swap", (0, 1), (), column=9), Gate("ccx", (0, 1, 2), (), column=10),
             Gate("sx", (2,), (), column=11), Gate("cy", (1, 2), (), column=12)]
    design = CircuitDesign(3, tuple(gates))
    rng = np.random.default_rng(1)
    w, x = rng.uniform(-2, 2, design.num_weights), rng.uniform(-2, 2, (5, 2))
    observables = np.stack([z_diagonal(3, (q,)) for q in range(3)] + [np.eye(8)[5]])
    expected = StatevectorProgram(design).expectations(w, x, observables)
    namespace: dict = {}
    exec(compile(_SOURCE, "model.py", "exec"), namespace)
    settings = {"num_qubits": 3, "class_names": [], "feature_names": [], "ops": _ops(design), "scale_low": 0.0,
                "preprocessing": {"scaling": "none"},
                "head": {"kind": "classifier", "readout": "modulo", "num_classes": 4, "trainable": False,
                         "scale": 3.0, "observables": observables.tolist(), "extra": []}}
    net = namespace["ExportedModel"](settings, torch.tensor(w))
    got = net.values(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_export_refuses_what_it_cannot_write(tmp_path, registry):
    from qmlstudio.core.errors import QMLStudioError

    project = new_project(registry, name="empty", dataset="iris")
    with pytest.raises(QMLStudioError, match="no runs"):
        export_run_to_torch(project, registry, "last", tmp_path / "m.pt")
    project = _trained(tmp_path, registry, dataset="iris", encoding="amplitude")
    with pytest.raises(QMLStudioError, match="amplitude encoding transforms the features"):
        export_run_to_torch(project, registry, "last", tmp_path / "m.pt")
    with pytest.raises(QMLStudioError, match=r"\.pt file"):
        export_run_to_torch(project, registry, "last", tmp_path / "m.pth")


def test_cli_writes_both_and_the_torchconnector_script_reproduces_the_run(tmp_path, registry):
    """`qmlstudio export --torch --qiskit-script` from the command line; the script runs in a
    fresh interpreter without QML Studio and gives the run's labels (TorchConnector: float32)."""
    project = _trained(tmp_path, registry, dataset="iris")
    path = tmp_path / "p.qmls"
    done = subprocess.run([sys.executable, "-m", "qmlstudio", "export", str(path), "--torch", str(tmp_path / "net.pt"),
                           "--qiskit-script", str(tmp_path / "reference.py")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "net.pt").is_file() and (tmp_path / "net.py").is_file()
    record = project.runs[-1]
    built = build_run(project_for_run(project, record), registry, widen=True, evaluating=True)
    raw = np.asarray(load_dataset(project, registry).features, dtype=float)
    expected = built.predict_proba(built.data.fitted.apply(raw), np.asarray(record.final_weights))
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps(raw.tolist()))
    blocker = _FRESH.split("sys.path.insert")[0]
    script = blocker + f"import runpy; sys.argv = ['reference.py', {str(rows)!r}]; runpy.run_path({str(tmp_path / 'reference.py')!r}, run_name='__main__')"
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    got = json.loads(ran.stdout)
    np.testing.assert_allclose(np.asarray(got["probabilities"]), expected, atol=1e-5)
    assert got["labels"] == np.argmax(expected, axis=1).tolist()
    assert got["classes"] == list(built.data.class_names)
    refused = subprocess.run([sys.executable, "-m", "qmlstudio", "export", str(path)], capture_output=True, text=True)
    assert refused.returncode == 1 and "give --circuit FILE, --torch FILE.pt or --qiskit-script FILE.py" in refused.stderr


@pytest.mark.parametrize("dataset, options", [
    ("iris", {"front_hidden": "5"}),
    ("digits", {"front": "conv", "conv_channels": "2,3", "front_hidden": "4"}),  # 8×8 images
    ("iris", {"readout": "probabilities"}),  # the head reads the 8 basis-state probabilities
], ids=["dense-front", "conv-front", "probabilities-readout"])
def test_a_hybrid_run_exports_and_reproduces_its_predictions(tmp_path, registry, dataset, options):
    """A trained hybrid (a dense front with a hidden layer, or a convolutional one; circuit;
    head): the module and the TorchConnector script, each in a fresh interpreter without QML
    Studio, give the run's probabilities for every raw row (1e-12; the script, in float32,
    1e-5) and its labels."""
    project = new_project(registry, name="h", dataset=dataset, model="hybrid", qubits=3, epochs=3, seed=2,
                          model_options={**options, "baselines": False, "ablation": False})
    path = tmp_path / "h.qmls"
    save_project(project, path)
    record = build_run(project, registry).run()
    project.add_run(record)
    save_project(project, path)
    done = subprocess.run([sys.executable, "-m", "qmlstudio", "export", str(path), "--torch", str(tmp_path / "hy.pt"),
                           "--qiskit-script", str(tmp_path / "hy_reference.py")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    built = build_run(project_for_run(project, record), registry, widen=True, evaluating=True)
    raw = np.asarray(load_dataset(project, registry).features, dtype=float)
    expected = built.predict_proba(built.data.fitted.apply(raw), np.asarray(record.final_weights))
    got = _fresh(tmp_path, tmp_path / "hy.pt", raw)
    np.testing.assert_allclose(np.asarray(got["out"]), expected, atol=1e-12)
    assert got["labels"] == np.argmax(expected, axis=1).tolist()
    rows = tmp_path / "rows.json"
    script = _FRESH.split("sys.path.insert")[0] + (
        f"import runpy; sys.argv = ['r.py', {str(rows)!r}]; runpy.run_path({str(tmp_path / 'hy_reference.py')!r}, "
        "run_name='__main__')")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    reference = json.loads(ran.stdout)
    np.testing.assert_allclose(np.asarray(reference["probabilities"]), expected, atol=1e-5)
    assert reference["labels"] == np.argmax(expected, axis=1).tolist()
