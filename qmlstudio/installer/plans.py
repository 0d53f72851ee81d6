"""What an install, uninstall or rollback would change, before anything is changed.

:func:`make_plan` turns pip's dry-run report into an :class:`InstallPlan` (packages added,
upgraded, downgraded; changes to QML Studio's own dependencies flagged); :func:`diff_environments`
compares two snapshots into :class:`Change` rows; :class:`UninstallPlan` and
:class:`RollbackPlan` say what the other operations would do. Split from
:mod:`qmlstudio.installer`, which re-exports every name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from qmlstudio.installer.environment import (
    SELF,
    Environment,
    InstalledDistribution,
    InstallError,
    InstallSource,
    Result,
    _compare,
    _error_lines,
    _same_version,
    is_protected,
)

__all__ = ["Change", "InstallPlan", "PackageChange", "ProtectedChange", "RollbackPlan", "UninstallPlan", "diff_environments", "make_plan", "parse_report", "requirement_conflicts"]


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
