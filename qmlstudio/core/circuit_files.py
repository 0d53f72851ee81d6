"""Circuit files: export a design to OpenQASM, QPY, a Python script or a picture, and import one.

The format follows the file's suffix (see :data:`EXPORT_FORMATS` and :data:`IMPORT_FORMATS`).
Every problem a user can cause (a missing file, a parse error, a gate the editor cannot show,
a folder that cannot be written) is raised as one :class:`CircuitFileError` whose message
names the file and the problem on one line.

Files are written atomically: a crash or a full disk leaves the previous file in place.
Pictures are drawn by qiskit's matplotlib drawer with the non-interactive Agg backend, so
exporting works headless. Drawing a large circuit takes seconds: call from a worker.
"""

from __future__ import annotations

import ast
import io
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.storage import atomic_write_bytes
from qmlstudio.core.errors import DesignError, QMLStudioError
from qmlstudio.core.expressions import INPUT, WEIGHT

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit


class CircuitFileError(QMLStudioError):
    """A circuit file cannot be written or read; the message names the file and the reason."""


#: Formats :func:`export_circuit` writes, by suffix, with the title a file dialog shows.
EXPORT_FORMATS: dict[str, str] = {
    ".qasm": "OpenQASM 3",
    ".qpy": "Qiskit QPY",
    ".py": "Python script (qiskit)",
    ".png": "PNG image",
    ".svg": "SVG image",
}
#: Formats :func:`import_circuit` reads, by suffix.
IMPORT_FORMATS: dict[str, str] = {
    ".qasm": "OpenQASM 2 or 3",
    ".qpy": "Qiskit QPY",
}

_MESSAGE_LIMIT = 300
_SHADOWED_MODULES = frozenset({"qiskit", "math"})


# ---------------------------------------------------------------------- export
def export_circuit(design: CircuitDesign, path: str | os.PathLike[str]) -> Path:
    """Writes ``design`` to ``path`` in the format its suffix names; returns the path.

    ``.qasm`` is OpenQASM 3, ``.qpy`` qiskit's binary format, ``.py`` a script that
    rebuilds the circuit with qiskit alone, ``.png`` / ``.svg`` a drawing. The weights
    and inputs stay free parameters named ``θ[i]`` and ``x[j]``.

    OpenQASM 3 keeps every formula, but qiskit's OpenQASM 3 importer does not read
    functions (``sin``, ``sqrt``...) or ``**`` back; QPY and Python keep them both ways.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise CircuitFileError(
            f"cannot export to {target.name}: {_unknown_type(suffix)} (supported: {', '.join(EXPORT_FORMATS)})"
        )
    if suffix == ".py" and target.stem in _SHADOWED_MODULES:
        # `python qiskit.py` would import itself instead of qiskit
        raise CircuitFileError(
            f"cannot export to {target.name}: a script with that name hides the {target.stem!r} "
            "module it imports; choose another name"
        )
    try:
        design.validate()
    except DesignError as exc:
        raise CircuitFileError(f"cannot export to {target.name}: {exc}") from None
    circuit_name = _circuit_name(target)
    data = writer(design, circuit_name)
    try:
        atomic_write_bytes(target, data)
    except OSError as exc:
        raise CircuitFileError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def python_script(design: CircuitDesign, name: str = "design") -> str:
    """A stand-alone Python script that rebuilds ``design`` with qiskit.

    The script defines ``build()``, which returns the ``QuantumCircuit`` over
    ``ParameterVector("θ")`` (weights) and ``ParameterVector("x")`` (inputs), and prints
    the circuit when run as ``python script.py``. Angles appear as the user wrote them.
    """
    design.validate()
    gates = design.ordered_gates
    used_names = {
        node.id
        for gate in gates
        for angle in gate.params
        for node in ast.walk(ast.parse(angle.text, mode="eval"))
        if isinstance(node, ast.Name)
    }
    functions = [f for f in _SCRIPT_FUNCTIONS if f in used_names]
    constants = [c for c in ("e", "pi") if c in used_names]

    shown_name = _one_line(re.sub(r"[^\w .-]", "_", name))  # never a quote in the docstring
    summary = f"{design.num_qubits} qubit(s), {len(gates)} gate(s)"
    if design.num_weights:
        summary += f", {design.num_weights} trainable weight(s) θ"
    if design.num_inputs:
        summary += f", {design.num_inputs} input(s) x"
    lines = [
        "#!/usr/bin/env python3",
        f'"""Circuit {shown_name!r} exported from QML Studio: {summary}.',
        "",
        "Run it to print the circuit, or import it and call build() to get the",
        "QuantumCircuit. Bind values before simulating, for example:",
        "",
        "    circuit = build()",
        "    bound = circuit.assign_parameters({p: 0.1 for p in circuit.parameters})",
        '"""',
        "",
    ]
    if functions:
        lines.append("import math")
    if constants:
        lines.append(f"from math import {', '.join(constants)}")
    if functions or constants:
        lines.append("")
    lines.append("from qiskit import QuantumCircuit")
    lines.append(
        "from qiskit.circuit import ParameterExpression, ParameterVector"
        if functions
        else "from qiskit.circuit import ParameterVector"
    )
    lines.append("")
    for function in functions:
        lines += ["", *_SCRIPT_FUNCTIONS[function], ""]
    lines += ["", "def build() -> QuantumCircuit:", '    """The circuit, with free weights θ and inputs x."""']
    if design.num_weights:
        lines.append(f'    {WEIGHT} = ParameterVector("{WEIGHT}", {design.num_weights})')
    if design.num_inputs:
        lines.append(f'    {INPUT} = ParameterVector("{INPUT}", {design.num_inputs})')
    lines.append(f"    qc = QuantumCircuit({design.num_qubits}, name={name!r})")
    block: str | None = None
    for gate in gates:
        if gate.block != block and gate.block is not None:
            lines.append(f"    # {_one_line(gate.block)}")
        block = gate.block
        arguments = [a.text for a in gate.params] + [str(q) for q in gate.qubits]
        lines.append(f"    qc.{gate.name}({', '.join(arguments)})")
    lines += [
        "    return qc",
        "",
        "",
        'if __name__ == "__main__":',
        "    print(build())",
        "",
    ]
    return "\n".join(lines)


