"""The Aer statevector backend (plugins/qmls_aer), checked against qiskit's Statevector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qmlstudio.plugins import Backend, BackendSpec

import qmls_aer

pytest.importorskip("qiskit_aer")

from qiskit.circuit import ParameterVector, QuantumCircuit  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402
from qiskit.quantum_info import SparsePauliOp, Statevector  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = {spec.name: spec for spec in qmls_aer.qmlstudio_backends()}["aer-statevector"]


@pytest.fixture(scope="module")
def backend() -> Backend:
    return SPEC.create({"seed": 11})


def test_hook_qmlstudio_backends():
    specs = qmls_aer.qmlstudio_backends()
    assert all(isinstance(s, BackendSpec) for s in specs)
    assert [s.problems() for s in specs] == [[] for _ in specs]
    assert SPEC.unavailable_reason() is None
    assert SPEC.to_dict()["unavailable"] is None
    assert {o.name for o in SPEC.options} == {"precision", "device", "sampler_shots", "seed", "threads"}
    created = SPEC.create()
    assert isinstance(created, Backend) and created.exact and created.shots is None


def test_unavailable_without_qiskit_aer(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "qiskit_aer" else real(name, *a))
    assert "qiskit-aer" in SPEC.unavailable_reason()


def test_listing_does_not_import_qiskit_aer():
    code = (
        "import json, sys\n"
        "import qmls_aer, qmls_datasets, qmls_optimizers\n"
        "specs = qmls_aer.qmlstudio_backends() + qmls_datasets.qmlstudio_datasets()"
        " + qmls_optimizers.qmlstudio_optimizers()\n"
        "reasons = [s.unavailable_reason() for s in qmls_aer.qmlstudio_backends()]\n"
        "described = [s.to_dict() for s in specs]\n"
        "heavy = ('qiskit_aer', 'qiskit_machine_learning', 'sklearn', 'scipy')\n"
        "print(json.dumps({'reasons': reasons, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"reasons": [None] * len(qmls_aer.qmlstudio_backends()), "loaded": []}


def test_estimator_is_exact_on_a_random_circuit(backend):
    circuit = random_circuit(4, 6, max_operands=2, seed=5)
    observable = SparsePauliOp.from_list([("ZIZX", 0.7), ("YYII", -0.2), ("IIIZ", 1.0), ("XXYZ", 0.4)])
    expected = Statevector(circuit).expectation_value(observable).real
    runnable = backend.pass_manager().run(circuit)
    result = backend.estimator().run([(runnable, observable)]).result()[0]
    assert abs(float(result.data.evs) - expected) < 1e-10
    assert abs(expected) > 1e-3, "a trivial expectation value would prove little"


def trainable_circuit() -> tuple[QuantumCircuit, ParameterVector]:
    """A layer with inputs, weights and the controlled rotations Aer binds wrongly by itself."""
    x, theta = ParameterVector("x", 3), ParameterVector("θ", 6)
    circuit = QuantumCircuit(3)
    for q in range(3):
        circuit.ry(x[q], q)
        circuit.rz(theta[q], q)
    circuit.cx(0, 1)
    circuit.rzz(theta[3], 1, 2)
    circuit.crx(theta[4], 0, 2)
    circuit.cry(theta[5], 2, 1)
    circuit.crz(x[0], 1, 0)
    circuit.h(0)
    return circuit, circuit.parameters


def test_estimator_is_exact_for_a_batch_of_bindings_and_ignores_requested_precision(backend):
    circuit, parameters = trainable_circuit()
    observable = SparsePauliOp.from_list([("ZZI", 1.0), ("IXY", 0.5), ("ZII", -0.3)])
    values = np.random.default_rng(3).uniform(-np.pi, np.pi, size=(5, len(parameters)))
    expected = [Statevector(circuit.assign_parameters(v)).expectation_value(observable).real for v in values]
    for runnable in (circuit, backend.pass_manager().run(circuit)):
        # qiskit-machine-learning's EstimatorQNN asks for 1/64; plain Aer would add noise
        result = backend.estimator().run([(runnable, observable, values)], precision=1 / 64).result()[0]
        np.testing.assert_allclose(result.data.evs, expected, atol=1e-10)
        assert np.all(result.data.stds == 0)


def test_pass_manager_keeps_parameterized_gates(backend):
    circuit, _ = trainable_circuit()
    runnable = backend.pass_manager().run(circuit)
    assert runnable.num_qubits == circuit.num_qubits
    assert set(runnable.parameters) == set(circuit.parameters)
    for gate in ("ry", "rz", "rzz", "crx", "cry", "crz"):
        assert runnable.count_ops().get(gate, 0) >= 1, gate


def test_sampler_returns_counts(backend):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    counts = backend.sampler().run([circuit]).result()[0].data.meas.get_counts()
    assert sum(counts.values()) == 1024
    assert set(counts) == {"00", "11"}


def test_sampler_binds_controlled_rotations(backend):
    # Qiskit/qiskit-aer#2323: plain Aer ignores the bound angle of a parameterized CRY
    theta = ParameterVector("t", 1)
    circuit = QuantumCircuit(2)
    circuit.x(0)
    circuit.cry(theta[0], 0, 1)
    circuit.measure_all()
    result = backend.sampler().run([(circuit, [np.pi])], shots=200).result()[0]
    assert result.data.meas.get_counts() == {"11": 200}


def test_single_precision_is_close(backend):
    circuit = random_circuit(3, 4, max_operands=2, seed=9)
    observable = SparsePauliOp("ZXZ")
    single = SPEC.create({"precision": "single"})
    runnable = single.pass_manager().run(circuit)
    value = float(single.estimator().run([(runnable, observable)]).result()[0].data.evs)
    assert value == pytest.approx(Statevector(circuit).expectation_value(observable).real, abs=1e-5)
    assert "single" in single.describe()
