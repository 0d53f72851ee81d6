"""The target environment as the installer sees it: its distributions, wheels and install sources.

:class:`Environment` runs the target interpreter to list its distributions
(:data:`SNAPSHOT_CODE`), :func:`read_wheel` reads a wheel's metadata and :func:`parse_source`
tells a wheel file from a folder or an index name. :data:`PROTECTED` names what a plugin
install may never change. Split from :mod:`qmlstudio.installer`, which re-exports every name.
"""

from __future__ import annotations

import configparser
import email.parser
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qmlstudio.core.errors import QMLStudioError

__all__ = ["ENTRY_POINT_GROUP", "Environment", "HISTORY_FILE", "HISTORY_VERSION", "InstallError", "InstallSource", "InstalledDistribution", "PROTECTED", "Result", "Run", "SELF", "SNAPSHOT_CODE", "WHEEL_CACHE", "WheelInfo", "is_protected", "parse_snapshot", "parse_source", "read_wheel"]


#: QML Studio's own distribution: never uninstalled, never changed by a plugin install.
SELF = "qmlstudio"


#: QML Studio's own dependencies (PEP 503 names). A plugin install that would change one of
#: their versions is refused unless the user overrides.
PROTECTED: frozenset[str] = frozenset(
    {
        "qiskit",
        "qiskit-aer",
        "qiskit-machine-learning",
        "numpy",
        "scipy",
        "pyside6",
        "pyside6-essentials",
        "pyside6-addons",
        "shiboken6",
        "pyqtgraph",
        "pluggy",
    }
)


#: Distributions that ship one Qt build between them: they must all have one version.
_FAMILIES = {name: "pyside6" for name in ("pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6")}


ENTRY_POINT_GROUP = "qmlstudio"


HISTORY_FILE = "plugin-history.json"


HISTORY_VERSION = 1


WHEEL_CACHE = "plugin-wheels"


#: Run by the target interpreter: every distribution it sees, first on sys.path wins (as for imports).
SNAPSHOT_CODE = r"""
import importlib.metadata as md, json, re, sys
seen = {}
for dist in md.distributions():
    try:
        name = dist.metadata["Name"]
    except Exception:
        name = None
    if not name:
        continue
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        continue
    try:
        plugins = sorted(ep.name for ep in dist.entry_points if ep.group == "qmlstudio")
    except Exception:
        plugins = []
    seen[key] = {"name": name, "version": dist.version, "plugins": plugins,
                 "requires": list(dist.requires or []), "location": str(dist.locate_file(""))}
print(json.dumps({"python": sys.executable, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
                  "distributions": seen}))
"""


class InstallError(QMLStudioError):
    """An install, update, uninstall or rollback that cannot go ahead, with the reason."""


def is_protected(name: str) -> bool:
    """True for QML Studio itself and its own dependencies (any spelling of the name)."""
    key = canonicalize_name(name)
    return key == SELF or key in PROTECTED


