"""The documentation keeps up with the code (as datasette's tests/test_docs.py does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from qmlstudio.plugins import hookspecs
from qmlstudio.plugins.descriptors import SPEC_TYPES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOK_FUNCTIONS = {
    name: fn for name, fn in vars(hookspecs).items() if name.startswith("qmlstudio_") and callable(fn)
}


def test_every_hook_has_a_descriptor_type():
    assert set(HOOK_FUNCTIONS) == set(SPEC_TYPES)


@pytest.mark.parametrize("hook", sorted(HOOK_FUNCTIONS))
def test_hook_is_in_the_plugin_guide_with_its_signature(hook):
    signature = inspect.signature(HOOK_FUNCTIONS[hook])
    arguments = ", ".join(signature.parameters)
    heading = f"### `{hook}({arguments})`"
    assert heading in GUIDE, f"docs/plugins.md lacks the heading {heading}"


@pytest.mark.parametrize("hook", sorted(HOOK_FUNCTIONS))
def test_hook_is_documented_where_declared(hook):
    doc = inspect.getdoc(HOOK_FUNCTIONS[hook]) or ""
    assert "Returns" in doc and "Called" in doc, f"{hook} needs a docstring saying when it is called and what it returns"


@pytest.mark.parametrize("hook", sorted(HOOK_FUNCTIONS))
def test_guide_names_what_each_hook_returns(hook):
    section = GUIDE.split(f"### `{hook}(")[1].split("###")[0]
    assert SPEC_TYPES[hook].__name__ in section


def test_guide_has_no_hook_that_does_not_exist():
    documented = set(re.findall(r"### `(qmlstudio_\w+)\(", GUIDE))
    assert documented == set(HOOK_FUNCTIONS)


def test_a_wheel_ships_the_documentation(tmp_path):
    """Help ▸ Documentation opens qmlstudio/docs/index.md from the installed package (issue 14):
    a wheel built from the repository holds every page of docs/ and its images."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "tests", "bench"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("qmlstudio-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert "index.md" in pages
    for page in pages:
        assert f"qmlstudio/docs/{page}" in names, page
    for image in (ROOT / "docs" / "images").glob("*.png"):
        assert f"qmlstudio/docs/images/{image.name}" in names, image.name
