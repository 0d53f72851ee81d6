"""The PyTorch quantum layer and hybrid models (qmls_torch): gradients against finite
differences, ``torch.autograd.gradcheck`` and qiskit-machine-learning's ``EstimatorQNN``
behind ``TorchConnector`` on the same circuit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.expressions import Angle
from qmlstudio.core.gate_matrices import z_diagonal
from qmls_torch import HybridNet, QuantumFunction, QuantumTorchLayer
from qmls_torch.hybrid import describe


def _design(n: int = 3, reps: int = 2) -> CircuitDesign:
    """Angle encoding (RY(x_q)) then ``reps`` layers of RY(θ) and a CX ladder: the usual hybrid circuit."""
    gates, column, w = [Gate("ry", (q,), (Angle(f"x[{q}]"),), column=0) for q in range(n)], 1, 0
    for _ in range(reps):
        for q in range(n):
            gates.append(Gate("ry", (q,), (Angle(f"θ[{w}]"),), column=column))
            w += 1
        column += 1
        for q in range(n - 1):
            gates.append(Gate("cx", (q, q + 1), (), column=column))
            column += 1
    for q in range(n):
        gates.append(Gate("rx", (q,), (Angle(f"θ[{w}] * x[{q}]"),), column=column))  # weights and data mixed
        w += 1
    return CircuitDesign(n, tuple(gates))


def _observables(n: int) -> np.ndarray:
    return np.stack([z_diagonal(n, (q,)) for q in range(n)])


def _estimator_qnn(design: CircuitDesign) -> EstimatorQNN:
    circuit = design.to_circuit()
    inputs = sorted((p for p in circuit.parameters if p.name.startswith("x[")), key=lambda p: p.index)
    weights = sorted((p for p in circuit.parameters if p.name.startswith("θ[")), key=lambda p: p.index)
    n = design.num_qubits
    observables = [SparsePauliOp("".join("Z" if i == n - 1 - q else "I" for i in range(n))) for q in range(n)]
    estimator = StatevectorEstimator(default_precision=0.0)  # exact: the QNN's 1/64 default adds noise
    return EstimatorQNN(circuit=circuit, estimator=estimator, observables=observables, input_params=inputs,
                        weight_params=weights, gradient=ParamShiftEstimatorGradient(estimator), input_gradients=True,
                        default_precision=0.0)


def test_quantum_function_passes_gradcheck():
    design = _design()
    layer = QuantumTorchLayer(design, _observables(3), seed=1)
    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, w: QuantumFunction.apply(a, w, layer.engine), (x, layer.weight),
                                    eps=1e-6, atol=1e-8)


def test_layer_vjps_equal_estimator_qnn_the_torch_connector_wraps():
    """TorchConnector's backward is EstimatorQNN.backward contracted with ∂L/∂values; it casts
    to float32, so the 1e-8 comparison is made with the QNN's own float64 results, and the
    TorchConnector module itself is compared at float32 rounding."""
    design = _design()
    rng = np.random.default_rng(3)
    weights = rng.uniform(0, 2 * np.pi, design.num_weights)
    x = rng.uniform(-np.pi, np.pi, (6, 3))
    upstream = rng.normal(size=(6, 3))
    layer = QuantumTorchLayer(design, _observables(3), initial_weights=weights)
    xt = torch.tensor(x, requires_grad=True)
    values = layer(xt)
    (values * torch.tensor(upstream)).sum().backward()

    qnn = _estimator_qnn(design)
    reference = qnn.forward(x, weights)
    d_inputs, d_weights = qnn.backward(x, weights)  # (batch, k, inputs), (batch, k, weights)
    np.testing.assert_allclose(values.detach().numpy(), reference, atol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), np.einsum("bk,bki->bi", upstream, d_inputs), atol=1e-8)
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.einsum("bk,bkw->w", upstream, d_weights), atol=1e-8)

    connector = TorchConnector(qnn, initial_weights=weights)
    xc = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    out = connector(xc)
    (out * torch.tensor(upstream, dtype=torch.float32)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), reference, atol=1e-6)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(connector.weight.grad.numpy(), layer.weight.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_hybrid_gradients_equal_finite_differences_and_the_torch_connector_model():
    """The whole hybrid (front → quantum layer → head, cross-entropy): every parameter's
    gradient against central finite differences at 1e-8, and against the same model built
    on TorchConnector + EstimatorQNN (float32 there)."""
    design = _design()
    torch.manual_seed(0)
    net = HybridNet(QuantumTorchLayer(design, _observables(3), seed=2), num_features=4, num_outputs=2,
                    front_hidden=(5,), seed=4)
    features = torch.randn(8, 4, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    loss = torch.nn.functional.cross_entropy(net(features), labels)
    net.zero_grad()
    loss.backward()
    ours = {n: p.grad.clone() for n, p in net.named_parameters()}

    def loss_at() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(net(features), labels))

    h = 1e-6
    for name, p in net.named_parameters():
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = float(flat[i])
            flat[i] = old + h
            up = loss_at()
            flat[i] = old - h
            down = loss_at()
            flat[i] = old
            assert abs((up - down) / (2 * h) - float(ours[name].view(-1)[i])) < 1e-8, (name, i)

    # the same model with TorchConnector as the quantum layer
    connector = TorchConnector(_estimator_qnn(design), initial_weights=net.quantum.weight.detach().numpy())
    front = net.front.float()
    head = net.head.float()
    front.zero_grad()
    head.zero_grad()
    out = head(connector(torch.pi * torch.tanh(front(features.float()))))
    torch.nn.functional.cross_entropy(out, labels).backward()
    reference = {f"front.{n}": p.grad for n, p in front.named_parameters()}
    reference |= {f"head.{n}": p.grad for n, p in head.named_parameters()}
    reference["quantum.weight"] = connector.weight.grad
    assert set(reference) == set(ours)
    for name, grad in ours.items():
        np.testing.assert_allclose(reference[name].double().numpy(), grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_hybrid_learns_and_reports_its_parts():
    """A few Adam steps on a separable toy problem lower the loss; the classical and quantum
    gradient norms are reported apart; the sizes are what the canvas shows."""
    rng = np.random.default_rng(0)
    features = torch.tensor(rng.normal(size=(64, 4)))
    labels = (features[:, 0] + features[:, 1] > 0).long()
    net = HybridNet(QuantumTorchLayer(_design(), _observables(3), seed=0), num_features=4, num_outputs=2, seed=0)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(features), labels)
        loss.backward()
        norms = net.gradient_norms()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
    assert norms["classical"] > 0 and norms["quantum"] > 0
    assert describe(net) == {"front": [4, 3], "front_parameters": 15, "quantum_weights": 9, "head": [3, 2],
                             "head_parameters": 8, "conv_channels": [], "image_shape": None}


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match="9 weights"):
        QuantumTorchLayer(_design(), _observables(3), initial_weights=np.zeros(4))
    with pytest.raises(ValueError, match="must be as many"):
        HybridNet(QuantumTorchLayer(_design(), _observables(3)), num_features=5, num_outputs=2, front=False)
    with pytest.raises(ValueError, match="unknown activation"):
        HybridNet(QuantumTorchLayer(_design(), _observables(3)), num_features=5, num_outputs=2, activation="gelu")


def test_ablation_keeps_front_and_head_and_matches_the_quantum_parameter_count():
    from qmls_torch import ClassicalStandIn, ablation

    net = HybridNet(QuantumTorchLayer(_design(), _observables(3), seed=0), num_features=4, num_outputs=2,
                    front_hidden=(5,), seed=7)
    classical = ablation(net, seed=7)  # 3 inputs, 3 outputs: elementwise a·tanh(b·x + c), 9 parameters
    assert isinstance(classical.quantum, ClassicalStandIn) and classical.quantum.kind == "elementwise"
    assert describe(classical)["front"] == describe(net)["front"] and describe(classical)["head"] == describe(net)["head"]
    assert describe(classical)["quantum_weights"] == 9 == describe(net)["quantum_weights"]
    # the bottleneck MLP: 3 → h → 3 with h = 1: (3 + 1) + (3 + 3) = 10 parameters
    assert describe(ablation(net, seed=7, kind="mlp"))["quantum_weights"] == 10
    # the same seed gives the same initial front and head
    for (name, a), (_, b) in zip(net.front.named_parameters(), classical.front.named_parameters()):
        assert torch.equal(a, b), name
    out = classical(torch.randn(6, 4, dtype=torch.float64))
    assert out.shape == (6, 2)


# --------------------------------------------------------------------------- the hybrid model kind
_BLOCK_TORCH = r"""
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed (blocked by the test)")
sys.meta_path.insert(0, NoTorch())
from qmlstudio.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_cli_new_and_train_a_hybrid_with_its_ablation_baseline(tmp_path):
    """`qmlstudio new --model hybrid --qubits 3` then `qmlstudio train`: a completed run with a
    test score, the tuned baselines and the ablation, saved in the project and read back."""
    import json
    import subprocess
    import sys

    from qmlstudio.core.project import load_project

    path = tmp_path / "h.qmls"
    new = subprocess.run([sys.executable, "-m", "qmlstudio", "new", str(path), "--dataset", "iris", "--model", "hybrid",
                          "--qubits", "3", "--reps", "1", "--epochs", "4", "--model-option", "front_hidden=5"],
                         capture_output=True, text=True, timeout=300)
    assert new.returncode == 0, new.stderr
    project = load_project(path)
    assert project.model.kind == "hybrid" and project.circuit.num_qubits == 3
    assert project.model.options == {"front_hidden": "5", "front": "dense", "conv_channels": "8,16", "readout": "z",
                                     "head_hidden": "", "activation": "tanh", "baselines": True, "ablation": True}
    train = subprocess.run([sys.executable, "-m", "qmlstudio", "train", str(path), "--json"], capture_output=True,
                           text=True, timeout=600)
    assert train.returncode == 0, train.stderr
    done = json.loads(train.stdout.strip().splitlines()[-1])
    assert done["event"] == "done" and done["status"] == "completed"
    record = load_project(path).runs[-1]
    assert record.status == "completed" and 0 <= record.test["accuracy"] <= 1
    assert record.metrics["iteration"][-1] == 4 * 3  # 4 epochs of batches of 32 from 90 training rows
    assert {"RBF SVM", "ablation (classical stand-in)"} <= set(record.baselines)
    # front 4 → 5 → 3 inputs: 25 + 18; real-amplitudes reps 1 on 3 qubits: 6 weights; head 3 → 3: 12
    assert project.circuit.num_weights == 6
    assert record.parameters == 25 + 18 + 6 + 12 == len(record.final_weights)
    assert record.seeds["initial_weights"] == project.seed


