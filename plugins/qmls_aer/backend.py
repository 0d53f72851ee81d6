"""The Aer backends: qiskit-aer's V2 primitives, exact, with shots, or with a device's noise.

Every primitive here unrolls parameterized controlled gates first (see
:mod:`qmls_aer.binding`, Qiskit/qiskit-aer#2323). On the CPU, experiments (the parameter
bindings of a PUB) run in parallel: Aer otherwise runs them one by one, and a
parameter-shift batch of a few hundred bindings takes five times longer.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers import ObservablesArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from qmlstudio.plugins import Backend

from qmls_aer.binding import bindable_circuit
from qmls_aer.gpu import check_device
from qmls_aer.mitigation import Mitigated


class ExactAerEstimator(EstimatorV2):
    """Aer's ``EstimatorV2`` that always returns exact expectation values.

    Aer adds Gaussian noise of the requested precision to its exact values, and callers
    such as qiskit-machine-learning's ``EstimatorQNN`` request 1/64. An exact backend
    ignores the request: every pub runs with precision 0 and reports standard errors of 0.
    Circuits with parameterized controlled gates are unrolled first (see
    :mod:`qmls_aer.binding`).
    """

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        exact = []
        for pub in pubs:
            coerced = EstimatorPub.coerce(pub)
            exact.append(
                EstimatorPub(
                    circuit=bindable_circuit(coerced.circuit),
                    observables=coerced.observables,
                    parameter_values=coerced.parameter_values,
                    precision=0.0,
                    validate=False,
                )
            )
        return super().run(exact, precision=0.0)


class AerSampler(SamplerV2):
    """Aer's ``SamplerV2``, with circuits holding parameterized controlled gates unrolled first."""

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        fixed = []
        for pub in pubs:
            coerced = SamplerPub.coerce(pub)
            circuit = bindable_circuit(coerced.circuit)
            if circuit is not coerced.circuit:
                coerced = SamplerPub(circuit, coerced.parameter_values, coerced.shots, validate=False)
            fixed.append(coerced)
        return super().run(fixed, shots=shots)


class ShotAerEstimator(EstimatorV2):
    """Aer's ``EstimatorV2`` for shot-based backends: bindable circuits, idle qubits dropped.

    Without a requested precision, each value carries the Gaussian error of the backend's
    shots (``default_precision`` = 1/√shots). Qubits that no gate touches and no observable
    measures are removed before simulating, so an ISA circuit on a 127-qubit device model
    costs what its few active qubits cost (Aer cannot drop them itself: it saves the
    expectation value over every qubit of the circuit).
    """

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> Any:
        if precision is None:
            precision = self.options.default_precision
        fixed = []
        for pub in pubs:
            coerced = EstimatorPub.coerce(pub, precision)
            circuit, observables = _without_idle_qubits(bindable_circuit(coerced.circuit), coerced.observables)
            fixed.append(
                EstimatorPub(
                    circuit=circuit,
                    observables=observables,
                    parameter_values=coerced.parameter_values,
                    precision=coerced.precision,
                    validate=False,
                )
            )
        return super().run(fixed, precision=precision)


def _without_idle_qubits(circuit: QuantumCircuit, observables: ObservablesArray) -> tuple[QuantumCircuit, ObservablesArray]:
    """The circuit and observables restricted to the qubits gates act on or observables measure."""
    used: set[int] = set()
    for instruction in circuit.data:
        if instruction.operation.name in ("barrier", "delay"):
            continue
        used.update(circuit.find_bit(q).index for q in instruction.qubits)
    terms = [obs for obs in observables.ravel()]
    for obs in terms:
        for label in obs:
            used.update(i for i, char in enumerate(reversed(label)) if char != "I")
    if len(used) == circuit.num_qubits:
        return circuit, observables
    keep = sorted(used)
    index = {old: new for new, old in enumerate(keep)}
    compact = QuantumCircuit(max(len(keep), 1), circuit.num_clbits, name=circuit.name, global_phase=circuit.global_phase)
    compact.metadata = dict(circuit.metadata or {})
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if any(q not in index for q in qubits):
            continue  # a barrier or delay on an idle qubit
        clbits = [compact.clbits[circuit.find_bit(c).index] for c in instruction.clbits]
        compact.append(instruction.operation, [compact.qubits[index[q]] for q in qubits], clbits)
    reduced = []
    for obs in terms:
        table: dict[str, complex] = {}
        for label, coefficient in obs.items():
            reversed_label = label[::-1]
            short = "".join(reversed_label[q] for q in keep)[::-1] or "I"
            table[short] = table.get(short, 0) + coefficient
        reduced.append(table)
    shaped = np.empty(len(reduced), dtype=object)
    shaped[:] = reduced
    return compact, ObservablesArray(shaped.reshape(observables.shape), num_qubits=compact.num_qubits)


