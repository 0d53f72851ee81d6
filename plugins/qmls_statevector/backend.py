"""The ``statevector`` backend object: it only carries the engine's options.

Its :attr:`engine` flag tells the engine to simulate everything itself
(:class:`~qmlstudio.core.models.ExactEvaluator`, exact kernel states). It has no V2
primitives of its own: asking for them (parameter-shift gradients) is refused with a
message naming the backends that have them, rather than quietly running another simulator.
"""

from __future__ import annotations

from typing import Any

from qmlstudio.plugins import Backend, QMLStudioError

_NO_PRIMITIVES = (
    "the statevector backend is QML Studio's own simulator (exact values, adjoint gradients) and "
    "has no qiskit primitives; for parameter-shift gradients or sampled bitstrings choose a "
    "primitive backend: aer-statevector (exact values through qiskit-aer), aer-shots or aer-noise"
)


class EngineStatevectorBackend(Backend):
    """QML Studio's exact compiled simulator, in double precision on the CPU."""

    exact = True
    engine = True
    shots = None

    def __init__(self, threads: int | None = None) -> None:
        #: CPU threads of the engine (None: every core); the engine reads it
        self.threads = threads

    def estimator(self) -> Any:
        raise QMLStudioError(_NO_PRIMITIVES)

    def sampler(self) -> Any:
        raise QMLStudioError(_NO_PRIMITIVES)

    def applied_options(self) -> dict[str, Any]:
        """What runs the circuits, for the run's record."""
        return {"simulator": "qmlstudio", "method": "statevector", "precision": "double", "device": "CPU",
                "shots": None, "threads": self.threads}

    def random_seeds(self) -> dict[str, int | None]:
        """Nothing random: exact values."""
        return {}

    def describe(self) -> str:
        threads = "every core" if self.threads is None else f"{self.threads} thread{'s' * (self.threads != 1)}"
        return f"QML Studio statevector (exact, double precision, CPU, {threads})"
