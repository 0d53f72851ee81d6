"""`qmlstudio new` picks a dataset's natural scaling, warns when a scaling destroys the data's
structure, takes model options as flags; `qmlstudio train --seed` runs with another seed and
records it."""

from __future__ import annotations

import json

import pytest

from qmlstudio.cli import main
from qmlstudio.core.project import load_project
from qmlstudio.plugins.manager import load_plugins

ADHOC_KERNEL = ["--dataset", "ad-hoc", "--encoding", "zz-feature-map", "--model", "kernel", "--seed", "3"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def done_line(out: str) -> dict:
    done = json.loads(out.strip().splitlines()[-1])
    assert done["event"] == "done"
    return done


def test_adhoc_kernel_with_the_datasets_default_scaling_reaches_090(tmp_path, capsys):
    path = str(tmp_path / "k.qmls")
    code, _, err = cli(capsys, "new", path, *ADHOC_KERNEL)
    assert code == 0 and "warning" not in err
    assert load_project(path).preprocessing.scaling == "none"  # ad-hoc lies in [0, 2π] already
    code, out, err = cli(capsys, "train", path, "--json")
    assert code == 0, err
    done = done_line(out)
    assert done["status"] == "completed" and done["test_accuracy"] >= 0.9


def test_forcing_minmax_pi_on_adhoc_warns_and_ruins_the_kernel(tmp_path, capsys):
    path = str(tmp_path / "k.qmls")
    code, _, err = cli(capsys, "new", path, *ADHOC_KERNEL, "--scaling", "minmax-pi")
    assert code == 0 and "warning" in err and "natural range [0, 2π]" in err and "'minmax-pi'" in err
    assert load_project(path).preprocessing.scaling == "minmax-pi"  # the user's choice is kept
    code, out, err = cli(capsys, "train", path, "--json", "--no-save")
    assert code == 0 and "natural range" in err  # said again when it trains
    assert done_line(out)["test_accuracy"] < 0.8  # what the warning is about (0.55 measured)


def test_other_datasets_keep_minmax_pi_without_a_warning(tmp_path, capsys):
    code, _, err = cli(capsys, "new", str(tmp_path / "m.qmls"), "--dataset", "moons")
    assert code == 0 and "warning" not in err
    assert load_project(tmp_path / "m.qmls").preprocessing.scaling == "minmax-pi"
    code, _, err = cli(capsys, "new", str(tmp_path / "s.qmls"), "--dataset", "moons", "--scaling", "standardize")
    assert code == 0 and "warning" not in err
    assert load_project(tmp_path / "s.qmls").preprocessing.scaling == "standardize"


def test_dataset_descriptors_declare_their_natural_range():
    registry = load_plugins()
    adhoc = registry.get("datasets", "ad-hoc")
    assert adhoc.problems() == [] and adhoc.default_scaling == "none"
    assert adhoc.natural_range == pytest.approx((0.0, 6.283185307179586))
    assert adhoc.to_dict()["natural_range"] == pytest.approx([0.0, 6.283185307179586])
    data = adhoc.create({"training_size": 10, "test_size": 5})
    assert data.features.min() >= 0 and data.features.max() <= 2 * 3.141592653589793  # the range is true
    moons = registry.get("datasets", "moons")
    assert moons.natural_range is None and moons.scaling_warning("minmax-pi") is None
    assert adhoc.scaling_warning("none") is None and "destroys" in adhoc.scaling_warning("standardize")


def test_model_options_as_flags(tmp_path, capsys):
    path = str(tmp_path / "v.qmls")
    code, _, err = cli(capsys, "new", path, "--dataset", "iris", "--readout", "z", "--init-scale", "0.1",
                       "--model-option", "gradient=parameter-shift", "--model-option", "baselines=false")
    assert code == 0, err
    assert load_project(path).model.options == {"readout": "z", "init_scale": 0.1, "gradient": "parameter-shift",
                                                "baselines": False}
    path = str(tmp_path / "k.qmls")
    assert cli(capsys, "new", path, *ADHOC_KERNEL, "--C", "2.5")[0] == 0
    assert load_project(path).model.options == {"C": 2.5}


@pytest.mark.parametrize("flags, words", [
    (["--C", "2"], ["'C'", "kernel", "not vqc"]),
    (["--readout", "z", "--model", "kernel"], ["'readout'", "not kernel"]),
    (["--init-scale", "0"], ["init_scale must be greater than 0"]),
    (["--model-option", "eval_every=often"], ["eval_every", "expected int", "'often'"]),
    (["--model-option", "colour=red"], ["unknown option 'colour'"]),
    (["--model-option", "gradient=magic"], ["gradient must be one of"]),
])
def test_bad_model_options_are_refused(tmp_path, capsys, flags, words):
    path = tmp_path / "bad.qmls"
    code, _, err = cli(capsys, "new", str(path), "--dataset", "moons", *flags)
    assert code == 1 and all(word in err for word in words), err
    assert not path.exists()


def test_train_seed_is_used_for_the_run_and_recorded(tmp_path, capsys):
    path = str(tmp_path / "m.qmls")
    assert cli(capsys, "new", path, "--dataset", "moons", "--dataset-option", "samples=40", "--epochs", "1",
               "--batch-size", "0", "--model-option", "baselines=false", "--seed", "7")[0] == 0
    for seed in ("11", "11", None):
        code, out, err = cli(capsys, "train", path, "--json", *(["--seed", seed] if seed else []))
        assert code == 0, err
    project = load_project(path)
    assert project.seed == 7  # the project's own seed is unchanged
    first, second, default = project.runs
    assert first.config["seed"] == 11 and first.seeds["split"] == 11 and first.seeds["initial_weights"] == 11
    assert first.initial_weights == second.initial_weights and first.metrics["loss"] == second.metrics["loss"]
    assert default.config["seed"] == 7 and default.initial_weights != first.initial_weights
    code, _, err = cli(capsys, "train", path, "--seed", "-1")
    assert code == 1 and "--seed" in err


@pytest.mark.parametrize("command", ["new", "train", "evaluate"])
def test_every_command_reads_the_same_backend_choice_text(tmp_path, command):
    """#23 point 11: 'new --backend aer-noise:fake_manila' was refused as an unknown backend
    while train and evaluate accepted the same text; all three now share backend_choice."""
    from qmlstudio.cli import main

    path = tmp_path / "p.qmls"
    choice = "aer-noise:fake_manila,shots=64,seed=1"
    if command == "new":
        assert main(["new", str(path), "--dataset", "moons", "--backend", choice, "--epochs", "1"]) == 0
        saved = load_project(path).backend
        assert (saved.name, saved.options["fake_backend"], saved.options["shots"]) == ("aer-noise", "fake_manila", 64)
        assert main(["new", str(tmp_path / "q.qmls"), "--dataset", "moons", "--backend", "aer-noise:fake_manilla"]) == 1
        return
    assert main(["new", str(path), "--dataset", "moons", "--dataset-option", "samples=24", "--epochs", "1",
                 "--batch-size", "0", "--optimizer", "cobyla", "--model-option", "baselines=false"]) == 0
    assert load_project(path).backend.name == "statevector"
    if command == "train":
        assert main(["train", str(path), "--backend", choice]) == 0
        assert load_project(path).runs[-1].config["backend"]["options"]["fake_backend"] == "fake_manila"
        return
    assert main(["train", str(path)]) == 0
    assert main(["evaluate", str(path), "--backend", choice]) == 0
    assert load_project(path).runs[-1].evaluations[-1]["options"]["fake_backend"] == "fake_manila"


def test_the_parity_readout_trains_two_classes_and_is_refused_for_three(tmp_path, capsys):
    """#19 point 3: a global-cost readout (⟨Z⊗…⊗Z⟩ of all qubits) beside the local one."""
    path = str(tmp_path / "p.qmls")
    code, _, err = cli(capsys, "new", path, "--dataset", "moons", "--readout", "parity", "--epochs", "2")
    assert code == 0 and "warning" not in err
    assert load_project(path).model.options["readout"] == "parity"
    code, out, err = cli(capsys, "train", path, "--json")
    assert code == 0, err
    assert done_line(out)["status"] == "completed"
    three = str(tmp_path / "iris.qmls")
    code, _, err = cli(capsys, "new", three, "--dataset", "iris", "--readout", "parity")
    assert code == 0 and "warning: 'train' will refuse it: the parity readout reads two classes, the data has 3" in err
    code, _, err = cli(capsys, "train", three)
    assert code != 0 and "the parity readout reads two classes" in err


@pytest.mark.parametrize("flags, says", [
    (["--reps", "3", "--ansatz-option", "reps=4"], "--reps 3 and --ansatz-option reps=4 disagree"),
    (["--readout", "parity", "--model-option", "readout=z"], "--readout parity and --model-option readout=z disagree"),
])
def test_a_flag_and_an_option_pair_that_disagree_are_refused(tmp_path, capsys, flags, says) -> None:
    path = tmp_path / "p.qmls"
    code, _, err = cli(capsys, "new", str(path), "--dataset", "moons", *flags)
    assert code == 1 and says in err and not path.exists()
    # The same value both ways is one choice, and taken.
    code, _, err = cli(capsys, "new", str(path), "--dataset", "moons", "--reps", "3", "--ansatz-option", "reps=3")
    assert code == 0 and load_project(path).ansatz.options["reps"] == 3
