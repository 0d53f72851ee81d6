"""Plugins cannot take the app down (issue 23, defect 8).

In process: a plugin registered on a registry whose encoding, ansatz, optimizer or backend
raises or returns garbage at use time gives a PluginFailure naming the plugin, the part and
the call, and the other plugins keep working. In a child process: a plugin installed as a
distribution (a ``.dist-info`` with an entry point on ``PYTHONPATH``) that hangs, calls
``os._exit`` or segfaults at import, or hangs in a hook, is reported and skipped, and the
CLI still works; a faulty encoding used by ``qmlstudio train`` is a message on stderr.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.plugins import (
    Ansatz,
    AnsatzSpec,
    Backend,
    BackendSpec,
    DatasetSpec,
    Encoding,
    EncodingSpec,
    Optimizer,
    OptimizerResult,
    OptimizerSpec,
    OptimizerStep,
    PluginError,
    hookimpl,
)
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------
# A misbehaving plugin, one part per fault
# ---------------------------------------------------------------------------
def _angle_design(num_qubits: int, num_inputs: int) -> CircuitDesign:
    return CircuitDesign(num_qubits, [Gate("ry", (j,), (f"x[{j}]",), 0) for j in range(num_inputs)])


class FaultyEncoding(Encoding):
    """Angle encoding, except for the one call its ``fault`` breaks."""

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def num_qubits(self, num_features: int) -> int:
        return -1 if self.fault == "qubits-negative" else num_features

    def check(self, num_features: int) -> str | None:
        if self.fault == "check-raises":
            raise RuntimeError("check exploded")
        return 42 if self.fault == "check-garbage" else None  # type: ignore[return-value]

    def circuit(self, num_features: int) -> CircuitDesign:
        if self.fault == "circuit-raises":
            raise ValueError("no circuit today")
        if self.fault == "circuit-garbage":
            return "a circuit"  # type: ignore[return-value]
        if self.fault == "circuit-wider":
            return _angle_design(num_features + 1, num_features)  # one wire more than num_qubits says
        if self.fault == "circuit-invalid":
            return CircuitDesign(num_features, [Gate("ry", (num_features + 3,), ("x[0]",), 0)])
        return _angle_design(num_features, num_features)

    def transform(self, features: np.ndarray) -> np.ndarray:
        features = np.asarray(features, dtype=float)
        if self.fault == "transform-raises":
            raise ZeroDivisionError("transform divided by zero")
        if self.fault == "transform-shape":
            return features[:, :1]
        if self.fault == "transform-rows":
            return features[:1]
        if self.fault == "transform-nan":
            return features * np.nan
        if self.fault == "transform-text":
            return np.array([["a"] * features.shape[1]] * features.shape[0])
        return features


class FaultyAnsatz(Ansatz):
    def __init__(self, fault: str) -> None:
        self.fault = fault

    def build(self, num_qubits: int) -> CircuitDesign:
        if self.fault == "build-raises":
            raise KeyError("layers")
        if self.fault == "build-wider":
            return CircuitDesign(num_qubits + 2, [Gate("ry", (q,), (f"θ[{q}]",), 0) for q in range(num_qubits + 2)])
        return CircuitDesign(num_qubits, [Gate("ry", (q,), (f"θ[{q}]",), 0) for q in range(num_qubits)])


class FaultyOptimizer(Optimizer):
    """Plain gradient descent, except for its fault."""

    def __init__(self, fault: str) -> None:
        self.fault = fault

    def minimize(self, problem, x0, *, max_iterations, callback=None):
        x = np.array(x0, dtype=float)
        loss = float("nan")
        for iteration in range(1, max_iterations + 1):
            if self.fault == "minimize-raises" and iteration == 2:
                raise IndexError("optimizer lost its place")
            loss, grad = problem.value_and_grad(x)
            x = x - 0.1 * grad
            reported = x[:1] if self.fault == "step-shape" else x
            step = OptimizerStep(iteration, reported, "low" if self.fault == "step-loss" else loss, float(np.linalg.norm(grad)))
            if callback is not None and callback(step):
                break
        if self.fault == "result-garbage":
            return {"x": x}
        if self.fault == "result-shape":
            return OptimizerResult(x=np.append(x, 1.0), loss=loss, iterations=max_iterations)
        return OptimizerResult(x=x, loss=loss, iterations=max_iterations)


class _FakeJob:
    def __init__(self, result):
        self._result = result

    def result(self):
        return self._result


class _FaultyEstimator:
    """Qiskit's exact estimator, except for its fault."""

    def __init__(self, fault: str) -> None:
        from qiskit.primitives import StatevectorEstimator

        self.fault = fault
        self.inner = StatevectorEstimator(default_precision=0.0)

    def run(self, pubs, precision=None):
        if self.fault == "run-raises":
            raise ConnectionError("the simulator went away")
        if self.fault == "run-garbage":
            return "a job"
        job = self.inner.run(pubs, precision=precision)
        if self.fault == "result-nan":
            result = job.result()
            result[0].data.evs[...] = np.nan
            return _FakeJob(result)
        if self.fault == "result-count":
            return _FakeJob([])
        if self.fault == "result-shape":
            from qiskit.primitives import DataBin, PrimitiveResult, PubResult

            return _FakeJob(PrimitiveResult([PubResult(DataBin(evs=np.zeros(3), stds=np.zeros(3)))]))
        return job


