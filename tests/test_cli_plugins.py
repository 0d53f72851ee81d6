"""``qmlstudio plugins`` for people discovering plugins: descriptions and options (``show``),
a missing part that a disabled plugin provides, and the project seed reaching datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qmlstudio.cli import main
from qmlstudio.core.project import load_project
from qmlstudio.plugins import DatasetSpec, Option, hookimpl
from qmlstudio.plugins.manager import PluginRegistry, UnknownNameError, load_plugins
from qmlstudio.workflow import load_dataset


@pytest.fixture(autouse=True)
def own_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(tmp_path / "config"))


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_show_lists_parts_descriptions_and_every_option(capsys):
    code, out, _ = run(capsys, "plugins", "show", "datasets")
    assert code == 0
    assert "datasets " in out.splitlines()[0] and "[built-in]  ok" in out.splitlines()[0]
    assert "  dataset moons: Two moons\n      Two interleaving half circles" in out
    assert "        samples (int): default 200, range 10..100000. Number of points in total" in out
    assert "        seed (int): default 0, range 0..4294967295." in out
    spec = load_plugins().get("datasets", "moons")
    for option in spec.options:  # every declared option, none left out
        assert f"        {option.name} ({option.type}): default {option.default!r}" in out


def test_show_a_part_by_name_and_as_json(capsys):
    code, out, _ = run(capsys, "plugins", "show", "adam")
    assert code == 0 and "optimizer adam: Adam  (plugin optimizers)" in out
    assert "learning_rate (float): default 0.05, range 1e-09..100" in out
    code, out, _ = run(capsys, "plugins", "show", "encodings", "--json")
    data = json.loads(out)
    assert data["plugin"]["name"] == "encodings"
    angle = next(p for p in data["parts"]["encodings"] if p["name"] == "angle")
    assert angle["description"] and all({"name", "type", "default"} <= set(o) for o in angle["options"])
    code, _, err = run(capsys, "plugins", "show", "no-such-thing")
    assert code == 1 and "no plugin or part called 'no-such-thing' (plugins: " in err


def test_listing_shows_descriptions_and_json_gives_options(capsys):
    code, out, _ = run(capsys, "plugins", "-v")
    assert code == 0 and "      adam: Adam. Adaptive moments" in out
    code, out, _ = run(capsys, "plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(out)["plugins"]}
    moons = next(p for p in plugins["datasets"]["parts"]["datasets"] if p["name"] == "moons")
    assert moons["title"] == "Two moons" and {o["name"] for o in moons["options"]} == {"samples", "noise", "seed"}
    assert plugins["datasets"]["provides"]["datasets"][0] == "moons"


class RingsPlugin:
    @hookimpl
    def qmlstudio_datasets(self):
        return [DatasetSpec(name="rings", title="Rings", factory="numpy:zeros", options=(Option("seed", "int", 0),))]


def test_hook_qmlstudio_datasets_unknown_name_names_the_disabled_plugin():
    registry = PluginRegistry(disabled={"extra-data"})
    registry.register(RingsPlugin(), "extra-data")
    try:
        with pytest.raises(UnknownNameError) as caught:
            registry.get("datasets", "rings")
        assert ("unknown dataset 'rings': it is provided by the plugin 'extra-data', which is disabled "
                "(enable it with 'qmlstudio plugins enable extra-data'") in str(caught.value)
        with pytest.raises(UnknownNameError) as caught:
            registry.get("datasets", "squares")
        assert "disabled" not in str(caught.value)
    finally:
        registry.unregister("extra-data")


def test_cli_names_the_disabled_plugin_and_shows_what_it_would_provide(capsys, tmp_path):
    assert run(capsys, "plugins", "disable", "datasets")[0] == 0
    code, _, err = run(capsys, "new", str(tmp_path / "p.qmls"), "--dataset", "moons")
    assert code == 1
    assert "unknown dataset 'moons': it is provided by the plugin 'datasets', which is disabled" in err
    code, out, _ = run(capsys, "plugins", "show", "datasets")
    assert code == 0 and "disabled" in out.splitlines()[0] and "dataset moons: Two moons" in out


def test_project_seed_reaches_the_dataset_factory(capsys, tmp_path):
    registry = load_plugins()
    spec = registry.get("datasets", "moons")
    path = tmp_path / "seeded.qmls"
    code, _, err = run(capsys, "new", str(path), "--dataset", "moons", "--seed", "5")
    assert code == 0, err
    project = load_project(path)
    assert project.dataset.options["seed"] == 5
    loaded = load_dataset(project, registry)
    np.testing.assert_array_equal(loaded.features, spec.create({"seed": 5}).features)
    assert not np.array_equal(loaded.features, spec.create({"seed": 0}).features)
    # an explicit dataset seed wins over the project's
    code, _, err = run(capsys, "new", str(path), "--force", "--dataset", "moons", "--seed", "5", "--dataset-option", "seed=3")
    assert code == 0 and load_project(path).dataset.options["seed"] == 3
    # a seed the dataset cannot take is refused with a message, not recorded as if applied
    code, _, err = run(capsys, "new", str(path), "--force", "--dataset", "moons", "--seed", "-2")
    assert code == 1 and "--seed must be between 0 and 4294967295, got -2" in err


def test_an_unreadable_disabled_plugin_is_still_named():
    class Broken:
        @hookimpl
        def qmlstudio_datasets(self):
            raise RuntimeError("boom")

    registry = PluginRegistry(disabled={"broken-data"})
    registry.register(Broken(), "broken-data")
    try:
        with pytest.raises(UnknownNameError, match="perhaps a disabled plugin provides it: 'broken-data'"):
            registry.get("datasets", "rings")
    finally:
        registry.unregister("broken-data")
