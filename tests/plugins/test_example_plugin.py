"""The example third-party plugin: built as a wheel, installed offline, discovered by entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "plugins" / "example-plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example plugin's wheel, built without network and installed into a private folder."""
    work = tmp_path_factory.mktemp("example-plugin")
    shutil.copytree(SOURCE, work / "src", ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(work / "src")],
        capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    wheel = next(dist.glob("qmlstudio_example_plugin-*.whl"))
    site = work / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {k: v for k, v in os.environ.items() if k != "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return site, env


def test_manager_discovers_the_installed_wheel(installed):
    site, env = installed
    result = subprocess.run([sys.executable, "-m", "qmlstudio", "plugins", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    example = plugins["example"]
    assert example["status"] == "ok"
    assert example["builtin"] is False
    assert example["source"] == "qmlstudio-example-plugin"
    assert example["version"] == "0.1.0"
    assert example["provides"] == {"encodings": ["example-arctan"], "datasets": ["example-spirals"]}


def test_plugin_own_tests_pass_against_the_installed_wheel(installed):
    site, env = installed
    tests = SOURCE / "tests"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        capture_output=True, text=True, env=env, cwd=site, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_example_encoding_trains_a_model_end_to_end(installed, tmp_path):
    site, env = installed
    project = tmp_path / "spirals.qmls"
    new = subprocess.run(
        [sys.executable, "-m", "qmlstudio", "new", str(project), "--dataset", "example-spirals", "--encoding",
         "example-arctan", "--encoding-option", "scale=2", "--ansatz", "real-amplitudes", "--reps", "2",
         "--dataset-option", "samples=80"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert new.returncode == 0, new.stderr
    train = subprocess.run(
        [sys.executable, "-m", "qmlstudio", "train", str(project), "--epochs", "3", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert train.returncode == 0, train.stderr
    lines = [json.loads(line) for line in train.stdout.splitlines()]
    done = lines[-1]
    assert done["event"] == "done" and done["status"] == "completed"
    assert 0.0 <= done["test_accuracy"] <= 1.0
    losses = [row["loss"] for row in lines[:-1]]
    assert len(losses) == 3 * 2  # 60 training samples in batches of 32
    saved = json.loads(project.read_text())
    assert saved["encoding"]["name"] == "example-arctan" and len(saved["runs"]) == 1
