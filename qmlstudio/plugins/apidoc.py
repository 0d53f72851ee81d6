"""Writes the plugin API reference (``docs/plugin-api.md``) from the code itself.

Run ``python -m qmlstudio.plugins.apidoc > docs/plugin-api.md`` after changing the plugin
API; ``tests/test_plugin_api_doc.py`` fails while the file is out of step with the code.

Everything is read from the code: the hooks in :mod:`qmlstudio.plugins.hookspecs` with
their docstrings; every name in ``qmlstudio.plugins.__all__`` (so a new export is listed
at once) and in ``qmlstudio.testing.__all__``; for a dataclass every field with its type
and default (a new field appears without any change here); for a class its public
attributes, methods and signatures. A field's meaning is the ``#:`` comment above it in the
source when it has one, else the entry of :data:`FIELD_NOTES`, else its class docstring is
all there is.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from typing import Any, Iterable

#: Meanings of fields declared without a ``#:`` comment, by (class, field).
FIELD_NOTES: dict[tuple[str, str], str] = {
    ("Spec", "name"): "Unique per hook across all plugins: lowercase letters, digits, `-`, `_`. Stored in project files: never rename it.",
    ("Spec", "title"): "What the GUI shows.",
    ("Spec", "factory"): "A callable, or an import path `\"package.module:attribute\"` imported only when the thing is used.",
    ("Spec", "description"): "One or two sentences for tooltips, `qmlstudio plugins -v` and `qmlstudio plugins show`.",
    ("Spec", "options"): "The declared `Option`s; `create(options)` checks values against them and passes them to the factory as keyword arguments.",
    ("Spec", "kind"): "What the descriptor describes, as messages name it.",
    ("Optimizer", "uses_gradient"): "Whether `minimize` calls `problem.value_and_grad`; gradient-free optimizers set it to False.",
    ("OptimizerSpec", "uses_gradient"): "Whether the optimizer asks for gradients; gradient-free ones run on every backend, shot-based and hardware ones included.",
    ("DatasetSpec", "task"): "`\"classification\"` or `\"regression\"`.",
    ("DatasetSpec", "images"): "True for image data (rows are flattened pixels).",
    ("BackendSpec", "available"): "A callable (or import path) returning `None` when the backend can be used here, else a sentence saying why not. Must be cheap: never import heavy dependencies in it.",
    ("BackendSpec", "positional"): "The option that the `ARG` of a backend choice `NAME[:ARG][,key=value...]` sets, or `None`.",
    ("PanelSpec", "area"): "`\"left\"`, `\"right\"` or `\"bottom\"`.",
    ("Option", "name"): "The keyword argument the factory receives; `NAME=VALUE` on the command line.",
    ("Option", "type"): "One of `int`, `float`, `bool`, `choice`, `str`, `path`.",
    ("Option", "default"): "The value used when none is given (checked against the type and range).",
    ("Option", "title"): "Label in GUI forms (default: the name, capitalized).",
    ("Option", "help"): "Tooltip and `qmlstudio plugins show` text.",
    ("Option", "minimum"): "Smallest allowed value (`int`, `float`), or `None`.",
    ("Option", "maximum"): "Largest allowed value (`int`, `float`), or `None`.",
    ("Option", "choices"): "The allowed values of a `choice` option.",
    ("Option", "nullable"): "Whether `None` (`none`, empty text) is accepted.",
    ("Gate", "name"): "A gate of the editor's library (`h`, `x`, `rx`, `ry`, `rz`, `cx`, `cz`, `crx`, `cry`, `crz`, `rzz`, ...).",
    ("Gate", "qubits"): "Controls first, then the target, as qiskit orders them.",
    ("Gate", "params"): "One angle per rotation angle: `\"θ[3]\"` a weight, `\"x[0]\"` a data input, `\"pi/2\"` a constant, or a formula of them.",
    ("Gate", "column"): "Where the editor draws the gate; sets the order of operations. Two gates sharing a qubit need different columns: build designs with `CircuitDesign.append` or `CircuitDesign.from_sequence`, which choose columns for you.",
    ("Gate", "block"): "The template or encoding block the gate came from (the editor selects a block as a unit).",
    ("CircuitDesign", "num_qubits"): "Number of qubits (1 to `MAX_QUBITS`).",
    ("CircuitDesign", "gates"): "The placed gates; validated on every change (overlaps and bad qubits are refused).",
    ("CircuitDesign", "events"): "`events.changed(design=..., reason=...)` after every change (the editor follows it).",
    ("Dataset", "features"): "Float array, samples × features, **unscaled**: the engine scales it (the project's `scaling`, by default each feature to [0, π] on the training split) before encodings see it.",
    ("Dataset", "labels"): "Class indices `0..len(class_names)-1`, or float targets for regression.",
    ("Dataset", "feature_names"): "One name per feature column.",
    ("Dataset", "class_names"): "One name per class (empty for regression).",
    ("Dataset", "image_shape"): "`(height, width)` for image data, whose rows are the flattened pixels; else `None`.",
    ("Dataset", "task"): "`\"classification\"` or `\"regression\"`.",
    ("Dataset", "description"): "One sentence shown with the data.",
    ("Dataset", "extra"): "Anything else the plugin wants to keep with the data (JSON-ready values).",
    ("OptimizerStep", "iteration"): "1 for the first iteration.",
    ("OptimizerStep", "x"): "The parameters after this iteration.",
    ("OptimizerStep", "loss"): "The loss at `x` (or the last one computed).",
    ("OptimizerStep", "grad_norm"): "The gradient's norm, or `None` for gradient-free methods.",
    ("OptimizerStep", "evaluations"): "Loss evaluations so far (a gradient counts as one).",
    ("OptimizerResult", "x"): "The best (or final) parameters.",
    ("OptimizerResult", "loss"): "The loss at `x`.",
    ("OptimizerResult", "iterations"): "Iterations run.",
    ("OptimizerResult", "stopped"): "True when the callback asked to stop.",
    ("OptimizerResult", "message"): "Why it ended, for people (`\"converged\"`, `\"max iterations\"`...).",
}



#: Meanings of methods without a docstring of their own (or along their bases), by (class, method).
METHOD_NOTES: dict[tuple[str, str], str] = {
    ("Backend", "describe"): "One line naming the backend and its settings, for run records and the CLI.",
    ("BackendSpec", "unavailable_reason"): "`None` when the backend can be used here, else why not (calls `available`; a check that raises is reported, not raised).",
    ("PanelSpec", "create"): "Refused: panels are created by the GUI with `create_widget(main_window)`.",
    ("PanelSpec", "create_widget"): "Imports the factory and calls it with the main window; returns the dock's widget.",
}


def _markdown(text: str) -> str:
    """reStructuredText roles and literals as Markdown: ``x`` → `x`, :class:`~a.B` → `B`."""
    text = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`").replace("::\n", ":\n")


def _first_paragraph(doc: str | None) -> str:
    text = inspect.cleandoc(doc or "")
    return _markdown(text.split("\n\n")[0].replace("\n", " ")) if text else ""


def _clean(doc: str | None) -> str:
    return _markdown(inspect.cleandoc(doc or ""))


def _method_doc(cls: type, name: str, member: Any) -> str:
    """The method's docstring, else the same method's along the bases, else :data:`METHOD_NOTES`."""
    if member.__doc__:
        return _first_paragraph(member.__doc__)
    for klass in cls.__mro__:
        base = vars(klass).get(name)
        if base is not None and getattr(base, "__doc__", None):
            return _first_paragraph(base.__doc__)
        if (klass.__name__, name) in METHOD_NOTES:
            return METHOD_NOTES[(klass.__name__, name)]
    return ""


def _comment_notes(cls: type) -> dict[str, str]:
    """``#:`` comments directly above ``name: type`` lines in the class body."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):
        return {}
    notes: dict[str, str] = {}
    pending: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:", stripped)
        if match and pending:
            notes[match.group(1)] = " ".join(pending)
        pending = []
    return notes


