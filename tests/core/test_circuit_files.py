"""Circuit files: OpenQASM, QPY, Python scripts and pictures, written and read back."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, qasm3, qpy
from qiskit.circuit import Parameter
from qiskit.circuit.library import zz_feature_map
from qiskit.quantum_info import Operator

from qmlstudio.core import circuit_files
from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.circuit_files import (
    EXPORT_FORMATS,
    CircuitFileError,
    export_circuit,
    import_circuit,
    python_script,
)
from qmlstudio.core.errors import QMLStudioError

from .test_circuit_model import DESIGNS, assert_same_unitary, gate_multiset, random_design, random_values

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def sample_design() -> CircuitDesign:
    """A small design with every kind of angle: weight, input, constant, formula, function."""
    return CircuitDesign(
        3,
        [
            Gate("h", (0,), column=0, block="encoding"),
            Gate("rz", (0,), ("2*x[0]",), column=1, block="encoding"),
            Gate("rzz", (0, 2), ("(pi - x[0])*(pi - x[1])",), column=2, block="encoding"),
            Gate("ry", (1,), ("θ[0]",), column=0),
            Gate("u", (1,), ("θ[1] + 0.5", "-pi/4", "sin(x[1])*θ[2]"), column=1),
            Gate("crx", (2, 1), ("sqrt(abs(θ[0]))",), column=3),
            Gate("ccx", (0, 1, 2), column=4),
        ],
    )


def assert_one_line_about(error: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    assert path.name in message
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------------- round trips
def test_qasm3_round_trip_of_random_designs_keeps_the_unitary(tmp_path):
    path = tmp_path / "design.qasm"
    for seed in range(DESIGNS):
        rng = np.random.default_rng([3, seed])
        design = random_design(rng, functions=False)  # the importer reads no sin() or **
        export_circuit(design, path)
        text = path.read_text(encoding="utf-8")
        assert text.startswith("OPENQASM 3.0;")
        again = import_circuit(path)
        assert gate_multiset(again) == gate_multiset(design), f"seed {seed}"
        assert again.weight_indices == design.weight_indices, f"seed {seed}"
        assert again.input_indices == design.input_indices, f"seed {seed}"
        values = random_values(rng)
        assert_same_unitary(design.to_circuit(), again.to_circuit(), values)
        if seed % 4:
            continue
        # Other tools see the file, not the design: the parsed circuit (inputs named
        # _θ_0_, _x_1_) has the same unitary up to global phase. Only up to it, because
        # qiskit writes ryy through an sxdg definition that drops sxdg's phase.
        parsed = qasm3.loads(text)
        by_mangled = {f"_{name.replace('[', '_').replace(']', '_')}": v for name, v in values.items()}
        expected = design.to_circuit()
        assert Operator(parsed.assign_parameters({p: by_mangled[p.name] for p in parsed.parameters})).equiv(
            Operator(expected.assign_parameters({p: values[p.name] for p in expected.parameters}))
        ), f"seed {seed}"


def test_qpy_round_trip_of_random_designs_keeps_the_unitary(tmp_path):
    path = tmp_path / "design.qpy"
    for seed in range(DESIGNS):
        rng = np.random.default_rng([4, seed])
        design = random_design(rng, functions=True)
        export_circuit(design, path)
        again = import_circuit(path)
        assert gate_multiset(again) == gate_multiset(design), f"seed {seed}"
        assert again.weight_indices == design.weight_indices, f"seed {seed}"
        assert again.input_indices == design.input_indices, f"seed {seed}"
        assert_same_unitary(design.to_circuit(), again.to_circuit(), random_values(rng))


def test_qpy_file_holds_the_circuit_with_named_parameters(tmp_path):
    path = export_circuit(sample_design(), tmp_path / "my circuit.qpy")
    with path.open("rb") as stream:
        (circuit,) = qpy.load(stream)
    assert circuit.name == "my_circuit"
    assert {p.name for p in circuit.parameters} == {"θ[0]", "θ[1]", "θ[2]", "x[0]", "x[1]"}


def test_qasm2_file_is_imported(tmp_path):
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.rzz(0.3, 0, 1)
    circuit.u(0.1, 0.2, 0.3, 2)
    circuit.cswap(0, 1, 2)  # not an editor gate: decomposed
    circuit.measure_all()
    path = tmp_path / "legacy.qasm"
    path.write_text("// written by an old tool\n" + qasm2.dumps(circuit), encoding="utf-8")
    design = import_circuit(path)
    assert design.num_qubits == 3
    reference = circuit.remove_final_measurements(inplace=False)
    assert Operator(design.to_circuit()).equiv(Operator(reference))


def test_qasm3_file_of_another_tool_is_imported(tmp_path):
    path = tmp_path / "other.qasm"
    path.write_text(
        textwrap.dedent(
            """\
            /* a hand-written file */
            OPENQASM 3.0;
            include "stdgates.inc";
            input float[64] alpha;
            input float[64] x_0;
            qubit[2] q;
            bit[2] c;
            h q[0];
            rx(alpha) q[1];
            rz(2 * x_0) q[0];
            cx q[0], q[1];
            c = measure q;
            """
        ),
        encoding="utf-8",
    )
    design = import_circuit(path)
    assert [g.name for g in design.ordered_gates] == ["h", "rx", "rz", "cx"]
    angles = [p.text for g in design.ordered_gates for p in g.params]
    assert angles == ["θ[0]", "2 * x[0]"]


# ------------------------------------------------------------ python scripts
def _clean_environment() -> dict[str, str]:
    """No PYTHONPATH: a script must not need QML Studio to run."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def test_python_script_runs_and_prints_the_circuit(tmp_path):
    script = export_circuit(sample_design(), tmp_path / "ansatz.py")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "q_0" in done.stdout and "q_2" in done.stdout
    assert "θ[1]" in done.stdout


