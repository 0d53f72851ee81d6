"""Issue #23 defects 1 and 5: angle text.

1. Saving wrote the canonical text of an angle (spaces around operators, ``π`` as ``pi``,
   numbers in full), which could pass the length limit that loading checked: the project
   could not be reopened. Now the limit holds for the text as written out, and is large
   enough for everything an earlier version could have saved.
5. Angle expressions raised raw tracebacks (an integer literal over 1e308, hundreds of
   unary minus signs, a formula that overflows at train time, a division by zero at export,
   ``x[7]`` on 2 features) or were refused at train time without saying where (a derivative
   over 500 characters). Each is now a clear message naming the gate, or works.
"""

from __future__ import annotations

import json
import random

import pytest

from qmlstudio import cli
from qmlstudio.core.errors import ExpressionError
from qmlstudio.core.expressions import MAX_LENGTH, Angle
from qmlstudio.core.project import load_project, save_project

TRACEBACK = "Traceback (most recent call last)"


# ------------------------------------------------------------------ defect 1
def _random_angle(rng: random.Random, depth: int = 0) -> str:
    """A random angle as a user might type it: compact, with π, numbers written short."""
    leaf = rng.random() < 0.35 or depth > 5
    if leaf:
        return rng.choice([
            f"θ[{rng.randrange(12)}]", f"w[{rng.randrange(12)}]", f"theta[{rng.randrange(12)}]", f"x[{rng.randrange(4)}]",
            "π", "pi", "e", str(rng.randrange(1, 9)), f"{rng.uniform(0.01, 9):.3g}", rng.choice(["1e15", "9e15", "1e-7", "2.5e3"]),
        ])
    kind = rng.random()
    if kind < 0.55:
        op = rng.choice("+-*/")
        right = _random_angle(rng, depth + 1)
        if op == "/" and not any(s in right for s in "θwx"):
            right = "2"  # a constant divisor that could be 0 is refused on purpose, not by this test
        return f"{_random_angle(rng, depth + 1)}{op}{right}"
    if kind < 0.7:
        return f"({_random_angle(rng, depth + 1)})"
    if kind < 0.8:
        return f"-{_random_angle(rng, depth + 1)}"
    if kind < 0.9:
        return f"{rng.choice(['sin', 'cos', 'sqrt', 'abs'])}({_random_angle(rng, depth + 1)})"
    return f"{_random_angle(rng, depth + 1)}**{rng.choice(['2', '3', '0.5'])}"


def test_defect1_the_text_saved_for_any_accepted_angle_is_accepted_again_and_unchanged():
    rng = random.Random(23)
    accepted = 0
    for _ in range(300):
        text = _random_angle(rng)
        if rng.random() < 0.2:  # long sums, as a user builds them with copy and paste
            text = "+".join(_random_angle(rng) for _ in range(rng.randrange(20, 120)))
        try:
            angle = Angle(text)
        except ExpressionError:
            continue
        accepted += 1
        again = Angle(angle.text)
        assert again.text == angle.text, text
        assert len(angle.text) <= MAX_LENGTH
    assert accepted >= 150


def _project_file_with(tmp_path, texts: list[str]):
    path = tmp_path / "p.qmls"
    assert cli.main(["new", str(path), "--dataset", "moons", "--epochs", "1"]) == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    gates = data["circuit"]["gates"]
    for gate, text in zip([g for g in gates if g.get("params")], texts):
        gate["params"] = [text]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_defect1_a_project_saved_with_long_angles_reopens(tmp_path):
    rng = random.Random(5)
    # Each typed text is under the 500 characters the old loader checked; written out, the
    # first is about 1,000 and the second about 2,000 (numbers in full, spaces around operators).
    typed = ["+".join(f"θ[{i % 6}]" for i in range(99)), "9e15+" * 99 + "1",
             "*".join(f"cos(θ[{i % 6}]+π/4)" for i in range(20))]
    typed += [_random_angle(rng) for _ in range(40)]
    typed = [t for t in typed if _accepted(t)]
    path = _project_file_with(tmp_path, typed)
    project = load_project(path)
    save_project(project, path)
    reopened = load_project(path)
    assert [g.params for g in reopened.circuit.gates] == [g.params for g in project.circuit.gates]
    assert max(len(a.text) for g in reopened.circuit.gates for a in g.params) > 1900


def test_defect1_a_file_written_as_an_earlier_version_wrote_it_opens(tmp_path):
    """An earlier version checked only the typed text (≤ 500) and saved its canonical form."""
    canonical = " + ".join(["9000000000000000.0"] * 99 + ["1"])
    assert 500 < len(canonical) <= MAX_LENGTH
    path = _project_file_with(tmp_path, [canonical])
    assert str(load_project(path).circuit.gates[0].params[0]) == canonical