class _FaultySampler:
    def __init__(self, fault: str) -> None:
        self.fault = fault

    def run(self, pubs, shots=None):
        if self.fault == "sampler-run-raises":
            raise TimeoutError("the queue is full")
        return _FakeJob([object()] if self.fault == "sampler-result-garbage" else [])


class FaultyBackend(Backend):
    exact = True

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.exact = not fault.startswith("sampler")
        self.shots = None if self.exact else 64

    def estimator(self):
        if self.fault == "estimator-raises":
            raise RuntimeError("estimator unavailable")
        return _FaultyEstimator(self.fault)

    def sampler(self):
        return _FaultySampler(self.fault)

    def pass_manager(self):
        if self.fault == "pass-manager-raises":
            raise OSError("no device calibration")
        return super().pass_manager()


def _dataset(fault: str, **_):
    from qmlstudio.plugins import Dataset, DatasetError

    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(20, 2)), np.arange(20) % 2
    if fault == "raises":
        raise MemoryError("the loader ran out of memory")
    if fault == "garbage":
        return features
    if fault == "labels":
        return Dataset(features, labels[:5])
    if fault == "nan":
        features[3, 1] = np.nan
        return Dataset(features, labels)
    if fault == "message":
        raise DatasetError("row 3 of the file is empty")
    return Dataset(features, labels)


DATASET_FAULTS = ["raises", "garbage", "labels", "nan", "message"]
ENCODING_FAULTS = ["check-raises", "check-garbage", "qubits-negative", "circuit-raises", "circuit-garbage",
                   "circuit-wider", "circuit-invalid", "transform-raises", "transform-shape", "transform-rows",
                   "transform-nan", "transform-text"]
ANSATZ_FAULTS = ["build-raises", "build-wider"]
OPTIMIZER_FAULTS = ["minimize-raises", "step-shape", "step-loss", "result-garbage", "result-shape"]
BACKEND_FAULTS = ["estimator-raises", "pass-manager-raises", "run-raises", "run-garbage", "result-nan",
                  "result-count", "result-shape", "sampler-run-raises", "sampler-result-garbage"]


class FaultyPlugin:
    @hookimpl
    def qmlstudio_encodings(self):
        return [EncodingSpec("good-angle", "Good", functools.partial(FaultyEncoding, "none"))] + [
            EncodingSpec(f"enc-{f}", f, functools.partial(FaultyEncoding, f)) for f in ENCODING_FAULTS]

    @hookimpl
    def qmlstudio_datasets(self):
        return [DatasetSpec(f"data-{f}", f, functools.partial(_dataset, f)) for f in DATASET_FAULTS]

    @hookimpl
    def qmlstudio_ansatze(self):
        return [AnsatzSpec(f"ans-{f}", f, functools.partial(FaultyAnsatz, f)) for f in ANSATZ_FAULTS]

    @hookimpl
    def qmlstudio_optimizers(self):
        return [OptimizerSpec(f"opt-{f}", f, functools.partial(FaultyOptimizer, f)) for f in OPTIMIZER_FAULTS]

    @hookimpl
    def qmlstudio_backends(self):
        return [BackendSpec(f"be-{f}", f, functools.partial(FaultyBackend, f)) for f in BACKEND_FAULTS]


