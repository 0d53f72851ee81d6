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

The package: this module (the flows, the :class:`Installer` and the drivers),
:mod:`~qmlstudio.installer.environment` (the target environment, wheels and install sources),
:mod:`~qmlstudio.installer.plans` (what an operation would change) and
:mod:`~qmlstudio.installer.history` (the record kept for rollbacks). Every name is importable
from here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Mapping, Sequence, Union

from qmlstudio.core.settings import config_dir, environment_dir
from qmlstudio.installer.environment import (
    ENTRY_POINT_GROUP,
    HISTORY_FILE,
    HISTORY_VERSION,
    PROTECTED,
    SELF,
    SNAPSHOT_CODE,
    WHEEL_CACHE,
    Environment,
    InstalledDistribution,
    InstallError,
    InstallSource,
    Result,
    Run,
    WheelInfo,
    _error_lines,
    _same_version,
    is_protected,
    parse_snapshot,
    parse_source,
    read_wheel,
)
from qmlstudio.installer.history import (
    History,
    history_path,
)
from qmlstudio.installer.plans import (
    Change,
    InstallPlan,
    PackageChange,
    ProtectedChange,
    RollbackPlan,
    UninstallPlan,
    diff_environments,
    make_plan,
    parse_report,
    requirement_conflicts,
)

__all__ = [
    "Change",
    "Confirm",
    "diff_environments",
    "ENTRY_POINT_GROUP",
    "Environment",
    "Flow",
    "History",
    "HISTORY_FILE",
    "history_path",
    "HISTORY_VERSION",
    "InstalledDistribution",
    "Installer",
    "InstallError",
    "InstallPlan",
    "InstallSource",
    "is_protected",
    "make_plan",
    "Note",
    "Outcome",
    "PackageChange",
    "parse_report",
    "parse_snapshot",
    "parse_source",
    "process_environment",
    "PROTECTED",
    "ProtectedChange",
    "read_wheel",
    "requirement_conflicts",
    "Result",
    "RollbackPlan",
    "Run",
    "run_command",
    "run_flow",
    "SELF",
    "SNAPSHOT_CODE",
    "UninstallPlan",
    "WHEEL_CACHE",
    "WheelInfo",
]

# ----------------------------------------------------------------- the environment


# ------------------------------------------------------------------- what to install


# ------------------------------------------------------------------------ the plan


# ---------------------------------------------------------------------- history


# ---------------------------------------------------------------- plans for the rest


# ------------------------------------------------------------------------ flows


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
