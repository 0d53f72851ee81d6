"""The layering rule: ``qmlstudio.core`` is Qt-free and below the plugin API and the GUI.

Three independent checks, so that one tool's blind spot is covered by another:
import-linter with the contracts in pyproject.toml, a walk over the source with ``ast``
(which also sees imports inside functions and ``TYPE_CHECKING`` blocks), and a fresh
interpreter that imports the core and looks at ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "qmlstudio"

QT = ("PySide6", "shiboken6", "pyqtgraph")
#: The engine's modules the windows and the CLI reach only through qmlstudio.workflow (the
#: data-model modules, core.project, core.circuit, core.dataset, core.errors..., stay allowed).
ENGINE_INTERNALS = tuple(f"qmlstudio.core.{name}" for name in (
    "training", "models", "statevector", "statevector_ops", "gate_matrices", "_loops", "kernels", "binding", "baselines", "analysis", "report",
    "preprocessing", "memory"))
FORBIDDEN = {
    "core": QT + ("qmlstudio.gui", "qmlstudio.plugins", "qmlstudio.cli"),
    "plugins": ("PySide6", "pyqtgraph", "qmlstudio.gui"),
    # what the window needs from a plugin comes through the hooks, never from its package
    "gui": ("qmls_aer", "qmls_ibm", "qmls_datasets", "qmls_encodings", "qmls_ansatze", "qmls_optimizers")
    + ENGINE_INTERNALS,
    "cli": ENGINE_INTERNALS,
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _lint_imports() -> str:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: install the test extra (pip install -e '.[test]' or make test)")
    return found


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=REPO_ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"import-linter failed:\n{done.stdout}\n{done.stderr}"
    assert "BROKEN" not in done.stdout


def _resolve(module: str | None, level: int, path: Path) -> str:
    """The absolute name of an import in the file at ``path`` (relative imports resolved)."""
    if level == 0:
        return module or ""
    package = list(path.relative_to(REPO_ROOT).parts[:-1])  # the folder, for __init__.py too
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module the file imports, with line numbers, wherever the import statement is."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, path)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            # importlib.import_module("PySide6.QtCore") and __import__("PySide6") with a literal name
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    found.append((node.lineno, node.args[0].value))
    return found


def _is_under(module: str, parent: str) -> bool:
    return module == parent or module.startswith(parent + ".")


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_sources_import_nothing_above_them(layer: str) -> None:
    folder = PACKAGE / layer
    files = sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]
    if layer in ("core", "gui", "cli"):
        assert files, f"{folder} holds no Python files"
    offences = [
        f"{path.relative_to(REPO_ROOT)}:{line}: imports {module}"
        for path in files
        for line, module in _imports(path)
        if any(_is_under(module, banned) for banned in FORBIDDEN[layer])
    ]
    assert not offences, f"qmlstudio.{layer} must not import {', '.join(FORBIDDEN[layer])}:\n" + "\n".join(offences)


def test_the_ast_check_sees_hidden_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from PySide6.QtCore import QObject\n"
        "def later():\n    from ..gui import app\n    from . import circuit\n    import importlib\n"
        "    importlib.import_module('pyqtgraph')\n"
    )
    found = {module for _, module in _imports(PACKAGE / "core" / "probe.py", source)}
    assert {"PySide6.QtCore", "qmlstudio.gui", "qmlstudio.gui.app", "pyqtgraph", "qmlstudio.core.circuit"} <= found


def test_the_ast_check_sees_engine_internals_however_imported() -> None:
    source = (
        "from qmlstudio.core import training\n"
        "def later():\n    from ..core.models import ExactEvaluator\n    import qmlstudio.core._loops\n"
        "from qmlstudio.core.project import Project\n"
    )
    found = {module for _, module in _imports(PACKAGE / "gui" / "probe.py", source)}
    banned = {m for m in found if any(_is_under(m, b) for b in FORBIDDEN["gui"])}
    assert banned == {"qmlstudio.core.training", "qmlstudio.core.models", "qmlstudio.core.models.ExactEvaluator",
                      "qmlstudio.core._loops"}


def test_the_engine_contract_lists_the_same_modules_as_the_ast_walk() -> None:
    import tomllib

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = [c for c in config["tool"]["importlinter"]["contracts"]
                 if set(c.get("source_modules", ())) == {"qmlstudio.gui", "qmlstudio.cli"}]
    assert len(contracts) == 1, "one forbidden contract keeps the GUI and the CLI off the engine's internals"
    assert contracts[0]["type"] == "forbidden"
    assert sorted(contracts[0]["forbidden_modules"]) == sorted(ENGINE_INTERNALS)


def test_importing_the_core_loads_no_qt() -> None:
    code = (
        "import json, pkgutil, importlib, sys\n"
        "import qmlstudio.core.circuit, qmlstudio.core.project\n"
        "import qmlstudio.core\n"
        "for info in pkgutil.walk_packages(qmlstudio.core.__path__, 'qmlstudio.core.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    leaked = [m for m in loaded if any(_is_under(m, banned) for banned in FORBIDDEN["core"])]
    assert not leaked, f"importing qmlstudio.core loaded {leaked}"