@pytest.fixture(scope="module")
def registry():
    registry = load_plugins(disabled=(), autoload=True)
    registry.register(FaultyPlugin(), "faulty")
    yield registry
    registry.unregister("faulty")


def _train(registry, **choices):
    options = {"name": "faults", "dataset": "moons", "dataset_options": {"samples": 24}, "epochs": 1,
               "batch_size": None, "ansatz": "real-amplitudes", **choices}
    project = new_project(registry, **options)
    return build_run(project, registry).run()


def _assert_named(message: str, kind: str, name: str, call: str) -> None:
    assert f"plugin 'faulty' ({kind} '{name}') failed in {call}" in message, message
    assert "Traceback" not in message


# ---------------------------------------------------------------------------
# Use-time faults in process
# ---------------------------------------------------------------------------
CALLS = {"check": "check()", "qubits": "num_qubits()", "circuit": "circuit()", "transform": "transform()"}


@pytest.mark.parametrize("fault", ENCODING_FAULTS)
def test_an_encoding_that_raises_or_returns_garbage_is_a_message_naming_it(registry, fault):
    with pytest.raises(PluginError) as caught:
        _train(registry, encoding=f"enc-{fault}")
    _assert_named(str(caught.value), "encoding", f"enc-{fault}", CALLS[fault.split("-")[0]])
    detail = {"check-raises": "RuntimeError: check exploded", "check-garbage": "returned 42",
              "qubits-negative": "returned -1", "circuit-raises": "ValueError: no circuit today",
              "circuit-garbage": "returned str, not a CircuitDesign",
              "circuit-wider": "a circuit on 3 qubits, but num_qubits(2) declares 2",
              "circuit-invalid": "invalid circuit design", "transform-raises": "ZeroDivisionError",
              "transform-shape": "1 values per sample, but num_inputs(2) declares 2",
              "transform-rows": "expected one row of values per sample", "transform-nan": "NaN",
              "transform-text": "not an array of numbers"}[fault]
    assert detail in str(caught.value)


@pytest.mark.parametrize("fault", DATASET_FAULTS)
def test_a_dataset_factory_that_raises_or_returns_garbage_is_a_message_naming_it(registry, fault):
    from qmlstudio.plugins import DatasetError

    with pytest.raises((PluginError, DatasetError)) as caught:
        _train(registry, dataset=f"data-{fault}", dataset_options={})
    message = str(caught.value)
    if fault == "message":  # the plugin's own message for people passes as it is
        assert message == "row 3 of the file is empty"
        return
    assert message.startswith(f"plugin 'faulty' (dataset 'data-{fault}') "), message
    assert {"raises": "failed to start: MemoryError: the loader ran out of memory",
            "garbage": "returned ndarray, not a Dataset",
            "labels": "made unusable data: expected 20 labels, one per sample",
            "nan": "made unusable data: feature 1 of sample 3 is not a finite number"}[fault] in message
    if fault in ("labels", "nan"):
        assert isinstance(caught.value, DatasetError)  # still the class the dataset panel catches


@pytest.mark.parametrize("fault", ANSATZ_FAULTS)
def test_an_ansatz_that_raises_or_is_too_wide_is_a_message_naming_it(registry, fault):
    with pytest.raises(PluginError) as caught:
        _train(registry, ansatz=f"ans-{fault}")
    _assert_named(str(caught.value), "ansatz", f"ans-{fault}", "build()")
    assert ("KeyError: 'layers'" if fault == "build-raises" else "a circuit on 4 qubits when asked for 2") in str(caught.value)


@pytest.mark.parametrize("fault", OPTIMIZER_FAULTS)
def test_an_optimizer_that_raises_or_returns_garbage_fails_the_run_with_a_message(registry, fault):
    record = _train(registry, optimizer=f"opt-{fault}", epochs=3)
    assert record.status == "failed"
    _assert_named(record.message, "optimizer", f"opt-{fault}", "minimize()")
    detail = {"minimize-raises": "IndexError: optimizer lost its place",
              "step-shape": "gave x of shape (1,)", "step-loss": "gave the loss = 'low'",
              "result-garbage": "returned dict, not an OptimizerResult", "result-shape": "gave x of shape"}[fault]
    assert detail in record.message