def _same_version(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _compare(a: str, b: str) -> int:
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        return (a > b) - (a < b)
    return (va > vb) - (va < vb)


def _error_lines(stderr: str, limit: int = 8) -> str:
    """pip's ``ERROR:`` lines, else the last lines of its output: the reason, without the noise."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lstrip().startswith("ERROR:")]
    chosen = errors or lines[-limit:]
    return "\n".join(chosen[-limit:]) or "(pip printed nothing)"


@dataclass(frozen=True)
class InstalledDistribution:
    """One installed distribution as the target interpreter sees it."""

    name: str
    version: str
    plugins: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    location: str = ""

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass
class Environment:
    """What is installed in the Python environment that pip changes."""

    python: str
    prefix: str
    base_prefix: str
    distributions: dict[str, InstalledDistribution]

    def get(self, name: str) -> InstalledDistribution | None:
        return self.distributions.get(canonicalize_name(name))

    def version(self, name: str) -> str | None:
        dist = self.get(name)
        return dist.version if dist else None

    def family_version(self, name: str) -> tuple[str, str] | None:
        """The installed (name, version) that decides ``name``'s version: itself, or a PySide6 sibling."""
        dist = self.get(name)
        if dist is not None:
            return dist.name, dist.version
        family = _FAMILIES.get(canonicalize_name(name))
        if family is None:
            return None
        for key, other in sorted(self.distributions.items()):
            if _FAMILIES.get(key) == family:
                return other.name, other.version
        return None

    def find(self, name: str) -> InstalledDistribution | None:
        """The distribution called ``name``, or the one providing the plugin (entry point) ``name``."""
        dist = self.get(name)
        if dist is not None:
            return dist
        for candidate in self.distributions.values():
            if name in candidate.plugins:
                return candidate
        return None

    def plugin_owner(self, plugin: str) -> InstalledDistribution | None:
        for candidate in self.distributions.values():
            if plugin in candidate.plugins:
                return candidate
        return None

    def inside(self, dist: InstalledDistribution) -> bool:
        """Whether pip run by this interpreter may remove ``dist`` (in a virtualenv: under its prefix)."""
        if self.prefix == self.base_prefix or not dist.location:
            return True
        try:
            return os.path.commonpath([os.path.abspath(dist.location), os.path.abspath(self.prefix)]) == os.path.abspath(
                self.prefix
            )
        except ValueError:  # different drives on Windows
            return False

    def required_by(self, name: str) -> list[str]:
        """Installed distributions that depend on ``name`` (extras aside)."""
        key = canonicalize_name(name)
        found = []
        for dist in self.distributions.values():
            for text in dist.requires:
                try:
                    req = Requirement(text)
                except InvalidRequirement:
                    continue
                if canonicalize_name(req.name) != key:
                    continue
                if req.marker is not None and "extra" in str(req.marker):
                    continue
                found.append(dist.name)
                break
        return sorted(found, key=str.lower)

    def versions(self) -> dict[str, str]:
        return {d.name: d.version for d in self.distributions.values()}


def parse_snapshot(text: str) -> Environment:
    """The :class:`Environment` printed by :data:`SNAPSHOT_CODE`."""
    try:
        data = json.loads(text)
        dists = {
            canonicalize_name(entry["name"]): InstalledDistribution(
                entry["name"],
                entry["version"],
                tuple(entry.get("plugins", ())),
                tuple(entry.get("requires", ())),
                entry.get("location", ""),
            )
            for entry in data["distributions"].values()
        }
        return Environment(data["python"], data["prefix"], data.get("base_prefix", data["prefix"]), dists)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InstallError(f"could not read the list of installed packages ({exc}): {text[:300]!r}") from None


@dataclass(frozen=True)
class WheelInfo:
    """What a wheel says about itself: name, version, requirements and QML Studio plugins."""

    name: str
    version: str
    requires: tuple[str, ...]
    plugins: tuple[str, ...]


def read_wheel(path: str | os.PathLike[str]) -> WheelInfo:
    """Reads METADATA and entry_points.txt from a ``.whl`` file (without installing it)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as wheel:
            names = wheel.namelist()
            meta_names = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if not meta_names:
                raise InstallError(f"{path.name} is not a valid wheel: it has no .dist-info/METADATA")
            info_dir = meta_names[0].rsplit("/", 1)[0]
            metadata = email.parser.Parser().parsestr(wheel.read(meta_names[0]).decode("utf-8", "replace"))
            plugins: list[str] = []
            if f"{info_dir}/entry_points.txt" in names:
                parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
                parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the names' case
                parser.read_string(wheel.read(f"{info_dir}/entry_points.txt").decode("utf-8", "replace"))
                if parser.has_section(ENTRY_POINT_GROUP):
                    plugins = sorted(parser.options(ENTRY_POINT_GROUP))
    except (OSError, zipfile.BadZipFile, configparser.Error) as exc:
        raise InstallError(f"{path.name} is not a valid wheel: {exc}") from None
    name, version = metadata.get("Name"), metadata.get("Version")
    if not name or not version:
        raise InstallError(f"{path.name} is not a valid wheel: its METADATA names no Name or Version")
    return WheelInfo(name, version, tuple(metadata.get_all("Requires-Dist") or ()), tuple(plugins))


@dataclass(frozen=True)
class InstallSource:
    """What the user asked to install: a requirement for the package index, a wheel or a project folder."""

    kind: str  # "index", "wheel" or "folder"
    target: str  # what pip is given: the requirement text or an absolute path
    name: str | None = None  # the distribution's name when known before pip runs
    version: str | None = None
    wheel: WheelInfo | None = None
    built_from: str | None = None  # the folder a wheel was built from

    @property
    def label(self) -> str:
        if self.kind == "index":
            return self.target
        if self.wheel is not None:
            origin = self.built_from or self.target
            return f"{self.wheel.name} {self.wheel.version} ({origin})"
        return self.target


def parse_source(text: str) -> InstallSource:
    """Decides what ``text`` is: a ``.whl`` file, a project folder, or a package name with an optional version."""
    text = text.strip()
    if not text:
        raise InstallError("give a package name (e.g. qmlstudio-foo or qmlstudio-foo==1.2), a .whl file or a project folder")
    path = Path(os.path.expanduser(text))
    if path.is_dir():
        if not ((path / "pyproject.toml").is_file() or (path / "setup.py").is_file()):
            raise InstallError(f"{path} is a folder but not a Python project: it has no pyproject.toml or setup.py")
        return InstallSource("folder", str(path.resolve()))
    if path.is_file():
        if path.suffix != ".whl":
            raise InstallError(f"{path} is neither a wheel (.whl) nor a project folder")
        info = read_wheel(path)
        return InstallSource("wheel", str(path.resolve()), info.name, info.version, info)
    if text.endswith(".whl") or os.sep in text or "/" in text or text.startswith((".", "~")):
        raise InstallError(f"no such file or folder: {text}")
    try:
        req = Requirement(text)
    except InvalidRequirement:
        raise InstallError(
            f"{text!r} is neither a package name (e.g. qmlstudio-foo or qmlstudio-foo==1.2) nor an existing "
            ".whl file or project folder"
        ) from None
    return InstallSource("index", text, req.name)


@dataclass
class Run:
    """A command line for the driver to run; send back its :class:`Result`."""

    argv: list[str]
    title: str
    capture: bool = False  # stdout is data for the flow, not output for the user


@dataclass
class Result:
    """How a :class:`Run` ended. ``cancelled`` when the user stopped it."""

    returncode: int
    stdout: str = ""
    stderr: str = ""
    cancelled: bool = False