class _AerBackend(Backend):
    """What the Aer backends share: precision, device and seed."""

    method = "statevector"

    def __init__(self, precision: str = "double", device: str = "CPU", seed: int | None = None) -> None:
        self.precision = precision
        self.device = check_device(device)
        self.seed = seed
        #: the seed actually used: the given one, or one drawn here when none was given, so
        #: that an unseeded run still records (and can repeat) the shots it drew
        self.seed_used = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**32)
        # Each primitive made gets the next seed of this stream: a run repeats exactly with
        # the same seed, while successive batches draw independent shots.
        self._seeds = np.random.default_rng(self.seed_used)

    def next_seed(self) -> int:
        """A seed for the next primitive, from the stream of :attr:`seed_used`."""
        return int(self._seeds.integers(0, 2**31 - 1))

    def transpiler_seed(self) -> int:
        """The seed of the pass manager (0: the simulator has no coupling map to lay out on)."""
        return 0

    def applied_options(self) -> dict[str, Any]:
        """What this backend applies to every circuit it runs, for the run's record."""
        return {"simulator": "aer", "method": self.method, "precision": self.precision, "device": self.device,
                "shots": self.shots, "mitigation": None}

    def random_seeds(self) -> dict[str, int | None]:
        """The seed of each random source this backend uses (a drawn one when none was given)."""
        return {"shots": int(self.seed_used), "transpiler": self.transpiler_seed()}

    def simulator_options(self) -> dict[str, Any]:
        """The options given to every ``AerSimulator`` this backend makes."""
        options: dict[str, Any] = {"method": self.method, "precision": self.precision, "device": self.device}
        if self.device == "CPU":
            options["max_parallel_experiments"] = 0  # as many as the cores and memory allow
        return options

    def simulator(self) -> AerSimulator:
        """An ``AerSimulator`` with this backend's options (also the pass manager's target)."""
        return AerSimulator(**self.simulator_options())

    def pass_manager(self) -> Any:
        """Level-1 preset for the simulator's target: parameterized gates stay as they are.

        Aer accepts nearly every standard gate, so only gates it lacks are translated; runs
        of fixed single-qubit gates may be merged. The simulator has no coupling map, so no
        qubits are added or swapped.
        """
        return generate_preset_pass_manager(optimization_level=1, backend=self.simulator(),
                                            seed_transpiler=self.transpiler_seed())

    def _hardware(self) -> str:
        return f"{self.precision} precision, {self.device}"


