"""A trained run as a self-contained PyTorch module: ``qmlstudio export PROJECT --run last --torch model.pt``.

Writes two files: ``model.py``, the Python source of the module (it imports only torch), and
``model.pt``, its tensors (``torch.save``). In a fresh interpreter with torch::

    import model
    net = model.load("model.pt")
    probabilities = net(raw_rows)          # (samples, classes); a regressor: values in the data's units
    labels = net.predict(raw_rows)         # class indices; net.class_names names them

The module reproduces the run: the fitted preprocessing (column choice, PCA, scaling,
padding), the circuit (the encoding's gates, then the ansatz, with the run's final weights)
simulated exactly in float64 (its own small statevector simulator in torch), and the readout
and head. It is differentiable (``torch.autograd``) and can be fine-tuned or used as a layer.

Only encodings that feed the prepared features to the circuit as they are (angle, ZZ and
the other feature maps) are exported; an encoding that transforms them first (amplitude) is
refused with the reason.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.expressions import WEIGHT, Angle
from qmlstudio.core.gate_matrices import z_diagonal

#: the torch functions an angle's formula may call
_FUNCTIONS = {"sin": "torch.sin", "cos": "torch.cos", "tan": "torch.tan", "exp": "torch.exp", "log": "torch.log",
              "sqrt": "torch.sqrt", "abs": "torch.abs"}
_CONSTANTS = {"pi": "math.pi", "π": "math.pi", "e": "math.e"}
_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def angle_source(angle: Angle) -> str:
    """The angle as a torch expression of ``w`` (the weights) and ``x`` (inputs, ``(batch, k)``)."""

    def walk(node: ast.AST) -> str:
        if isinstance(node, ast.Constant):
            return repr(float(node.value))
        if isinstance(node, ast.Name):
            return _CONSTANTS[node.id]
        if isinstance(node, ast.Subscript):
            index = int(node.slice.value)  # type: ignore[attr-defined]
            return f"w[{index}]" if node.value.id == WEIGHT else f"x[:, {index}]"  # type: ignore[attr-defined]
        if isinstance(node, ast.BinOp):
            return f"({walk(node.left)} {_OPS[type(node.op)]} {walk(node.right)})"
        if isinstance(node, ast.UnaryOp):
            return f"(-{walk(node.operand)})" if isinstance(node.op, ast.USub) else walk(node.operand)
        if isinstance(node, ast.Call):
            return f"{_FUNCTIONS[node.func.id]}({walk(node.args[0])})"  # type: ignore[attr-defined]
        raise QMLStudioError(f"angle {angle.text!r}: cannot write {type(node).__name__} for PyTorch")

    return walk(ast.parse(angle.text, mode="eval").body)


def _rotation(name: str, angle: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(A, Π)`` with ``gate(θ) = (I − Π) + cos(θ/2) Π − i sin(θ/2) A`` for a one-angle gate
    that is such a rotation (rx, ry, rz, rxx, ryy, rzz, crx, cry, crz), else None."""
    from qmlstudio.core.gate_matrices import gate_matrix

    h = 1e-7
    a = 2j * (gate_matrix(name, [h]) - gate_matrix(name, [-h])) / (2 * h)  # U'(0) = -i/2 A
    a = np.round(a.real, 6) + 1j * np.round(a.imag, 6)
    projector = a @ a
    identity = np.eye(len(a))
    for theta in (0.3, 1.7, -2.9):
        if not np.allclose(gate_matrix(name, [theta]), identity - projector + np.cos(theta / 2) * projector
                           - 1j * np.sin(theta / 2) * a, atol=1e-12):
            return None
    return a, projector


def _ops(design: Any) -> list[dict[str, Any]]:
    """The circuit as the exported simulator's operations: ``fixed`` (a constant matrix) or
    ``rotation`` (its ``A`` and ``Π`` and the angle's source). ``p`` and ``u`` become Z and
    Y rotations (equal up to a global phase, which no probability sees)."""
    from qmlstudio.core.gate_matrices import gate_matrix

    ops: list[dict[str, Any]] = []

    def pair(m: np.ndarray) -> list[list[list[float]]]:
        return [np.asarray(m).real.tolist(), np.asarray(m).imag.tolist()]

    def rotation(name: str, qubits: tuple[int, ...], angle: Angle) -> None:
        found = _rotation(name, 0.0)
        if found is None:
            raise QMLStudioError(f"gate {name}: no PyTorch form")
        a, projector = found
        ops.append({"kind": "rotation", "qubits": list(qubits), "a": pair(a), "p": pair(projector),
                    "angle": angle_source(angle)})

    for gate in design.ordered_gates:
        name, qubits = gate.name, tuple(gate.qubits)
        if not gate.params:
            ops.append({"kind": "fixed", "qubits": list(qubits), "matrix": pair(gate_matrix(name))})
        elif name == "p":
            rotation("rz", qubits, gate.params[0])
        elif name == "u":  # U(θ, φ, λ) = e^{i(φ+λ)/2} RZ(φ) RY(θ) RZ(λ)
            theta, phi, lam = gate.params
            rotation("rz", qubits, lam)
            rotation("ry", qubits, theta)
            rotation("rz", qubits, phi)
        else:
            rotation(name, qubits, gate.params[0])
    return ops


