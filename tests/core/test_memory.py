"""Memory before simulation: the simulator's own estimate, checked against what it allocates,
and the refusal (with the numbers) of a model that cannot fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qmlstudio.core.memory import SimulationTooLarge, available_memory, check_simulation, format_bytes
from qmlstudio.core.statevector import StatevectorProgram
from tests.core.fresh_interpreter import in_fresh_interpreter


@pytest.mark.parametrize("qubits, batch", [(8, 200), (12, 40), (14, 60)])
def test_the_estimate_matches_what_a_gradient_step_allocates(qubits: int, batch: int) -> None:
    """tracemalloc sees numpy's allocations: the peak of values plus the adjoint gradient is
    at most 20 % below the estimate (the estimate is an upper bound, not a guess). Measured in
    a process of its own: tracemalloc counts every thread's allocations, and threads other
    tests leave behind pushed the peak past the bound now and then (7,327,210 > 7,229,696
    bytes once at 12 qubits, in the suite only)."""
    peak, estimate = in_fresh_interpreter(f"""
        import json, tracemalloc
        import numpy as np
        from qmlstudio.core.models import ClassifierHead, ModelCircuit
        from qmlstudio.core.statevector import StatevectorProgram
        from qmlstudio.plugins.manager import load_plugins

        registry = load_plugins()
        qubits, batch = {qubits}, {batch}
        model = ModelCircuit(registry.get("encodings", "angle").create({{}}),
                             registry.get("ansatze", "real-amplitudes").create({{}}).build(qubits), qubits)
        observables = ClassifierHead(3).observables(qubits)
        inputs = model.inputs(np.random.default_rng(0).normal(size=(batch, qubits)))
        weights = np.linspace(0, 1, model.num_weights)
        # once first, by another program: compiled code and caches in place, so that only the
        # call's own arrays are traced, with those the program keeps for its next parts and calls
        values, pullback = StatevectorProgram(model.design).value_and_pullback(weights, inputs, observables)
        pullback(np.ones_like(values))
        program = StatevectorProgram(model.design)
        tracemalloc.start()
        values, pullback = program.value_and_pullback(weights, inputs, ClassifierHead(3).observables(qubits))
        pullback(np.ones_like(values))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps([peak, StatevectorProgram.memory_bytes(qubits, batch, 3, len(model.design.gates))]))
    """)
    # an upper bound, and a close one: within 20 % (a batch simulated as one part, as at 8 qubits,
    # keeps one state fewer than the four per part in flight the bound counts: 0.83 there)
    assert 0.8 * estimate <= peak <= estimate


def test_available_memory_is_what_the_system_reports() -> None:
    available = available_memory()
    total = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                 if line.startswith("MemTotal:"))
    assert available is not None and 0 < available <= total


def test_64_qubits_are_refused_with_the_numbers() -> None:
    with pytest.raises(SimulationTooLarge) as caught:
        check_simulation(64, 300, num_observables=10, available=8 << 30)
    error = caught.value
    assert (error.num_qubits, error.batch, error.available) == (64, 300, 8 << 30)
    assert error.amplitudes == 2**64 == 18_446_744_073_709_551_616
    # one state per part in flight at least (states this large are not kept for the gradient:
    # each part is simulated again); Python integers, no overflow
    assert error.needed >= 4 * 16 * 2**64
    text = str(error)
    assert "64 qubits need 2^64 = 18,446,744,073,709,551,616 amplitudes per sample" in text
    assert "(256 EiB at 16 bytes each)" in text and "8.0 GiB available" in text
    # (one part of one sample per thread × 4 states × 16 + 10 observables × 24) bytes × 2^64 / 2^60
    from qmlstudio.core.statevector import available_cores

    assert f"needs {(available_cores() * 4 * 16 + 240) * 16:,} EiB" in text


def test_a_small_model_passes_and_the_limit_is_the_available_memory() -> None:
    needed = check_simulation(4, 100)
    assert needed == StatevectorProgram.memory_bytes(4, 100)
    assert check_simulation(20, 10, available=needed + 10**12) > 0
    with pytest.raises(SimulationTooLarge):
        check_simulation(20, 10, available=StatevectorProgram.memory_bytes(20, 10) - 1)


def test_bytes_read_as_people_write_them() -> None:
    assert format_bytes(512) == "512 bytes"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 << 30) == "3.0 GiB"
    assert format_bytes(16 * 2**64) == "256 EiB"