def _accepted(text: str) -> bool:
    try:
        Angle(text)
    except ExpressionError:
        return False
    return True


# ------------------------------------------------------------------ defect 5: parsing
@pytest.mark.parametrize("text, message", [
    ("1" + "0" * 400, "numbers must be finite"),
    ("1" + "0" * 310 + "*x[0]", "numbers must be finite"),
    ("-" * 500 + "x[0]", "more than 250 deep"),
    ("(" * 300 + "x[0]" + ")" * 300, "too many nested parentheses"),
    ("θ[0]+" * 600 + "1", "more than the 2,500"),
])
def test_defect5_a_hostile_angle_is_refused_with_a_message(text, message):
    with pytest.raises(ExpressionError) as caught:
        Angle(text)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300  # the message quotes the text cut short


LONG_DERIVATIVE = "*".join(f"sin(θ[0]*x[{i % 2}]+θ[1]*{i + 1})" for i in range(8))


def test_defect5_a_derivative_longer_than_the_typed_limit_is_built():
    angle = Angle(LONG_DERIVATIVE)
    derivative = angle.derivative(0)
    assert len(derivative.text) > 1000
    import numpy as np

    w, x = np.array([0.3, -0.2]), np.array([[0.1, 0.5]])
    h = 1e-6
    numeric = (angle.evaluate(w + [h, 0], x) - angle.evaluate(w - [h, 0], x)) / (2 * h)
    assert np.allclose(derivative.evaluate(w, x), numeric, atol=1e-7)


# ------------------------------------------------------------------ defect 5: train and export
def _run(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert TRACEBACK not in err
    return code, err


def test_defect5_an_angle_whose_derivative_is_long_trains(tmp_path, capsys):
    path = _project_file_with(tmp_path, [LONG_DERIVATIVE])
    code, err = _run(["train", str(path), "--epochs", "1"], capsys)
    assert code == 0, err
    assert load_project(path).runs[-1].status == "completed"


@pytest.mark.parametrize("text", ["exp(exp(exp(exp(θ[0]*50))))", "1/(θ[0]-θ[0])", "x[0]/(x[1]-x[1])"])
def test_defect5_an_angle_that_is_not_finite_at_train_time_is_named(tmp_path, capsys, text):
    path = _project_file_with(tmp_path, [text])
    before = path.read_bytes()
    code, err = _run(["train", str(path), "--epochs", "1"], capsys)
    assert code != 0
    assert "the RY gate on qubit 0" in err and "is not finite" in err and "RuntimeWarning" not in err
    assert path.read_bytes() == before


def test_defect5_an_input_the_encoding_lacks_is_refused_before_training_with_its_gate(tmp_path, capsys):
    path = _project_file_with(tmp_path, ["θ[0]", "x[7]"])
    before = path.read_bytes()
    code, err = _run(["train", str(path), "--epochs", "1"], capsys)
    assert code != 0
    assert "reads x[7]" in err and "gives x[0] to x[1]" in err and "in column" in err
    assert "iteration" not in err  # refused before the first step
    assert path.read_bytes() == before


def test_defect5_a_weight_times_1e308_stops_as_a_divergence_without_warnings(tmp_path, capsys):
    path = _project_file_with(tmp_path, ["θ[0]*1e308"])
    code, err = _run(["train", str(path), "--epochs", "1"], capsys)
    assert code != 0
    assert "gradient too large" in err and "RuntimeWarning" not in err


@pytest.mark.parametrize("suffix", [".qasm", ".qpy"])
def test_defect5_a_division_by_zero_at_export_is_named(tmp_path, capsys, suffix):
    path = _project_file_with(tmp_path, ["1/(θ[0]-θ[0])"])
    out = tmp_path / f"c{suffix}"
    code, err = _run(["export", str(path), "--circuit", str(out)], capsys)
    assert code != 0
    assert "the RY gate on qubit 0 in column 1" in err and "zero division" in err
    assert not out.exists()


def test_defect5_a_1e308_constant_at_export_is_named(tmp_path, capsys):
    path = _project_file_with(tmp_path, ["1e308"])
    out = tmp_path / "c.qasm"
    code, err = _run(["export", str(path), "--circuit", str(out)], capsys)
    assert code != 0
    assert "the RY gate on qubit 0 in column 1: angle '1e+308' is too large to write" in err
    assert not out.exists()