def test_python_scripts_rebuild_the_same_circuits(tmp_path):
    designs = [sample_design(), CircuitDesign(1)]
    designs += [random_design(np.random.default_rng([5, seed]), functions=True) for seed in range(18)]
    scripts = [export_circuit(d, tmp_path / f"design_{i}.py") for i, d in enumerate(designs)]
    out = tmp_path / "rebuilt.qpy"
    # Each script runs as __main__ (printing its circuit) and its build() is saved to QPY.
    driver = textwrap.dedent(
        """\
        import contextlib, io, runpy, sys
        from qiskit import qpy
        circuits = []
        for script in sys.argv[2:]:
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                namespace = runpy.run_path(script, run_name="__main__")
            assert printed.getvalue().lstrip().startswith(("q", "┌")), script
            circuits.append(namespace["build"]())
        with open(sys.argv[1], "wb") as stream:
            qpy.dump(circuits, stream)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", driver, str(out), *map(str, scripts)],
        cwd=tmp_path,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with out.open("rb") as stream:
        rebuilt = qpy.load(stream)
    assert len(rebuilt) == len(designs)
    rng = np.random.default_rng(6)
    for index, (design, circuit) in enumerate(zip(designs, rebuilt)):
        assert len(circuit.data) == len(design.gates), f"design {index}"
        assert_same_unitary(design.to_circuit(), circuit, random_values(rng))


def test_python_script_is_plain_readable_qiskit():
    script = python_script(sample_design(), name="demo")
    compile(script, "demo.py", "exec")
    assert "qmlstudio" not in script.replace("QML Studio", "")
    assert 'θ = ParameterVector("θ", 3)' in script
    assert 'x = ParameterVector("x", 2)' in script
    assert "qc.rzz((pi - x[0]) * (pi - x[1]), 0, 2)" in script
    assert "    # encoding" in script
    assert "def sin(value):" in script and "def sqrt(value):" in script
    assert "def exp(value):" not in script  # only the functions it uses


def test_python_script_of_a_hostile_name_is_still_valid():
    script = python_script(CircuitDesign(1, [Gate("h", (0,))]), name='x"""\nimport os; os.remove("y")')
    namespace: dict = {}
    exec(compile(script, "hostile.py", "exec"), namespace)  # defines build(), runs nothing else
    assert namespace["build"]().name.startswith('x"""')


# ---------------------------------------------------------------- pictures
@pytest.mark.parametrize("design", [sample_design(), CircuitDesign(2)], ids=["sample", "empty"])
def test_png_and_svg_exports_are_pictures(tmp_path, design):
    png = export_circuit(design, tmp_path / "circuit.png").read_bytes()
    svg = export_circuit(design, tmp_path / "circuit.SVG").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg[:2000] and svg.rstrip().endswith(b"</svg>")
    from matplotlib import pyplot

    assert pyplot.get_fignums() == []  # the figures were closed


def test_picture_export_picks_a_headless_backend():
    code = textwrap.dedent(
        """\
        import sys, tempfile, pathlib
        from qmlstudio.core.circuit import CircuitDesign, Gate
        from qmlstudio.core.circuit_files import export_circuit
        assert "matplotlib.pyplot" not in sys.modules
        folder = pathlib.Path(tempfile.mkdtemp())
        export_circuit(CircuitDesign(1, [Gate("h", (0,))]), folder / "c.png")
        import matplotlib
        print(matplotlib.get_backend())
        """
    )
    # A backend that cannot even load stands for an interactive one (QtAgg in the app):
    # the export must not touch it.
    env = {**os.environ, "MPLBACKEND": "module://no_such_backend"}
    env["PYTHONPATH"] = str(Path(circuit_files.__file__).parents[2])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().lower() == "agg"


# ------------------------------------------------------------ export errors
@pytest.mark.parametrize("name", ["circuit.txt", "circuit", "circuit.qasm.bak"])
def test_export_to_unknown_suffix_names_the_supported_ones(tmp_path, name):
    with pytest.raises(CircuitFileError) as caught:
        export_circuit(sample_design(), tmp_path / name)
    assert isinstance(caught.value, QMLStudioError)
    assert_one_line_about(caught, tmp_path / name, *EXPORT_FORMATS)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["qiskit.py", "math.py"])