def field_note(cls: type, name: str) -> str:
    """What a field means: its ``#:`` comment, else :data:`FIELD_NOTES` along the class's bases."""
    for klass in cls.__mro__:
        note = _comment_notes(klass).get(name) if klass.__module__ not in ("builtins", "abc") else None
        if note:
            return note
        note = FIELD_NOTES.get((klass.__name__, name))
        if note:
            return note
    return ""


def _shown(value: Any) -> str:
    text = repr(value)
    return f"a new `{type(value).__name__}`" if " at 0x" in text else f"`{text}`"


def _default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return _shown(f.default)
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        try:
            return _shown(f.default_factory())  # type: ignore[misc]
        except Exception:  # noqa: BLE001
            return "(computed)"
    return "required"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def public_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.name.startswith("_")]


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def _signature(obj: Any, name: str) -> str:
    """``name(a: int, *, b: str = 'x') -> T`` without ``self``/``cls`` and without quoted annotations."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    parts: list[str] = []
    star = False
    params = list(sig.parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        text = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "") + p.name
        if p.kind is p.VAR_POSITIONAL:
            star = True
        if p.annotation is not p.empty:
            text += f": {_annotation(p.annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        parts.append(text)
    returns = f" -> {_annotation(sig.return_annotation)}" if sig.return_annotation is not sig.empty else ""
    return f"{name}({', '.join(parts)}){returns}"


def public_methods(cls: type) -> list[tuple[str, Any]]:
    """Methods and properties the class defines or inherits from QML Studio classes (not ``object``)."""
    found = []
    seen = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("qmlstudio"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member) or isinstance(member, property):
                seen.add(name)
                found.append((name, member))
    return found


def class_attributes(cls: type) -> list[tuple[str, Any, str]]:
    """Public plain class attributes (``exact``, ``repetitions``...) with their ``#:`` comments."""
    found = []
    for klass in reversed([k for k in cls.__mro__ if k.__module__.startswith("qmlstudio")]):
        notes = _comment_notes(klass)
        for name, value in vars(klass).items():
            if name.startswith("_") or callable(value) or isinstance(value, (property, staticmethod, classmethod)):
                continue
            if dataclasses.is_dataclass(cls) and name in {f.name for f in dataclasses.fields(cls)}:
                continue
            found = [item for item in found if item[0] != name]
            found.append((name, value, notes.get(name, "") or field_note(cls, name)))
    return found


