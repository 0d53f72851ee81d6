"""Error mitigation on the noisy backends (``aer-noise``, ``noisy-exact``), applied when a
trained run is evaluated: readout mitigation with ``mthree`` on sampled counts, and
zero-noise extrapolation with ``mitiq`` (its gate or global folding of the transpiled circuit,
its Richardson or linear extrapolation).

Both work on what the evaluator measured, so that raw and mitigated figures come from the
same shots, and both are pure functions of the outcome distributions: the evaluation's
bootstrap over shots resamples the distributions and passes each replicate through them.

* :class:`ReadoutMitigation` calibrates once per backend and set of measured qubits, with
  mthree's calibration circuits run on Aer with the device's noise model (an independent
  simulator, also for ``noisy-exact``), and corrects each row's counts
  (``M3Mitigation.apply_correction``) into mthree's quasi-probabilities, then the nearest
  probability distribution (class probabilities must be probabilities).
* :class:`ZeroNoiseExtrapolation` folds each sample's bound, transpiled circuit with mitiq at
  the scale factors (1 is the circuit itself), translates the inverses mitiq adds (``sxdg``)
  to the device's basis gates with a level-0 pass manager (which keeps every folded gate:
  nothing is cancelled), runs them on the same backend path, and extrapolates each
  expectation value to zero noise with ``RichardsonFactory.extrapolate`` or
  ``LinearFactory.extrapolate``.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from qmlstudio.core.errors import QMLStudioError

#: mthree's calibration method: "balanced" (its default on hardware) prepares bit strings
#: with each qubit in |0> and |1> equally often
CALIBRATION_METHOD = "balanced"
ZNE_METHODS = ("off", "richardson", "linear")
DEFAULT_ZNE_SCALES = "1,3,5"


def parse_scales(text: Any) -> tuple[float, ...]:
    """``"1,3,5"`` (or ``"1/3/5"``, as a backend choice's commas separate options) → ``(1.0, 3.0, 5.0)``: at least two distinct factors, each ≥ 1, starting at 1
    (the circuit as it is), increasing; raises ``ValueError`` saying what is wrong."""
    try:
        scales = tuple(float(part) for part in re.split(r"[,;/\s]+", str(text).strip()) if part)
    except ValueError:
        raise ValueError(f"zne_scales must be numbers separated by commas or slashes (like {DEFAULT_ZNE_SCALES}, or "
                         f"1/3/5 in a backend choice), got {text!r}") from None
    if len(scales) < 2:
        raise ValueError(f"zne_scales needs at least two noise scale factors to extrapolate from, got {text!r}")
    if scales[0] != 1.0 or any(b <= a for a, b in zip(scales, scales[1:])) or not all(np.isfinite(scales)):
        raise ValueError(f"zne_scales must start at 1 (the circuit as it is) and increase, like {DEFAULT_ZNE_SCALES}; "
                         f"got {text!r}")
    if scales[-1] > 21:
        raise ValueError(f"zne_scales above 21 fold a circuit more than ten times over; got {text!r}")
    return scales


def _same_scales(text: Any) -> bool | None:
    """Whether ``text`` gives the default scale factors (None: it is not valid)."""
    try:
        return parse_scales(text) == parse_scales(DEFAULT_ZNE_SCALES)
    except ValueError:
        return None


def mitigation_problem(options: dict[str, Any], *, exact_probabilities: bool) -> str | None:
    """Why these mitigation options cannot be applied on this path, or None."""
    zne = options.get("zne", "off")
    if zne == "off" and not _same_scales(options.get("zne_scales", DEFAULT_ZNE_SCALES)):
        return "zne_scales is set but zne is off, so it would never take effect: set zne=richardson or zne=linear"
    if zne == "off" and options.get("zne_folding", "global") != "global":
        return "zne_folding is set but zne is off, so it would never take effect: set zne=richardson or zne=linear"
    if zne != "off":
        try:
            scales = parse_scales(options.get("zne_scales", DEFAULT_ZNE_SCALES))
        except ValueError as exc:
            return str(exc)
        if zne == "richardson" and len(scales) > 6:
            return "Richardson extrapolation through more than 6 points overfits: give at most 6 zne_scales"
    import importlib.util

    for option, module, on in (("measure_mitigation", "mthree", bool(options.get("measure_mitigation"))),
                                ("zne", "mitiq", zne != "off")):
        if on and importlib.util.find_spec(module) is None:
            return (f"{option} needs {module}, which is not installed: pip install 'qmlstudio[mitigation]' "
                    f"(or pip install {module})")
    if options.get("measure_mitigation") and exact_probabilities:
        return ("readout mitigation (mthree) corrects sampled counts, and noisy-exact without shots gives exact "
                "probabilities: set shots (noisy-exact:DEVICE,shots=4096,measure_mitigation=true) or use aer-noise")
    if options.get("measure_mitigation") and not options.get("noise", True):
        return "readout mitigation needs the noise model: with noise=false there is no readout error to correct"
    if zne != "off" and not options.get("noise", True):
        return "zero-noise extrapolation needs the noise model: with noise=false there is no noise to scale"
    return None


def _measured_qubits(isa: Any) -> list[int]:
    """The physical qubit behind each classical bit of a transpiled circuit, in bit order (the
    last measurement into each bit; mthree's ``final_measurement_mapping`` gives the same, through
    an access qiskit deprecates)."""
    qubit_index = {bit: i for i, bit in enumerate(isa.qubits)}
    clbit_index = {bit: i for i, bit in enumerate(isa.clbits)}
    mapping = {clbit_index[item.clbits[0]]: qubit_index[item.qubits[0]]
               for item in isa.data if item.operation.name == "measure"}
    return [int(mapping[c]) for c in sorted(mapping)]


class ReadoutMitigation:
    """mthree's readout correction for one circuit's measured qubits (calibrated on creation).

    ``system`` runs mthree's calibration circuits: an Aer simulator with the device's noise
    model (``aer-noise``, ``noisy-exact`` and the IBM local testing mode), or an IBM Quantum
    device, whose calibration jobs mthree sends in ``runtime_mode`` (the run's Batch or
    Session)."""

    name = "readout"

    def __init__(self, system: Any, isa: Any, shots: int, runtime_mode: Any = None) -> None:
        import mthree

        self.qubits = _measured_qubits(isa)
        self.shots = int(shots)
        self.mitigator = mthree.M3Mitigation(system)
        self.mitigator.cals_from_system(self.qubits, shots=self.shots, method=CALIBRATION_METHOD,
                                        runtime_mode=runtime_mode, async_cal=False)
        self.circuits = calibration_circuits(len(self.qubits))

    @classmethod
    def on_noise_model(cls, noise_model: Any, isa: Any, shots: int, seed: int) -> "ReadoutMitigation":
        """Calibrated on Aer with ``noise_model`` (seeded): the calibration circuits touch only the
        measured qubits, so their errors are enough."""
        from qiskit_aer import AerSimulator

        return cls(AerSimulator(noise_model=noise_model, seed_simulator=int(seed)), isa, shots)

    def correct(self, probs: np.ndarray, shots: int) -> np.ndarray:
        """Each row's frequencies of ``shots`` shots, corrected: the nearest probability
        distribution to mthree's quasi-probabilities (rows × 2**n, qubit 0 the lowest bit)."""
        n = len(self.qubits)
        counts = np.rint(np.asarray(probs) * shots).astype(np.int64)
        dicts = [{format(int(k), f"0{n}b"): int(row[k]) for k in np.flatnonzero(row)} for row in counts]
        quasis = self.mitigator.apply_correction(dicts, self.qubits)
        out = np.zeros(counts.shape, dtype=float)
        for r, quasi in enumerate(quasis):
            for key, p in quasi.nearest_probability_distribution().items():
                out[r, int(key, 2)] = p
        return out


def calibration_circuits(num_qubits: int) -> int:
    """How many circuits mthree's calibration runs for ``num_qubits`` measured qubits."""
    from mthree.generators import HadamardGenerator

    return len(list(HadamardGenerator(num_qubits))) if CALIBRATION_METHOD == "balanced" else 2 * num_qubits


class ZeroNoiseExtrapolation:
    """mitiq's folding and extrapolation for one backend path."""

    name = "zne"

    def __init__(self, device: Any, method: str, scales: tuple[float, ...], folding: str, seed: int) -> None:
        from qiskit.transpiler import generate_preset_pass_manager

        if method not in ZNE_METHODS[1:]:
            raise QMLStudioError(f"zne must be one of {', '.join(ZNE_METHODS)}, got {method!r}")
        self.method, self.scales, self.folding, self.seed = method, tuple(scales), folding, int(seed)
        self._coefficients: np.ndarray | None = None
        # level 0: the inverses mitiq adds are translated to the basis gates and nothing is
        # cancelled or merged (a higher level would undo the folding)
        self._basis = generate_preset_pass_manager(optimization_level=0, backend=device, seed_transpiler=0)

    def fold(self, circuit: Any, scale: float, index: int) -> Any:
        """One bound, transpiled circuit folded to ``scale`` (mitiq), in the device's basis gates."""
        from mitiq.zne.scaling import fold_gates_at_random, fold_global

        if scale == 1.0:
            return circuit
        if self.folding == "global":
            folded = fold_global(circuit, scale)
        else:
            folded = fold_gates_at_random(circuit, scale, seed=self.seed + index)
        if folded.num_qubits != circuit.num_qubits or folded.num_clbits != circuit.num_clbits:
            raise QMLStudioError(f"mitiq's folding changed the circuit's width ({circuit.num_qubits} qubits, "
                                 f"{circuit.num_clbits} bits → {folded.num_qubits}, {folded.num_clbits})")
        return self._basis.run(folded)

    def collect(self, sample_circuits: Callable[[list[Any]], tuple[np.ndarray, int | None]],
                bound: list[Any]) -> list[np.ndarray]:
        """The outcome distributions of the folded circuits, one array (rows × 2**n) per scale
        factor above 1, run through ``sample_circuits`` (the evaluator's path) in one call."""
        extra = self.scales[1:]
        circuits = [self.fold(c, s, i) for s in extra for i, c in enumerate(bound)]
        probs, _ = sample_circuits(circuits)
        rows = len(bound)
        return [probs[k * rows:(k + 1) * rows] for k in range(len(extra))]

    def coefficients(self) -> np.ndarray:
        """The zero-noise value as a weighted sum of the values at the scale factors: both of
        mitiq's extrapolations (Richardson: the interpolating polynomial at 0; linear: the
        least-squares line's intercept) are linear in the values, so mitiq's ``extrapolate``
        applied to each unit vector gives the weights, once, and a batch is one product."""
        if self._coefficients is None:
            from mitiq.zne.inference import LinearFactory, RichardsonFactory

            factory = RichardsonFactory if self.method == "richardson" else LinearFactory
            self._coefficients = np.array([factory.extrapolate(list(self.scales), list(unit))
                                           for unit in np.eye(len(self.scales))], dtype=float)
        return self._coefficients

    def extrapolate(self, values: list[np.ndarray]) -> np.ndarray:
        """Each expectation value (rows × k) at every scale, extrapolated to zero noise."""
        return np.tensordot(self.coefficients(), np.stack(values), axes=1)


class Mitigated:
    """The error-mitigation options of a backend (``measure_mitigation``, ``calibration_shots``,
    ``zne``, ``zne_scales``, ``zne_folding``), applied when a trained run is evaluated.

    A backend mixes it in, calls :meth:`_set_mitigation` and says how readout mitigation is
    calibrated (:meth:`_readout_mitigation`), which device the folded circuits are translated
    to (:meth:`_zne_device`) and where seeds come from (:meth:`_mitigation_seed`).
    """

    measure_mitigation = False
    calibration_shots = 10_000
    zne = "off"
    zne_scales = DEFAULT_ZNE_SCALES
    zne_folding = "global"

    def _set_mitigation(self, measure_mitigation: bool, calibration_shots: int, zne: str, zne_scales: str,
                        zne_folding: str) -> None:
        self.measure_mitigation = bool(measure_mitigation)
        self.calibration_shots = int(calibration_shots)
        self.zne = str(zne)
        self.zne_scales = str(zne_scales)
        self.zne_folding = str(zne_folding)
        self._readout: dict[tuple[int, ...], ReadoutMitigation] = {}

    def mitigation_options(self) -> dict[str, Any]:
        """The error mitigation asked for ({} when none): applied when a trained run is evaluated."""
        found: dict[str, Any] = {}
        if self.measure_mitigation:
            found["readout"] = {"library": "mthree", "method": "M3Mitigation.apply_correction, nearest probability "
                                "distribution", "calibration": CALIBRATION_METHOD, "calibration_shots": self.calibration_shots}
        if self.zne != "off":
            found["zne"] = {"library": "mitiq", "extrapolation": self.zne, "scales": list(parse_scales(self.zne_scales)),
                            "folding": "fold_global" if self.zne_folding == "global" else "fold_gates_at_random"}
        return found

    def training_problem(self) -> str | None:
        """Why this backend cannot train as configured: mitigation applies to evaluation only."""
        if self.mitigation_options():
            return ("error mitigation (measure_mitigation, zne) is applied when a trained run is evaluated "
                    "(qmlstudio evaluate, or Evaluate on… in the window), not while training: train without it, "
                    "then evaluate the run on this backend with it")
        return None

    def mitigations(self, evaluator: Any) -> list[Any]:
        """The mitigations to apply to ``evaluator``'s circuit (calibrating readout mitigation
        once per set of measured qubits)."""
        found: list[Any] = []
        if self.measure_mitigation:
            key = tuple(_measured_qubits(evaluator.circuit))
            if key not in self._readout:
                self._readout[key] = self._readout_mitigation(evaluator.circuit)
            found.append(self._readout[key])
        if self.zne != "off":
            found.append(ZeroNoiseExtrapolation(self._zne_device(), self.zne, parse_scales(self.zne_scales),
                                                self.zne_folding, self._mitigation_seed()))
        return found

    def mitigation_cost(self, rows: int, measured_qubits: int) -> dict[str, int]:
        """What the mitigations add when ``rows`` samples are evaluated: ZNE's folded circuits
        (one per sample and scale factor above 1, at the evaluation's shots) and mthree's
        calibration circuits and shots."""
        cost: dict[str, int] = {}
        if self.zne != "off":
            cost["zne_circuits"] = int(rows) * (len(parse_scales(self.zne_scales)) - 1)
        if self.measure_mitigation:
            circuits = calibration_circuits(int(measured_qubits))
            cost["calibration_circuits"] = circuits
            cost["calibration_shots"] = circuits * self.calibration_shots
        return cost

    def _readout_mitigation(self, isa: Any) -> ReadoutMitigation:
        raise NotImplementedError

    def _zne_device(self) -> Any:
        raise NotImplementedError

    def _mitigation_seed(self) -> int:
        raise NotImplementedError