def _head(run: Any) -> dict[str, Any]:
    model = run.model
    head = run.head
    weights = np.asarray(run.record.final_weights, dtype=float)
    extra = weights[model.num_weights :]
    out: dict[str, Any] = {"observables": head.observables(model.num_qubits).tolist(), "extra": extra.tolist()}
    if run.kind == "regressor":
        out.update(kind="regressor", trainable=bool(head.trainable), target_offset=float(run.data.target_offset),
                   target_factor=float(run.data.target_factor))
    else:
        out.update(kind="classifier", readout=head.readout, num_classes=int(head.num_classes),
                   trainable=bool(head.trainable), scale=float(head.scale))
    return out


def torch_export(run: Any) -> dict[str, Any]:
    """What :func:`write_torch_export` writes, from a built run with final weights (a
    :class:`~qmlstudio.core.training.TrainingRun`): plain numbers and text."""
    if run.kind == "kernel":
        raise QMLStudioError("a quantum kernel SVM has no PyTorch form: export a variational run")
    parts = run.torch_parts() if callable(getattr(run, "torch_parts", None)) else None
    if run.kind not in ("vqc", "regressor") and parts is None:
        raise QMLStudioError(f"a {run.kind} run cannot be exported to PyTorch: its model kind does not describe its parts")
    weights = run.record.final_weights
    if not weights:
        raise QMLStudioError(f"run {run.record.id} has no final weights: train it first")
    model, data = run.model, run.data
    if parts is not None:  # a hybrid network: its front, circuit and head; every parameter in order
        fitted = data.fitted.to_dict()
        n = model.num_qubits
        return {
            "format": "qmlstudio-torch-export/1", "run": run.record.id, "num_qubits": n,
            "num_weights": model.num_weights, "weights": list(map(float, weights)), "ops": _ops(model.design),
            "preprocessing": fitted, "scale_low": _scale_low(fitted.get("scaling", "none")),
            "head": {"kind": "hybrid", "extra": [], **parts,
                     "observables": parts.get("observables") or np.stack([z_diagonal(n, (q,)) for q in range(n)]).tolist()},
            "class_names": list(data.class_names), "feature_names": list(data.feature_names),
        }
    sample = np.asarray(data.x_train[: min(len(data.x_train), 32)], dtype=float)
    transformed = model.inputs(sample)
    if transformed.shape != sample.shape or not np.array_equal(transformed, sample):
        raise QMLStudioError(f"the {model.encoding_name} encoding transforms the features before the circuit; "
                             "exporting it to PyTorch is not supported (export a run with the angle or a ZZ encoding)")
    fitted = data.fitted.to_dict()
    return {
        "format": "qmlstudio-torch-export/1",
        "run": run.record.id,
        "num_qubits": model.num_qubits,
        "num_weights": model.num_weights,
        "weights": list(map(float, weights[: model.num_weights])),
        "ops": _ops(model.design),
        "preprocessing": fitted,
        "scale_low": _scale_low(fitted.get("scaling", "none")),
        "head": _head(run),
        "class_names": list(data.class_names),
        "feature_names": list(data.feature_names),
    }


def _scale_low(scaling: str) -> float:
    from qmlstudio.core.preprocessing import SCALE_RANGES

    return float(SCALE_RANGES[scaling][0]) if scaling in SCALE_RANGES else 0.0