def test_script_may_not_hide_the_modules_it_imports(tmp_path, name):
    with pytest.raises(CircuitFileError) as caught:
        export_circuit(sample_design(), tmp_path / name)
    assert_one_line_about(caught, tmp_path / name, "choose another name")


def test_export_into_a_missing_folder_is_a_clear_error(tmp_path):
    target = tmp_path / "no such folder" / "c.qasm"
    with pytest.raises(CircuitFileError) as caught:
        export_circuit(sample_design(), target)
    assert_one_line_about(caught, target, "cannot write", "No such file or directory")


def test_export_replaces_a_file_atomically(tmp_path, monkeypatch):
    target = tmp_path / "c.qasm"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)

    def broken_replace(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(circuit_files.os, "replace", broken_replace)
    with pytest.raises(CircuitFileError, match="No space left on device"):
        export_circuit(sample_design(), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.qasm"]  # no temporary file left behind

    monkeypatch.undo()
    export_circuit(sample_design(), target)
    assert target.read_text(encoding="utf-8").startswith("OPENQASM 3.0;")
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["c.qasm"]


# ------------------------------------------------------------ import errors
def test_import_of_a_missing_file(tmp_path):
    path = tmp_path / "gone.qasm"
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, "does not exist")


def test_import_of_a_folder(tmp_path):
    path = tmp_path / "folder.qpy"
    path.mkdir()
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, "folder")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        pytest.param("this is not a circuit {", ["invalid OpenQASM 3: syntax error at line 1, column 9, near 'not'"], id="garbage"),
        pytest.param("OPENQASM 3.0;\nqubit q;\nh q", ["syntax error at line 3, column 4, near the end of the file"], id="cut-short"),
        pytest.param("OPENQASM 3.0;\nqubit[2] q;\nfoo q[0];\n", ["line 3, column 1: gate 'foo' is not defined"], id="unknown-gate"),
        pytest.param(
            "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[1];\nh q[1];\n",
            ["invalid OpenQASM 2: line 4, column 5: index 1 is out-of-range"],
            id="qasm2-out-of-range",
        ),
        pytest.param(
            "OPENQASM 2.0;\ninclude \"qelib1.inc\";\nopaque magic a;\nqreg q[1];\nmagic q[0];\n",
            ["its gates cannot be turned into editor gates", "magic"],
            id="opaque-gate",
        ),
        pytest.param("OPENQASM 4.0;\nqubit q;\n", ["OpenQASM 4 is not supported"], id="version-4"),
        pytest.param("   \n", ["the file is empty"], id="empty"),
        pytest.param(
            'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] a;\nqubit q;\nrx(sin(a)) q;\n',
            ["invalid OpenQASM 3: line 5, column 4", "export as .qpy"],
            id="function-in-angle",
        ),
        pytest.param(
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[65] q;\nh q[0];\n',
            ["65 qubits"],
            id="too-many-qubits",
        ),
        pytest.param(
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit c;\nc = measure q[0];\nif (c) { x q[1]; }\n',
            ["cannot turn 'if_else' into an editor gate"],
            id="classical-control",
        ),
    ],
)
def test_import_of_bad_qasm_is_one_clear_error(tmp_path, content, fragments):
    path = tmp_path / "bad.qasm"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, "cannot import", *fragments)


def test_import_of_binary_qasm(tmp_path):
    path = tmp_path / "binary.qasm"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, "not a text file")


def test_import_of_truncated_qpy(tmp_path):
    whole = io.BytesIO()
    qpy.dump(zz_feature_map(2), whole)
    data = whole.getvalue()
    path = tmp_path / "cut.qpy"
    for cut in (len(data) // 2, 20, 5):
        path.write_bytes(data[:cut])
        with pytest.raises(CircuitFileError) as caught:
            import_circuit(path)
        assert_one_line_about(caught, path, "not a readable QPY file")
        assert "\\x1b" not in str(caught.value) and "\x1b" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(b"", "the file is empty"), (b"OPENQASM 3.0;\nqubit q;\n", "not a readable QPY file (it lacks the QPY header)")],
    ids=["empty", "not-qpy"],
)
def test_import_of_bad_qpy(tmp_path, data, fragment):
    path = tmp_path / "bad.qpy"
    path.write_bytes(data)
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, fragment)


def test_import_of_qpy_without_circuits(tmp_path):
    path = tmp_path / "none.qpy"
    with path.open("wb") as stream:
        qpy.dump([], stream)
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, "holds no circuit")


def test_import_of_qpy_takes_the_first_circuit(tmp_path):
    first, second = QuantumCircuit(1), QuantumCircuit(2)
    first.rx(Parameter("x[0]"), 0)
    second.h(1)
    path = tmp_path / "two.qpy"
    with path.open("wb") as stream:
        qpy.dump([first, second], stream)
    design = import_circuit(path)
    assert design.num_qubits == 1
    assert design.gates[0].params[0].text == "x[0]"


def test_import_of_unknown_suffix(tmp_path):
    path = tmp_path / "circuit.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(CircuitFileError) as caught:
        import_circuit(path)
    assert_one_line_about(caught, path, ".qasm", ".qpy")
