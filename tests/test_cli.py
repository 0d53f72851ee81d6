"""The command line: usage errors exit 2, failures exit 1 with one line on stderr, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from qmlstudio import __version__
from qmlstudio.cli import main
from qmlstudio.core.project import load_project


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"qmlstudio {__version__}"


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "qmlstudio", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"qmlstudio {__version__}"


def test_new_writes_a_ready_project(tmp_path, capsys):
    path = tmp_path / "p.qmls"
    code, out, _ = run(capsys, "new", str(path), "--dataset", "moons", "--encoding", "angle", "--ansatz",
                       "real-amplitudes", "--reps", "2", "--optimizer", "adam", "--seed", "7")
    assert code == 0, out
    project = load_project(path)
    assert project.dataset.name == "moons"
    assert project.encoding.name == "angle" and project.encoding.options["rotation"] == "ry"
    assert project.ansatz.name == "real-amplitudes" and project.ansatz.options["reps"] == 2
    assert project.circuit.num_qubits == 2 and project.circuit.num_weights == 6
    assert project.model.kind == "vqc" and project.optimizer.name == "adam" and project.seed == 7
    assert project.backend.name == "statevector"


def test_new_with_features_uses_pca_and_sizes_the_circuit(tmp_path, capsys):
    path = tmp_path / "wine.qmls"
    code, _, err = run(capsys, "new", str(path), "--dataset", "wine", "--features", "4", "--encoding", "dense-angle",
                       "--ansatz", "efficient-su2", "--reps", "1")
    assert code == 0, err
    project = load_project(path)
    assert project.preprocessing.pca == 4
    assert project.circuit.num_qubits == 2


def test_new_options_are_checked(tmp_path, capsys):
    code, _, err = run(capsys, "new", str(tmp_path / "x.qmls"), "--dataset", "moons", "--dataset-option", "samples=abc")
    assert code == 1 and "option 'samples'" in err and "abc" in err
    code, _, err = run(capsys, "new", str(tmp_path / "x.qmls"), "--dataset", "moons", "--encoding-option", "bogus=1")
    assert code == 1 and "unknown option(s) bogus" in err
    code, _, err = run(capsys, "new", str(tmp_path / "x.qmls"), "--dataset", "moons", "--encoding-option", "novalue")
    assert code == 1 and "NAME=VALUE" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--dataset", "moons", "--encoding", "nope"], "unknown encoding 'nope'"),
        (["--dataset", "moons", "--ansatz", "nope"], "unknown ansatz 'nope'"),
        (["--dataset", "moons", "--optimizer", "nope"], "unknown optimizer 'nope'"),
        (["--dataset", "moons", "--backend", "nope"], "unknown backend 'nope'"),
        (["--dataset", "moons", "--features", "5"], "has only 2"),
        (["--dataset", "moons", "--reps", "0"], "--reps must be at least 1"),
    ],
)
def test_new_failures_exit_1_with_a_message(tmp_path, capsys, args, message):
    code, _, err = run(capsys, "new", str(tmp_path / "x.qmls"), *args)
    assert code == 1
    assert err.startswith("qmlstudio: error: ") and message in err
    assert not (tmp_path / "x.qmls").exists()


def test_new_refuses_to_overwrite(tmp_path, capsys):
    path = tmp_path / "p.qmls"
    path.write_text("precious")
    code, _, err = run(capsys, "new", str(path), "--dataset", "moons")
    assert code == 1 and "--force" in err
    assert path.read_text() == "precious"


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["new"])
    assert exit_info.value.code == 2
    assert "required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("suffix, magic", [(".qasm", b"OPENQASM 3"), (".qpy", b"QISKIT"), (".py", b"#!/usr/bin/env python3"),
                                           (".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_export_by_suffix(tmp_path, capsys, suffix, magic):
    project = tmp_path / "p.qmls"
    assert run(capsys, "new", str(project), "--dataset", "moons")[0] == 0
    out = tmp_path / f"circuit{suffix}"
    code, _, err = run(capsys, "export", str(project), "--circuit", str(out))
    assert code == 0, err
    assert out.read_bytes().startswith(magic)


def test_export_failures(tmp_path, capsys):
    code, _, err = run(capsys, "export", str(tmp_path / "missing.qmls"), "--circuit", str(tmp_path / "c.qasm"))
    assert code == 1 and "missing.qmls" in err
    (tmp_path / "broken.qmls").write_text('{"schema_version": 1, "circuit": {"num_qubits": "two"}}')
    code, _, err = run(capsys, "export", str(tmp_path / "broken.qmls"), "--circuit", str(tmp_path / "c.qasm"))
    assert code == 1 and "circuit.num_qubits" in err


def test_plugins_json(capsys):
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0
    names = {p["name"] for p in json.loads(out)["plugins"]}
    assert {"encodings", "ansatze", "optimizers", "datasets", "aer"} <= names


def test_gui_missing_project_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "gui", str(tmp_path / "nope.qmls"))
    assert code == 1 and "no such project file" in err


def test_gui_opens_the_demo_project_and_quits_cleanly():
    """What `make run` does, offscreen: the window opens on the demo project and exits 0."""
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "resources" / "demo.qmls"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-m", "qmlstudio", "gui", str(demo), "--quit-after", "300"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_demo_project_is_what_the_readme_promises():
    from pathlib import Path

    project = load_project(Path(__file__).resolve().parents[1] / "resources" / "demo.qmls")
    assert (project.dataset.name, project.encoding.name, project.ansatz.name) == ("moons", "angle", "real-amplitudes")
    assert project.ansatz.options["reps"] == 2
    assert (project.optimizer.name, project.backend.name, project.model.kind) == ("adam", "statevector", "vqc")