def _abstract(cls: type, name: str) -> bool:
    return name in getattr(cls, "__abstractmethods__", ())


def describe_class(cls: type, module: str) -> list[str]:
    lines = [f"### `{cls.__name__}`", ""]
    bases = [b.__name__ for b in cls.__bases__ if b is not object and b.__name__ not in ("ABC", "Generic")]
    lines.append(f"`from {module} import {cls.__name__}`" + (f" · subclass of {', '.join(f'`{b}`' for b in bases)}" if bases else ""))
    lines.append("")
    doc = _clean(cls.__doc__)
    if doc and not doc.startswith(cls.__name__ + "("):
        lines += [doc, ""]
    if dataclasses.is_dataclass(cls):
        fields = public_fields(cls)
        if fields:
            lines += ["| field | type | default | meaning |", "| --- | --- | --- | --- |"]
            for f in fields:
                lines.append(f"| `{f.name}` | `{_cell(str(f.type))}` | {_cell(_default(f))} | {_cell(field_note(cls, f.name))} |")
            lines.append("")
    attributes = class_attributes(cls)
    if attributes:
        lines += ["| attribute | value | meaning |", "| --- | --- | --- |"]
        for name, value, note in attributes:
            shown = _shown(value) if not isinstance(value, (dict, list)) or len(repr(value)) < 60 else "(table)"
            lines.append(f"| `{name}` | {_cell(shown)} | {_cell(note)} |")
        lines.append("")
    methods = public_methods(cls)
    if methods:
        lines += ["| method | what it does |", "| --- | --- |"]
        for name, member in methods:
            text = _method_doc(cls, name, member)
            head = f"`{name}` (property)" if isinstance(member, property) else f"`{_signature(member, name)}`"
            if _abstract(cls, name):
                text = "**abstract, you implement it.** " + text
            lines.append(f"| {_cell(head)} | {_cell(text)} |")
        lines.append("")
    return lines


def describe_function(obj: Any, name: str, module: str) -> list[str]:
    return [f"### `{_signature(obj, name)}`", "", f"`from {module} import {name}`", "", _clean(obj.__doc__) or "", ""]