def test_hybrid_run_answers_the_run_protocol(registry=None):
    from qmlstudio.core.control import Run
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    registry = load_plugins()
    project = new_project(registry, name="h", dataset="moons", model="hybrid", qubits=2, epochs=2,
                          model_options={"ablation": False})
    run = build_run(project, registry)
    assert isinstance(run, Run) and run.kind == "hybrid" and run.exact
    record = run.run()
    assert record.status == "completed"
    probabilities = run.predict_proba(run.data.x_test)
    assert probabilities.shape == (len(run.data.y_test), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    labels = probabilities.argmax(axis=1)
    assert float(np.mean(labels == run.data.y_test)) == pytest.approx(record.test["accuracy"])
    at_start = run.predict_proba(run.data.x_test, record.initial_weights)
    assert not np.allclose(at_start, probabilities)  # the parameters are the network's, in the recorded order
    # refused with the reason: an encoding that transforms its inputs
    from qmlstudio.core.errors import QMLStudioError

    for change, reason in ((dict(encoding="amplitude"), "amplitude encoding transforms"),):
        other = new_project(registry, name="h", dataset="moons", model="hybrid", qubits=2, epochs=1, **change)
        with pytest.raises(QMLStudioError, match=reason):
            build_run(other, registry)


def test_without_torch_the_kind_is_listed_unavailable_and_a_run_is_refused(tmp_path):
    import json
    import subprocess
    import sys

    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import new_project
    from qmlstudio.core.project import save_project

    listed = subprocess.run([sys.executable, "-c", _BLOCK_TORCH, "plugins", "--json"], capture_output=True, text=True,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "pip install 'qmlstudio[torch]'" in listed.stdout and "unavailable" in listed.stdout
    path = tmp_path / "h.qmls"
    save_project(new_project(load_plugins(), name="h", dataset="moons", model="hybrid", qubits=2, epochs=1), path)
    refused = subprocess.run([sys.executable, "-c", _BLOCK_TORCH, "train", str(path)], capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 1
    assert "model kind 'hybrid' is not available here: PyTorch is not installed: pip install 'qmlstudio[torch]'" \
        in refused.stderr and "Traceback" not in refused.stderr


def test_a_kind_no_plugin_provides_opens_and_is_refused_when_trained(tmp_path):
    from qmlstudio.core.errors import QMLStudioError
    from qmlstudio.core.project import ModelChoice, load_project, save_project
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    registry = load_plugins()
    project = new_project(registry, name="h", dataset="moons", epochs=1)
    project.model = ModelChoice("svm", {"C": 2})
    save_project(project, tmp_path / "p.qmls")
    reopened = load_project(tmp_path / "p.qmls")
    assert reopened.model.kind == "svm"
    with pytest.raises(QMLStudioError, match="model kind 'svm': no installed plugin provides it"):
        build_run(reopened, registry)
    with pytest.raises(QMLStudioError, match="model kind 'svm': no installed plugin provides it"):
        new_project(registry, name="h", dataset="moons", model="svm")


def test_the_hybrid_applies_the_projects_optimizer_or_refuses_it():
    from qmlstudio.core.errors import QMLStudioError
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    from qmls_torch.run import torch_optimizer

    registry = load_plugins()
    project = new_project(registry, name="h", dataset="moons", model="hybrid", qubits=2, epochs=1, optimizer="sgd",
                          optimizer_options={"learning_rate": 0.2, "momentum": 0.5, "nesterov": True})
    run = build_run(project, registry)
    made = torch_optimizer(run.optimizer, run.net.parameters())
    assert isinstance(made, torch.optim.SGD)
    assert made.defaults["lr"] == 0.2 and made.defaults["momentum"] == 0.5 and made.defaults["nesterov"]
    adam = torch_optimizer(new_project(registry, name="h", dataset="moons", model="hybrid", qubits=2,
                                       optimizer_options={"beta1": 0.8}).optimizer, run.net.parameters())
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["betas"] == (0.8, 0.999) and adam.defaults["lr"] == 0.05
    spsa = new_project(registry, name="h", dataset="moons", model="hybrid", qubits=2, optimizer="spsa")
    with pytest.raises(QMLStudioError, match="torch's Adam or SGD.*not spsa"):
        build_run(spsa, registry)
    wide = new_project(registry, name="h", dataset="moons", model="hybrid", qubits=11,
                       model_options={"readout": "probabilities"})
    with pytest.raises(QMLStudioError, match="probabilities readout gives the head 2\\*\\*11 values"):
        build_run(wide, registry)
    parity = build_run(new_project(registry, name="h", dataset="moons", model="hybrid", qubits=3,
                                   model_options={"readout": "parity"}), registry)
    assert parity.net.quantum.num_outputs == 1 and parity.net.head[0].in_features == 1


@pytest.mark.parametrize(("subset", "scaling", "floor"), [("mnist-2000", "standardize", 0.2),
                                                          ("fashion-mnist-2000", "minmax-sym", 0.25)])
def test_a_hybrid_learns_the_shipped_idx_subsets(tmp_path, subset, scaling, floor):
    """The shipped IDX files (resources/datasets: 2,000 handwritten MNIST digits, and 2,000
    Fashion-MNIST images) through the idx dataset and the CLI: 784 grey levels → front → 4
    qubits → head, 5 epochs of Adam at a learning rate of 0.001 (a 784-wide front thrashes at
    the circuits' usual 0.05: its outputs move by about the rate times the fan-in), well above
    chance (0.1) on the 10 classes."""
    import subprocess
    import sys
    from pathlib import Path

    from qmlstudio.core.project import load_project

    folder = Path(__file__).resolve().parents[2] / "resources" / "datasets" / subset
    path = tmp_path / "f.qmls"
    new = subprocess.run([sys.executable, "-m", "qmlstudio", "new", str(path), "--dataset", "idx",
                          "--dataset-option", f"images_path={folder / 'train-images-idx3-ubyte.gz'}",
                          "--dataset-option", f"labels_path={folder / 'train-labels-idx1-ubyte.gz'}",
                          "--dataset-option", "classes=0,1,2,3,4,5,6,7,8,9", "--dataset-option", "limit=0",
                          "--scaling", scaling, "--model", "hybrid", "--qubits", "4", "--reps", "2", "--epochs", "5",
                          "--optimizer-option", "learning_rate=0.001",
                          "--model-option", "baselines=false", "--model-option", "ablation=false"],
                         capture_output=True, text=True, timeout=300)
    assert new.returncode == 0, new.stderr
    train = subprocess.run([sys.executable, "-m", "qmlstudio", "train", str(path)], capture_output=True, text=True,
                           timeout=600)
    assert train.returncode == 0, train.stderr
    record = load_project(path).runs[-1]
    assert record.status == "completed" and record.baselines == {}
    assert len(load_project(path).runs) == 1 and record.parameters > 784 * 4
    # chance is 0.1; here MNIST 0.31 (thin strokes on a background that minmax-sym makes a
    # constant -1: 0.19 so), Fashion-MNIST 0.35
    assert record.test["accuracy"] > floor, record.test


def test_a_convolutional_front_s_gradients_equal_finite_differences():
    """The convolutional front (3×3 convolutions with max-pooling on 4×4 images, then a
    linear layer to the circuit) → quantum layer → head: every parameter's gradient against
    central finite differences at 1e-8, and the layers it is made of."""
    design = _design()
    net = HybridNet(QuantumTorchLayer(design, _observables(3), seed=2), num_features=16, num_outputs=2,
                    conv_channels=(2, 3), image_shape=(4, 4), seed=5)
    kinds = [type(m).__name__ for m in net.front]
    assert kinds == ["Unflatten", "Conv2d", "Tanh", "MaxPool2d", "Conv2d", "Tanh", "MaxPool2d", "Flatten", "Linear"]
    assert describe(net)["conv_channels"] == [2, 3] and describe(net)["front"] == [3, 3]  # 3 maps of 1×1 → 3 inputs
    features = torch.randn(6, 16, dtype=torch.float64)
    labels = torch.tensor([0, 1, 1, 0, 1, 0])
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(features), labels).backward()
    h = 1e-6
    for name, p in net.named_parameters():
        flat = p.data.view(-1)
        for i in range(flat.numel()):
            old = float(flat[i])
            with torch.no_grad():
                flat[i] = old + h
                up = float(torch.nn.functional.cross_entropy(net(features), labels))
                flat[i] = old - h
                down = float(torch.nn.functional.cross_entropy(net(features), labels))
                flat[i] = old
            assert abs((up - down) / (2 * h) - float(p.grad.view(-1)[i])) < 1e-8, (name, i)
    with pytest.raises(ValueError, match="pixels of an image"):
        HybridNet(QuantumTorchLayer(design, _observables(3)), num_features=15, num_outputs=2, conv_channels=(2,),
                  image_shape=(4, 4))


def test_a_convolutional_hybrid_trains_on_digit_images_with_its_ablation(tmp_path):
    """``--model-option front=conv`` on the 8×8 digits (every pixel a feature): the front is
    convolutional, the run trains and scores, and the ablation keeps the same convolutional
    front and head around its classical stand-in. On PCA features or a table it is refused."""
    from qmlstudio.core.errors import QMLStudioError
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    from qmls_torch.hybrid import ablation

    registry = load_plugins()
    options = {"front": "conv", "conv_channels": "4", "baselines": False}
    project = new_project(registry, name="c", dataset="digits", model="hybrid", qubits=3, epochs=4, seed=1,
                          model_options=options)
    run = build_run(project, registry)
    assert run.data.image_shape == (8, 8) and run.data.num_features == 64
    assert any(isinstance(m, torch.nn.Conv2d) for m in run.net.front.modules())
    stand_in = ablation(run.net, seed=1)
    assert [type(m) for m in stand_in.front] == [type(m) for m in run.net.front]
    record = run.run()
    assert record.status == "completed" and record.test["accuracy"] > 0.6, record.test
    assert "ablation (classical stand-in)" in record.baselines
    with pytest.raises(QMLStudioError, match="convolutional front reads images"):
        build_run(new_project(registry, name="c", dataset="digits", features=8, model="hybrid", qubits=3,
                              model_options=options), registry)
    with pytest.raises(QMLStudioError, match="convolutional front reads images"):
        build_run(new_project(registry, name="c", dataset="iris", model="hybrid", qubits=3, model_options=options),
                  registry)


def test_a_hybrid_stops_early_on_the_validation_loss_as_the_built_in_models_do():
    """The project's early stopping applies to the hybrid (and its ablation): it stops at the
    first epoch whose validation loss has not improved on the best for ``patience`` epochs,
    as the recorded curve shows; without a validation split it is refused, never ignored."""
    import dataclasses

    from qmlstudio.core.errors import QMLStudioError
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    registry = load_plugins()
    project = new_project(registry, name="e", dataset="iris", model="hybrid", qubits=2, epochs=40, seed=3,
                          batch_size=32, optimizer_options={"learning_rate": 0.3},
                          model_options={"baselines": False, "ablation": True})
    project.training = dataclasses.replace(project.training, early_stopping=True, patience=2)
    record = build_run(project, registry).run()
    val = [v for v in record.metrics["val_loss"] if v is not None]
    best, waited, expected = float("inf"), 0, None
    for epoch, loss in enumerate(val, start=1):
        if loss < best - 1e-9:
            best, waited = loss, 0
        else:
            waited += 1
            if waited >= 2:
                expected = epoch
                break
    assert expected is not None and expected < 40, val  # this run does stop early
    assert record.status == "completed" and len(val) == expected
    assert record.message == f"stopped early at epoch {expected}: the validation loss did not improve for 2 epochs"
    assert "ablation (classical stand-in)" in record.baselines
    none = new_project(registry, name="e", dataset="iris", model="hybrid", qubits=2, validation_size=0.0)
    none.training = dataclasses.replace(none.training, early_stopping=True)
    with pytest.raises(QMLStudioError, match="early stopping needs a validation split"):
        build_run(none, registry)


@pytest.mark.parametrize("options, features, shape", [
    ({}, 4, None),
    ({"front_hidden": "6,5", "head_hidden": "7"}, 13, None),
    ({"readout": "parity", "head_hidden": "3"}, 5, None),
    ({"readout": "probabilities"}, 5, None),
    ({"front": "conv", "conv_channels": "3,5", "front_hidden": "9"}, 64, (8, 8)),
    ({"front": "conv", "conv_channels": "2,2,2"}, 15, (3, 5)),  # pooling stops below 2×2
])
def test_the_kinds_parts_for_the_canvas_count_what_the_network_builds(options, features, shape):
    """``HybridKind.parts`` (no torch: the window draws it) gives the parameter counts and
    widths of the front and head that :class:`HybridNet` builds."""
    from qmls_torch.kind import HybridKind

    from qmls_torch.kind import readout_observables

    kind = HybridKind(**options)
    parts = kind.parts(features, 3, 3, 4, shape)
    net = HybridNet(QuantumTorchLayer(_design(), readout_observables(kind.readout, 3)), num_features=features, num_outputs=4,
                    front_hidden=kind.front_hidden, head_hidden=kind.head_hidden, conv_channels=kind.conv_channels,
                    image_shape=shape if kind.conv_channels else None)
    sizes = describe(net)
    assert parts["front"]["parameters"] == sizes["front_parameters"]
    assert parts["head"]["parameters"] == sizes["head_parameters"]
    assert f"linear {' → '.join(map(str, sizes['front']))}" in parts["front"]["lines"]
    assert f"linear {' → '.join(map(str, sizes['head']))}" in parts["head"]["lines"]


def test_on_another_backend_the_layer_takes_parameter_shift_through_its_primitives():
    """On a backend other than the engine the layer runs the circuit through the backend's V2
    primitives with parameter-shift gradients by weights and inputs (every shifted binding of
    the batch in one PUB): on aer-statevector (its exact estimator) the values and both
    gradients equal the engine's adjoint ones at 1e-8, and a hybrid trains there and on
    aer-shots, each recording what ran it."""
    from qmlstudio.core.quantum_layer import QuantumLayer
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project
    from qmlstudio.workflow.backends import backend_choice, create_backend

    registry = load_plugins()
    design = _design()
    observables = _observables(3)
    rng = np.random.default_rng(7)
    weights, inputs = rng.uniform(0, 2 * np.pi, design.num_weights), rng.uniform(-np.pi, np.pi, (5, 3))
    upstream = rng.normal(size=(5, 3))
    exact = QuantumLayer(design, observables)
    aer = QuantumLayer(design, observables, backend=create_backend(registry, backend_choice(registry, "aer-statevector")))
    assert exact.exact and aer.exact and aer.evaluator is not None and aer.evaluator.uses_estimator
    values, pull = exact.values_and_pullback(weights, inputs)
    shifted_values, shifted_pull = aer.values_and_pullback(weights, inputs)
    np.testing.assert_allclose(shifted_values, values, atol=1e-8)
    for ours, theirs in zip(shifted_pull(upstream), pull(upstream)):
        np.testing.assert_allclose(ours, theirs, atol=1e-8)
    for backend, exact_run in (("aer-statevector", True), ("aer-shots", False)):
        project = new_project(registry, name="h", dataset="moons", dataset_options={"samples": 40}, model="hybrid",
                              qubits=2, epochs=1, batch_size=16, backend=backend,
                              model_options={"baselines": False, "ablation": False})
        run = build_run(project, registry)
        record = run.run()
        assert record.status == "completed" and run.exact == exact_run
        assert "parameter shift" in record.backend_applied["gradients"]
        assert record.backend_applied["evaluator"].startswith("backend estimator" if exact_run else "backend sampler")

