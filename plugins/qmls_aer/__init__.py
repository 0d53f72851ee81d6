"""The Aer backends of QML Studio, registered through the ``qmlstudio`` entry point.

* ``aer-statevector``: exact expectation values from Aer's statevector method, through its
  ``EstimatorV2`` (training uses parameter-shift gradients); bitstrings from its ``SamplerV2``
  (the default backend is ``statevector``, QML Studio's own simulator: :mod:`qmls_statevector`);
* ``aer-shots``: sampling with a number of shots and a seed;
* ``aer-noise``: the noise model, coupling map and basis gates of a fake IBM device from
  qiskit-ibm-runtime's ``fake_provider``, all offline.

All three use qiskit-aer's V2 primitives and offer ``device=GPU`` where qiskit-aer's GPU
build and a GPU are present (:func:`device_options` says why not otherwise).

Listing them is cheap: the availability checks only look for the packages, and the
modules that import qiskit-aer or qiskit-ibm-runtime are loaded only when a backend is
created or the GUI asks for details (:func:`describe_devices`, :func:`device_options`).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from qmlstudio.plugins import BackendSpec, Option, hookimpl

__all__ = [
    "device_reasons",
    "FAKE_DEVICES",
    "aer_unavailable",
    "describe_devices",
    "device_options",
    "mitigation_options",
    "noise_unavailable",
    "qmlstudio_backends",
]

#: The fake IBM devices of qiskit-ibm-runtime 0.51's ``fake_provider`` (``backend.name``;
#: ``fake_fractional``, a test device for fractional gates, left out), checked against the
#: real module by tests/plugins/test_backends.py. Stored in project files, so a name that a
#: later qiskit-ibm-runtime drops gives a clear error when the backend is created.
FAKE_DEVICES: tuple[str, ...] = (
    "fake_aachen", "fake_algiers", "fake_almaden", "fake_armonk", "fake_athens",
    "fake_auckland", "fake_belem", "fake_berlin", "fake_boeblingen", "fake_bogota",
    "fake_boston", "fake_brisbane", "fake_brooklyn", "fake_brussels", "fake_burlington",
    "fake_cairo", "fake_cambridge", "fake_casablanca", "fake_cusco", "fake_essex", "fake_fez",
    "fake_geneva", "fake_guadalupe", "fake_hanoi", "fake_jakarta", "fake_johannesburg",
    "fake_kawasaki", "fake_kingston", "fake_kolkata", "fake_kyiv", "fake_kyoto", "fake_lagos",
    "fake_lima", "fake_london", "fake_manhattan", "fake_manila", "fake_marrakesh",
    "fake_melbourne", "fake_miami", "fake_montreal", "fake_mumbai", "fake_nairobi",
    "fake_nighthawk", "fake_osaka", "fake_oslo", "fake_ourense", "fake_paris", "fake_peekskill",
    "fake_perth", "fake_pittsburgh", "fake_poughkeepsie", "fake_prague", "fake_quebec",
    "fake_quito", "fake_rochester", "fake_rome", "fake_santiago", "fake_sherbrooke",
    "fake_singapore", "fake_strasbourg", "fake_sydney", "fake_torino", "fake_toronto",
    "fake_valencia", "fake_vigo", "fake_washington", "fake_yorktown",
)


def aer_unavailable() -> str | None:
    """Why the Aer backends cannot be used here (``None`` when qiskit-aer is installed)."""
    if importlib.util.find_spec("qiskit_aer") is None:
        return "qiskit-aer is not installed (pip install qiskit-aer)"
    return None


def noise_unavailable() -> str | None:
    """Why ``aer-noise`` cannot be used: it needs qiskit-aer and qiskit-ibm-runtime's device models."""
    reason = aer_unavailable()
    if reason:
        return reason
    if importlib.util.find_spec("qiskit_ibm_runtime") is None:
        return (
            "qiskit-ibm-runtime is not installed: the device models come from its fake_provider "
            "(pip install 'qmlstudio[ibm]' or pip install qiskit-ibm-runtime)"
        )
    return None


def describe_devices() -> list[dict[str, Any]]:
    """Each fake device's name, qubits, basis gates and two-qubit gates, for the device list.

    Imports qiskit-ibm-runtime (the GUI calls it when the list is opened, not at listing).
    """
    from qmls_aer.devices import describe_devices as describe

    return describe()