class AerStatevectorBackend(_AerBackend):
    """Exact expectation values from Aer's statevector simulator, and a shot-based sampler."""

    exact = True
    shots = None

    def __init__(
        self,
        precision: str = "double",
        device: str = "CPU",
        sampler_shots: int = 1024,
        seed: int | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__(precision, device, seed)
        self.sampler_shots = sampler_shots
        #: CPU threads of Aer's simulator (None: Aer's choice)
        self.threads = threads

    def simulator_options(self) -> dict[str, Any]:
        options = super().simulator_options()
        options["seed_simulator"] = self.seed_used
        if self.threads is not None:
            options["max_parallel_threads"] = self.threads
        return options

    def applied_options(self) -> dict[str, Any]:
        return {**super().applied_options(), "shots": None, "sampler_shots": self.sampler_shots,
                "expectation_values": "exact", "threads": self.threads}

    def random_seeds(self) -> dict[str, int | None]:
        # Only the sampler draws shots (parameter-shift gradients, sampled kernels).
        return {"sampler_shots": int(self.seed_used), "transpiler": self.transpiler_seed()}

    def estimator(self) -> ExactAerEstimator:
        """An estimator giving exact expectation values, whatever precision the caller asks for."""
        return ExactAerEstimator(options={"backend_options": self.simulator_options()})

    def sampler(self) -> AerSampler:
        """A sampler drawing ``sampler_shots`` shots per circuit unless the caller asks for others."""
        return AerSampler(
            default_shots=self.sampler_shots,
            seed=self.next_seed(),
            options={"backend_options": self.simulator_options()},
        )

    def describe(self) -> str:
        return f"Aer statevector ({self._hardware()})"


class AerShotsBackend(_AerBackend):
    """Aer sampling ``shots`` measurements per circuit: shot noise, no device noise."""

    exact = False

    def __init__(
        self,
        shots: int = 1024,
        seed: int | None = None,
        precision: str = "double",
        device: str = "CPU",
    ) -> None:
        super().__init__(precision, device, seed)
        self.shots = int(shots)

    def estimator(self) -> ShotAerEstimator:
        """Expectation values with the Gaussian error of ``shots`` shots (1/√shots)."""
        run_options = {"seed_simulator": self.next_seed()}
        return ShotAerEstimator(
            options={
                "default_precision": 1 / math.sqrt(self.shots),
                "backend_options": self.simulator_options(),
                "run_options": run_options,
            }
        )

    def sampler(self) -> AerSampler:
        """A sampler drawing ``shots`` shots per circuit unless the caller asks for others."""
        return AerSampler(
            default_shots=self.shots,
            seed=self.next_seed(),
            options={"backend_options": self.simulator_options()},
        )

    def describe(self) -> str:
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"Aer with {self.shots} shots ({self._hardware()}{seed})"


class AerNoiseBackend(Mitigated, _AerBackend):
    """Aer with a fake IBM device's noise model; circuits are transpiled to the device.

    The pass manager is qiskit's level-``optimization_level`` preset for the device (its
    coupling map, basis gates and error rates choose the layout), so circuits reach the
    primitives as the device would run them. With ``noise=False`` only the transpiling
    applies, which tells its effects from those of the noise.
    """

    exact = False
    method = "automatic"  # Aer picks the density matrix for the few qubits of a noisy circuit

    def __init__(
        self,
        fake_backend: str = "fake_manila",
        shots: int = 1024,
        seed: int | None = None,
        optimization_level: int = 1,
        noise: bool = True,
        precision: str = "double",
        device: str = "CPU",
        measure_mitigation: bool = False,
        calibration_shots: int = 10_000,
        zne: str = "off",
        zne_scales: str = "1,3,5",
        zne_folding: str = "global",
    ) -> None:
        from qmls_aer.devices import fake_backend as load

        super().__init__(precision, device, seed)
        self.fake_backend = fake_backend
        self.shots = None if shots is None else int(shots)
        self.optimization_level = int(optimization_level)
        self.noise = bool(noise)
        self._set_mitigation(measure_mitigation, calibration_shots, zne, zne_scales, zne_folding)
        self.device_model = load(fake_backend)
        self._noise_model: Any = None
        self._simulator: AerSimulator | None = None
        self._channels: dict[Any, Any] = {}  # the noise model's error channels, made once (noisy_program)
        self._active_models: dict[tuple[int, ...], Any] = {}  # noise models on the qubits circuits touch

    def _readout_mitigation(self, isa: Any) -> Any:
        """mthree calibrated on Aer with the device's noise model on the measured qubits."""
        from qmls_aer.mitigation import ReadoutMitigation, _measured_qubits

        model = self.active_noise_model(_measured_qubits(isa))
        return ReadoutMitigation.on_noise_model(model, isa, self.calibration_shots, self.next_seed())

    def _zne_device(self) -> Any:
        return self.device_model

    def _mitigation_seed(self) -> int:
        return int(self.next_seed())

    @property
    def num_device_qubits(self) -> int:
        return int(self.device_model.num_qubits)

    def noise_model(self) -> Any:
        """The device's noise model (None with ``noise=False``), built once."""
        if not self.noise:
            return None
        if self._noise_model is None:
            from qiskit_aer.noise import NoiseModel

            self._noise_model = NoiseModel.from_backend(self.device_model)
        return self._noise_model

    def active_noise_model(self, qubits: Any) -> Any:
        """The device's noise model on ``qubits`` alone (None with ``noise=False``): the full
        model's errors there, made without building the rest
        (:func:`qmls_aer.noisy_exact.device_noise_model`); the full one when it is already built."""
        if not self.noise:
            return None
        if self._noise_model is not None:
            return self._noise_model
        from qmls_aer.noisy_exact import device_noise_model

        key = tuple(sorted(int(q) for q in qubits))
        if key not in self._active_models:
            self._active_models[key] = device_noise_model(self.device_model, key)
        return self._active_models[key]

    def simulator_options(self) -> dict[str, Any]:
        options = super().simulator_options()
        model = self.noise_model()
        if model is not None:
            options["noise_model"] = model
        return options

    def simulator(self) -> AerSimulator:
        """The noisy simulator (shared by this backend's samplers)."""
        if self._simulator is None:
            self._simulator = AerSimulator(**self.simulator_options())
        return self._simulator

    def sampler(self) -> AerSampler:
        """A sampler of the noisy device, drawing ``shots`` shots per circuit unless asked for others."""
        return AerSampler.from_backend(self.simulator(), default_shots=self.shots, seed=self.next_seed())

    def estimator(self) -> ShotAerEstimator:
        """Noisy expectation values (density matrix) with the Gaussian error of ``shots`` shots.

        Give it ISA circuits (from :meth:`pass_manager`) and observables laid out on them
        (``observable.apply_layout(isa.layout)``), as for hardware.
        """
        options = {**self.simulator_options(), "method": "density_matrix"}
        run_options = {"seed_simulator": self.next_seed()}
        return ShotAerEstimator(
            options={
                "default_precision": 1 / math.sqrt(self.shots),
                "backend_options": options,
                "run_options": run_options,
            }
        )

    def pass_manager(self) -> Any:
        """The preset pass manager for the device: its layout, routing and basis gates."""
        return generate_preset_pass_manager(
            optimization_level=self.optimization_level,
            backend=self.device_model,
            seed_transpiler=self.transpiler_seed(),
        )

    def transpiler_seed(self) -> int:
        """The seed of the device's layout and routing (0 unless a seed is given)."""
        return 0 if self.seed is None else int(self.seed)

    def applied_options(self) -> dict[str, Any]:
        return {**super().applied_options(), "fake_backend": self.fake_backend, "noise_model": self.noise,
                "optimization_level": self.optimization_level, "mitigation": self.mitigation_options() or None}

    def describe(self) -> str:
        noise = "noise model" if self.noise else "layout and basis only, no noise"
        seed = "" if self.seed is None else f", seed {self.seed}"
        return (
            f"Aer with {self.fake_backend} ({self.num_device_qubits} qubits, {noise}), "
            f"{self.shots} shots ({self._hardware()}{seed})"
        )


class NoisyExactBackend(AerNoiseBackend):
    """The device's noise model simulated exactly (:mod:`qmls_aer.noisy_exact`): the engine runs
    the transpiled circuit as batched density matrices and differentiates through the channels.
    The primitives (for Evaluate on… and parameter shift) are aer-noise's."""

    exact_noisy = True

    def __init__(self, fake_backend: str = "fake_manila", seed: int | None = None, optimization_level: int = 1,
                 noise: bool = True, shots: int | None = None, measure_mitigation: bool = False,
                 calibration_shots: int = 10_000, zne: str = "off", zne_scales: str = "1,3,5",
                 zne_folding: str = "global") -> None:
        super().__init__(fake_backend=fake_backend, seed=seed, optimization_level=optimization_level, noise=noise,
                         shots=shots, measure_mitigation=measure_mitigation, calibration_shots=calibration_shots,
                         zne=zne, zne_scales=zne_scales, zne_folding=zne_folding)

    def training_problem(self) -> str | None:
        if self.shots:
            return ("noisy-exact trains on exact probabilities and exact gradients; its shots apply when a trained "
                    "run is evaluated: train without shots (or on aer-noise for shot-faithful training)")
        return super().training_problem()

    def noisy_program(self, isa: Any) -> Any:
        """``(program, angles, active, measured)`` of :func:`qmls_aer.noisy_exact.noisy_program`,
        under the device's noise model on the qubits the circuit touches
        (:meth:`active_noise_model`)."""
        from qmls_aer.noisy_exact import active_qubits, noisy_program

        return noisy_program(isa, self.active_noise_model(active_qubits(isa)), self._channels)

    def applied_options(self) -> dict[str, Any]:
        return {"fake_backend": self.fake_backend, "noise_model": self.noise, "optimization_level": self.optimization_level,
                "method": "density matrices (QML Studio), exact", "shots": self.shots,
                "mitigation": self.mitigation_options() or None}

    def random_seeds(self) -> dict[str, int | None]:
        seeds: dict[str, int | None] = {"transpiler": self.transpiler_seed()}
        if self.shots or self.measure_mitigation or self.zne_folding == "gates":
            seeds["shots"] = int(self.seed_used)
        return seeds

    def describe(self) -> str:
        noise = "noise model" if self.noise else "layout and basis only, no noise"
        shots = f", {self.shots} shots drawn from the exact probabilities" if self.shots else ""
        return (f"exact density matrices of {self.fake_backend} ({noise}, transpiler level {self.optimization_level}"
                f"{shots})")
