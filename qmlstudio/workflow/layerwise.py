"""Layerwise training (Skolik et al., *Quantum Mach. Intell.* 3, 5 (2021)): the ansatz grows a
layer at a time.

Phase ``p`` trains the project's template ansatz with ``p`` repetitions. It starts from the
previous phase's final weights, the new layer's weights at 0 (the rotations of a new layer
start as the identity), and by default trains only the new layer: the weights trained before
keep their values (:attr:`~qmlstudio.core.training.TrainingOptions.frozen`). An optional last
phase trains every weight of the full-depth circuit. Each phase is an ordinary run of the
project, recorded with its place in the schedule (``config["layerwise"]``); the classical
baselines are fitted once, in the last phase.

This needs a template whose deeper circuits begin with the shallower ones, gate for gate and
weight for weight (``real-amplitudes``, ``efficient-su2`` and the other built-ins), a circuit
that is the template's own (not edited by hand), an encoding that is not repeated
(re-uploading interleaves the layers) and an optimizer that follows the gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice, Project


@dataclass
class Phase:
    """One phase of the schedule: its project (the template with ``layers`` repetitions), its
    epochs, and whether it trains only the new layer."""

    index: int
    layers: int
    epochs: int
    only_new: bool
    project: Project


def _gates(design: Any) -> list[tuple[Any, ...]]:
    return [(g.name, g.qubits, tuple(str(a) for a in g.params)) for g in design.gates]  # as the template adds them


def phases(project: Project, registry: Any, epochs_per_layer: int, final_epochs: int = 0) -> list[Phase]:
    """The schedule for ``project``: one phase per repetition of its template ansatz, then (with
    ``final_epochs``) the full circuit with every weight trained. Refused, with the reason, when
    the project cannot be grown layer by layer."""
    if epochs_per_layer < 1:
        raise QMLStudioError("layerwise training needs at least 1 epoch per layer")
    if final_epochs < 0:
        raise QMLStudioError("the last phase's epochs must be 0 or more")
    if project.model.kind == "kernel":
        raise QMLStudioError("a kernel model has no layers to grow")
    if project.ansatz is None:
        raise QMLStudioError("layerwise training grows a template ansatz; this circuit is drawn by hand")
    spec = registry.get("ansatze", project.ansatz.name)
    options = spec.resolve(project.ansatz.options)
    reps = options.get("reps")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise QMLStudioError(f"layerwise training needs an ansatz with a 'reps' option; {project.ansatz.name} has none")
    optimizer = registry.get("optimizers", project.optimizer.name)
    if not getattr(optimizer, "uses_gradient", True):
        raise QMLStudioError(f"layerwise training keeps the earlier layers still through their gradient: "
                             f"{project.optimizer.name} does not use one; choose a gradient optimizer such as adam")
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    if int(getattr(encoder, "repetitions", 1) or 1) != 1:
        raise QMLStudioError("layerwise training needs an encoding that is not repeated (re-uploading interleaves "
                             "the ansatz's layers with the data)")
    qubits = project.circuit.num_qubits
    if _gates(spec.create(options).build(qubits)) != _gates(project.circuit):
        raise QMLStudioError(f"the circuit is not the {project.ansatz.name} template's own (it was edited): "
                             "layerwise training rebuilds the template layer by layer")
    schedule: list[Phase] = []
    previous: list[tuple[Any, ...]] = []
    for layers in range(1, reps + 1):
        copy = _with_layers(project, spec, options, layers, qubits)
        gates = _gates(copy.circuit)
        if gates[: len(previous)] != previous:
            raise QMLStudioError(f"the {project.ansatz.name} template's {layers}-layer circuit does not begin with its "
                                 f"{layers - 1}-layer one: it cannot be grown layer by layer")
        previous = gates
        schedule.append(Phase(len(schedule) + 1, layers, epochs_per_layer, layers > 1, copy))
    if final_epochs:
        schedule.append(Phase(len(schedule) + 1, reps, final_epochs, False, _with_layers(project, spec, options, reps, qubits)))
    return schedule


def _with_layers(project: Project, spec: Any, options: dict[str, Any], layers: int, qubits: int) -> Project:
    # the settings only, as the training process gets them (not every run serialised and dropped:
    # the window asks for the schedule on its own thread)
    copy = Project.from_dict({"schema_version": 1, "name": project.name, **project.config_snapshot()})
    object.__setattr__(copy, "path", project.path)
    grown = {**options, "reps": layers}
    copy.ansatz = PluginChoice(project.ansatz.name, grown)  # type: ignore[union-attr]
    copy.circuit = spec.create(grown).build(qubits)
    return copy


@dataclass(frozen=True)
class PhaseStart:
    """Where a phase of the schedule starts, and (called as a run factory, with
    :func:`~qmlstudio.workflow.runs.build_run`'s arguments) the phase's run built from it.

    Plain data, so that it travels to the GUI's training process. ``weights`` are the circuit's
    weights trained so far (None in the first phase, which starts at 0 as Skolik et al. do) and
    ``extra`` the classical head's parameters so far.
    """

    phase: int
    phases: int
    layers: int
    only_new: bool
    last: bool
    weights: tuple[float, ...] | None = None
    extra: tuple[float, ...] = ()

    def __call__(self, project: Project, registry: Any, *, epochs: int | None = None, callback: Any = None,
                 controls: Any = None, **_: Any) -> Any:
        from qmlstudio.workflow.runs import build_run

        return self.prepare(build_run(project, registry, callback=callback, controls=controls, epochs=epochs))

    def prepare(self, run: Any) -> Any:
        """Sets ``run`` (the phase's project's run) to start here and to train what the phase trains."""
        count = run.model.num_weights
        if self.weights is None:
            start = [0.0] * count
            frozen: tuple[int, ...] = ()
        else:
            if len(self.weights) > count:
                raise QMLStudioError(f"phase {self.phase} has {count} circuit weights, fewer than the "
                                     f"{len(self.weights)} trained before it")
            start = list(self.weights) + [0.0] * (count - len(self.weights))  # the new layer at 0
            frozen = tuple(range(len(self.weights))) if self.only_new else ()
        head = list(self.extra) if self.extra else list(run.head.initial_extra())
        run.options = replace(run.options, start_weights=tuple(start + head), frozen=frozen,
                              baselines=self.last and run.options.baselines)
        run.record.config["layerwise"] = {"phase": self.phase, "phases": self.phases, "layers": self.layers,
                                          "trains": "the new layer" if self.only_new else "every weight",
                                          "weights": count}
        return run

    def following(self, phase: Phase, record: Any, schedule: list[Phase]) -> "PhaseStart":
        """The start of ``phase`` after this one ended with ``record`` (completed)."""
        count = int(record.config["layerwise"]["weights"])  # this phase's circuit weights (prepare wrote them)
        final = [float(w) for w in record.final_weights]
        return PhaseStart(phase.index, len(schedule), phase.layers, phase.only_new, phase is schedule[-1],
                          tuple(final[:count]), tuple(final[count:]))


def first_start(schedule: list[Phase]) -> PhaseStart:
    """The start of the schedule's first phase."""
    phase = schedule[0]
    return PhaseStart(phase.index, len(schedule), phase.layers, phase.only_new, len(schedule) == 1)


def run_layerwise(
    project: Project,
    registry: Any,
    schedule: list[Phase],
    *,
    callback: Callable[[Phase, Any], None] | None = None,
    controls: Any = None,
    on_run: Callable[[Phase, Any], None] | None = None,
) -> Iterator[Any]:
    """Runs the schedule phase after phase and yields each phase's record (the caller adds it
    to ``project`` and saves). ``callback(phase, report)`` gets every iteration's report;
    ``on_run(phase, run)`` each built run before it starts. A phase that does not complete
    ends the schedule."""
    start = first_start(schedule)
    for index, phase in enumerate(schedule):
        run = start(phase.project, registry, epochs=phase.epochs, controls=controls,
                    callback=None if callback is None else (lambda it, p=phase: callback(p, it)))
        if on_run is not None:
            on_run(phase, run)
        record = run.run()
        yield record
        if record.status != "completed" or index + 1 == len(schedule):
            return
        start = start.following(schedule[index + 1], record, schedule)
