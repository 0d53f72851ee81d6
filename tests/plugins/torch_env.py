"""An environment without PyTorch, for installing it from the plugin manager for real.

A temporary virtual environment that sees every package of this one but torch (a folder of
links to this environment's site-packages, torch left out), so that QML Studio there starts
without torch, exactly as after ``pip install qmlstudio`` without the extra; and the CPU wheel
that ``make test`` installed here, found offline where pip finds it on this machine (nothing
is downloaded), for the plugin manager to install into it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from tests.plugins.test_installer import env_vars

#: the environment as the session found it: pip's own configuration tells where torch's wheel is
_AMBIENT = dict(os.environ)
_HIDDEN = ("torch", "functorch", "torchgen")


def torch_version() -> str:
    return torch.__version__


_WHEEL_DIR: list[Path] = []


def torch_wheel_dir() -> Path:
    """A folder with the torch wheel installed here, fetched by pip as ``make test`` found it,
    but offline (``--no-index``: only the folders pip's configuration links to)."""
    if _WHEEL_DIR:
        return _WHEEL_DIR[0]
    folder = Path(tempfile.mkdtemp(prefix="qmlstudio-test-torch-"))
    atexit.register(shutil.rmtree, folder, True)  # 190 MB
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-index", "-q", "-d", str(folder),
                           f"torch=={torch_version()}"], capture_output=True, text=True, env=_AMBIENT, timeout=300)
    assert done.returncode == 0, ("the torch wheel that make test installed is not where pip finds it offline "
                                  f"(PIP_FIND_LINKS={_AMBIENT.get('PIP_FIND_LINKS')!r}): {done.stderr}")
    _WHEEL_DIR.append(folder)
    return folder


def env_without_torch(folder: Path) -> tuple[Path, Path]:
    """A virtual environment that sees this one's packages but torch, and installs into its own."""
    import site
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    own = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    shadow = folder / "parent-site-packages"
    shadow.mkdir()
    parents = {Path(p) for p in site.getsitepackages() if os.path.isdir(p)} | {Path(sysconfig.get_paths()["purelib"])}
    for parent in parents:
        for entry in parent.iterdir():
            name = entry.name.lower()
            if any(name == h or name.startswith((h + "-", h + ".")) for h in _HIDDEN) or (shadow / entry.name).exists():
                continue
            (shadow / entry.name).symlink_to(entry)
    (own / "_qmlstudio_test_parent.pth").write_text(f"import site; site.addsitedir({str(shadow)!r})\n", encoding="utf-8")
    return python, own


def qmlstudio(python: Path, config: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "qmlstudio", *args], capture_output=True, text=True,
                          env=env_vars(config), timeout=timeout, stdin=subprocess.DEVNULL)


def hybrid_reason(python: Path, config: Path) -> str:
    done = qmlstudio(python, config, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugin = next(p for p in json.loads(done.stdout)["plugins"] if p["name"] == "torch")
    (part,) = plugin["parts"]["models"]
    return part["unavailable"]