def write_torch_export(run: Any, path: str | Path) -> tuple[Path, Path]:
    """Writes ``path`` (``.pt``: the module's tensors and settings) and the source beside it
    (same name, ``.py``). Needs PyTorch here (``pip install qmlstudio[torch]``); the files
    need only torch where they are loaded. Returns both paths."""
    try:
        import torch
    except ImportError:
        raise QMLStudioError("exporting to PyTorch needs PyTorch: pip install qmlstudio[torch]") from None
    from qmlstudio.core.storage import atomic_write_bytes

    target = Path(path)
    if target.suffix != ".pt":
        raise QMLStudioError(f"{target.name}: the PyTorch export is a .pt file (its source is written beside it)")
    spec = torch_export(run)
    source = target.with_suffix(".py")
    import io

    buffer = io.BytesIO()
    torch.save({"format": spec["format"], "weight": torch.tensor(spec["weights"], dtype=torch.float64),
                "settings": json.dumps({k: v for k, v in spec.items() if k != "weights"})}, buffer)
    atomic_write_bytes(target, buffer.getvalue())
    atomic_write_bytes(source, _SOURCE.encode("utf-8"))
    return target, source


_SOURCE = '''"""A QML Studio run as a self-contained PyTorch module (written by `qmlstudio export --torch`).

    import model                      # this file
    net = model.load("model.pt")      # the tensors written beside it
    net(raw_rows)                     # class probabilities (a regressor: values in the data's units)
    net.predict(raw_rows)             # class indices; net.class_names names them

Needs only torch. The circuit is simulated exactly (float64 statevector) by the small
simulator below; the preprocessing fitted on the run's training rows and the readout are
applied as in QML Studio.
"""

import json
import math

import torch
from torch import nn


def _complex(pair):
    return torch.complex(torch.tensor(pair[0], dtype=torch.float64), torch.tensor(pair[1], dtype=torch.float64))


def _apply(psi, u, qubits, n):
    """Applies the gate ``u`` ((batch, d, d) or (d, d); basis index m has bit t = qubit
    ``qubits[t]``) to the states ``psi`` of shape (batch, 2, ..., 2), axis 1 + i = qubit n-1-i."""
    letters = "abcdefghijklmnopqrstuvwxy"
    axes = [letters[i] for i in range(n)]
    ax = {q: axes[n - 1 - q] for q in range(n)}
    k = len(qubits)
    outs = {q: chr(ord("A") + t) for t, q in enumerate(qubits)}
    order = list(reversed(qubits))
    if u.dim() == 2:
        u = u.expand(psi.shape[0], *u.shape)
    u = u.reshape((u.shape[0],) + (2,) * (2 * k))
    spec_u = "z" + "".join(outs[q] for q in order) + "".join(ax[q] for q in order)
    spec_psi = "z" + "".join(axes)
    spec_out = "z" + "".join(outs.get(n - 1 - i, axes[i]) for i in range(n))
    return torch.einsum(f"{spec_u},{spec_psi}->{spec_out}", u, psi)


class ExportedModel(nn.Module):
    def __init__(self, settings, weight):
        super().__init__()
        self.settings = settings
        self.n = settings["num_qubits"]
        self.class_names = settings["class_names"]
        self.feature_names = settings["feature_names"]
        head = settings["head"]
        self.hybrid = head["kind"] == "hybrid"
        if self.hybrid:  # parameters in the trained network's order: the circuit's, the front's, the head's
            acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "none": nn.Identity}

            def dense(sizes):
                layers = []
                for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
                    layers.append(nn.Linear(a, b, dtype=torch.float64))
                    if i < len(sizes) - 2:
                        layers.append(acts[head["activation"]]())
                return nn.Sequential(*layers) if layers else nn.Identity()

            def conv(shape, channels, sizes):  # 3x3 convolutions, each then the activation and a 2x2 max-pool
                height, width = shape
                layers, previous = [nn.Unflatten(1, (1, height, width))], 1
                for count in channels:
                    layers += [nn.Conv2d(previous, count, 3, padding=1, dtype=torch.float64), acts[head["activation"]]()]
                    if height >= 2 and width >= 2:
                        layers.append(nn.MaxPool2d(2))
                        height, width = height // 2, width // 2
                    previous = count
                return nn.Sequential(*layers, nn.Flatten(), *dense(sizes))

            self.weight = nn.Parameter(torch.zeros(settings["num_weights"], dtype=torch.float64))
            channels = head.get("conv_channels") or []
            self.front = conv(head["image_shape"], channels, head["front"]) if channels else dense(head["front"])
            self.head = dense(head["head"])
            torch.nn.utils.vector_to_parameters(weight.clone(), self.parameters())
        else:
            self.weight = nn.Parameter(weight.clone())
        self._ops = []
        for op in settings["ops"]:
            if op["kind"] == "fixed":
                self._ops.append(("fixed", op["qubits"], _complex(op["matrix"]), None, None))
            else:
                angle = eval("lambda w, x: " + op["angle"], {"torch": torch, "math": math})  # the run's own formula
                self._ops.append(("rotation", op["qubits"], _complex(op["a"]), _complex(op["p"]), angle))
        head = settings["head"]
        self.register_buffer("observables", torch.tensor(head["observables"], dtype=torch.float64))
        self.register_buffer("extra", torch.tensor(head["extra"], dtype=torch.float64))
        pre = settings["preprocessing"]
        self._columns = pre.get("features")
        tensor = lambda v: None if v is None else torch.tensor(v, dtype=torch.float64)
        self._pca = (tensor(pre.get("pca_mean")), tensor(pre.get("pca_scale")), tensor(pre.get("pca_components")))
        self._scaling = pre.get("scaling", "none")
        self._offset, self._factor = tensor(pre.get("offset") or []), tensor(pre.get("factor") or [])
        self._low = settings["scale_low"]
        self._pad_to = pre.get("pad_to")

    def prepare(self, raw):
        """The prepared rows for raw feature rows (samples × raw features), as at training."""
        x = torch.as_tensor(raw, dtype=torch.float64)
        x = x[None, :] if x.dim() == 1 else x
        if self._columns is not None:
            x = x[:, self._columns]
        mean, scale, components = self._pca
        if components is not None:
            x = ((x - mean) / scale) @ components.T
        if self._scaling != "none":
            x = (x - self._offset) * self._factor + self._low
        if self._pad_to is not None and x.shape[1] < self._pad_to:
            x = torch.cat([x, torch.zeros(x.shape[0], self._pad_to - x.shape[1], dtype=x.dtype)], dim=1)
        return x

    def values(self, x):
        """⟨O_k⟩ of the circuit for prepared rows ``x``: (samples, k)."""
        batch, n, w = x.shape[0], self.n, self.weight
        psi = torch.zeros((batch,) + (2,) * n, dtype=torch.complex128)
        psi.view(batch, -1)[:, 0] = 1.0
        for kind, qubits, first, second, angle in self._ops:
            if kind == "fixed":
                u = first
            else:
                theta = torch.broadcast_to(torch.as_tensor(angle(w, x), dtype=torch.float64), (batch,))
                eye = torch.eye(first.shape[0], dtype=torch.complex128)
                c = torch.cos(theta / 2)[:, None, None].to(torch.complex128)
                s = torch.sin(theta / 2)[:, None, None].to(torch.complex128)
                u = (eye - second) + c * second - 1j * s * first
            psi = _apply(psi, u, qubits, n)
        probabilities = (psi.real ** 2 + psi.imag ** 2).reshape(batch, -1)
        return probabilities @ self.observables.T

    def forward_prepared(self, x):
        x = torch.as_tensor(x, dtype=torch.float64)
        if self.hybrid:  # front → π·tanh → circuit ⟨Z_q⟩ → head → class probabilities
            angles = self.front(x)
            if self.settings["head"]["angles"]:
                angles = torch.pi * torch.tanh(angles)
            return torch.softmax(self.head(self.values(angles)), dim=1)
        values = self.values(x)
        head, extra = self.settings["head"], self.extra
        if head["kind"] == "regressor":
            a, b = (extra[0], extra[1]) if head["trainable"] else (1.0, 0.0)
            y = a * values[:, 0] + b
            return (y + 1) / head["target_factor"] + head["target_offset"]
        if head["readout"] == "modulo":
            return values.clamp(0.0, 1.0)
        if head["num_classes"] == 2 and not head["trainable"]:
            z = values[:, 0]
            return torch.stack([(1 + z) / 2, (1 - z) / 2], dim=1).clamp(0.0, 1.0)
        if head["num_classes"] == 2:
            p1 = torch.sigmoid(-extra[0] * values[:, 0] + extra[1])
            return torch.stack([1 - p1, p1], dim=1)
        a = extra[0] if head["trainable"] else head["scale"]
        bias = extra[1:] if head["trainable"] else torch.zeros(head["num_classes"], dtype=torch.float64)
        return torch.softmax(a * values + bias, dim=1)

    def forward(self, raw):
        return self.forward_prepared(self.prepare(raw))

    def predict(self, raw):
        out = self.forward(raw)
        return out if self.settings["head"]["kind"] == "regressor" else out.argmax(dim=1)


def load(path):
    saved = torch.load(path, weights_only=True)
    if saved.get("format") != "qmlstudio-torch-export/1":
        raise ValueError(f"{path}: not a QML Studio PyTorch export")
    return ExportedModel(json.loads(saved["settings"]), saved["weight"])
'''


