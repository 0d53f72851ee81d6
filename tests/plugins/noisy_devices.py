"""Worker for tests/plugins/test_noisy_exact.py: one device's comparison in a child process
(the 67 devices are shared between two processes). Returns numbers; the test asserts on them."""

from __future__ import annotations

import numpy as np


def compare(device: str) -> dict:
    from qiskit.circuit.random import random_circuit
    from qiskit.transpiler import generate_preset_pass_manager
    from qmls_aer.devices import fake_backend
    from qmls_aer.noisy_exact import active_qubits, device_noise_model, noisy_program

    from tests.plugins.test_noisy_exact import _aer_density, _qiskit_density

    backend = fake_backend(device)
    width = min(4, backend.num_qubits)
    circuit = random_circuit(width, 5, max_operands=min(2, width), seed=sum(map(ord, device)))
    circuit.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)
    # the noise model noisy-exact uses: Aer's from_backend on the qubits the circuit touches
    # (equal to the full model's errors there: test_the_active_qubits_noise_model_is_the_full_models_there)
    noise_model = device_noise_model(backend, active_qubits(isa))
    # with the cache that training keeps beside the noise model
    program, angles, active, measured = noisy_program(isa, noise_model, cache={})
    rho = program.states(np.array([[float(a) for a in angles]]))[0]
    aer = _aer_density(isa, noise_model, active)
    return {
        "device": device,
        "width": width,
        "measured": len(measured),
        "channels": sum(op.tensor is not None and op.label != "rz" for op in program.operations),
        "qiskit": float(np.abs(rho - _qiskit_density(isa, noise_model, active)).max()),
        "aer": float(np.abs(rho - aer).max()),
        "aer_trace_defect": float(abs(1 - np.trace(aer).real)),
    }
