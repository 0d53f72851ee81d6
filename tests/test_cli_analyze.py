"""``qmlstudio analyze``: each study from the command line, as JSON and as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qmlstudio.cli import main


@pytest.fixture
def project_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.qmls"
    assert main(["new", str(path), "--dataset", "moons", "--epochs", "2", "--dataset-option", "samples=80"]) == 0
    return path


def test_analyze_barren_plateau_json(project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["analyze", "barren-plateau", str(project_file), "--qubits", "2-6", "--layers", "2,12",
                 "--samples", "120", "--heatmap", "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["qubits"] == [2, 3, 4, 5, 6] and data["layers"] == [2, 12]
    assert 0.6 < data["rate"]["global"]["12"] < 1.4
    assert data["rate"]["local"]["2"] < 0.5
    assert len(data["heatmap"]["grid"]["global"]) == 2


def test_analyze_barren_plateau_text_and_bad_range(project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "barren-plateau", str(project_file), "--qubits", "2-4", "--layers", "1",
                 "--samples", "20", "--template", "current"]) == 0
    out = capsys.readouterr().out
    assert "real-amplitudes" in out and "global" in out and "local" in out
    assert "95% bootstrap intervals of the variances" in out and out.count("[") >= 6  # 2 costs × 3 qubit counts
    assert main(["analyze", "barren-plateau", str(project_file), "--qubits", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("qmlstudio: error:") and err.count("\n") == 1


def test_analyze_encodings_and_keep(project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["analyze", "encodings", str(project_file), "--encodings", "angle,dense-angle", "--epochs", "2",
                 "--json", "--keep"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["encoding"] for r in data["rows"]] == ["angle", "dense-angle"]
    assert all(r["test_accuracy"] is not None for r in data["rows"])
    kept = json.loads(project_file.read_text())["runs"]
    assert len(kept) == 2


def test_analyze_kernel_and_report(project_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["analyze", "kernel", str(project_file), "--json", "--matrix"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["qsvc"]["test_accuracy"] is not None and data["rbf_svc"]["test_accuracy"] is not None
    assert len(data["gram"]) == data["num_train"]
    assert main(["train", str(project_file), "--epochs", "1"]) == 0
    out = tmp_path / "report.html"
    assert main(["analyze", "report", str(project_file), "-o", str(out)]) == 0
    assert "data:image/png;base64," in out.read_text(encoding="utf-8")


def test_analyze_missing_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "kernel", str(tmp_path / "nope.qmls")]) == 1
    assert "error" in capsys.readouterr().err


def test_analyze_encodings_same_ansatz_and_a_device(project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["analyze", "encodings", str(project_file), "--encodings", "iqp,zz-feature-map,dense-angle",
                 "--epochs", "1", "--device", "fake_manila", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["device"] == "fake_manila" and data["basis_gates"] == ["rz", "sx", "x", "cx"] and data["qubits"] == 2
    iqp, zz, dense = data["rows"]
    assert iqp["weights"] == zz["weights"] == dense["weights"]
    for key in ("encoding_depth", "encoding_two_qubit", "depth", "two_qubit", "device_depth", "device_two_qubit"):
        assert iqp[key] == zz[key] is not None, key
    assert main(["analyze", "encodings", str(project_file), "--encodings", "angle", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "the same ansatz on 2 qubits" in out and "transpiled to rz,sx,x,cx" in out
    assert main(["analyze", "encodings", str(project_file), "--device", "fake_nowhere"]) == 1
    assert "fake_nowhere" in capsys.readouterr().err


OVER_SEEDS = ["--encodings", "angle,amplitude", "--epochs", "2", "--seeds", "3", "--json"]


@pytest.fixture(scope="module")
def over_seeds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The encodings over three seeds, run once, sequentially: the project and the JSON."""
    import contextlib
    import io

    path = tmp_path_factory.mktemp("seeds") / "demo.qmls"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["new", str(path), "--dataset", "moons", "--epochs", "2", "--dataset-option", "samples=80"]) == 0
        assert main(["analyze", "encodings", str(path), *OVER_SEEDS]) == 0
    return path, json.loads(out.getvalue().strip().splitlines()[-1])


