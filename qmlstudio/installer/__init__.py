"""Installs, updates, removes and rolls back plugin packages with pip, without breaking QML Studio.

Plugin installs are the most common way a desktop application built on scientific Python
breaks its users' environments: a plugin pins another numpy, pip obliges, and nothing
starts any more. So every change goes through the same safe sequence:

1. read what is installed in the target environment (a short script run by *that*
   interpreter, so the dialog can manage another environment than its own);
2. for a project folder, build a wheel first (see :meth:`Installer.build_command`);
3. a **dry run** (``pip install --dry-run --report -``) says what pip would install,
   upgrade or downgrade; a wheel's own ``Requires-Dist`` is checked against the installed
   versions too, because a dry run that cannot resolve (offline, a pin that does not
   exist) says nothing about what it wanted;
4. a change to one of QML Studio's own dependencies (:data:`PROTECTED`) is **refused**
   unless the user overrides; otherwise the real install runs with a constraints file
   that pins those packages, so pip cannot change them even if the dry run missed it;
5. the versions before and after of every package the change touched are recorded in
   ``environment_dir(prefix)/plugin-history.json``, so that the last change can be rolled
   back; wheels installed from files are kept in ``environment_dir(prefix)/plugin-wheels``
   for offline rollbacks. Both belong to the target environment (its ``sys.prefix``), so
   two virtual environments never share a history or undo each other's changes.

Each operation is a *flow*: a generator that yields :class:`Run` (a command line to run;
send back its :class:`Result`), :class:`Confirm` (a plan to show; send back ``True`` to go
on) and :class:`Note` (a message), and returns an :class:`Outcome`. The command line drives
flows with :func:`run_flow` (``subprocess``); the Plugins dialog drives the same flows
with a ``QProcess`` so that pip never blocks the GUI. This module never imports Qt.
"""

from __future__ import annotations

import configparser
import email.parser
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Mapping, Sequence, Union

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.settings import config_dir, environment_dir
from qmlstudio.core.storage import atomic_write_text

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


# ----------------------------------------------------------------- the environment
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


# ------------------------------------------------------------------- what to install
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


# ------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class PackageChange:
    """One distribution a change installs, upgrades, downgrades or removes."""

    name: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> str:
        if self.before is None:
            return "install"
        if self.after is None:
            return "remove"
        order = _compare(self.after, self.before)
        return "upgrade" if order > 0 else "downgrade" if order < 0 else "reinstall"

    def describe(self) -> str:
        if self.kind == "install":
            return f"install    {self.name} {self.after}"
        if self.kind == "remove":
            return f"remove     {self.name} {self.before}"
        return f"{self.kind:<10} {self.name} {self.before} → {self.after}"


@dataclass(frozen=True)
class ProtectedChange:
    """A change to one of QML Studio's own dependencies, and what asks for it."""

    name: str
    installed: str
    wanted: str  # a version ("1.26.4") or a specifier ("==1.26.4")
    because: str

    def describe(self) -> str:
        own = " (QML Studio itself)" if canonicalize_name(self.name) == SELF else ""
        if self.wanted[:1] in "<>=!~":  # a requirement the installed version does not meet
            return f"{self.name}{own} {self.installed} is installed, but {self.because}"
        return f"{self.name}{own} {self.installed} → {self.wanted} ({self.because})"