def _function(name: str, on_parameter: str, on_number: str) -> list[str]:
    return [
        f"def {name}(value):",
        f'    """{name} of a number or of a qiskit parameter expression."""',
        "    if isinstance(value, ParameterExpression):",
        f"        return {on_parameter}",
        f"    return {on_number}",
    ]


# Angle functions do not exist on qiskit parameters under their math names.
_SCRIPT_FUNCTIONS: dict[str, list[str]] = {
    "sin": _function("sin", "value.sin()", "math.sin(value)"),
    "cos": _function("cos", "value.cos()", "math.cos(value)"),
    "tan": _function("tan", "value.tan()", "math.tan(value)"),
    "exp": _function("exp", "value.exp()", "math.exp(value)"),
    "log": _function("log", "value.log()", "math.log(value)"),
    "sqrt": _function("sqrt", "value**0.5", "math.sqrt(value)"),
    # the builtin abs() works on numbers and parameters alike
}


def _write_qasm(design: CircuitDesign, name: str) -> bytes:
    from qiskit import qasm3

    circuit = design.to_circuit(name)
    try:
        return qasm3.dumps(circuit).encode("utf-8")
    except OverflowError as exc:  # qiskit writes a float angle as a ratio: 1e308 overflows it
        where = next((f"{gate.where}: angle {angle.text!r}" for gate in design.ordered_gates for angle in gate.params
                      if angle.is_constant and abs(float(angle.evaluate())) > 1e300), "an angle")
        raise CircuitFileError(f"cannot write OpenQASM 3: {where} is too large to write ({exc})") from None


def _write_qpy(design: CircuitDesign, name: str) -> bytes:
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(design.to_circuit(name), buffer)
    return buffer.getvalue()


def _write_python(design: CircuitDesign, name: str) -> bytes:
    return python_script(design, name).encode("utf-8")