def trained_run(project: Any, registry: Any, run_id: str) -> Any:
    """Run ``run_id`` (``last``: the latest) of ``project`` rebuilt exactly as it was trained
    (its model and data), with its final weights."""
    from qmlstudio.workflow.runs import build_run, find_run, project_for_run

    record = find_run(project, run_id)
    if not record.final_weights:
        raise QMLStudioError(f"run {record.id} has no final weights: train it first")
    built = build_run(project_for_run(project, record), registry, widen=True, evaluating=True)
    built.record.id = record.id
    built.record.final_weights = list(record.final_weights)
    return built


def export_run_to_torch(project: Any, registry: Any, run_id: str, path: str | Path,
                        script: str | Path | None = None) -> tuple[Path, Path]:
    """Writes run ``run_id`` of ``project`` as a PyTorch module (:func:`write_torch_export`)
    and, with ``script``, the TorchConnector script (:func:`write_torchconnector_script`)."""
    built = trained_run(project, registry, run_id)
    written = write_torch_export(built, path)
    if script is not None:
        write_torchconnector_script(built, script)
    return written


def write_torchconnector_script(run: Any, path: str | Path) -> Path:
    """Writes a runnable Python script that reproduces the run's predictions with
    qiskit-machine-learning: the circuit (QPY, embedded) in a ``SamplerQNN`` on its exact
    sampler behind ``TorchConnector`` (every bitstring's probability), then the readout, the
    head, the final weights and the fitted preprocessing, all in the script. ``python
    SCRIPT rows.json`` prints the probabilities and labels of raw rows as JSON; ``import`` it
    and call ``predict_proba(raw_rows)``. TorchConnector computes in float32."""
    import base64
    import io

    from qiskit import qpy

    from qmlstudio.core.storage import atomic_write_text

    spec = torch_export(run)
    circuit = run.model.design.to_circuit()
    circuit.measure_all()
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    settings = {k: v for k, v in spec.items() if k not in ("ops",)}
    text = _SCRIPT.replace("@QPY@", base64.b64encode(buffer.getvalue()).decode("ascii")).replace(
        "@SETTINGS@", repr(json.dumps(settings)))
    target = Path(path)
    atomic_write_text(target, text)
    return target