@dataclass
class InstallPlan:
    """What an install or update would do, from pip's dry run and the package's own metadata."""

    action: str  # "install" or "update"
    source: InstallSource
    changes: list[PackageChange] = field(default_factory=list)
    protected_changes: list[ProtectedChange] = field(default_factory=list)
    error: str = ""  # the dry run failed: pip's reason
    warnings: list[str] = field(default_factory=list)

    @property
    def new(self) -> list[PackageChange]:
        return [c for c in self.changes if c.kind == "install"]

    @property
    def upgraded(self) -> list[PackageChange]:
        return [c for c in self.changes if c.kind == "upgrade"]

    @property
    def downgraded(self) -> list[PackageChange]:
        return [c for c in self.changes if c.kind == "downgrade"]

    @property
    def refused(self) -> bool:
        """True when the change should not go ahead without the user's explicit override."""
        return bool(self.protected_changes or self.error)

    @property
    def nothing_to_do(self) -> bool:
        return not self.changes and not self.refused

    def describe(self) -> str:
        """The plan in words, for the dialog and the terminal."""
        verb = "Updating" if self.action == "update" else "Installing"
        lines = [f"{verb} {self.source.label}"]
        if self.changes:
            lines.append("pip would:")
            lines += [f"  {c.describe()}" for c in self.changes]
        elif not self.error:
            lines.append("pip would change nothing: it is already installed.")
        lines += [f"Note: {w}" for w in self.warnings]
        if self.refused:
            lines += ["", self.refusal()]
        return "\n".join(lines)

    def summary(self) -> str:
        """Why the change is refused, in one sentence (for an error line), or ''."""
        if self.protected_changes:
            return "it would change QML Studio's own dependencies: " + "; ".join(
                c.describe() for c in self.protected_changes
            )
        if self.error:
            return "pip's dry run failed: " + self.error.splitlines()[-1].strip().removeprefix("ERROR: ")
        return ""

    def refusal(self) -> str:
        """Why the change is refused and what the user can do, or '' if it is not."""
        parts = []
        if self.protected_changes:
            names = ", ".join(sorted({c.name for c in self.protected_changes}, key=str.lower))
            parts.append("Refused: this would change QML Studio's own dependencies:")
            parts += [f"  {c.describe()}" for c in self.protected_changes]
            parts.append(
                "QML Studio and every other plugin run on the versions installed now; a plugin that moves "
                f"them ({names}) is the most common way a plugin install breaks a working set-up. Ask the "
                "plugin's author to support the installed versions, or override (\"Install anyway\" in the "
                "dialog, --force on the command line) if you know what you are doing: the change can be "
                "rolled back afterwards."
            )
        if self.error:
            if parts:
                parts.append("")
            parts.append("pip's dry run failed, so the install would fail the same way:")
            parts += [f"  {line}" for line in self.error.splitlines()]
        return "\n".join(parts)


def requirement_conflicts(requires: Iterable[str], env: Environment, owner: str) -> list[ProtectedChange]:
    """Protected packages whose installed version a package's ``Requires-Dist`` does not accept."""
    found: list[ProtectedChange] = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if not is_protected(req.name):
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # an optional extra, or for another platform
        installed = env.family_version(req.name)
        if installed is None or not req.specifier:
            continue
        if req.specifier.contains(installed[1], prereleases=True):
            continue
        found.append(ProtectedChange(installed[0], installed[1], str(req.specifier), f"{owner} requires {req}"))
    return found


def parse_report(text: str) -> list[tuple[str, str]]:
    """(name, version) of every distribution in a ``pip install --dry-run --report`` JSON document."""
    try:
        data = json.loads(text)
        return [(item["metadata"]["name"], item["metadata"]["version"]) for item in data.get("install", [])]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InstallError(f"could not read pip's dry-run report ({exc})") from None


def make_plan(action: str, source: InstallSource, env: Environment, result: "Result") -> InstallPlan:
    """Combines pip's dry run (``result``), the wheel's own requirements and the installed versions."""
    plan = InstallPlan(action, source)
    protected: dict[str, ProtectedChange] = {}
    if result.returncode == 0 and not result.cancelled:
        for name, version in parse_report(result.stdout):
            before = env.version(name)
            plan.changes.append(PackageChange(name, before, version))
            if not is_protected(name):
                continue
            installed = env.family_version(name)
            if installed is not None and not _same_version(installed[1], version):
                protected[canonicalize_name(installed[0])] = ProtectedChange(
                    installed[0], installed[1], version, f"pip would install {name} {version}"
                )
    else:
        plan.error = _error_lines(result.stderr)
    if source.wheel is not None:
        owner = f"{source.wheel.name} {source.wheel.version}"
        for conflict in requirement_conflicts(source.wheel.requires, env, owner):
            key = canonicalize_name(conflict.name)
            if key in protected:  # keep the dry run's exact version, add why
                known = protected[key]
                protected[key] = ProtectedChange(known.name, known.installed, known.wanted, conflict.because)
            else:
                protected[key] = conflict
        if not source.wheel.plugins:
            plan.warnings.append(
                f"{source.wheel.name} declares no QML Studio plugin (no entry point in the 'qmlstudio' group): "
                "it would add nothing to QML Studio."
            )
    plan.protected_changes = sorted(protected.values(), key=lambda c: c.name.lower())
    plan.changes.sort(key=lambda c: (c.kind != "install", c.name.lower()))
    return plan


