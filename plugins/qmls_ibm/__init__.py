"""The IBM Quantum backend of QML Studio, registered through the ``qmlstudio`` entry point.

``ibm`` runs the model on IBM Quantum hardware through qiskit-ibm-runtime's ``SamplerV2``
(the engine runs models through the Sampler, so the Estimator's resilience levels are
refused rather than stored unapplied; twirling and dynamical decoupling apply on hardware); ``channel=local`` is the
runtime's local testing mode (a fake device simulated offline). The API token lives in the
system keyring or, where there is none, in memory for the session
(:mod:`qmls_ibm.account`); it is never an option, so it never reaches a project file.

Listing is cheap: nothing here imports qiskit-ibm-runtime or keyring.
"""

from __future__ import annotations

import importlib.util

from qmlstudio.plugins import AccountSpec, BackendSpec, Option, hookimpl

from qmls_aer import mitigation_options

__all__ = ["ibm_unavailable", "qmlstudio_accounts", "qmlstudio_backends", "refused_options"]


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
                    0,
                    title="Resilience level",
                    help="Error mitigation of the runtime's Estimator (1 readout mitigation, 2 adds "
                    "zero-noise extrapolation). QML Studio runs models through the Sampler, which has "
                    "none, so only 0 is accepted; higher levels are refused rather than stored unapplied",
                    minimum=0,
                    maximum=2,
                ),
                Option("dynamical_decoupling", "bool", False, title="Dynamical decoupling",
                       help="Fill idle times with pulse sequences that suppress decoherence "
                       "(real hardware only: the local testing mode cannot apply it)"),
                Option("dd_sequence", "choice", "XpXm", title="DD sequence",
                       help="The dynamical-decoupling sequence", choices=("XX", "XpXm", "XY4")),
                Option("twirling", "bool", False, title="Pauli twirling",
                       help="Randomize the two-qubit gates of the Sampler's circuits to turn coherent "
                       "errors into noise that averages out (real hardware only: the local testing "
                       "mode cannot apply it)"),
                Option("seed", "int", None, title="Random seed",
                       help="Seed of the transpiler's layout, and of the simulator in local mode "
                       "(empty: a fresh seed is drawn for each run and recorded with it)",
                       minimum=0, maximum=2**32 - 1, nullable=True),
                *mitigation_options("the device itself (in the local testing mode: the fake device's noise model)"),
            ),
            refuse=refused_options,
        ),
    ]


def refused_options(options: dict) -> str | None:
    """Why the IBM backend cannot apply these options (None when it applies all of them).

    QML Studio's engine runs every model (variational and kernel) through the Sampler: the
    runtime's resilience levels belong to the Estimator, so they would never take effect.
    The local testing mode simulates a fake device and ignores every mitigation option.
    """
    from qmls_aer.mitigation import mitigation_problem

    level = int(options.get("resilience_level") or 0)
    if level:
        return (
            f"resilience_level {level} cannot be applied: QML Studio runs models through the runtime's "
            "Sampler, which has no resilience levels (they belong to the Estimator). Use resilience_level=0"
        )
    if options.get("channel") == "local":
        ignored = [name for name in ("twirling", "dynamical_decoupling") if options.get(name)]
        if ignored:
            return (
                f"the local testing mode (channel local) cannot apply {' or '.join(ignored)}: it simulates a "
                "fake device and ignores mitigation. Turn it off, or run on real hardware"
            )
    return mitigation_problem(dict(options), exact_probabilities=False)


def _account() -> object:
    from qmls_ibm import account

    return account


@hookimpl
def qmlstudio_accounts() -> list[AccountSpec]:
    """The IBM Quantum token (system keyring), edited in Run ▸ IBM Quantum Account…."""
    return [
        AccountSpec(
            name="ibm",
            title="IBM Quantum Account…",
            factory=_account,
            description="Save, test or remove the IBM Quantum token (kept in the system keyring)",
            backend="ibm",
        )
    ]
