"""A testing kit for plugin authors: a registry with your plugin, a tiny training run, and checks
of encodings, ansätze, optimizers, backends and datasets against independent references.

Use the functions directly, or the pytest fixtures of :mod:`qmlstudio.testing.pytest_plugin`
(loaded automatically through QML Studio's ``pytest11`` entry point; from a source checkout
add ``from qmlstudio.testing.pytest_plugin import *`` to your ``conftest.py``)::

    def test_hook_qmlstudio_encodings(qmlstudio_plugin):
        registry = qmlstudio_plugin(my_plugin, "my-plugin")
        encoding = registry.get("encodings", "my-encoding").create({})
        assert_encoding_state(encoding, [0.3, 1.2], reference_circuit)

Every check raises ``AssertionError`` with a message saying what differs, so it reads like
a plain ``assert`` in a test report. Nothing here imports Qt or downloads anything.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.dataset import Dataset
from qmlstudio.plugins.descriptors import Optimizer, OptimizerResult, OptimizerStep, Problem
from qmlstudio.plugins.manager import BUILTIN_DISTRIBUTION, ENTRY_POINT_GROUP, PluginRegistry

__all__ = [
    "plugin_registry",
    "train_tiny_project",
    "design_state",
    "assert_encoding_state",
    "assert_ansatz_state",
    "QuadraticProblem",
    "assert_optimizer_minimizes_quadratic",
    "assert_backend_matches_statevector",
    "assert_dataset_is_valid",
]

#: The fixtures of :mod:`qmlstudio.testing.pytest_plugin` and what each gives (listed in the API reference).
FIXTURES: dict[str, str] = {
    "qmlstudio_plugin": "`qmlstudio_plugin(plugin, name, builtins=True)`: a `PluginRegistry` holding QML Studio's "
                        "built-in plugins and yours (a module or object), and nothing else installed; "
                        "your plugin is unregistered after the test. The test also gets its own empty settings "
                        "folder (`QMLSTUDIO_CONFIG_DIR`).",
    "qmlstudio_train": "`qmlstudio_train(registry, **choices)`: `train_tiny_project` bound to the test: trains a "
                       "tiny project in process and returns its `RunRecord`.",
    "qmlstudio_config_dir": "A private, empty `QMLSTUDIO_CONFIG_DIR` for the test (a `pathlib.Path`).",
}


# ---------------------------------------------------------------------------------- registry
@contextlib.contextmanager
def plugin_registry(plugin: Any, name: str, *, builtins: bool = True) -> Iterator[PluginRegistry]:
    """A registry holding ``plugin`` under ``name`` (and QML Studio's built-ins unless ``builtins=False``).

    No other installed plugin is loaded, so the test sees exactly what it registers. The
    plugin is unregistered when the ``with`` block ends, whatever happens in it. A plugin
    that fails to register or whose hook raises makes this raise ``AssertionError`` with
    the plugin's problems, instead of a test that fails later for no visible reason.
    """
    registry = PluginRegistry()
    if builtins:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.dist is not None and ep.dist.name == BUILTIN_DISTRIBUTION and ep.name not in registry.plugins:
                registry.register(ep.load(), ep.name, version=ep.dist.version)
    info = registry.register(plugin, name)
    try:
        if info.status != "ok" or info.problems:
            problems = "; ".join(f"{p.stage}: {p.message}" for p in info.problems) or info.status
            raise AssertionError(f"plugin {name!r} did not load cleanly: {problems}")
        yield registry
    finally:
        registry.unregister(name)


# ----------------------------------------------------------------------------- training
def train_tiny_project(
    registry: PluginRegistry,
    *,
    dataset: str = "moons",
    dataset_options: Mapping[str, Any] | None = None,
    encoding: str = "angle",
    encoding_options: Mapping[str, Any] | None = None,
    ansatz: str | None = "real-amplitudes",
    ansatz_options: Mapping[str, Any] | None = None,
    model: str | None = None,
    optimizer: str = "adam",
    optimizer_options: Mapping[str, Any] | None = None,
    backend: str = "statevector",
    backend_options: Mapping[str, Any] | None = None,
    epochs: int = 2,
    batch_size: int | None = None,
    seed: int = 7,
) -> Any:
    """Builds a project from these choices exactly as ``qmlstudio new`` does and trains it in process.

    Returns the run's :class:`~qmlstudio.core.project.RunRecord` (``status``, ``metrics``
    with one row per iteration, ``final_weights``...). Keep it tiny: a few dozen samples,
    two or three qubits, one or two epochs. ``dataset_options`` default to 40 samples when
    the dataset has a ``samples`` option.
    """
    from qmlstudio.workflow import build_run, new_project

    data_options = dict(dataset_options or {})
    if "samples" not in data_options and any(o.name == "samples" for o in registry.get("datasets", dataset).options):
        data_options["samples"] = 40
    project = new_project(
        registry, name="tiny", dataset=dataset, dataset_options=data_options, encoding=encoding,
        encoding_options=encoding_options, ansatz=ansatz, ansatz_options=ansatz_options, model=model,
        optimizer=optimizer, optimizer_options=optimizer_options, backend=backend, backend_options=backend_options,
        epochs=epochs, batch_size=batch_size, seed=seed,
    )
    run = build_run(project, registry)
    record = run.run()
    if record.status != "completed":
        raise AssertionError(f"the tiny run ended {record.status!r}: {record.message}")
    return record


# --------------------------------------------------------------------------- circuits
def _bound_circuit(design: CircuitDesign, weights: Sequence[float] = (), inputs: Sequence[float] = ()) -> Any:
    circuit = design.to_circuit()
    weights, inputs = np.asarray(weights, dtype=float), np.asarray(inputs, dtype=float)
    values = {}
    for parameter in circuit.parameters:
        kind, _, rest = parameter.name.partition("[")
        index = int(rest.rstrip("]"))
        table = weights if kind == "θ" else inputs
        if index >= len(table):
            raise AssertionError(f"the circuit uses {parameter.name} but only {len(table)} value(s) were given")
        values[parameter] = float(table[index])
    return circuit.assign_parameters(values)


def design_state(design: CircuitDesign, weights: Sequence[float] = (), inputs: Sequence[float] = ()) -> np.ndarray:
    """The state of ``design`` with ``θ`` = ``weights`` and ``x`` = ``inputs``, by qiskit's ``Statevector``.

    Also checks that QML Studio's own simulator (what training uses) gives the same state.
    """
    from qiskit.quantum_info import Statevector

    from qmlstudio.core.statevector import StatevectorProgram

    reference = np.asarray(Statevector(_bound_circuit(design, weights, inputs)).data)
    w = np.asarray(weights, dtype=float)
    x = np.asarray(inputs, dtype=float)[None, :] if len(inputs) else np.zeros((1, design.num_inputs))
    ours = StatevectorProgram(design).states(w, x)[0]
    if not np.allclose(ours, reference, atol=1e-9):
        raise AssertionError("QML Studio's simulator and qiskit's Statevector disagree on this design "
                             f"(largest difference {np.max(np.abs(ours - reference)):.3g})")
    return reference


def _as_state(expected: Any, num_qubits: int) -> np.ndarray:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    if isinstance(expected, QuantumCircuit):
        if expected.parameters:
            raise AssertionError(f"the reference circuit has unbound parameters: {sorted(p.name for p in expected.parameters)}")
        return np.asarray(Statevector(expected).data)
    state = np.asarray(getattr(expected, "data", expected), dtype=complex).ravel()
    if state.shape != (2**num_qubits,):
        raise AssertionError(f"the reference state has {state.size} amplitudes, {num_qubits} qubits need {2**num_qubits}")
    return state


def _same_state(actual: np.ndarray, expected: np.ndarray, atol: float, what: str) -> None:
    overlap = abs(np.vdot(expected, actual))
    norm = np.linalg.norm(expected) * np.linalg.norm(actual)
    if not math.isclose(overlap, norm, abs_tol=atol):
        raise AssertionError(f"{what}: fidelity with the reference is {overlap**2 / norm**2:.6f}, not 1")


def assert_encoding_state(encoding: Any, features: Sequence[float], expected: Any, *, atol: float = 1e-8) -> np.ndarray:
    """Checks the state ``encoding`` prepares for one feature row against ``expected``.

    ``features`` is a row as the encoding receives it (already scaled by the project's
    preprocessing, [0, π] by default); ``expected`` is a qiskit ``QuantumCircuit`` without
    parameters, a ``Statevector`` or an array of amplitudes that you built independently.
    Equality is up to a global phase. Also checks ``num_qubits``, ``num_inputs`` and that
    ``transform`` maps a batch row by row. Returns the state.
    """
    row = np.asarray(features, dtype=float)
    k = row.size
    problem = encoding.check(k)
    if problem:
        raise AssertionError(f"the encoding refuses {k} features: {problem}")
    design = encoding.circuit(k)
    if design.num_qubits != encoding.num_qubits(k):
        raise AssertionError(f"circuit({k}) has {design.num_qubits} qubits but num_qubits({k}) says {encoding.num_qubits(k)}")
    if design.num_weights:
        raise AssertionError(f"an encoding circuit must have no weights θ; it uses {design.num_weights}")
    values = np.asarray(encoding.transform(row[None, :]), dtype=float)
    if values.shape != (1, encoding.num_inputs(k)):
        raise AssertionError(f"transform gave shape {values.shape} for one row; num_inputs({k}) is {encoding.num_inputs(k)}")
    batch = np.asarray(encoding.transform(np.vstack([row, row[::-1]])), dtype=float)
    if not np.allclose(batch[0], values[0]):
        raise AssertionError("transform of a batch differs from transform of its rows one by one")
    state = design_state(design, (), values[0])
    _same_state(state, _as_state(expected, design.num_qubits), atol, f"encoding of {list(row)}")
    return state


def assert_ansatz_state(ansatz: Any, num_qubits: int, weights: Sequence[float], expected: Any, *,
                        initial: Any = None, atol: float = 1e-8) -> np.ndarray:
    """Checks ``ansatz.build(num_qubits)`` with ``weights`` against ``expected``.

    ``expected`` is as for :func:`assert_encoding_state`. The ansatz acts on ``|0…0⟩``, or
    after ``initial`` (a qiskit circuit without parameters: use one that makes every
    amplitude non-zero, so that a wrong gate cannot hide). Returns the state.
    """
    design = ansatz.build(num_qubits)
    if design.num_qubits != num_qubits:
        raise AssertionError(f"build({num_qubits}) gave {design.num_qubits} qubits")
    if design.num_inputs:
        raise AssertionError("an ansatz must use weights θ only, no data inputs x")
    if len(weights) != design.num_weights:
        raise AssertionError(f"the ansatz has {design.num_weights} weights, {len(weights)} were given")
    bound = _bound_circuit(design, weights)
    if initial is not None:
        bound = initial.compose(bound)
    from qiskit.quantum_info import Statevector

    state = np.asarray(Statevector(bound).data)
    design_state(design, weights)  # our simulator agrees with qiskit on the ansatz itself
    _same_state(state, _as_state(expected, num_qubits), atol, f"ansatz with weights {list(weights)}")
    return state


# ------------------------------------------------------------------------------ optimizers
class QuadraticProblem(Problem):
    """f(x) = ½ (x − c)ᵀ A (x − c) with a fixed, well-conditioned A: minimum 0 at c. Counts evaluations."""

    def __init__(self, dim: int = 3, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        self.matrix = q @ np.diag(np.linspace(1.0, 3.0, dim)) @ q.T
        self.center = rng.uniform(-1.0, 1.0, size=dim)
        self.evaluations = 0

    def value(self, x: np.ndarray) -> float:
        self.evaluations += 1
        d = np.asarray(x, dtype=float) - self.center
        return float(0.5 * d @ self.matrix @ d)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        d = np.asarray(x, dtype=float) - self.center
        return float(0.5 * d @ self.matrix @ d), self.matrix @ d


def assert_optimizer_minimizes_quadratic(optimizer: Optimizer, *, dim: int = 3, max_iterations: int = 300,
                                         tolerance: float = 1e-3, seed: int = 0) -> OptimizerResult:
    """Checks the optimizer against the contract the engine relies on, on a quadratic.

    It must bring the loss from its start below ``tolerance``; call the callback once per
    iteration with an :class:`OptimizerStep` numbered 1, 2, 3...; return an
    :class:`OptimizerResult` whose ``x`` has the loss it reports; stop at once when the
    callback returns ``True`` (with ``stopped`` set); and let an exception raised by the
    problem through (the engine cancels runs that way). Returns the full run's result.
    """
    problem = QuadraticProblem(dim, seed)
    x0 = np.zeros(dim)
    start = problem.value(x0)
    steps: list[OptimizerStep] = []
    result = optimizer.minimize(problem, x0.copy(), max_iterations=max_iterations, callback=lambda s: steps.append(s) and False)
    if not isinstance(result, OptimizerResult):
        raise AssertionError(f"minimize returned {type(result).__name__}, not an OptimizerResult")
    if not steps:
        raise AssertionError("the callback was never called")
    if [s.iteration for s in steps] != list(range(1, len(steps) + 1)):
        raise AssertionError(f"iterations reported out of order: {[s.iteration for s in steps][:10]}...")
    if len(steps) > max_iterations:
        raise AssertionError(f"{len(steps)} iterations run, max_iterations was {max_iterations}")
    if not all(isinstance(s, OptimizerStep) for s in steps):
        raise AssertionError("the callback must receive OptimizerStep objects")
    final = problem.value(np.asarray(result.x, dtype=float))
    if not final < tolerance:
        raise AssertionError(f"the loss went from {start:.4g} to {final:.4g}, not below {tolerance:g}")
    if not math.isclose(result.loss, final, rel_tol=1e-6, abs_tol=1e-9):
        raise AssertionError(f"the result reports loss {result.loss:.6g}, but its x has loss {final:.6g}")
    seen: list[OptimizerStep] = []
    stopped = optimizer.minimize(QuadraticProblem(dim, seed), x0.copy(), max_iterations=max_iterations,
                                 callback=lambda s: seen.append(s) or len(seen) >= 2)
    if len(seen) != 2 or not stopped.stopped:
        raise AssertionError(f"asked to stop after 2 iterations, it ran {len(seen)} (stopped={stopped.stopped})")

    class Cancelled(Exception):
        pass

    class Failing(QuadraticProblem):
        def value(self, x):
            raise Cancelled()

        def value_and_grad(self, x):
            raise Cancelled()

    try:
        optimizer.minimize(Failing(dim, seed), x0.copy(), max_iterations=5)
    except Cancelled:
        pass
    else:
        raise AssertionError("an exception raised by the problem was swallowed; let it through")
    return result


# -------------------------------------------------------------------------------- backends
def assert_backend_matches_statevector(backend: Any, design: CircuitDesign, weights: Sequence[float], *,
                                       atol: float | None = None) -> np.ndarray:
    """Runs ``design`` through the backend's primitives as training does and compares outcome probabilities.

    The engine's parameter-shift evaluator measures every qubit with the backend's sampler
    after its pass manager; the probabilities must match qiskit's ``Statevector`` within
    ``atol`` (default: 6 standard deviations of the backend's shots, 1e-6 for exact ones).
    Returns the measured probabilities.
    """
    from qmlstudio.core.models import PrimitiveEvaluator

    dim = 2**design.num_qubits
    evaluator = PrimitiveEvaluator(design, np.eye(dim), backend)
    measured = evaluator.values(np.asarray(weights, dtype=float), np.zeros((1, design.num_inputs)))[0]
    expected = np.abs(design_state(design, weights)) ** 2
    shots = getattr(backend, "shots", None)
    if atol is None:
        atol = 6 * 0.5 / math.sqrt(shots) if shots else 1e-6
    worst = float(np.max(np.abs(measured - expected)))
    if worst > atol:
        raise AssertionError(f"probabilities differ from Statevector by up to {worst:.4f} (allowed {atol:.4f}): "
                             f"{np.round(measured, 4)} vs {np.round(expected, 4)}")
    return measured


# -------------------------------------------------------------------------------- datasets
def assert_dataset_is_valid(dataset: Dataset, *, factory: Callable[..., Dataset] | None = None,
                            options: Mapping[str, Any] | None = None) -> None:
    """Checks what the engine expects of a dataset: shapes, finite features, labels, names.

    With ``factory`` (and its ``options``), also checks that two calls give the same data
    (the same seed must give the same samples) and, when it takes a ``seed``, that another
    seed gives other samples.
    """
    x, y = np.asarray(dataset.features), np.asarray(dataset.labels)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise AssertionError(f"features must be samples × features with one label per sample: {x.shape} and {y.shape}")
    if not np.all(np.isfinite(x.astype(float))):
        raise AssertionError("features hold NaN or infinite values")
    if dataset.feature_names and len(dataset.feature_names) != x.shape[1]:
        raise AssertionError(f"{len(dataset.feature_names)} feature names for {x.shape[1]} features")
    if dataset.task == "classification":
        classes = len(dataset.class_names)
        if classes < 2:
            raise AssertionError("a classification dataset needs at least two class names")
        if not set(np.unique(y).tolist()) <= set(range(classes)):
            raise AssertionError(f"labels must be class indices 0..{classes - 1}, got {sorted(set(np.unique(y).tolist()))[:10]}")
    elif dataset.task != "regression":
        raise AssertionError(f"task must be 'classification' or 'regression', got {dataset.task!r}")
    if dataset.image_shape is not None and int(np.prod(dataset.image_shape)) != x.shape[1]:
        raise AssertionError(f"image_shape {dataset.image_shape} does not match {x.shape[1]} features")
    if factory is not None:
        chosen = dict(options or {})
        again = factory(**chosen)
        if not (np.array_equal(again.features, x) and np.array_equal(again.labels, y)):
            raise AssertionError("two calls with the same options gave different data: seed every random draw")
        if "seed" in chosen:
            other = factory(**{**chosen, "seed": int(chosen["seed"]) + 1})
            if np.array_equal(other.features, x):
                raise AssertionError("another seed gave the same samples: the seed option is ignored")
