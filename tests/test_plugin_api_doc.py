"""docs/plugin-api.md, generated from the code, lists every public plugin-API type and field and
is in step with the code (regenerate it with ``python -m qmlstudio.plugins.apidoc > docs/plugin-api.md``)."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import qmlstudio.plugins as api
import qmlstudio.testing as kit
from qmlstudio.plugins import apidoc, hookspecs

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "plugin-api.md"
TEXT = REFERENCE.read_text(encoding="utf-8")
REGENERATE = "python -m qmlstudio.plugins.apidoc > docs/plugin-api.md"
#: named by issue 21: the reference must hold each of these, whatever the export list says
REQUIRED = ["Gate", "Option", "EncodingSpec", "AnsatzSpec", "OptimizerSpec", "DatasetSpec", "BackendSpec", "PanelSpec",
            "Optimizer", "OptimizerStep", "OptimizerResult", "Backend", "Encoding", "Ansatz", "Dataset", "CircuitDesign"]


def section(name: str) -> str:
    """The part of the reference under ``### `name``` (up to the next heading)."""
    for marker in (f"### `{name}`", f"### `{name}("):
        if marker in TEXT:
            return TEXT.split(marker, 1)[1].split("\n#")[0]
    raise AssertionError(f"docs/plugin-api.md has no section for {name}; run {REGENERATE}")


def test_the_reference_is_in_step_with_the_code():
    assert apidoc.render() == TEXT, f"docs/plugin-api.md is out of date: run {REGENERATE}"


def test_the_documented_command_writes_the_reference():
    done = subprocess.run([sys.executable, "-m", "qmlstudio.plugins.apidoc"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == TEXT


@pytest.mark.parametrize("name", sorted(set(api.__all__) | set(REQUIRED)))
def test_every_public_name_and_field_is_in_the_reference(name):
    assert name in api.__all__, f"{name} is not exported by qmlstudio.plugins"
    text = section(name)
    obj = getattr(api, name)
    assert f"from qmlstudio.plugins import {name}" in text  # where it is imported from
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):
        for field in dataclasses.fields(obj):
            if not field.name.startswith("_"):
                assert f"| `{field.name}` |" in text, f"field {name}.{field.name} is missing from docs/plugin-api.md"
    if inspect.isclass(obj) and inspect.isabstract(obj):
        for method in obj.__abstractmethods__:
            assert f"`{method}(" in text and "abstract, you implement it" in text


@pytest.mark.parametrize("name", sorted(kit.__all__))
def test_every_testing_kit_name_and_fixture_is_in_the_reference(name):
    assert f"from qmlstudio.testing import {name}" in section(name)


def test_every_fixture_of_the_kit_is_in_the_reference():
    from qmlstudio.testing import pytest_plugin

    assert set(kit.FIXTURES) == set(pytest_plugin.__all__)
    for fixture in pytest_plugin.__all__:
        assert f"| `{fixture}` |" in TEXT


@pytest.mark.parametrize("hook", sorted(n for n in vars(hookspecs) if n.startswith("qmlstudio_")))
def test_every_hook_is_in_the_reference(hook):
    assert f"### `{hook}() -> " in TEXT


def test_a_new_descriptor_field_is_picked_up_without_touching_the_generator():
    @dataclasses.dataclass(frozen=True)
    class FutureDatasetSpec(api.DatasetSpec):
        #: The range the data naturally lives in.
        natural_range: tuple[float, float] | None = None

    text = "\n".join(apidoc.describe_class(FutureDatasetSpec, "qmlstudio.plugins"))
    assert "| `natural_range` | `tuple[float, float] | None` | `None` | The range the data naturally lives in. |" in text \
        .replace("\\|", "|")
    assert "| `task` |" in text and "| `name` |" in text  # inherited fields stay