def test_analyze_encodings_over_seeds_reports_intervals(over_seeds: tuple[Path, dict],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    from scipy import stats

    project_file, data = over_seeds
    assert data["seeds"] == [0, 1, 2] and [r["seed"] for r in data["per_seed"]] == [0, 1, 2]
    for name in ("angle", "amplitude"):
        acc = np.array([next(r for r in run["rows"] if r["encoding"] == name)["test_accuracy"] for run in data["per_seed"]])
        s = data["summary"][name]["test_accuracy"]
        half = stats.t.ppf(0.975, 2) * acc.std(ddof=1) / np.sqrt(3)
        assert s["n"] == 3 and s["mean"] == pytest.approx(acc.mean()) and s["std"] == pytest.approx(acc.std(ddof=1))
        assert s["ci95"] == pytest.approx([acc.mean() - half, acc.mean() + half])
    capsys.readouterr()
    assert main(["analyze", "encodings", str(project_file), "--encodings", "angle", "--epochs", "1", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "encodings over seeds 0..1" in out and "angle" in out and "n=2" in out and "95% CI [" in out
    assert main(["analyze", "encodings", str(project_file), "--seeds", "0"]) == 1
    assert "--seeds must be at least 1" in capsys.readouterr().err


def test_analyze_encodings_over_seeds_on_dask_workers_equals_the_sequential_loop(
        over_seeds: tuple[Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    """The seeds as tasks on a real LocalCluster (the study runner's machinery): the same
    figures as the sequential loop."""
    project_file, sequential = over_seeds
    capsys.readouterr()
    assert main(["analyze", "encodings", str(project_file), *OVER_SEEDS, "--workers", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for name in ("angle", "amplitude"):  # the figures, not the times
        assert parallel["summary"][name]["test_accuracy"] == sequential["summary"][name]["test_accuracy"]
        assert parallel["summary"][name]["failed"] == sequential["summary"][name]["failed"] == []
    for seq, par in zip(sequential["per_seed"], parallel["per_seed"]):
        assert [(r["encoding"], r["test_accuracy"], r["status"]) for r in par["rows"]] == \
            [(r["encoding"], r["test_accuracy"], r["status"]) for r in seq["rows"]]
    assert main(["analyze", "encodings", str(project_file), "--workers", "2"]) == 1
    assert "give --seeds too" in capsys.readouterr().err


def test_analyze_barren_plateau_on_dask_workers_equals_the_sequential_loop(
        project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The sweep's points as tasks on a real LocalCluster (the study runner's machinery): the
    same variances, intervals and fitted rates, with the rate's interval reported."""
    common = ["analyze", "barren-plateau", str(project_file), "--qubits", "2-5", "--layers", "2,6",
              "--samples", "60", "--seed", "3", "--json"]
    capsys.readouterr()
    assert main(common) == 0
    sequential = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*common, "--workers", "2"]) == 0
    parallel = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("variance", "variance_ci95", "mean_abs_gradient", "rate", "rate_ci95", "qubits", "layers"):
        assert parallel[key] == sequential[key], key
    for cost in ("global", "local"):
        for layers in ("2", "6"):
            low, high = sequential["rate_ci95"][cost][layers]
            assert low < sequential["rate"][cost][layers] < high
    assert main([*common[:-1], "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "a (95% bootstrap interval)" in out and "global  6" in out


def test_analyze_barren_plateau_compares_initialisations_here_and_on_dask(
        project_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#19 point 4: --init compares the strategies side by side, each with its intervals; on
    the study runner's Dask workers the figures are the same."""
    common = ["analyze", "barren-plateau", str(project_file), "--qubits", "2-4", "--layers", "4",
              "--samples", "40", "--seed", "2", "--init", "uniform,small-angle,identity-blocks", "--json"]
    capsys.readouterr()
    assert main(common) == 0
    here = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert here["study"] == "initialisation" and here["strategies"] == ["uniform", "small-angle", "identity-blocks"]
    for name, result in here["results"].items():
        assert result["init"] == name and result["input_layer"] is True
        assert set(result["mean_square_rate_ci95"]) == {"global", "local"}
    assert here["results"]["identity-blocks"]["mean_square"]["local"]["4"] == pytest.approx([0.125] * 3)
    assert main([*common, "--workers", "2"]) == 0
    there = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for name in here["strategies"]:
        for key in ("variance", "mean_square", "rate", "mean_square_rate", "mean_square_rate_ci95"):
            assert there["results"][name][key] == here["results"][name][key], (name, key)
    assert main(common[:-1]) == 0
    out = capsys.readouterr().out
    assert "a of E[g^2]" in out and "identity-blocks  local" in out and "- (Var = 0)" in out
    assert main([*common[:-3], "--init", "zeros"]) == 1
    assert "unknown initialisation" in capsys.readouterr().err


@pytest.mark.parametrize("argv, says", [
    (["barren-plateau", "--epochs", "3"], "--epochs goes with analyze encodings, not barren-plateau"),
    (["kernel", "--init", "uniform"], "--init goes with analyze barren-plateau, not kernel"),
    (["barren-plateau", "-o", "plot.png"], "-o/--output goes with analyze report, not barren-plateau"),
    (["encodings", "--matrix"], "--matrix goes with analyze kernel, not encodings"),
    (["report", "--qubits", "2-3"], "--qubits goes with analyze barren-plateau, not report"),
    (["kernel", "--workers", "2"], "--workers goes with analyze barren-plateau or encodings, not kernel"),
    (["barren-plateau", "--epsilon", "0.1"], "--epsilon sets the small-angle initialisation of --init"),
    (["barren-plateau", "--init", "uniform", "--heatmap"], "--heatmap maps the project's own circuit"),
])
def test_an_option_the_study_does_not_use_is_refused_not_ignored(project_file: Path, capsys: pytest.CaptureFixture[str],
                                                                argv: list[str], says: str) -> None:
    assert main(["analyze", argv[0], str(project_file), *argv[1:]]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