def describe_value(value: Any, name: str, module: str) -> list[str]:
    kind = type(value).__name__
    if "HookspecMarker" in kind or "HookimplMarker" in kind:
        text = ("The decorator that marks a plugin's hook implementations." if "impl" in kind.lower()
                else "The decorator that marks QML Studio's hook specifications (plugins do not need it).")
        return [f"### `{name}`", "", f"`from {module} import {name}`", "", text, ""]
    return [f"### `{name}`", "", f"`from {module} import {name}` · `{value!r}`", ""]


def hook_specs() -> list[tuple[str, Any]]:
    from qmlstudio.plugins import hookspecs

    return [(name, obj) for name, obj in vars(hookspecs).items()
            if name.startswith("qmlstudio_") and inspect.isfunction(obj)]


def section(module_name: str, names: Iterable[str]) -> list[str]:
    module = sys.modules[module_name]
    lines: list[str] = []
    for name in names:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            lines += describe_class(obj, module_name)
        elif callable(obj) and not hasattr(obj, "project_name"):
            lines += describe_function(obj, name, module_name)
        else:
            lines += describe_value(obj, name, module_name)
    return lines


#: How the public names are grouped; names not listed here go to "Other names".
GROUPS: list[tuple[str, str, list[str]]] = [
    ("Descriptors", "What hooks return: a name, a title, options and a lazy factory.",
     ["Option", "EncodingSpec", "AnsatzSpec", "OptimizerSpec", "DatasetSpec", "BackendSpec", "PanelSpec"]),
    ("What factories return", "Subclass these (a dataset factory returns a `Dataset`); the engine hands an "
     "optimizer a `Problem`.",
     ["Encoding", "Ansatz", "Optimizer", "Problem", "OptimizerStep", "OptimizerResult", "Backend", "Dataset"]),
    ("Circuits", "How encodings and ansätze describe their gates.", ["CircuitDesign", "Gate", "MAX_QUBITS"]),
    ("Errors", "Raise these with a message for people; QML Studio shows it without a traceback.",
     ["QMLStudioError", "PluginError", "DatasetError", "OptionError"]),
    ("Hook markers", "", ["hookimpl", "hookspec"]),
]


def render() -> str:
    """The whole reference as Markdown."""
    import qmlstudio.plugins as api

    lines = [
        "# Plugin API reference",
        "",
        "<!-- Generated by `python -m qmlstudio.plugins.apidoc > docs/plugin-api.md`; do not edit by hand. -->",
        "",
        "Everything a plugin needs is importable from `qmlstudio.plugins`; the testing kit is",
        "`qmlstudio.testing`. [plugins.md](plugins.md) is the guide: what each hook receives",
        "and returns, with examples. This page lists every public type, field and method.",
        "",
        "## Hooks",
        "",
        "Implement them as functions marked `@hookimpl` in the module (or object) your",
        "`qmlstudio` entry point names. Each takes no arguments and returns a list of descriptors.",
        "",
    ]
    for name, spec in hook_specs():
        returns = spec.__annotations__.get("return", "")
        lines += [f"### `{name}() -> {returns}`", "", _clean(spec.__doc__), ""]
    listed: set[str] = set()
    for title, intro, names in GROUPS:
        present = [n for n in names if n in api.__all__]
        if not present:
            continue
        lines += [f"## {title}", ""] + ([intro, ""] if intro else [])
        lines += section("qmlstudio.plugins", present)
        listed.update(present)
    rest = [n for n in api.__all__ if n not in listed]
    if rest:
        lines += ["## Other names", ""] + section("qmlstudio.plugins", rest)
    try:
        import qmlstudio.testing as kit
    except ImportError:  # pragma: no cover - the kit ships with QML Studio
        kit = None
    if kit is not None:
        lines += ["## Testing kit: `qmlstudio.testing`", "", _clean(kit.__doc__), ""]
        lines += section("qmlstudio.testing", kit.__all__)
        fixtures = getattr(kit, "FIXTURES", {})
        if fixtures:
            lines += ["### pytest fixtures", "", "| fixture | what it gives |", "| --- | --- |"]
            lines += [f"| `{name}` | {_cell(text)} |" for name, text in fixtures.items()]
            lines.append("")
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip() + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