@pytest.mark.parametrize("fault", BACKEND_FAULTS)
def test_a_backend_whose_primitives_fail_or_return_garbage_is_a_message_naming_it(registry, fault):
    project = new_project(registry, name="faults", dataset="moons", dataset_options={"samples": 16}, epochs=1,
                          batch_size=None, ansatz="real-amplitudes", backend=f"be-{fault}")
    with pytest.raises(PluginError) as caught:  # the run is built (pass manager) or trains (primitives)
        record = build_run(project, registry).run()
        raise PluginError(record.message) if record.status == "failed" else AssertionError(record.status)
    call = {"estimator-raises": "estimator()", "pass-manager-raises": "pass_manager()",
            "run-raises": "estimator.run()", "run-garbage": "estimator.run()", "result-nan": "estimator job's result()",
            "result-count": "estimator job's result()", "result-shape": "estimator()",
            "sampler-run-raises": "sampler.run(): TimeoutError: the queue is full",
            "sampler-result-garbage": "sampler job's result(): result 0 is object, which has no data"}[fault]
    _assert_named(str(caught.value), "backend", f"be-{fault}", call)


def test_after_all_those_faults_the_other_plugins_and_the_good_parts_still_train(registry):
    assert registry.plugins["faulty"].status == "ok"  # a use-time fault does not disable the plugin
    assert _train(registry, encoding="good-angle").status == "completed"
    assert _train(registry, encoding="angle", optimizer="sgd", backend="aer-statevector").status == "completed"


def test_the_engine_still_stops_a_guarded_optimizer(registry):
    """Cancellation raised by the engine through the optimizer passes the guard unchanged."""
    from qmlstudio.core.training import Controls

    project = new_project(registry, name="stop", dataset="moons", dataset_options={"samples": 24}, epochs=50,
                          batch_size=4, ansatz="real-amplitudes", optimizer="adam")
    controls = Controls()
    seen = []

    def callback(report):
        seen.append(report.iteration)
        if len(seen) == 3:
            controls.cancel()

    record = build_run(project, registry, callback=callback, controls=controls).run()
    assert record.status == "stopped" and "stopped by the user" in record.message
    assert len(seen) == 3


def test_guarded_objects_keep_their_class_attributes_and_copy_as_the_plugins_own(registry):
    import copy
    import pickle

    encoder = registry.get("encodings", "reuploading").create({"repetitions": 4})
    assert encoder.repetitions == 4 and type(encoder).__name__ == "ReuploadingEncoding"
    assert type(copy.deepcopy(encoder)) is type(encoder).__mro__[1]  # the plugin's own class
    assert pickle.loads(pickle.dumps(encoder)).circuit(2).num_qubits == 2
    backend = registry.get("backends", "statevector").create({})
    assert backend.engine is True and backend.exact is True


# ---------------------------------------------------------------------------
# Faults at import and in hooks, in a child process
# ---------------------------------------------------------------------------
def _dist(site: Path, name: str, source: str) -> None:
    """A distribution ``bad-NAME`` with an entry point ``badNAME`` in the ``qmlstudio`` group."""
    info = site / f"bad_{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: bad-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[qmlstudio]\nbad{name} = bad_{name}_mod\n")
    (site / f"bad_{name}_mod.py").write_text(textwrap.dedent(source))


GOOD = """
from qmlstudio.plugins import EncodingSpec, hookimpl
from qmls_encodings.angle import AngleEncoding

@hookimpl
def qmlstudio_encodings():
    return [EncodingSpec("still-here", "Still here", AngleEncoding)]
"""
BAD = {
    "hang": "import time\ntime.sleep(1e9)\n",
    "spin": "while True:\n    pass\n",
    "exit": "import os\nos._exit(3)\n",
    "segv": "import ctypes\nctypes.string_at(0)\n",
    "hookhang": """
        import time
        from qmlstudio.plugins import hookimpl

        @hookimpl
        def qmlstudio_datasets():
            time.sleep(1e9)
        """,
    "circuit": """
        from qmlstudio.plugins import Encoding, EncodingSpec, hookimpl

        class Broken(Encoding):
            def num_qubits(self, num_features):
                return num_features

            def circuit(self, num_features):
                raise RuntimeError("the circuit fell apart")

        @hookimpl
        def qmlstudio_encodings():
            return [EncodingSpec("broken", "Broken", Broken)]
        """,
}


