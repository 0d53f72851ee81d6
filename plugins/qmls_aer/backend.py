"""The Aer statevector backend: qiskit-aer's V2 primitives in exact statevector mode."""

from __future__ import annotations

from typing import Any, Iterable

from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from qmlstudio.plugins import Backend

from qmls_aer.binding import bindable_circuit


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


class AerStatevectorBackend(Backend):
    """Exact expectation values from Aer's statevector simulator, and a shot-based sampler."""

    exact = True
    shots = None

    def __init__(
        self,
        precision: str = "double",
        device: str = "CPU",
        sampler_shots: int = 1024,
        seed: int | None = None,
    ) -> None:
        self.precision = precision
        self.device = device
        self.sampler_shots = sampler_shots
        self.seed = seed

    def simulator_options(self) -> dict[str, Any]:
        """The options given to every ``AerSimulator`` this backend makes."""
        options: dict[str, Any] = {"method": "statevector", "precision": self.precision, "device": self.device}
        if self.seed is not None:
            options["seed_simulator"] = self.seed
        return options

    def simulator(self) -> AerSimulator:
        """A statevector ``AerSimulator`` with this backend's options (also the pass manager's target)."""
        return AerSimulator(**self.simulator_options())

    def estimator(self) -> ExactAerEstimator:
        """An estimator giving exact expectation values, whatever precision the caller asks for."""
        return ExactAerEstimator(options={"backend_options": self.simulator_options()})

    def sampler(self) -> AerSampler:
        """A sampler drawing ``sampler_shots`` shots per circuit unless the caller asks for others."""
        return AerSampler(
            default_shots=self.sampler_shots,
            seed=self.seed,
            options={"backend_options": self.simulator_options()},
        )

    def pass_manager(self) -> Any:
        """Level-1 preset for the simulator's target: parameterized gates stay as they are.

        Aer accepts nearly every standard gate, so only gates it lacks are translated; runs
        of fixed single-qubit gates may be merged. The simulator has no coupling map, so no
        qubits are added or swapped.
        """
        return generate_preset_pass_manager(optimization_level=1, backend=self.simulator(), seed_transpiler=0)

    def describe(self) -> str:
        return f"Aer statevector ({self.precision} precision, {self.device})"