def _picture_writer(file_format: str) -> Callable[[CircuitDesign, str], bytes]:
    def write(design: CircuitDesign, name: str) -> bytes:
        return _draw(design.to_circuit(name), file_format)

    return write


def _draw(circuit: "QuantumCircuit", file_format: str) -> bytes:
    """The circuit drawn by qiskit's matplotlib drawer, as PNG or SVG bytes."""
    import matplotlib

    # qiskit's drawer imports pyplot; choose a headless backend before it does. When
    # pyplot is already loaded (by an embedding app) its backend is left alone: saving
    # to a buffer does not need a window either way.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib import pyplot

    figure = circuit.draw("mpl")
    try:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=file_format, bbox_inches="tight", facecolor=figure.get_facecolor())
        return buffer.getvalue()
    finally:
        pyplot.close(figure)


_WRITERS: dict[str, Callable[[CircuitDesign, str], bytes]] = {
    ".qasm": _write_qasm,
    ".qpy": _write_qpy,
    ".py": _write_python,
    ".png": _picture_writer("png"),
    ".svg": _picture_writer("svg"),
}


def _circuit_name(path: Path) -> str:
    """The file's stem as a circuit name (letters, digits and _ only), or "design"."""
    name = re.sub(r"\W+", "_", path.stem).strip("_")
    return name or "design"


# ---------------------------------------------------------------------- import
def import_circuit(path: str | os.PathLike[str]) -> CircuitDesign:
    """Reads an OpenQASM 2 / 3 (``.qasm``) or QPY (``.qpy``) file as an editable design.

    Gates the editor lacks are decomposed into its gates; measurements and barriers are
    dropped. QASM 3 inputs named like ``θ[i]`` / ``x[j]`` (written by :func:`export_circuit`)
    keep their role and index; any other parameter becomes a trainable weight.
    """
    source = Path(path)
    suffix = source.suffix.lower()
    if suffix not in IMPORT_FORMATS:
        raise CircuitFileError(
            f"cannot import {source.name}: {_unknown_type(suffix)} (supported: {', '.join(IMPORT_FORMATS)})"
        )
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise CircuitFileError(f"cannot import {source}: the file does not exist") from None
    except IsADirectoryError:
        raise CircuitFileError(f"cannot import {source}: it is a folder, not a file") from None
    except OSError as exc:
        raise CircuitFileError(f"cannot import {source}: {exc.strerror or exc}") from None
    if suffix == ".qpy":
        circuit = _read_qpy(source, data)
    else:
        circuit = _read_qasm(source, data)
    try:
        return CircuitDesign.from_circuit(circuit)
    except DesignError as exc:
        raise CircuitFileError(f"cannot import {source.name}: {_one_line(str(exc))}") from None
    except Exception as exc:  # qiskit's transpiler on gates it cannot decompose
        from qiskit.exceptions import QiskitError

        if not isinstance(exc, QiskitError):
            raise
        raise CircuitFileError(
            f"cannot import {source.name}: its gates cannot be turned into editor gates ({_one_line(str(exc))})"
        ) from None


_QASM_VERSION = re.compile(r"^\s*OPENQASM\s+(\d+)(?:\.\d+)?\s*;", re.MULTILINE)


def _read_qasm(source: Path, data: bytes) -> "QuantumCircuit":
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CircuitFileError(f"cannot import {source.name}: it is not a text file (not UTF-8)") from None
    if not text.strip():
        raise CircuitFileError(f"cannot import {source.name}: the file is empty")
    version = _qasm_version(text)
    # Parsers of untrusted text raise many kinds of errors; each means "this is not valid".
    if version == 2:
        from qiskit import qasm2

        try:
            return qasm2.loads(
                text,
                include_path=(str(source.parent),),
                custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            )
        except Exception as exc:
            raise CircuitFileError(f"cannot import {source.name}: invalid OpenQASM 2: {_parser_message(exc)}") from None
    if version not in (None, 3):
        raise CircuitFileError(f"cannot import {source.name}: OpenQASM {version} is not supported (only 2 and 3)")
    from qiskit import qasm3

    try:
        return qasm3.loads(text)
    except Exception as exc:
        message = _parser_message(exc) or _syntax_error(exc)
        hint = ""
        if "FunctionCall" in message or "'**'" in message:
            hint = (
                " (qiskit's OpenQASM 3 importer cannot read functions such as sin() or the ** "
                "operator in angles; export as .qpy to keep such formulas)"
            )
        raise CircuitFileError(f"cannot import {source.name}: invalid OpenQASM 3: {message}{hint}") from None