def _cli(site: Path, cwd: Path, *args: str, probe: bool = True, timeout: float = 1.0, config: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k != "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), str(ROOT), str(ROOT / "plugins")]),
               QMLSTUDIO_CONFIG_DIR=str(config or site.parent / "config"), QMLSTUDIO_PLUGIN_TIMEOUT=str(timeout),
               QMLSTUDIO_PLUGIN_PROBE="1" if probe else "0", QT_QPA_PLATFORM="offscreen")
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "qmlstudio", *args], env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(cwd))
    return done, time.monotonic() - start


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("faults") / "site"  # the probe cache goes beside it, in config/
    _dist(site, "good", GOOD)
    for name, source in BAD.items():
        _dist(site, name, source)
    return site


def test_plugins_that_hang_exit_or_crash_at_import_are_reported_and_skipped(site, tmp_path):
    """(The first test of the site: it fills the probe cache the next ones use.)"""
    done, first = _cli(site, tmp_path, "plugins")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    listing = done.stdout
    assert "plugin 'badhang' did not answer within 1 s while importing; skipped" in listing
    assert "plugin 'badspin' did not answer within 1 s while importing; skipped" in listing
    assert "plugin 'badexit' ended the Python process while loading (exit status 3); skipped" in listing
    assert "plugin 'badsegv' crashed the Python interpreter while loading (SIGSEGV); skipped" in listing
    assert "plugin 'badhookhang' did not answer within 1 s in qmlstudio_datasets; skipped" in listing
    assert "still-here" in listing  # the good third-party plugin and the built-ins are all there
    assert "encodings: angle" in listing
    for name in ("badhang", "badexit", "badsegv", "badhookhang"):  # said on stderr too
        assert f"qmlstudio: warning: plugin {name!r}" in done.stderr
    # the verdicts are cached: the second start probes nothing and waits for nothing
    again, second = _cli(site, tmp_path, "plugins")
    assert again.returncode == 0 and again.stdout == listing
    assert second < first, (first, second)


def test_other_commands_still_work_beside_a_fatal_plugin(site, tmp_path):
    done, _ = _cli(site, tmp_path, "new", "p.qmls", "--dataset", "moons", "--encoding", "still-here",
                   "--epochs", "1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.qmls").is_file()
    assert "Traceback" not in done.stderr
    assert "plugin 'badsegv' crashed the Python interpreter" in done.stderr


def test_without_the_probe_a_hanging_import_or_hook_is_cut_off_by_the_time_limit(tmp_path):
    site = tmp_path / "site"
    _dist(site, "hang", BAD["hang"])
    _dist(site, "hookhang", BAD["hookhang"])
    done, took = _cli(site, tmp_path, "plugins", probe=False, config=tmp_path / "config")
    assert done.returncode == 0, done.stderr
    assert "plugin 'badhang' did not answer within 1 s while importing; skipped" in done.stdout
    assert "plugin 'badhookhang' did not answer within 1 s in qmlstudio_datasets; skipped" in done.stdout
    assert "datasets: moons" in done.stdout
    assert took < 30


def test_a_faulty_encoding_at_train_time_is_a_message_on_stderr(site, tmp_path):
    done, _ = _cli(site, tmp_path, "new", "p.qmls", "--dataset", "moons", "--encoding", "broken", "--epochs", "1")
    assert done.returncode == 0, done.stderr  # check() and num_qubits() are fine; circuit() is not
    before = (tmp_path / "p.qmls").read_bytes()
    done, _ = _cli(site, tmp_path, "train", "p.qmls")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert ("plugin 'badcircuit' (encoding 'broken') failed in circuit(): RuntimeError: the circuit fell apart"
            in done.stderr)
    assert (tmp_path / "p.qmls").read_bytes() == before
