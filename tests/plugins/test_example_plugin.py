"""The example third-party plugin, as a user gets it: built as a wheel, installed through the
protected installer (``qmlstudio plugins install``) into a temporary environment, discovered by
entry point, passing its own tests (written with ``qmlstudio.testing``) and training from the CLI.

Everything runs offline: the wheel is built with ``pip wheel --no-build-isolation --no-index``
and installed with ``--no-index`` (see DEVELOPERS.md, "Known pitfalls").
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.test_installer import env_state, env_vars, hermetic_pip, make_env

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "plugins" / "example-plugin"
PARTS = {
    "encodings": ["example-arctan"],
    "ansatze": ["example-ry-cz"],
    "optimizers": ["example-momentum"],
    "datasets": ["example-spirals"],
    "backends": ["example-noisy-aer"],
}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A temporary environment with the example plugin installed by ``qmlstudio plugins install``."""
    monkeypatch = pytest.MonkeyPatch()
    hermetic_pip(monkeypatch)
    try:
        work = tmp_path_factory.mktemp("example-plugin")
        shutil.copytree(SOURCE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        dist = work / "dist"
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
             str(dist), str(work / "src")],
            capture_output=True, text=True, timeout=300,
        )
        assert build.returncode == 0, build.stdout + build.stderr
        wheel = next(dist.glob("qmlstudio_example_plugin-0.1.0-*.whl"))
        python, site_dir = make_env(work / "venv")
        config = work / "config"
        env = env_vars(config)
        install = subprocess.run([str(python), "-m", "qmlstudio", "plugins", "install", str(wheel), "--no-index", "--yes"],
                                 capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
        assert install.returncode == 0, install.stdout + install.stderr
        yield python, site_dir, config, env, install.stdout
    finally:
        monkeypatch.undo()


def test_the_protected_installer_installed_it_and_recorded_the_change(installed):
    python, site_dir, config, _, output = installed
    assert "install    qmlstudio-example-plugin 0.1.0" in output  # the dry run's plan came first
    provided = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in PARTS.items())
    assert f"plugin 'example': ok ({provided})" in output
    assert list(site_dir.glob("qmlstudio_example_plugin-0.1.0.dist-info"))
    history = json.loads((env_state(python, config) / "plugin-history.json").read_text())
    assert [c["after"] for c in history["changes"]] == [{"qmlstudio-example-plugin": "0.1.0"}]


def test_manager_discovers_every_part_of_the_installed_wheel(installed):
    python, _, _, env, _ = installed
    result = subprocess.run([str(python), "-m", "qmlstudio", "plugins", "--json"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    example = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}["example"]
    assert (example["status"], example["builtin"], example["source"], example["version"]) == (
        "ok", False, "qmlstudio-example-plugin", "0.1.0")
    assert example["provides"] == PARTS
    assert example["parts"]["backends"][0]["unavailable"] is None
    shown = subprocess.run([str(python), "-m", "qmlstudio", "plugins", "show", "example"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "        error (float): default 0.01, range 0..0.5. depolarizing probability per gate" in shown.stdout


def test_plugin_own_tests_pass_against_the_installed_wheel(installed, tmp_path):
    python, site_dir, _, env, _ = installed
    tests = tmp_path / "tests"  # a copy, so that nothing of the source folder is importable
    shutil.copytree(SOURCE / "tests", tests, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tests)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout
    where = subprocess.run([str(python), "-c", "import qmls_example; print(qmls_example.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert where.stdout.strip().startswith(str(site_dir)), where.stdout + where.stderr


def test_example_parts_train_a_model_from_the_command_line(installed, tmp_path):
    python, _, _, env, _ = installed
    project = tmp_path / "spirals.qmls"
    new = subprocess.run(
        [str(python), "-m", "qmlstudio", "new", str(project), "--dataset", "example-spirals", "--encoding",
         "example-arctan", "--encoding-option", "scale=2", "--ansatz", "example-ry-cz", "--reps", "1",
         "--optimizer", "example-momentum", "--dataset-option", "samples=80", "--epochs", "2"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert new.returncode == 0, new.stderr
    train = subprocess.run([str(python), "-m", "qmlstudio", "train", str(project), "--json"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert train.returncode == 0, train.stderr
    lines = [json.loads(line) for line in train.stdout.splitlines()]
    done = lines[-1]
    assert done["event"] == "done" and done["status"] == "completed"
    assert 0.0 <= done["test_accuracy"] <= 1.0
    assert len([row for row in lines[:-1] if "loss" in row]) == 2 * 2  # 64 training samples in batches of 32
    saved = json.loads(project.read_text())
    assert saved["encoding"]["name"] == "example-arctan" and saved["optimizer"]["name"] == "example-momentum"
    assert saved["dataset"]["options"]["seed"] == 7 and len(saved["runs"]) == 1


def test_the_kit_fixtures_load_through_qmlstudios_pytest11_entry_point(installed, tmp_path):
    """Without the conftest import: the fixtures come from the entry point QML Studio declares."""
    import tomllib

    python, _, _, env, _ = installed
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]["pytest11"]
    assert declared == {"qmlstudio.testing.pytest_plugin": "qmlstudio.testing.pytest_plugin"}
    # the editable install this suite runs from may predate the entry point: declare it in a
    # distribution of its own, exactly as QML Studio's metadata does
    site = tmp_path / "site"
    info = site / "qmlstudio_pytest_probe-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qmlstudio-pytest-probe\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in declared.items()))
    tests = tmp_path / "tests"
    shutil.copytree(SOURCE / "tests", tests, ignore=shutil.ignore_patterns("__pycache__", "conftest.py"))
    for with_conftest in (False, True):  # and with both: the plugin is not registered twice
        if with_conftest:
            shutil.copy(SOURCE / "tests" / "conftest.py", tests / "conftest.py")
        result = subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tests),
             "-k", "ansatze or optimizers"],
            capture_output=True, text=True, env={**env, "PYTHONPATH": f"{site}:{env.get('PYTHONPATH', '')}"},
            cwd=tmp_path, timeout=300,
        )
        assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr
