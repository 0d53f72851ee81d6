"""From a device-transpiled circuit and a qiskit-aer noise model to an exact noisy program.

Each instruction of the ISA circuit becomes one operation of
:class:`qmlstudio.core.density.NoisyProgram`: its gate composed with the quantum error the
noise model attaches to that gate on those qubits (as qiskit-aer applies it: after the gate),
or, for RZ, a per-sample angle. Measurements give the measured qubits and their readout
errors. Only the qubits the circuit touches are simulated: an untouched qubit stays in |0⟩
(the noise model has no idle noise without scheduled delays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmlstudio.core.density import NoisyOperation, NoisyProgram, channel_tensor, unitary_tensor
from qmlstudio.core.errors import QMLStudioError

_SKIPPED = {"barrier"}
#: Where qiskit-aer 0.18's NoiseModel keeps its errors (not public API: checked before use)
_NOISE_TABLES = ("_local_quantum_errors", "_default_quantum_errors", "_local_readout_errors", "_default_readout_error")


def superop_tensor(superop: Any) -> np.ndarray:
    """qiskit's ``SuperOp`` (column-stacking: ``S = conj(U) ⊗ U``) as the tensor ``T[i, j, k, l]``
    of :mod:`qmlstudio.core.density`: exact, with no Kraus decomposition in between."""
    data = np.asarray(superop.data, dtype=complex)
    d = int(round(np.sqrt(data.shape[0])))
    return data.reshape(d, d, d, d).transpose(1, 0, 3, 2).copy()


def _error_tensor(noise_model: Any, name: str, qubits: tuple[int, ...], cache: dict | None = None) -> np.ndarray | None:
    from qiskit.quantum_info import SuperOp

    if noise_model is None:
        return None
    if cache is not None:
        key = (name, qubits)
        if key not in cache:
            cache[key] = _error_tensor(noise_model, name, qubits)
        return cache[key]
    local = getattr(noise_model, "_local_quantum_errors", {}).get(name, {})
    error = local.get(qubits)
    if error is None:
        error = getattr(noise_model, "_default_quantum_errors", {}).get(name)
    if error is None:
        return None
    return superop_tensor(SuperOp(error))


def _readout(noise_model: Any, qubit: int) -> np.ndarray | None:
    if noise_model is None:
        return None
    error = (getattr(noise_model, "_local_readout_errors", {}) or {}).get((qubit,))
    if error is None:
        error = getattr(noise_model, "_default_readout_error", None)
    return None if error is None else np.asarray(error.probabilities, dtype=float)


def device_noise_model(device: Any, qubits: Any) -> Any:
    """``NoiseModel.from_backend(device)`` for the errors on ``qubits`` alone: the same call on
    a copy of the device's target that keeps only the instructions on those qubits (and the
    global ones). Each error Aer makes depends only on its own qubits' calibration (gate error
    and length, T1, T2, readout), so these are the full model's errors on those qubits, made in
    milliseconds instead of seconds for a 127-qubit device (checked against the full model by
    tests/plugins/test_noisy_exact.py)."""
    from types import SimpleNamespace

    from qiskit.transpiler import Target
    from qiskit_aer.noise import NoiseModel

    full = device.target
    keep = {int(q) for q in qubits}
    target = Target(num_qubits=full.num_qubits, dt=full.dt, qubit_properties=full.qubit_properties,
                    granularity=full.granularity, min_length=full.min_length, pulse_alignment=full.pulse_alignment,
                    acquire_alignment=full.acquire_alignment)
    for name in full.operation_names:
        operation = full.operation_from_name(name)
        if isinstance(operation, type):  # a variadic instruction (control flow), global: no properties
            target.add_instruction(operation, name=name)
            continue
        chosen = {qargs: props for qargs, props in full[name].items() if qargs is None or set(qargs) <= keep}
        if chosen:
            target.add_instruction(operation, chosen, name=name)
    view = SimpleNamespace(version=2, operation_names=list(device.operation_names), target=target, dt=device.dt)
    return NoiseModel.from_backend(view)


def active_qubits(isa: Any) -> list[int]:
    """The physical qubits a transpiled circuit touches (barriers aside), in order."""
    index = {bit: i for i, bit in enumerate(isa.qubits)}
    return sorted({index[q] for item in isa.data if item.operation.name not in _SKIPPED for q in item.qubits})


def noisy_program(isa: Any, noise_model: Any = None, cache: dict | None = None) -> tuple[NoisyProgram, list[Any], list[int], list[int]]:
    """``(program, angles, active, measured)``: the program on the circuit's active physical
    qubits ``active`` (program qubit i is physical qubit ``active[i]``), the RZ angles as they
    stand in the circuit (floats or parameter expressions, one per program angle), and the
    program qubits measured, in the order of their classical bits.

    ``cache`` (a dict kept with ``noise_model``) keeps each gate's error channel once made:
    converting an Aer error to its superoperator costs milliseconds, and a folded circuit
    repeats the same gates hundreds of times."""
    from qiskit.quantum_info import Operator

    missing = [name for name in _NOISE_TABLES if noise_model is not None and not hasattr(noise_model, name)]
    if missing:  # never simulate a noise model as if it were noiseless
        raise QMLStudioError(f"this qiskit-aer's NoiseModel has no {', '.join(missing)}: the exact noisy simulator "
                             "reads its errors from there (written for qiskit-aer 0.18); use aer-noise")
    index = {bit: i for i, bit in enumerate(isa.qubits)}
    active = active_qubits(isa)
    place = {physical: i for i, physical in enumerate(active)}
    program = NoisyProgram(max(1, len(active)))
    angles: list[Any] = []
    clbits: dict[int, int] = {}
    clbit_index = {bit: i for i, bit in enumerate(isa.clbits)}
    for item in isa.data:
        op = item.operation
        name = op.name
        if name in _SKIPPED:
            continue
        physical = tuple(index[q] for q in item.qubits)
        qubits = tuple(place[p] for p in physical)
        if name == "measure":
            clbits[clbit_index[item.clbits[0]]] = qubits[0]
            continue
        if item.clbits or getattr(op, "condition", None) is not None:
            raise QMLStudioError(f"the exact noisy simulator cannot run {name!r} (classical control)")
        error = _error_tensor(noise_model, name, physical, cache)
        if name == "rz":
            angles.append(op.params[0])
            program.operations.append(NoisyOperation(qubits, angle=len(angles) - 1, after=error, label=name))
            continue
        if getattr(op, "is_parameterized", lambda: False)():
            raise QMLStudioError(f"the exact noisy simulator takes parameters only in RZ gates, not in {name!r}")
        try:
            gate = unitary_tensor(Operator(op).data)
        except Exception as exc:  # noqa: BLE001 - reset, delay with noise...: named
            raise QMLStudioError(f"the exact noisy simulator cannot run {name!r}: {exc}") from None
        program.operations.append(NoisyOperation(qubits, tensor=gate if error is None else channel_tensor(error, gate),
                                                  label=name))
    program.num_angles = len(angles)
    measured = [clbits[c] for c in sorted(clbits)]
    for q in measured:
        matrix = _readout(noise_model, active[q])
        if matrix is not None:
            program.readout[q] = matrix
    return program, angles, active, measured