def _syntax_error(exc: BaseException) -> str:
    """Where the OpenQASM 3 parser stopped: its exceptions carry the token, not a message."""
    seen: set[int] = set()
    pending: list[Any] = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen or not isinstance(error, BaseException):
            continue
        seen.add(id(error))
        token = getattr(error, "offendingToken", None)
        if token is not None and getattr(token, "line", None) is not None:
            near = "the end of the file" if token.text == "<EOF>" else repr(token.text)
            return f"syntax error at line {token.line}, column {token.column + 1}, near {near}"
        pending += [error.__cause__, error.__context__, *error.args]
    return "syntax error"


def _qasm_version(text: str) -> int | None:
    """The major version in the ``OPENQASM`` header, or ``None`` when there is none."""
    without_comments = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    without_comments = re.sub(r"//[^\n]*", "", without_comments)
    match = _QASM_VERSION.search(without_comments)
    return int(match.group(1)) if match else None


def _read_qpy(source: Path, data: bytes) -> "QuantumCircuit":
    from qiskit import QuantumCircuit, qpy

    if not data:
        raise CircuitFileError(f"cannot import {source.name}: the file is empty")
    if not data.startswith(_QPY_MAGIC):
        raise CircuitFileError(f"cannot import {source.name}: not a readable QPY file (it lacks the QPY header)")
    try:
        programs = qpy.load(io.BytesIO(data))
    except Exception as exc:  # truncated or foreign bytes fail anywhere in the reader
        raise CircuitFileError(
            f"cannot import {source.name}: not a readable QPY file (truncated or damaged? {_qpy_reason(exc)})"
        ) from None
    if not programs:
        raise CircuitFileError(f"cannot import {source.name}: the QPY file holds no circuit")
    circuit = programs[0]
    if not isinstance(circuit, QuantumCircuit):
        raise CircuitFileError(f"cannot import {source.name}: the QPY file holds a {type(circuit).__name__}, not a circuit")
    return circuit


_QPY_MAGIC = b"QISKIT"
_ANSI_ESCAPE = re.compile(r"(?:\x1b|\\x1b)\[[0-9;]*m")  # raw or already escaped by repr()


def _qpy_reason(exc: BaseException) -> str:
    """The gist of a QPY reader error, whose Rust part carries a coloured backtrace."""
    text = _ANSI_ESCAPE.sub("", str(exc)).replace("\\n", "\n")
    found = re.search(r"Error:\s*([^\n]+)", text)
    if found:
        return _one_line(found.group(1))
    first = next((line for line in text.splitlines() if line.strip()), "")
    return _one_line(first) or type(exc).__name__


_PARSER_POSITION = re.compile(r"^(?:<input>:)?(\d+),(\d+):\s*")


def _parser_message(exc: BaseException) -> str:
    """A parser's message with its ``line,column:`` prefix (0-based column) spelt out."""
    message = _one_line(str(exc))
    found = _PARSER_POSITION.match(message)
    if found:
        line, column = int(found.group(1)), int(found.group(2)) + 1
        message = f"line {line}, column {column}: {message[found.end():]}"
    return message


def _unknown_type(suffix: str) -> str:
    return f"unknown file type {suffix!r}" if suffix else "the name has no suffix to tell the file type"


def _one_line(text: Any) -> str:
    """``text`` on one line, quotes that qiskit wraps messages in removed, and shortened."""
    line = " ".join(str(text).split())
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
        line = line[1:-1]
    if len(line) > _MESSAGE_LIMIT:
        line = line[: _MESSAGE_LIMIT - 1] + "…"
    return line
