"""The ``statevector`` backend: QML Studio's own exact simulator, the default backend.

The engine simulates the whole batch at once on a compiled statevector
(:mod:`qmlstudio.core.statevector`), with adjoint gradients, in double precision on the
CPU. Kernel matrices come from the same states. Nothing here imports qiskit-aer: the
backend is usable wherever QML Studio is installed.

``aer-statevector`` (:mod:`qmls_aer`) is a different backend: qiskit-aer's statevector
method through its V2 primitives.
"""

from __future__ import annotations

from qmlstudio.plugins import BackendSpec, Option, hookimpl

__all__ = ["qmlstudio_backends"]


@hookimpl
def qmlstudio_backends() -> list[BackendSpec]:
    """The engine's exact simulator."""
    return [
        BackendSpec(
            name="statevector",
            title="Statevector (exact, QML Studio)",
            factory="qmls_statevector.backend:EngineStatevectorBackend",
            description="QML Studio's own compiled statevector simulator: exact expectation values and "
            "adjoint gradients for the whole batch at once, in double precision on the CPU. The fastest "
            "choice for training on a simulator. Memory doubles with each qubit (30 qubits ≈ 16 GB per sample)",
            options=(
                Option(
                    "threads",
                    "int",
                    None,
                    title="Threads",
                    help="CPU threads: each batch is split across them. Empty: every core. "
                    "Results are the same, bit for bit, whatever the number",
                    minimum=1,
                    maximum=1024,
                    nullable=True,
                ),
            ),
        ),
    ]
