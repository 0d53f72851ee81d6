"""The Aer statevector backend of QML Studio, registered through the ``qmlstudio`` entry point.

Exact expectation values from qiskit-aer's V2 estimator in statevector mode. Listing it is
cheap: the availability check only looks for the qiskit-aer package, and the backend
module (which imports qiskit-aer) is loaded only when the backend is created.
"""

from __future__ import annotations

import importlib.util

from qmlstudio.plugins import BackendSpec, Option, hookimpl

__all__ = ["aer_unavailable", "qmlstudio_backends"]


def aer_unavailable() -> str | None:
    """Why the Aer backends cannot be used here (``None`` when qiskit-aer is installed)."""
    if importlib.util.find_spec("qiskit_aer") is None:
        return "qiskit-aer is not installed (pip install qiskit-aer)"
    return None


@hookimpl
def qmlstudio_backends() -> list[BackendSpec]:
    """The built-in Aer backends."""
    return [
        BackendSpec(
            name="aer-statevector",
            title="Aer statevector (exact)",
            factory="qmls_aer.backend:AerStatevectorBackend",
            description="qiskit-aer's statevector simulator: exact expectation values, no shot noise, "
            "so exact gradients are meaningful. Memory doubles with each qubit (30 qubits ≈ 16 GB)",
            available=aer_unavailable,
            options=(
                Option(
                    "precision",
                    "choice",
                    "double",
                    title="Precision",
                    help="Floating-point precision of the state: single halves the memory and is faster, "
                    "with values accurate to about 1e-6",
                    choices=("double", "single"),
                ),
                Option(
                    "device",
                    "choice",
                    "CPU",
                    title="Device",
                    help="Where the simulation runs",
                    choices=("CPU",),
                ),
                Option(
                    "sampler_shots",
                    "int",
                    1024,
                    title="Sampler shots",
                    help="Shots per circuit when bitstrings are sampled (expectation values stay exact)",
                    minimum=1,
                    maximum=10_000_000,
                ),
                Option(
                    "seed",
                    "int",
                    None,
                    title="Random seed",
                    help="Seed of the sampler's shots; empty for a fresh seed each run",
                    minimum=0,
                    maximum=2**32 - 1,
                    nullable=True,
                ),
            ),
        ),
    ]
