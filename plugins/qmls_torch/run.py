"""The ``hybrid`` model kind: a project's run that trains a :class:`~qmls_torch.hybrid.HybridNet`.

The network: the prepared features → the front (linear layers, ``front_hidden``) → π·tanh →
the project's encoding and circuit (the quantum layer: exact adjoint gradients by weights
and inputs on the engine, parameter shift through the primitives of any other backend)
measured as ⟨Z_q⟩ on every qubit → the head (``head_hidden``) → class logits;
cross-entropy, the project's optimizer (adam or sgd with their options, as torch's) on
mini-batches of the project's batch size, shuffled by the project's seed. It answers the :class:`~qmlstudio.core.control.Run` protocol, so the
CLI, the window and studies run it as they run the built-in models. Its weights, as
recorded, are all of the network's parameters in ``torch.nn.utils.parameters_to_vector``
order (the circuit's weights first).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Iterator

import numpy as np
import torch

from qmlstudio.core.control import Cancelled, Controls
from qmlstudio.core.project import RunRecord
from qmlstudio.core.training import EarlyStopping, IterationReport, package_versions, record_backend_use

from qmls_torch.hybrid import HybridNet, ablation, parameter_count
from qmls_torch.kind import HybridKind, readout_observables
from qmls_torch.layer import QuantumTorchLayer

ABLATION = "ablation (classical stand-in)"


def torch_optimizer(choice: Any, parameters: Any) -> torch.optim.Optimizer:
    """The project's optimizer choice (adam or sgd, with their options) as torch's."""
    options = dict(getattr(choice, "options", None) or {})
    if choice is None or choice.name == "adam":
        return torch.optim.Adam(parameters, lr=float(options.get("learning_rate", 0.05)),
                                betas=(float(options.get("beta1", 0.9)), float(options.get("beta2", 0.999))),
                                eps=float(options.get("eps", 1e-8)), amsgrad=bool(options.get("amsgrad", False)))
    return torch.optim.SGD(parameters, lr=float(options.get("learning_rate", 0.1)),
                           momentum=float(options.get("momentum", 0.0)), nesterov=bool(options.get("nesterov", False)))


class HybridRun:
    """A hybrid network's training run (:class:`~qmlstudio.core.control.Run`)."""

    kind = "hybrid"

    def __init__(self, settings: HybridKind, *, data: Any, model: Any, backend: Any, config: dict[str, Any],
                 epochs: int, batch_size: int | None, seed: int, training: Any = None, optimizer: Any = None,
                 callback: Any = None, controls: Controls | None = None) -> None:
        self.settings, self.data, self.model, self.backend = settings, data, model, backend
        self.optimizer = optimizer
        self.epochs, self.batch_size, self.seed = int(epochs), batch_size, int(seed)
        self.callback = callback
        self.controls = controls or Controls()
        # early stopping on the validation loss, as the built-in models apply it (the ablation too)
        self.early_stopping = bool(getattr(training, "early_stopping", False))
        self.patience = int(getattr(training, "patience", 5) or 5)
        if self.early_stopping:
            EarlyStopping(self.patience, len(data.y_val))  # refused without a validation split
        self.record = RunRecord(config=config)
        self._quiet = False
        n = model.num_qubits
        observables = readout_observables(settings.readout, n)
        threads = getattr(backend, "threads", None)
        quantum = QuantumTorchLayer(model.design, observables, num_inputs=model.num_features, seed=seed, threads=threads,
                                    backend=backend)
        #: exact values and gradients (the engine, or an exact backend's estimator)
        self.exact = quantum.engine.exact
        self.net = HybridNet(quantum, num_features=data.num_features, num_outputs=data.num_classes,
                             front_hidden=settings.front_hidden, head_hidden=settings.head_hidden,
                             activation=settings.activation, seed=seed, conv_channels=settings.conv_channels,
                             image_shape=getattr(data, "image_shape", None) if settings.conv_channels else None)
        self._x = {name: torch.tensor(np.asarray(getattr(data, f"x_{name}"), dtype=float))
                   for name in ("train", "val", "test")}
        self._y = {name: torch.tensor(np.asarray(getattr(data, f"y_{name}"), dtype=np.int64))
                   for name in ("train", "val", "test")}

    # ------------------------------------------------------------ protocol
    @property
    def num_parameters(self) -> int:
        return parameter_count(self.net)

    @property
    def batches_per_epoch(self) -> int:
        rows = len(self.data.y_train)
        size = self.batch_size or rows
        return max(1, math.ceil(rows / size))

    @property
    def total_iterations(self) -> int:
        return self.epochs * self.batches_per_epoch

    def parameters_vector(self) -> np.ndarray:
        return torch.nn.utils.parameters_to_vector(self.net.parameters()).detach().numpy().copy()

    @contextlib.contextmanager
    def _at(self, parameters: Any) -> Iterator[None]:
        if parameters is None:
            yield
            return
        saved = torch.nn.utils.parameters_to_vector(self.net.parameters()).detach().clone()
        torch.nn.utils.vector_to_parameters(torch.as_tensor(np.asarray(parameters, dtype=float)), self.net.parameters())
        try:
            yield
        finally:
            torch.nn.utils.vector_to_parameters(saved, self.net.parameters())

    def predict_proba(self, features: Any, parameters: Any = None) -> np.ndarray:
        """Class probabilities of prepared rows, at ``parameters`` or the final ones."""
        if parameters is None and self.record.final_weights:
            parameters = self.record.final_weights
        with self._at(parameters), torch.no_grad():
            logits = self.net(torch.as_tensor(np.asarray(features, dtype=float)))
            return torch.softmax(logits, dim=1).numpy()

    def torch_parts(self) -> dict[str, Any]:
        """The network's classical parts for ``qmlstudio export --torch``: the front's and the
        head's layer widths, the activation between layers and whether the front's outputs go
        through π·tanh. The recorded weights are every parameter in this network's order."""
        from qmls_torch.hybrid import describe

        sizes = describe(self.net)
        return {"front": sizes["front"], "head": sizes["head"], "activation": self.settings.activation,
                "angles": bool(self.net.angles), "conv_channels": sizes["conv_channels"],
                "image_shape": sizes["image_shape"], "observables": self.net.quantum.engine.observables.tolist()}

    @contextlib.contextmanager
    def uninterrupted(self) -> Iterator[None]:
        self._quiet, before = True, self._quiet
        try:
            yield
        finally:
            self._quiet = before

    def fit_baselines(self) -> dict[str, Any]:
        """The tuned classical baselines on the same split and, with ``ablation``, the same
        front and head with a classical stand-in of the circuit's parameter count, trained the
        same way (same epochs, batches, seed and optimizer)."""
        if self.record.baselines:
            return dict(self.record.baselines)
        from qmlstudio.core.baselines import run_baselines

        baselines = (run_baselines(self.data, self.seed, quantum_parameters=self.num_parameters, controls=self.controls)
                     if self.settings.baselines else {})
        if self.settings.ablation:
            started = time.perf_counter()
            stand_in = ablation(self.net, seed=self.seed)
            self._train(stand_in, report=False)
            baselines[ABLATION] = {"train_accuracy": self._accuracy(stand_in, "train"),
                                   "test_accuracy": self._accuracy(stand_in, "test"),
                                   "seconds": time.perf_counter() - started, "parameters": parameter_count(stand_in),
                                   "tuned": {"note": f"{stand_in.quantum.kind} stand-in of "
                                             f"{parameter_count(stand_in.quantum)} parameters for the circuit's "
                                             f"{self.model.num_weights} weights; same front, head and training"}}
        self.record.baselines = baselines
        self.record.record_seeds({"baselines": self.seed})
        return dict(baselines)

    # ------------------------------------------------------------ training
    def _loss_and_accuracy(self, net: torch.nn.Module, split: str) -> tuple[float | None, float | None]:
        x, y = self._x[split], self._y[split]
        if len(y) == 0:
            return None, None
        with torch.no_grad():
            logits = net(x)
            return float(torch.nn.functional.cross_entropy(logits, y)), float((logits.argmax(dim=1) == y).double().mean())

    def _accuracy(self, net: torch.nn.Module, split: str) -> float | None:
        return self._loss_and_accuracy(net, split)[1]

    def _train(self, net: torch.nn.Module, report: bool) -> tuple[str, str]:
        """Trains ``net``; with ``report`` records each iteration and honours Pause and Stop.
        Returns the status and its message."""
        optimizer = torch_optimizer(self.optimizer, net.parameters())
        generator = torch.Generator().manual_seed(self.seed)
        x, y = self._x["train"], self._y["train"]
        rows, size = len(y), self.batch_size or len(y)
        iteration, started, paused_before = 0, time.perf_counter(), self.controls.paused_s
        stopping = EarlyStopping(self.patience, len(self._y["val"])) if self.early_stopping else None
        for epoch in range(1, self.epochs + 1):
            order = torch.randperm(rows, generator=generator) if size < rows else torch.arange(rows)
            for start in range(0, rows, size):
                batch = order[start : start + size]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(x[batch]), y[batch])
                loss.backward()
                value = float(loss.detach())
                if not math.isfinite(value):
                    return "failed", f"the loss diverged ({value}) at iteration {iteration + 1}: try a smaller learning rate"
                norms = net.gradient_norms() if isinstance(net, HybridNet) else {}
                optimizer.step()
                iteration += 1
                end_of_epoch = start + size >= rows
                train_acc = val_loss = val_acc = None
                if end_of_epoch and (report or self.early_stopping):
                    val_loss, val_acc = self._loss_and_accuracy(net, "val")
                stop_early = stopping is not None and end_of_epoch and val_loss is not None and stopping.update(val_loss)
                if not report:
                    if stop_early:
                        return "completed", ""
                    continue
                if end_of_epoch:
                    train_acc = self._accuracy(net, "train")
                grad = math.sqrt(sum(v * v for v in norms.values())) if norms else None
                weights = self.parameters_vector()
                self.record.append_metrics(iteration=iteration, epoch=epoch, loss=value, train_accuracy=train_acc,
                                           val_loss=val_loss, val_accuracy=val_acc, grad_norm=grad,
                                           grad_norm_classical=norms.get("classical"),
                                           grad_norm_quantum=norms.get("quantum"),
                                           elapsed_s=time.perf_counter() - started
                                           - (self.controls.paused_s - paused_before))
                self.record.final_weights = weights.tolist()
                self.gradient_norms = norms
                if self.callback is not None:
                    self.callback(IterationReport(
                        iteration=iteration, epoch=epoch, loss=value, test_loss=None, train_accuracy=train_acc,
                        test_accuracy=None, grad_norm=grad, weights=weights,
                        elapsed_s=self.record.metrics["elapsed_s"][-1] or 0.0, total_iterations=self.total_iterations,
                        val_loss=val_loss, val_accuracy=val_acc, grad_norm_classical=norms.get("classical"),
                        grad_norm_quantum=norms.get("quantum"), shots=self._shots()))
                if stop_early:
                    return "completed", stopping.message(epoch)
                try:
                    self.controls.check()
                except Cancelled:
                    return "stopped", f"stopped by the user after iteration {iteration}"
        return "completed", ""

    def _shots(self) -> int:
        """The shots the backend's sampler has taken so far (0 on exact paths)."""
        evaluator = self.net.quantum.engine.evaluator
        return int(getattr(evaluator, "shots_used", 0) or 0)

    def run(self) -> RunRecord:
        """Trains, scores the test split once at the final weights, fits the baselines;
        returns the record (also when stopped or failed)."""
        record = self.record
        record.status = "running"
        record.versions = {**package_versions(), "torch": torch.__version__}
        record.parameters = self.num_parameters
        record.measured_at = {"loss": "before_step", "train_accuracy": "after_step", "val_loss": "after_step",
                              "val_accuracy": "after_step", "grad_norm": "before_step"}
        record.record_seeds({"initial_weights": self.seed, "shuffle": self.seed})
        layer = self.net.quantum.engine
        if layer.evaluator is None:
            record.backend_applied = {"simulator": "QML Studio statevector (exact, adjoint gradients by weights and "
                                                   "inputs)"}
        else:  # the backend's primitives ran the circuits: what it applied, as for the built-in models
            record_backend_use(record, self.backend, layer.evaluator)
            record.backend_applied["gradients"] = "parameter shift by weights and inputs, all of a batch in one PUB"
        record.initial_weights = self.parameters_vector().tolist()
        started = time.perf_counter()
        status, message = self._train(self.net, report=True)
        seconds = time.perf_counter() - started
        record.final_weights = self.parameters_vector().tolist()
        record.timings = {"seconds": seconds, "seconds_per_epoch": seconds / max(1, self.epochs)}
        loss, accuracy = self._loss_and_accuracy(self.net, "test")
        if accuracy is not None:
            record.test = {"loss": loss, "accuracy": accuracy}
        if status != "stopped" and (self.settings.baselines or self.settings.ablation):
            try:
                self.fit_baselines()
            except Cancelled:
                pass
        record.finish(status, message)
        return record