_SCRIPT = '''"""A QML Studio run reproduced with qiskit-machine-learning's TorchConnector (written by
`qmlstudio export --qiskit-script`). Needs qiskit, qiskit-machine-learning and torch.

    python this_script.py rows.json     # raw feature rows (a JSON list of lists) -> probabilities and labels
    from this_script import predict_proba, predict

The circuit is a SamplerQNN on qiskit-machine-learning's exact sampler (the probability of
every bitstring, no shots) behind TorchConnector; the readout, head, final weights and the
preprocessing fitted on the run's training rows follow it.
"""

import base64
import io
import json
import sys

import numpy as np
import torch
from qiskit import qpy
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.neural_networks import SamplerQNN
from qiskit_machine_learning.primitives import QMLSampler

SETTINGS = json.loads(@SETTINGS@)
CIRCUIT = qpy.load(io.BytesIO(base64.b64decode("@QPY@")))[0]


def _parameters(prefix):
    return sorted((p for p in CIRCUIT.parameters if p.name.startswith(prefix + "[")), key=lambda p: p.index)


INPUTS, WEIGHTS = _parameters("x"), _parameters("\\u03b8")
QNN = SamplerQNN(circuit=CIRCUIT, sampler=QMLSampler(), input_params=INPUTS, weight_params=WEIGHTS)
MODEL = TorchConnector(QNN, initial_weights=np.array([SETTINGS["weights"][p.index] for p in WEIGHTS]))
HYBRID = SETTINGS["head"]["kind"] == "hybrid"


def _dense(sizes, flat, at):
    """A hybrid's linear layers (torch's order: weight (out, in), then bias) from the flat parameters."""
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        w = np.asarray(flat[at:at + a * b]).reshape(b, a)
        at += a * b
        layers.append((w, np.asarray(flat[at:at + b])))
        at += b
    return layers, at


def _apply(layers, x):
    act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
           "none": lambda v: v}[SETTINGS["head"].get("activation", "none")]
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = act(x)
    return x


def _conv(shape, channels, flat, at):
    """A hybrid's convolutional front (each 3x3 convolution, zero padding 1, then the activation
    and a 2x2 max-pool while the image is at least 2x2) as torch layers, from the flat parameters."""
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid,
           "none": torch.nn.Identity}[SETTINGS["head"].get("activation", "none")]
    height, width = shape
    layers, previous = [torch.nn.Unflatten(1, (1, height, width))], 1
    for count in channels:
        layers += [torch.nn.Conv2d(previous, count, 3, padding=1, dtype=torch.float64), act()]
        if height >= 2 and width >= 2:
            layers.append(torch.nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        previous = count
    front = torch.nn.Sequential(*layers, torch.nn.Flatten())
    size = sum(p.numel() for p in front.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(flat[at:at + size], dtype=torch.float64), front.parameters())
    return front, at + size


if HYBRID:  # the circuit's weights come first, then the front's layers, then the head's
    _CONV, _AT = None, SETTINGS["num_weights"]
    if SETTINGS["head"].get("conv_channels"):
        _CONV, _AT = _conv(SETTINGS["head"]["image_shape"], SETTINGS["head"]["conv_channels"], SETTINGS["weights"], _AT)
    _FRONT, _AT = _dense(SETTINGS["head"]["front"], SETTINGS["weights"], _AT)
    _HEAD, _ = _dense(SETTINGS["head"]["head"], SETTINGS["weights"], _AT)


def prepare(raw):
    """The prepared rows for raw feature rows, as at training."""
    pre = SETTINGS["preprocessing"]
    x = np.atleast_2d(np.asarray(raw, dtype=float))
    if pre.get("features") is not None:
        x = x[:, pre["features"]]
    if pre.get("pca_components") is not None:
        x = ((x - np.asarray(pre["pca_mean"])) / np.asarray(pre["pca_scale"])) @ np.asarray(pre["pca_components"]).T
    if pre.get("scaling", "none") != "none":
        x = (x - np.asarray(pre["offset"])) * np.asarray(pre["factor"]) + SETTINGS["scale_low"]
    if pre.get("pad_to") is not None and x.shape[1] < pre["pad_to"]:
        x = np.hstack([x, np.zeros((len(x), pre["pad_to"] - x.shape[1]))])
    return x


def predict_proba(raw):
    """Class probabilities (a regressor: values in the data's units) of raw rows."""
    x = prepare(raw)
    if HYBRID:
        if _CONV is not None:
            with torch.no_grad():
                x = _CONV(torch.tensor(x, dtype=torch.float64)).numpy()
        x = _apply(_FRONT, x)
        if SETTINGS["head"]["angles"]:
            x = np.pi * np.tanh(x)
    with torch.no_grad():
        probabilities = MODEL(torch.tensor(x[:, [p.index for p in INPUTS]], dtype=torch.float32)).double().numpy()
    head = SETTINGS["head"]
    values = probabilities @ np.asarray(head["observables"]).T
    extra = np.asarray(head["extra"])
    if HYBRID:
        logits = _apply(_HEAD, values)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)
    if head["kind"] == "regressor":
        a, b = (extra[0], extra[1]) if head["trainable"] else (1.0, 0.0)
        return (a * values[:, 0] + b + 1) / head["target_factor"] + head["target_offset"]
    if head["readout"] == "modulo":
        return np.clip(values, 0.0, 1.0)
    if head["num_classes"] == 2 and not head["trainable"]:
        z = values[:, 0]
        return np.clip(np.column_stack([(1 + z) / 2, (1 - z) / 2]), 0.0, 1.0)
    if head["num_classes"] == 2:
        p1 = 1.0 / (1.0 + np.exp(-(-extra[0] * values[:, 0] + extra[1])))
        return np.column_stack([1 - p1, p1])
    a = extra[0] if head["trainable"] else head["scale"]
    bias = extra[1:] if head["trainable"] else np.zeros(head["num_classes"])
    logits = a * values + bias
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def predict(raw):
    out = predict_proba(raw)
    return out if SETTINGS["head"]["kind"] == "regressor" else out.argmax(axis=1)


if __name__ == "__main__":
    rows = json.load(open(sys.argv[1])) if len(sys.argv) > 1 else json.load(sys.stdin)
    probabilities = predict_proba(rows)
    print(json.dumps({"probabilities": np.asarray(probabilities).tolist(), "labels": np.asarray(predict(rows)).tolist(),
                      "classes": SETTINGS["class_names"]}))
'''
