"""Backend choices: the ``NAME[:ARG][,key=value]`` text, its checks, and the backend object."""

from __future__ import annotations

from typing import Any, Mapping

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import (
    PluginChoice,
)
from qmlstudio.plugins.manager import PluginRegistry


# ---------------------------------------------------------------------------
# Backend choices: NAME[:ARG][,key=value...]
# ---------------------------------------------------------------------------
def parse_backend_choice(text: str) -> tuple[str, str | None, dict[str, str]]:
    """``"aer-noise:fake_manila,shots=2000"`` → ``("aer-noise", "fake_manila", {"shots": "2000"})``.

    The syntax is ``NAME[:ARG][,key=value...]``: ``ARG`` sets the backend's positional
    option (its :attr:`~qmlstudio.plugins.BackendSpec.positional`, e.g. the device of
    ``aer-noise`` and ``ibm``, the shots of ``aer-shots``); every ``key=value`` sets an
    option by name. Values are text here; the backend's options check and convert them.
    """
    from qmlstudio.core.options import parse_option_text

    text = (text or "").strip()
    head, _, rest = text.partition(",")
    name, colon, arg = head.partition(":")
    name = name.strip()
    if not name:
        raise QMLStudioError(f"backend choice {text!r}: expected NAME[:ARG][,key=value...], e.g. aer-noise:fake_manila")
    arg = arg.strip()
    if colon and not arg:
        raise QMLStudioError(f"backend choice {text!r}: nothing after ':'")
    items = [item for item in (part.strip() for part in rest.split(",")) if item] if rest else []
    try:
        options = parse_option_text(items)
    except QMLStudioError as exc:
        raise QMLStudioError(f"backend choice {text!r}: {exc}") from None
    return name, (arg if colon else None), options


def backend_choice(
    registry: PluginRegistry,
    text: str,
    *,
    base: PluginChoice | None = None,
    shots: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> PluginChoice:
    """The checked :class:`PluginChoice` a choice text names (options resolved, defaults filled in).

    When ``base`` (the project's or the run's backend) is the same backend, its options are
    the starting point, so ``aer-noise:fake_lima`` keeps the project's shots and seed.
    ``shots`` sets the backend's ``shots`` option (an error for exact backends, which
    have none). ``options`` are more options by name (``qmlstudio new --backend-option``);
    one also given in ``text`` is an error. A backend that cannot be used here is an error
    naming the reason. Every command and the GUI read a backend choice through this function.
    """
    name, arg, given = parse_backend_choice(text)
    for key, value in (options or {}).items():
        if key in given or (arg is not None and key == registry.get("backends", name).positional):
            raise QMLStudioError(f"backend choice {text!r}: {key} is given twice (in the choice and as an option)")
        given[key] = value
    spec = registry.get("backends", name)
    known = {o.name for o in spec.options}
    chosen: dict[str, Any] = {}
    if base is not None and base.name == name:
        chosen.update({k: v for k, v in base.options.items() if k in known})
    if arg is not None:
        if spec.positional is None:
            raise QMLStudioError(
                f"backend {name!r} takes no ':ARG'; set its options as {name},NAME=VALUE "
                f"(options: {', '.join(sorted(known)) or 'none'})"
            )
        if spec.positional in given:
            raise QMLStudioError(f"backend choice {text!r}: {spec.positional} is given twice (as ':ARG' and by name)")
        chosen[spec.positional] = arg
    chosen.update(given)
    _check_positional_choice(spec, chosen)
    if shots is not None:
        if "shots" not in known:
            raise QMLStudioError(f"backend {name!r} is exact and has no shots; choose aer-shots, aer-noise or ibm")
        chosen["shots"] = shots
    reason = spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {name!r} cannot be used here: {reason}")
    return PluginChoice(name, spec.resolve(chosen))


def _check_positional_choice(spec: Any, options: Mapping[str, Any]) -> None:
    """A short message, with near matches, for an unknown device name (instead of all 67 choices)."""
    import difflib

    if spec.positional is None or spec.positional not in options:
        return
    option = next(o for o in spec.options if o.name == spec.positional)
    value = options[spec.positional]
    if option.type != "choice" or value in option.choices or str(value) in map(str, option.choices):
        return
    near = difflib.get_close_matches(str(value), [str(c) for c in option.choices], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    raise QMLStudioError(
        f"backend {spec.name!r} has no {option.label.lower()} {value!r}{hint} "
        f"({len(option.choices)} choices: 'qmlstudio plugins --json' lists them)"
    )


def format_backend_choice(choice: PluginChoice, registry: PluginRegistry | None = None) -> str:
    """The shortest choice text for ``choice``: ``aer-noise:fake_lima,shots=2000`` (defaults left out)."""
    spec = None
    if registry is not None:
        try:
            spec = registry.get("backends", choice.name)
        except QMLStudioError:
            spec = None
    defaults = {o.name: o.default for o in spec.options} if spec is not None else {}
    positional = spec.positional if spec is not None else None
    text = choice.name
    if positional and choice.options.get(positional) not in (None, ""):
        text += f":{choice.options[positional]}"
    for key, value in choice.options.items():
        if key == positional or (key in defaults and defaults[key] == value):
            continue
        shown = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        text += f",{key}={shown}"
    return text


#: the most qubits for which training under a device's noise picks the exact noisy simulator
#: (``noisy-exact``: density matrices of 4**n entries per sample, exact gradients); above it,
#: Aer's shot simulator (``aer-noise``)
NOISY_EXACT_QUBITS = 10
#: the options a noisy backend keeps from the project's backend when the device changes
_NOISY_KEPT = ("seed", "optimization_level", "noise")


def noisy_training_choice(registry: PluginRegistry, device: str, num_qubits: int, *,
                          base: PluginChoice | None = None, check_device: bool = True) -> tuple[PluginChoice, str]:
    """The backend for training under ``device``'s noise (a fake IBM device), and why, in words.

    ``noisy-exact`` (exact noisy probabilities and gradients, about a hundred times faster than
    sampling) when the circuit has at most :data:`NOISY_EXACT_QUBITS` qubits and the plugin is
    usable here; ``aer-noise`` (shot-faithful, the reference) otherwise. The seed, the
    transpiler level and ``noise`` of ``base`` (the project's backend) carry over. A device
    with fewer qubits than the circuit is refused (with ``check_device``, which loads it).
    """
    exact = registry.backends.get("noisy-exact")
    reason = exact.unavailable_reason() if exact is not None else "the noisy-exact backend is not installed"
    if reason is None and num_qubits > NOISY_EXACT_QUBITS:
        reason = (f"{num_qubits} qubits are more than the exact noisy simulator's {NOISY_EXACT_QUBITS} "
                  f"(a density matrix holds 4^n entries)")
    name = "noisy-exact" if reason is None else "aer-noise"
    kept = {k: v for k, v in (base.options.items() if base is not None else ()) if k in _NOISY_KEPT}
    choice = backend_choice(registry, f"{name}:{device}", options=kept)
    # loading the device model imports qiskit-aer (over a second the first time): a GUI thread
    # passes check_device=False and leaves the check to the run's build (build_run)
    size = getattr(create_backend(registry, choice), "num_device_qubits", None) if check_device else None
    if size is not None and size < num_qubits:
        raise QMLStudioError(f"{device} has {size} qubit{'s' if size != 1 else ''} and the circuit needs {num_qubits}: "
                             "choose a larger device")
    if reason is None:
        why = (f"noisy-exact: {device}'s noise model simulated exactly (density matrices, exact gradients) for "
               f"{num_qubits} qubit{'s' if num_qubits != 1 else ''}; aer-noise samples shots, for shot-faithful runs")
    else:
        why = f"aer-noise: {device}'s noise model with Aer's shots ({reason})"
    return choice, why


def create_backend(registry: PluginRegistry, choice: PluginChoice | str) -> Any:
    """The :class:`~qmlstudio.plugins.Backend` for a choice (a text is parsed first)."""
    if isinstance(choice, str):
        choice = backend_choice(registry, choice)
    spec = registry.get("backends", choice.name)
    reason = spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {choice.name!r} cannot be used here: {reason}")
    return spec.create(choice.options)


# ---------------------------------------------------------------------------
# What a circuit becomes on a device
# ---------------------------------------------------------------------------
def transpiled_figures(design: CircuitDesign, backend: Any) -> dict[str, Any]:
    """Figures of ``design`` after ``backend.pass_manager()``: what the device will run.

    Returns ``depth`` (gates only: barriers and delays not counted), ``two_qubit`` (gates
    on two qubits, SWAPs for routing included), ``gates``, ``qubits_used`` (physical qubits
    touched), ``device_qubits`` (the transpiled circuit's width: the device's qubits) and
    ``layout`` (the physical qubit of each of the design's qubits). Transpiling may take a
    while for large devices: call it off the GUI thread.
    """
    circuit = design.to_circuit()
    empty = {"depth": 0, "two_qubit": 0, "gates": 0, "qubits_used": 0,
             "device_qubits": design.num_qubits, "layout": list(range(design.num_qubits))}
    if not circuit.data:
        return empty
    try:
        runnable = backend.pass_manager().run(circuit)
    except QMLStudioError:
        raise
    except Exception as exc:  # a transpiler error names the gate or the coupling problem
        raise QMLStudioError(f"cannot transpile the circuit for {backend.describe()}: {exc}") from exc

    def counted(instruction: Any) -> bool:
        operation = instruction.operation
        return not getattr(operation, "_directive", False) and operation.name not in ("delay", "barrier", "measure")

    gates = [inst for inst in runnable.data if counted(inst)]
    used = {runnable.find_bit(q).index for inst in gates for q in inst.qubits}
    layout = list(range(design.num_qubits))
    if runnable.layout is not None:
        layout = [int(q) for q in runnable.layout.final_index_layout(filter_ancillas=True)][: design.num_qubits]
    return {
        "depth": int(runnable.depth(filter_function=counted)),
        "two_qubit": sum(1 for inst in gates if len(inst.qubits) == 2),
        "gates": len(gates),
        "qubits_used": len(used),
        "device_qubits": int(runnable.num_qubits),
        "layout": layout,
    }


_resolve_choice = backend_choice  # for functions whose parameter is called backend_choice
