"""The IBM Quantum backend of QML Studio, registered through the ``qmlstudio`` entry point.

``ibm`` runs the model on IBM Quantum hardware through qiskit-ibm-runtime's ``SamplerV2``
and ``EstimatorV2``, with the runtime's error-mitigation options; ``channel=local`` is the
runtime's local testing mode (a fake device simulated offline). The API token lives in the
system keyring or, where there is none, in memory for the session
(:mod:`qmls_ibm.account`); it is never an option, so it never reaches a project file.

Listing is cheap: nothing here imports qiskit-ibm-runtime or keyring.
"""

from __future__ import annotations

import importlib.util

from qmlstudio.plugins import BackendSpec, Option, hookimpl

__all__ = ["ibm_unavailable", "qmlstudio_backends"]


def ibm_unavailable() -> str | None:
    """Why the IBM backend cannot be used here (``None`` when qiskit-ibm-runtime is installed)."""
    if importlib.util.find_spec("qiskit_ibm_runtime") is None:
        return "qiskit-ibm-runtime is not installed (pip install 'qmlstudio[ibm]')"
    return None


@hookimpl
def qmlstudio_backends() -> list[BackendSpec]:
    """The IBM Quantum backend."""
    return [
        BackendSpec(
            name="ibm",
            title="IBM Quantum hardware",
            factory="qmls_ibm.backend:IbmBackend",
            description="Real IBM Quantum devices through qiskit-ibm-runtime (an account and API token "
            "are needed: IBM Quantum account…), with error mitigation; channel 'local' runs the "
            "runtime's local testing mode on a fake device, offline",
            available=ibm_unavailable,
            positional="backend",
            options=(
                Option(
                    "backend",
                    "str",
                    "",
                    title="Device",
                    help="The device, e.g. ibm_brisbane (empty: the least busy operational one); "
                    "with channel 'local' a fake device such as fake_manila",
                ),
                Option(
                    "channel",
                    "choice",
                    "ibm_quantum_platform",
                    title="Channel",
                    help="ibm_quantum_platform (quantum.cloud.ibm.com), ibm_cloud, or local (the "
                    "runtime's local testing mode: fake devices, offline, no token)",
                    choices=("ibm_quantum_platform", "ibm_cloud", "local"),
                ),
                Option("instance", "str", "", title="Instance",
                       help="The instance (CRN or name) to bill; empty: the account's default"),
                Option(
                    "mode",
                    "choice",
                    "batch",
                    title="Execution mode",
                    help="batch: jobs queue independently and may run in parallel (open plans); "
                    "session: dedicated device time between jobs (premium plans); job: one job at a time",
                    choices=("batch", "session", "job"),
                ),
                Option("shots", "int", 4096, title="Shots", help="Measurements per circuit",
                       minimum=1, maximum=1_000_000),
                Option(
                    "optimization_level",
                    "int",
                    2,
                    title="Transpiler level",
                    help="Preset pass manager level for the device's ISA: 1 is fast, 2 (default) and "
                    "3 search for better layouts and fewer two-qubit gates",
                    minimum=0,
                    maximum=3,
                ),
                Option(
                    "resilience_level",
                    "int",
                    1,
                    title="Resilience level",
                    help="Error mitigation of the Estimator: 0 none, 1 readout mitigation (TREX), "
                    "2 adds zero-noise extrapolation (costs more shots). The Sampler has none",
                    minimum=0,
                    maximum=2,
                ),
                Option("dynamical_decoupling", "bool", False, title="Dynamical decoupling",
                       help="Fill idle times with pulse sequences that suppress decoherence"),
                Option("dd_sequence", "choice", "XpXm", title="DD sequence",
                       help="The dynamical-decoupling sequence", choices=("XX", "XpXm", "XY4")),
                Option("twirling", "bool", False, title="Pauli twirling",
                       help="Randomize two-qubit gates (and measurements for the Estimator) to "
                       "turn coherent errors into noise that averages out"),
                Option("seed", "int", None, title="Random seed",
                       help="Seed of the transpiler's layout, and of the simulator in local mode",
                       minimum=0, maximum=2**32 - 1, nullable=True),
            ),
        ),
    ]