def device_options() -> tuple[tuple[str, ...], dict[str, str | None]]:
    """``(choices, reasons)`` for the ``device`` option: ``reasons[choice]`` is None when usable.

    ``GPU`` is always a choice; its reason says why it is disabled here ("qiskit-aer was
    built without GPU support", "no GPU found"). Imports qiskit-aer.
    """
    from qmls_aer.gpu import device_options as options

    return options()


def device_reasons() -> dict[str, dict[str, str | None]]:
    """``{"device": {choice: reason}}`` for the settings window: the devices that cannot be used here.

    A check that fails disables GPU with its message. Imports qiskit-aer.
    """
    try:
        return {"device": dict(device_options()[1])}
    except Exception as exc:  # noqa: BLE001 - a broken check disables GPU with its message
        return {"device": {"GPU": f"the device check failed: {exc}"}}


def _device_option() -> Option:
    return Option(
        "device",
        "choice",
        "CPU",
        title="Device",
        help="Where the simulation runs. GPU needs qiskit-aer's GPU build (qiskit-aer-gpu) and an "
        "NVIDIA GPU; the GUI shows it disabled with the reason otherwise",
        choices=("CPU", "GPU"),
    )


def _precision_option() -> Option:
    return Option(
        "precision",
        "choice",
        "double",
        title="Precision",
        help="Floating-point precision of the state: single halves the memory and is faster "
        "(mostly on GPUs), with values accurate to about 1e-6",
        choices=("double", "single"),
    )


def _seed_option(what: str) -> Option:
    return Option(
        "seed",
        "int",
        None,
        title="Random seed",
        help=f"Seed of {what}; the same seed gives the same results. Empty for a fresh seed each run",
        minimum=0,
        maximum=2**32 - 1,
        nullable=True,
    )


def _shots_option(default: int = 1024) -> Option:
    return Option(
        "shots",
        "int",
        default,
        title="Shots",
        help="Measurements per circuit: the statistical error of a probability is about 1/(2·√shots)",
        minimum=1,
        maximum=10_000_000,
    )


def _fake_backend_option() -> Option:
    return Option("fake_backend", "choice", "fake_manila", title="Device model",
                  help="The fake IBM device whose calibration gives the noise model, coupling map and basis gates",
                  choices=FAKE_DEVICES)


def _optimization_level_option() -> Option:
    return Option("optimization_level", "int", 1, title="Transpiler level",
                  help="Preset pass manager level: 0 maps only, 1 (default) picks a good layout and merges gates, "
                  "2 and 3 try harder", minimum=0, maximum=3)


def _noise_option() -> Option:
    return Option("noise", "bool", True, title="Apply noise",
                  help="Off: only the device's coupling map and basis gates (to tell transpiling effects from noise)")


def mitigation_options(calibrated_on: str = "the device's noise model") -> tuple[Option, ...]:
    """Error mitigation, applied when a trained run is evaluated (see :mod:`qmls_aer.mitigation`);
    the IBM backend offers the same options."""
    return (
        Option("measure_mitigation", "bool", False, title="Readout mitigation (mthree)",
               help="Correct the measured counts for the device's readout errors with mthree, calibrated on "
               f"{calibrated_on}; reported next to the raw figures when a run is evaluated"),
        Option("calibration_shots", "int", 10_000, title="Calibration shots",
               help="Shots per mthree calibration circuit (readout mitigation)", minimum=100, maximum=1_000_000),
        Option("zne", "choice", "off", title="Zero-noise extrapolation (mitiq)", choices=("off", "richardson", "linear"),
               help="Fold each circuit to larger noise with mitiq and extrapolate the expectation values to zero "
               "noise (Richardson or a linear fit); reported next to the raw figures when a run is evaluated"),
        Option("zne_scales", "str", "1,3,5", title="ZNE scale factors",
               help="Noise scale factors, from 1 (the circuit as it is), e.g. 1,3,5: each adds one folded circuit "
               "per sample"),
        Option("zne_folding", "choice", "global", title="ZNE folding", choices=("global", "gates"),
               help="global: the whole circuit folded (mitiq fold_global); gates: gates chosen at random "
               "(fold_gates_at_random, seeded)"),
    )


def _noisy_shots_option() -> Option:
    return Option("shots", "int", None, title="Shots", nullable=True, minimum=1, maximum=10_000_000,
                  help="Empty: exact probabilities. A number: that many shots drawn from the exact probabilities "
                  "(seeded) when a trained run is evaluated, as a device would measure them")


def refuse_noise_mitigation(options: Any) -> str | None:
    """aer-noise: mitigation options that cannot take effect."""
    from qmls_aer.mitigation import mitigation_problem

    return mitigation_problem(dict(options), exact_probabilities=False)


def refuse_exact_mitigation(options: Any) -> str | None:
    """noisy-exact: as aer-noise, and readout mitigation only with shots (it corrects counts)."""
    from qmls_aer.mitigation import mitigation_problem

    return mitigation_problem(dict(options), exact_probabilities=not options.get("shots"))


@hookimpl
def qmlstudio_backends() -> list[BackendSpec]:
    """The built-in Aer backends."""
    return [
        BackendSpec(
            name="aer-statevector",
            title="Aer statevector (exact)",
            factory="qmls_aer.backend:AerStatevectorBackend",
            description="qiskit-aer's statevector simulator through its V2 primitives: exact expectation "
            "values (EstimatorV2), no shot noise; gradients by parameter shift, two circuits per angle. "
            "Slower than the statevector backend (QML Studio's own simulator), useful to check it or to "
            "run on a GPU. Memory doubles with each qubit (30 qubits ≈ 16 GB)",
            available=aer_unavailable,
            choice_reasons=device_reasons,
            options=(
                _precision_option(),
                _device_option(),
                Option(
                    "sampler_shots",
                    "int",
                    1024,
                    title="Sampler shots",
                    help="Shots per circuit when bitstrings are sampled (expectation values stay exact)",
                    minimum=1,
                    maximum=10_000_000,
                ),
                _seed_option("the sampler's shots"),
                Option(
                    "threads",
                    "int",
                    None,
                    title="Threads",
                    help="CPU threads of Aer's simulator (max_parallel_threads). Empty: Aer's choice, "
                    "every core",
                    minimum=1,
                    maximum=1024,
                    nullable=True,
                ),
            ),
        ),
        BackendSpec(
            name="aer-shots",
            title="Aer with shots",
            factory="qmls_aer.backend:AerShotsBackend",
            description="qiskit-aer sampling a number of shots per circuit, as hardware does but "
            "without noise: gradients come from parameter shifts and carry shot noise",
            available=aer_unavailable,
            choice_reasons=device_reasons,
            positional="shots",
            options=(_shots_option(), _seed_option("the shots"), _precision_option(), _device_option()),
        ),
        BackendSpec(
            name="aer-noise",
            title="Aer with a device noise model",
            factory="qmls_aer.backend:AerNoiseBackend",
            description="qiskit-aer with the noise model of a fake IBM device (qiskit-ibm-runtime's "
            "fake_provider); circuits are transpiled to the device's coupling map and basis gates. Offline",
            available=noise_unavailable,
            choice_reasons=device_reasons,
            positional="fake_backend",
            options=(
                _fake_backend_option(),
                _shots_option(),
                _seed_option("the shots and the noise"),
                _optimization_level_option(),
                _noise_option(),
                _precision_option(),
                _device_option(),
                *mitigation_options(),
            ),
            refuse=refuse_noise_mitigation,
        ),
        BackendSpec(
            name="noisy-exact",
            title="Exact noisy simulator (density matrices)",
            factory="qmls_aer.backend:NoisyExactBackend",
            description="A fake IBM device's noise model simulated exactly: circuits are transpiled to the "
            "device as aer-noise does, then the whole batch runs as density matrices through each gate's "
            "error channel, with the readout errors on the probabilities. No shot noise; exact gradients in "
            "one backward pass through the channels, instead of two noisy shot circuits per angle. Up to "
            "12 active qubits (a density matrix holds 4^n numbers per sample). Offline",
            available=noise_unavailable,
            positional="fake_backend",
            options=(
                _fake_backend_option(),
                _seed_option("the transpiler's layout, the shots and the calibration"),
                _optimization_level_option(),
                _noise_option(),
                _noisy_shots_option(),
                *mitigation_options(),
            ),
            refuse=refuse_exact_mitigation,
        ),
    ]