# ---------------------------------------------------------------------- history
@dataclass
class Change:
    """One recorded change to the environment: which packages it touched, before and after."""

    id: int
    time: str
    action: str  # "install", "update", "uninstall" or "rollback"
    target: str
    python: str
    commands: list[list[str]]
    returncode: int
    before: dict[str, str | None]
    after: dict[str, str | None]
    forced: bool = False
    undoes: int | None = None
    rolled_back: bool = False

    @property
    def packages(self) -> list[PackageChange]:
        return [PackageChange(n, self.before.get(n), self.after.get(n)) for n in sorted(self.before, key=str.lower)]

    def describe(self) -> str:
        """One line for the Roll back button's tooltip and the terminal."""
        changes = "; ".join(" ".join(p.describe().split()) for p in self.packages)
        return f"{self.action} {self.target} ({self.time}): {changes or 'nothing changed'}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Change":
        return cls(
            id=int(data["id"]),
            time=str(data["time"]),
            action=str(data["action"]),
            target=str(data["target"]),
            python=str(data["python"]),
            commands=[[str(a) for a in c] for c in data.get("commands", [])],
            returncode=int(data.get("returncode", 0)),
            before={str(k): (None if v is None else str(v)) for k, v in data["before"].items()},
            after={str(k): (None if v is None else str(v)) for k, v in data["after"].items()},
            forced=bool(data.get("forced", False)),
            undoes=None if data.get("undoes") is None else int(data["undoes"]),
            rolled_back=bool(data.get("rolled_back", False)),
        )


def diff_environments(before: Environment, after: Environment) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """The versions before and after of every distribution that was added, removed or changed."""
    old: dict[str, str | None] = {}
    new: dict[str, str | None] = {}
    for key in sorted(set(before.distributions) | set(after.distributions)):
        a, b = before.distributions.get(key), after.distributions.get(key)
        if a is not None and b is not None and a.version == b.version:
            continue
        name = (b or a).name  # type: ignore[union-attr]
        old[name] = a.version if a else None
        new[name] = b.version if b else None
    return old, new


def history_path(prefix: str | os.PathLike[str] | None = None) -> Path:
    """Where the install history of the environment at ``prefix`` (default: this one) is kept."""
    return environment_dir(prefix) / HISTORY_FILE


def _inside(python: str, prefix: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(python), os.path.abspath(prefix)]) == os.path.abspath(prefix)
    except ValueError:  # different drives
        return False


class History:
    """The changes made through QML Studio to one environment, newest last.

    By default the history of the environment at ``prefix`` (this one when ``None``), in
    ``environment_dir(prefix)/plugin-history.json``. Until that file exists, the history
    shared by every environment that QML Studio before version 1 of per-environment state
    kept in ``config_dir()/plugin-history.json`` is read for the changes made to this
    environment's interpreters (the file itself is left alone for the other environments).

    A file that cannot be read is set aside (``.bad``) rather than overwritten, and the
    history starts again empty; so is one written by a newer QML Studio (``.v<N>``), which
    that version can still read.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, prefix: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self.prefix = os.fspath(prefix) if prefix is not None else sys.prefix

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else history_path(self.prefix)

    def changes(self) -> list[Change]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._legacy_changes() if self._path is None else []
        except OSError:
            return []
        return self._parse(text, self.path)

    def _legacy_changes(self) -> list[Change]:
        legacy = config_dir() / HISTORY_FILE
        try:
            text = legacy.read_text(encoding="utf-8")
        except OSError:
            return []
        try:
            changes = [Change.from_dict(item) for item in json.loads(text)["changes"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []  # a broken shared file is another environment's business: never moved from here
        return [c for c in changes if _inside(c.python, self.prefix)]

    def _parse(self, text: str, path: Path) -> list[Change]:
        suffix = ".bad"
        try:
            data = json.loads(text)
            version = data.get("version")
            if isinstance(version, int) and version > HISTORY_VERSION:
                suffix = f".v{version}"
                raise ValueError(f"written by a newer QML Studio (version {version})")
            if version != HISTORY_VERSION:
                raise ValueError(f"unknown history version {version!r}")
            return [Change.from_dict(item) for item in data["changes"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            try:
                os.replace(path, path.with_name(path.name + suffix))
            except OSError:
                pass
            return []

    def _save(self, changes: list[Change]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": HISTORY_VERSION, "prefix": os.path.abspath(self.prefix),
                "changes": [asdict(c) for c in changes]}
        atomic_write_text(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def record(self, change: Change) -> Change:
        """Appends ``change`` (its ``id`` is assigned here) and, for a rollback, marks what it undid."""
        changes = self.changes()
        change.id = max((c.id for c in changes), default=0) + 1
        if change.undoes is not None and change.returncode == 0:
            for old in changes:
                if old.id == change.undoes:
                    old.rolled_back = True
        changes.append(change)
        self._save(changes)
        return change

    def last_undoable(self, python: str) -> Change | None:
        """The newest change to ``python``'s environment that is not a rollback and was not rolled back."""
        for change in reversed(self.changes()):
            if change.python != python or change.action == "rollback" or change.rolled_back:
                continue
            return change
        return None


# ---------------------------------------------------------------- plans for the rest
@dataclass
class UninstallPlan:
    """What an uninstall would remove."""

    distribution: InstalledDistribution
    required_by: list[str]
    command: list[str]

    refused = False

    def describe(self) -> str:
        dist = self.distribution
        lines = [f"Uninstalling {dist.name} {dist.version}"]
        if dist.plugins:
            lines.append(f"It provides the plugin(s): {', '.join(dist.plugins)}.")
        if self.required_by:
            lines.append(f"Warning: {', '.join(self.required_by)} depend(s) on it and may stop working.")
        lines.append("Packages it pulled in stay installed; 'Roll back' reinstalls it.")
        return "\n".join(lines)


@dataclass
class RollbackPlan:
    """How the last change is undone: packages it added are removed, those it changed are put back."""

    change: Change
    remove: list[str]
    restore: dict[str, str]
    commands: list[list[str]]
    warnings: list[str] = field(default_factory=list)

    refused = False

    def describe(self) -> str:
        lines = [f"Rolling back change {self.change.id}: {self.change.action} {self.change.target} ({self.change.time})"]
        lines += [f"  remove     {name}" for name in self.remove]
        lines += [f"  reinstall  {name} {version}" for name, version in self.restore.items()]
        if not self.remove and not self.restore:
            lines.append("  nothing to do: the environment is already as it was before that change")
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ------------------------------------------------------------------------ flows
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


@dataclass
class Confirm:
    """A plan for the user; send back ``True`` to go ahead. A refused plan needs the user's override."""

    plan: Union[InstallPlan, UninstallPlan, RollbackPlan]

    @property
    def refused(self) -> bool:
        return bool(self.plan.refused)


@dataclass
class Note:
    """Something to tell the user while a flow runs."""

    text: str


@dataclass
class Outcome:
    """How a flow ended."""

    action: str
    ok: bool
    message: str
    change: Change | None = None
    plan: Any = None
    cancelled: bool = False
    #: plugins (entry-point names) of distributions the change added or changed
    plugins: list[str] = field(default_factory=list)
    #: plugins of distributions the change removed
    removed_plugins: list[str] = field(default_factory=list)
    #: the change touched QML Studio or its own dependencies
    protected_touched: bool = False


Flow = Generator[Union[Run, Confirm, Note], Any, Outcome]


def process_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables for pip: unbuffered UTF-8 output, never a prompt, no version nagging."""
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            "PIP_NO_INPUT": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    return env


class Installer:
    """Builds pip command lines for one Python environment and runs the safe flows against it.

    ``python`` is the interpreter whose environment is changed (QML Studio's own by default);
    ``index_args`` are extra pip options for every command that looks for packages, e.g.
    ``["--no-index", "--find-links", "wheels/"]`` to work offline from a folder of wheels.
    The history and the wheel cache are the target environment's own (see
    :func:`~qmlstudio.core.settings.environment_dir`) unless given.
    """

    def __init__(
        self,
        python: str | os.PathLike[str] | None = None,
        index_args: Sequence[str] = (),
        history: History | None = None,
        wheel_cache: str | os.PathLike[str] | None = None,
    ) -> None:
        self.python = os.path.abspath(os.fspath(python)) if python is not None else sys.executable
        self.index_args = list(index_args)
        self._history = history
        self._wheel_cache = Path(wheel_cache) if wheel_cache is not None else None
        self._prefix: str | None = sys.prefix if self.same_interpreter else None

    @property
    def prefix(self) -> str:
        """The target environment's ``sys.prefix`` (asked of its interpreter once)."""
        if self._prefix is None:
            try:
                done = subprocess.run([self.python, "-c", "import sys; print(sys.prefix)"], capture_output=True,
                                      text=True, timeout=60, env=process_environment())
                found = done.stdout.strip() if done.returncode == 0 else ""
            except (OSError, subprocess.SubprocessError):
                found = ""
            # an interpreter that cannot run still gets a stable place: the folder above its bin/
            self._prefix = found or os.path.dirname(os.path.dirname(self.python))
        return self._prefix

    @property
    def history(self) -> History:
        """The target environment's install history."""
        if self._history is None:
            self._history = History(prefix=self.prefix)
        return self._history

    @property
    def wheel_cache(self) -> Path:
        """Local wheels installed before are kept here, so that a rollback can reinstall them offline."""
        return self._wheel_cache if self._wheel_cache is not None else environment_dir(self.prefix) / WHEEL_CACHE

    @property
    def same_interpreter(self) -> bool:
        """True when pip changes the environment this process runs in (its plugins can load at once)."""
        return os.path.abspath(self.python) == os.path.abspath(sys.executable)

    # ---------------------------------------------------------- command lines
    def pip(self, *args: str) -> list[str]:
        return [self.python, "-m", "pip", *args]

    def snapshot_command(self) -> list[str]:
        return [self.python, "-c", SNAPSHOT_CODE]

    def build_command(self, folder: str, out_dir: str, isolated: bool = True) -> list[str]:
        """``pip wheel`` for a project folder.

        We build the wheel ourselves, then install that wheel, so that its metadata can be
        checked like any other wheel's and it can be kept for rollbacks. Build isolation is
        tried first (the project's declared build requirements, in a fresh environment: what
        pip does by default); it needs them from an index, so offline it fails and the flow
        retries with ``--no-build-isolation``, which uses the build tools installed here.
        """
        isolation = [] if isolated else ["--no-build-isolation"]
        return self.pip("wheel", "--no-deps", *isolation, *self.index_args, "-w", out_dir, folder)

    def dry_run_command(self, source: InstallSource, upgrade: bool = False) -> list[str]:
        upgrading = ["--upgrade"] if upgrade else []
        return self.pip("install", "--dry-run", "--report", "-", "--quiet", *upgrading, *self.index_args, source.target)

    def install_command(self, source: InstallSource, upgrade: bool = False, constraints: str | None = None) -> list[str]:
        upgrading = ["--upgrade"] if upgrade else []
        constrained = ["--constraint", constraints] if constraints else []
        return self.pip("install", *upgrading, *constrained, *self.index_args, source.target)

    def uninstall_command(self, names: Sequence[str]) -> list[str]:
        return self.pip("uninstall", "--yes", *names)

    def restore_command(self, versions: Mapping[str, str]) -> list[str]:
        """Reinstalls exact versions without touching anything else (``--no-deps``); cached wheels first."""
        legacy = config_dir() / WHEEL_CACHE  # shared by every environment before per-environment state
        folders = [self.wheel_cache] + ([legacy] if self._wheel_cache is None else [])
        cache = [arg for folder in folders if folder.is_dir() for arg in ("--find-links", str(folder))]
        pins = [f"{name}=={version}" for name, version in versions.items()]
        return self.pip("install", "--no-deps", *cache, *self.index_args, *pins)

    # ---------------------------------------------------------------- helpers
    def _snapshot(self) -> Generator[Run, Any, Environment | None]:
        result = yield Run(self.snapshot_command(), "Reading the installed packages", capture=True)
        if result.cancelled:
            return None
        if result.returncode != 0:
            raise InstallError(f"{self.python} could not list its packages: {_error_lines(result.stderr)}")
        return parse_snapshot(result.stdout)

    def _record(
        self,
        action: str,
        target: str,
        commands: list[list[str]],
        returncode: int,
        before: Environment,
        after: Environment,
        forced: bool = False,
        undoes: int | None = None,
    ) -> Change | None:
        old, new = diff_environments(before, after)
        if not old and undoes is None:
            return None
        change = Change(
            0, time.strftime("%Y-%m-%d %H:%M:%S"), action, target, self.python, commands, returncode,
            old, new, forced, undoes,
        )
        return self.history.record(change)

    def _outcome(self, action: str, ok: bool, message: str, change: Change | None, before: Environment,
                 after: Environment, **extra: Any) -> Outcome:
        outcome = Outcome(action, ok, message, change, **extra)
        if change is not None:
            for pkg in change.packages:
                if pkg.after is not None:
                    dist = after.get(pkg.name)
                    outcome.plugins += list(dist.plugins) if dist else []
                else:
                    dist = before.get(pkg.name)
                    outcome.removed_plugins += list(dist.plugins) if dist else []
                if is_protected(pkg.name):
                    outcome.protected_touched = True
        return outcome

    def _cache_wheel(self, wheel: str) -> None:
        try:
            self.wheel_cache.mkdir(parents=True, exist_ok=True)
            shutil.copy2(wheel, self.wheel_cache / Path(wheel).name)
        except OSError:
            pass  # only rollbacks of this wheel lose their offline copy

    def _constraints(self, env: Environment, folder: str) -> str:
        """A pip constraints file pinning QML Studio and its own dependencies to their installed versions."""
        pins = [f"{d.name}=={d.version}" for d in env.distributions.values() if is_protected(d.name)]
        path = Path(folder) / "qmlstudio-constraints.txt"
        path.write_text("\n".join(sorted(pins, key=str.lower)) + "\n", encoding="utf-8")
        return str(path)

    def rollback_plan(self, change: Change, env: Environment) -> RollbackPlan:
        """The commands that put the packages ``change`` touched back to their versions before it."""
        remove = [name for name, version in change.before.items() if version is None and env.get(name) is not None]
        restore = {
            name: version
            for name, version in change.before.items()
            if version is not None and not _same_version(env.version(name), version)
        }
        warnings = [
            f"{name} is now {env.version(name) or 'not installed'}, not {version or 'absent'} as that change left it"
            for name, version in change.after.items()
            if not _same_version(env.version(name), version)
        ]
        commands = []
        if remove:
            commands.append(self.uninstall_command(remove))
        if restore:
            commands.append(self.restore_command(restore))
        return RollbackPlan(change, remove, restore, commands, warnings)

    # ----------------------------------------------------------------- flows
    def install(self, spec: str, *, upgrade: bool = False, action: str = "install") -> Flow:
        """Install (or with ``upgrade``, update) from a package name, a wheel or a project folder."""
        source = parse_source(spec)
        before = yield from self._snapshot()
        if before is None:
            return Outcome(action, False, "cancelled", cancelled=True)
        return (yield from self._install(source, before, upgrade=upgrade, action=action))

    def update(self, name: str) -> Flow:
        """Updates the distribution called ``name``, or the one that provides the plugin ``name``."""
        before = yield from self._snapshot()
        if before is None:
            return Outcome("update", False, "cancelled", cancelled=True)
        dist = before.find(name)
        if dist is None:
            raise InstallError(f"nothing called {name!r} is installed (neither a plugin nor a package)")
        if is_protected(dist.name):
            raise InstallError(
                f"{dist.name} is {'QML Studio itself' if dist.key == SELF else 'one of QML Studio’s own dependencies'}: "
                "update QML Studio instead"
            )
        source = InstallSource("index", dist.name, dist.name)
        return (yield from self._install(source, before, upgrade=True, action="update"))

    def _install(self, source: InstallSource, before: Environment, *, upgrade: bool, action: str) -> Flow:
        workdir = tempfile.mkdtemp(prefix="qmlstudio-pip-")
        try:
            if source.kind == "folder":
                folder = source.target
                result = yield Run(self.build_command(folder, workdir), f"Building a wheel from {folder}")
                if result.cancelled:
                    return Outcome(action, False, "cancelled", cancelled=True)
                if result.returncode != 0:
                    yield Note(
                        "Building with build isolation failed: pip could not install the project's build "
                        "requirements into a fresh environment (offline?). Trying again with the build tools "
                        "installed here (--no-build-isolation)."
                    )
                    result = yield Run(self.build_command(folder, workdir, isolated=False), f"Building a wheel from {folder}")
                    if result.cancelled:
                        return Outcome(action, False, "cancelled", cancelled=True)
                    if result.returncode != 0:
                        raise InstallError(f"could not build a wheel from {folder}:\n{_error_lines(result.stderr)}")
                wheels = sorted(Path(workdir).glob("*.whl"))
                if not wheels:
                    raise InstallError(f"building {folder} made no wheel")
                info = read_wheel(wheels[0])
                source = InstallSource("wheel", str(wheels[0]), info.name, info.version, info, built_from=folder)

            result = yield Run(self.dry_run_command(source, upgrade), "Dry run: what would pip change?", capture=True)
            if result.cancelled:
                return Outcome(action, False, "cancelled", cancelled=True)
            plan = make_plan(action, source, before, result)
            if plan.nothing_to_do:
                state = "already up to date" if action == "update" else "already installed"
                return Outcome(action, True, f"{source.label}: {state}, nothing to do", plan=plan)
            if not (yield Confirm(plan)):
                if plan.refused:
                    return Outcome(action, False, plan.refusal(), plan=plan)
                return Outcome(action, False, "cancelled", plan=plan, cancelled=True)

            forced = plan.refused
            constraints = None if forced else self._constraints(before, workdir)
            command = self.install_command(source, upgrade, constraints)
            result = yield Run(command, f"pip {'install --upgrade' if upgrade else 'install'} {source.label}")
            after = yield from self._snapshot()
            if after is None:
                after = before
            change = self._record(action, source.built_from or source.target, [command], result.returncode,
                                  before, after, forced)
            if result.returncode == 0 and source.kind == "wheel":
                self._cache_wheel(source.target)
            if result.cancelled:
                message = "cancelled" + (": some packages had already changed (roll back to undo)" if change else "")
                return self._outcome(action, False, message, change, before, after, plan=plan, cancelled=True)
            if result.returncode != 0:
                message = f"pip failed (exit code {result.returncode}):\n{_error_lines(result.stderr)}"
                return self._outcome(action, False, message, change, before, after, plan=plan)
            done = ", ".join(p.describe().split(None, 1)[1] for p in change.packages) if change else "nothing changed"
            verb = "updated" if action == "update" else "installed"
            return self._outcome(action, True, f"{verb}: {done}", change, before, after, plan=plan)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def uninstall(self, name: str) -> Flow:
        """Removes the distribution called ``name``, or the one that provides the plugin ``name``."""
        before = yield from self._snapshot()
        if before is None:
            return Outcome("uninstall", False, "cancelled", cancelled=True)
        dist = before.find(name)
        if dist is None:
            raise InstallError(f"nothing called {name!r} is installed (neither a plugin nor a package)")
        if dist.key == SELF:
            what = f"the built-in plugin {name!r} is part of QML Studio" if name in dist.plugins else f"{dist.name} is QML Studio itself"
            raise InstallError(f"{what}: it cannot be uninstalled from here (disable a built-in plugin instead)")
        if is_protected(dist.name):
            raise InstallError(f"{dist.name} is one of QML Studio's own dependencies: it cannot be uninstalled from here")
        if not before.inside(dist):
            raise InstallError(
                f"{dist.name} is installed in {dist.location}, outside the environment of {self.python} "
                f"({before.prefix}); pip cannot remove it from here"
            )
        command = self.uninstall_command([dist.name])
        plan = UninstallPlan(dist, before.required_by(dist.name), command)
        if not (yield Confirm(plan)):
            return Outcome("uninstall", False, "cancelled", plan=plan, cancelled=True)
        result = yield Run(command, f"pip uninstall {dist.name}")
        after = yield from self._snapshot()
        if after is None:
            after = before
        change = self._record("uninstall", dist.name, [command], result.returncode, before, after)
        if result.cancelled:
            return self._outcome("uninstall", False, "cancelled", change, before, after, plan=plan, cancelled=True)
        if result.returncode != 0 or change is None:
            why = _error_lines(result.stderr) if result.returncode != 0 else "pip removed nothing"
            return self._outcome("uninstall", False, f"could not uninstall {dist.name}: {why}", change, before, after, plan=plan)
        return self._outcome("uninstall", True, f"uninstalled {dist.name} {dist.version}", change, before, after, plan=plan)

    def rollback(self) -> Flow:
        """Undoes the last change made through QML Studio to this environment that was not undone yet."""
        before = yield from self._snapshot()
        if before is None:
            return Outcome("rollback", False, "cancelled", cancelled=True)
        change = self.history.last_undoable(self.python)
        if change is None:
            raise InstallError("there is no change to roll back")
        plan = self.rollback_plan(change, before)
        if not (yield Confirm(plan)):
            return Outcome("rollback", False, "cancelled", plan=plan, cancelled=True)
        code, cancelled, errors = 0, False, ""
        for command in plan.commands:
            result = yield Run(command, f"Rolling back: {shlex.join(command[3:5])} …")
            code, cancelled = result.returncode, result.cancelled
            if cancelled or code != 0:
                errors = _error_lines(result.stderr)
                break
        after = yield from self._snapshot()
        if after is None:
            after = before
        record = self._record("rollback", f"change {change.id} ({change.action} {change.target})", plan.commands,
                              1 if cancelled else code, before, after, undoes=change.id)
        if cancelled:
            return self._outcome("rollback", False, "cancelled", record, before, after, plan=plan, cancelled=True)
        if code != 0:
            return self._outcome("rollback", False, f"the rollback failed:\n{errors}", record, before, after, plan=plan)
        return self._outcome("rollback", True, f"rolled back change {change.id} ({change.action} {change.target})",
                             record, before, after, plan=plan)


# ------------------------------------------------------------- the synchronous driver
def run_command(run: Run, echo: Callable[[str], None] | None = None) -> Result:
    """Runs one :class:`Run` with ``subprocess``; output not captured is passed through as it comes.

    Ctrl-C stops the command and gives a cancelled result (the flow then records what changed).
    """
    env = process_environment()
    try:
        if run.capture:
            done = subprocess.run(run.argv, capture_output=True, text=True, encoding="utf-8", errors="replace", env=env)
            return Result(done.returncode, done.stdout, done.stderr)
        process = subprocess.Popen(run.argv, stdout=None, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                   errors="replace", env=env)
        errors = []
        assert process.stderr is not None
        for line in process.stderr:
            errors.append(line)
            (echo or (lambda text: print(text, end="", file=sys.stderr)))(line)
        return Result(process.wait(), "", "".join(errors))
    except KeyboardInterrupt:
        return Result(130, "", "interrupted", cancelled=True)
    except OSError as exc:
        return Result(127, "", f"ERROR: could not run {run.argv[0]}: {exc}")


def run_flow(
    flow: Flow,
    confirm: Callable[[Confirm], bool],
    echo: Callable[[str], None] = print,
    runner: Callable[[Run], Result] | None = None,
) -> Outcome:
    """Drives a flow to its end synchronously (the command line's way); returns its :class:`Outcome`."""
    runner = runner or run_command
    value: Any = None
    try:
        while True:
            item = flow.send(value)
            if isinstance(item, Run):
                if not item.capture:
                    echo(f"$ {shlex.join(item.argv[2:] if item.argv[1:2] == ['-m'] else item.argv)}")
                value = runner(item)
            elif isinstance(item, Confirm):
                value = bool(confirm(item))
            else:
                echo(item.text)
                value = None
    except StopIteration as stop:
        return stop.value
