"""Finds plugins, calls their hooks one by one and keeps what each provides.

Plugins come from the ``qmlstudio`` entry-point group (built-ins are declared there by
QML Studio's own pyproject exactly as a third-party package would) or are registered in
process with :meth:`PluginRegistry.register` (tests, scripts). Every fault is contained:
a plugin that fails to import or to register, or whose hook raises, is marked ``failed``
and contributes nothing; a malformed descriptor, or one whose name another plugin already
took, is skipped on its own. Each fault is kept as a :class:`PluginProblem` with the
plugin's name, what went wrong and the traceback, for ``qmlstudio plugins`` and the
Plugins dialog. Nothing a plugin does stops the app or the CLI from starting: imports and
hooks run with a time limit (:func:`plugin_timeout`; a plugin that does not answer is
reported and skipped), and a third-party plugin new to this environment is first loaded in
a child process (:mod:`qmlstudio.plugins.probe`), so that one that ends the interpreter
(``os._exit``, a segfault) is skipped with a message instead of ending the app.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import os
import signal
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pluggy

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.plugins import hookspecs
from qmlstudio.plugins.descriptors import SPEC_TYPES, Spec

ENTRY_POINT_GROUP = "qmlstudio"
AUTOLOAD_ENV = "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"
#: seconds a plugin's import or one of its hooks may take (0: no limit)
TIMEOUT_ENV = "QMLSTUDIO_PLUGIN_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
#: "0" turns off the child-process probe of new third-party plugins
PROBE_ENV = "QMLSTUDIO_PLUGIN_PROBE"
BUILTIN_DISTRIBUTION = "qmlstudio"

#: hook name → the short name used in listings ("qmlstudio_encodings" → "encodings")
HOOKS: dict[str, str] = {hook: hook.removeprefix("qmlstudio_") for hook in SPEC_TYPES}


class UnknownNameError(QMLStudioError, LookupError):
    """A project or command asks for an encoding, dataset... that no plugin provides."""


@dataclass
class PluginProblem:
    """One thing that went wrong with a plugin."""

    plugin: str
    stage: str  # "import", "register", a hook name
    message: str
    traceback: str = ""
    #: it did not answer in time (kept across refreshes: its hooks are not called again)
    hang: bool = False

    def to_dict(self) -> dict[str, str]:
        return {"plugin": self.plugin, "stage": self.stage, "message": self.message, "traceback": self.traceback}


@dataclass
class PluginInfo:
    """A plugin as listed by ``qmlstudio plugins`` and the Plugins dialog."""

    name: str
    version: str | None
    source: str  # "built-in", the distribution that installed it, or "registered"
    module: str | None = None
    status: str = "ok"  # "ok", "disabled" or "failed"
    provides: dict[str, list[str]] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)

    @property
    def builtin(self) -> bool:
        return self.source == "built-in"

    @property
    def reason(self) -> str:
        """The first problem's message (why it failed), or ''."""
        return self.problems[0].message if self.problems else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "builtin": self.builtin,
            "module": self.module,
            "status": self.status,
            "reason": self.reason,
            "provides": {k: list(v) for k, v in self.provides.items() if v},
            "problems": [p.to_dict() for p in self.problems],
        }


class _SigintWatch:
    """Tells a real Ctrl-C from a plugin that raises ``KeyboardInterrupt`` itself.

    While plugin code runs (an import, a hook), SIGINT goes through a handler that notes it
    and raises ``KeyboardInterrupt`` as Python's default does; a ``KeyboardInterrupt`` with no
    SIGINT noted came from the plugin, and is that plugin's fault, not the user's wish to stop.
    Outside the main thread (no signal handlers there) every ``KeyboardInterrupt`` is a fault.
    """

    def __init__(self) -> None:
        self.received = False

    @contextlib.contextmanager
    def watching(self) -> Any:
        self.received = False
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            self.received = True
            if callable(previous) and previous not in (signal.default_int_handler,):
                previous(signum, frame)  # e.g. a CLI's own "stop cleanly" handler
            else:
                raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGINT, handler)
        except (ValueError, OSError):  # pragma: no cover - not the main interpreter
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def from_user(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a Ctrl-C the user pressed (re-raise it) rather than a plugin's fault."""
        return isinstance(exc, KeyboardInterrupt) and self.received


class NoAnswer(Exception):
    """Plugin code did not return within the time limit (it still runs, on a thread of its own)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not answer within {seconds:g} s")
        self.seconds = seconds


def plugin_timeout() -> float:
    """The time limit for a plugin's import and each hook: ``$QMLSTUDIO_PLUGIN_TIMEOUT`` or 30 s."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value >= 0 and not math.isnan(value) else DEFAULT_TIMEOUT_S


def run_limited(function: Callable[[], Any], seconds: float) -> Any:
    """``function()`` on a daemon thread, waited for at most ``seconds`` (0: inline, no limit).

    Raises :class:`NoAnswer` when it is still running then (the thread is left to itself: a
    thread cannot be stopped), or re-raises what it raised. A Ctrl-C while waiting reaches
    the caller at once.
    """
    if seconds <= 0:
        return function()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="qmlstudio-plugin-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise NoAnswer(seconds)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _format_exception(exc: BaseException) -> tuple[str, str]:
    message = f"{type(exc).__name__}: {exc}".strip()
    return message, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class PluginRegistry:
    """Everything the installed and registered plugins provide, by hook and name."""

    def __init__(self, disabled: Iterable[str] = ()) -> None:
        self.disabled = set(disabled)
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._specs: dict[str, dict[str, Spec]] = {short: {} for short in HOOKS.values()}
        self._owner: dict[str, dict[str, str]] = {short: {} for short in HOOKS.values()}
        #: how to get each disabled plugin (an entry point's load), called only to explain an unknown name
        self._disabled_sources: dict[str, Callable[[], Any]] = {}
        self._disabled_parts: dict[str, dict[str, list[Spec]]] = {}
        self._unreadable: set[str] = set()  # disabled plugins whose parts could not be found out

    # ------------------------------------------------------------------ loading
    def load_entry_points(self) -> list[str]:
        """Imports and registers every ``qmlstudio`` entry point not yet known; returns their names."""
        found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))

        def order(ep: importlib.metadata.EntryPoint) -> tuple[int, str, str]:
            dist = ep.dist.name if ep.dist else ""
            return (0 if dist == BUILTIN_DISTRIBUTION else 1, dist.lower(), ep.name)

        added = []
        seen: set[str] = set()
        for ep in sorted(found, key=order):
            if ep.name in self.plugins or ep.name in seen:
                if ep.name in seen:
                    dist = ep.dist.name if ep.dist else "?"
                    self._note(PluginInfo(ep.name + f" ({dist})", None, dist, ep.value, "failed"), "register",
                               f"another plugin is already called {ep.name!r}; this one was skipped")
                continue
            seen.add(ep.name)
            dist_name = ep.dist.name if ep.dist else None
            source = "built-in" if dist_name == BUILTIN_DISTRIBUTION else (dist_name or "unknown")
            version = ep.dist.version if ep.dist else None
            info = PluginInfo(ep.name, version, source, ep.value)
            self.plugins[ep.name] = info
            added.append(ep.name)
            if ep.name in self.disabled:
                info.status = "disabled"
                self._disabled_sources[ep.name] = ep.load  # imported only if a missing name needs it
                continue
            # Built-ins are ours: imported on the calling thread, with no time limit (qiskit's gate
            # table must not be built first on a side thread, and a loaded machine is no hang).
            timeout = plugin_timeout() if source != "built-in" else 0.0
            if source != "built-in" and probing_enabled():
                from qmlstudio.plugins.probe import verdict

                found, why = verdict(ep, timeout)
                if found != "ok":
                    info.status = "failed"
                    info.problems.append(PluginProblem(ep.name, "probe", f"plugin {ep.name!r} {why}; skipped "
                                                       f"(found when it was first loaded; reinstalling it checks "
                                                       f"again)", hang=found == "hang"))
                    continue
            watch = _SigintWatch()
            try:
                with watch.watching():
                    plugin = run_limited(ep.load, timeout)
            except BaseException as exc:  # noqa: BLE001 - a plugin's import may raise anything
                if watch.from_user(exc):
                    raise
                if isinstance(exc, NoAnswer):
                    info.status = "failed"
                    info.problems.append(PluginProblem(ep.name, "import", f"plugin {ep.name!r} {exc} while "
                                                       f"importing; skipped", hang=True))
                    continue
                self._fail(info, "import", exc)
                continue
            self._register(info, plugin)
        self.refresh()
        return added

    def register(self, plugin: Any, name: str, version: str | None = None) -> PluginInfo:
        """Registers a plugin object or module in process (tests use this in try/finally)."""
        if name in self.plugins:
            raise QMLStudioError(f"a plugin called {name!r} is already registered")
        info = PluginInfo(name, version, "registered", getattr(plugin, "__name__", type(plugin).__name__))
        self.plugins[name] = info
        if name in self.disabled:
            info.status = "disabled"
            self._disabled_sources[name] = lambda: plugin
        else:
            self._register(info, plugin)
        self.refresh()
        return info

    def unregister(self, name: str) -> None:
        """Forgets a plugin and everything it provided."""
        if self.pm.has_plugin(name):
            self.pm.unregister(name=name)
        self.plugins.pop(name, None)
        self._disabled_sources.pop(name, None)
        self._disabled_parts.pop(name, None)
        self.refresh()

    def _register(self, info: PluginInfo, plugin: Any) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except BaseException as exc:  # noqa: BLE001 - pluggy validation errors and anything odd
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._fail(info, "register", exc)
            return
        unknown = [
            attr
            for attr in dir(plugin)
            if attr.startswith("qmlstudio_") and attr not in HOOKS and callable(getattr(plugin, attr, None))
        ]
        for attr in unknown:
            close = [h for h in HOOKS if h.startswith(attr) or attr.startswith(h)]
            hint = f" (did you mean {close[0]}?)" if close else ""
            self._note(info, "register", f"{attr} is not a QML Studio hook{hint}; it is never called")

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        message, trace = _format_exception(exc)
        info.status = "failed"
        info.problems.append(PluginProblem(info.name, stage, message, trace))
        if self.pm.has_plugin(info.name):
            self.pm.unregister(name=info.name)

    def _note(self, info: PluginInfo, stage: str, message: str) -> None:
        info.problems.append(PluginProblem(info.name, stage, message))
        if info.name not in self.plugins:
            self.plugins[info.name] = info

    # ------------------------------------------------------------ calling hooks
    def refresh(self) -> None:
        """Calls every hook of every registered plugin again and rebuilds the tables."""
        for info in self.plugins.values():
            info.problems = [p for p in info.problems if p.stage in ("import", "register", "probe") or p.hang]
            info.provides = {}
        timeout = plugin_timeout()
        ordered = [name for name in self.plugins if self.pm.has_plugin(name)]
        collected: dict[str, dict[str, list[Spec]]] = {name: {} for name in ordered}
        for hook, short in HOOKS.items():
            caller = getattr(self.pm.hook, hook)
            impls = {self.pm.get_name(impl.plugin): impl for impl in caller.get_hookimpls()}
            for name in ordered:
                impl = impls.get(name)
                if impl is None:
                    continue
                info = self.plugins[name]
                if not self.pm.has_plugin(name):
                    continue  # an earlier hook of it did not answer
                watch = _SigintWatch()
                try:
                    with watch.watching():
                        result = run_limited(impl.function, 0.0 if info.builtin else timeout)
                except BaseException as exc:  # noqa: BLE001
                    if watch.from_user(exc):
                        raise
                    if isinstance(exc, NoAnswer):  # never called again: it would hang every refresh
                        info.status = "failed"
                        info.problems.append(PluginProblem(name, hook, f"plugin {name!r} {exc} in {hook}; "
                                                           f"skipped", hang=True))
                        self.pm.unregister(name=name)
                        continue
                    message, trace = _format_exception(exc)
                    info.status = "failed"
                    info.problems.append(PluginProblem(name, hook, f"{hook} raised {message}", trace))
                    continue
                collected[name][short] = self._check_result(info, hook, result)
        self._specs = {short: {} for short in HOOKS.values()}
        self._owner = {short: {} for short in HOOKS.values()}
        for name in ordered:
            info = self.plugins[name]
            if info.status == "failed":
                continue  # a plugin whose hook raised contributes nothing at all
            for short, specs in collected[name].items():
                for spec in specs:
                    owner = self._owner[short].get(spec.name)
                    if owner is not None:
                        info.problems.append(
                            PluginProblem(
                                name,
                                f"qmlstudio_{short}",
                                f"{SPEC_TYPES['qmlstudio_' + short].kind} {spec.name!r} is already provided by "
                                f"plugin {owner!r}; this one was skipped",
                            )
                        )
                        continue
                    object.__setattr__(spec, "_plugin", name)  # named in its failures (Spec.plugin)
                    self._specs[short][spec.name] = spec
                    self._owner[short][spec.name] = name
                    info.provides.setdefault(short, []).append(spec.name)

    def _check_result(self, info: PluginInfo, hook: str, result: Any) -> list[Spec]:
        expected = SPEC_TYPES[hook]
        if result is None:
            return []
        if not isinstance(result, (list, tuple)):
            info.problems.append(
                PluginProblem(info.name, hook, f"{hook} returned {type(result).__name__}, not a list of {expected.__name__}")
            )
            return []
        good = []
        for index, item in enumerate(result):
            if not isinstance(item, expected):
                info.problems.append(
                    PluginProblem(info.name, hook, f"{hook} item {index} is {type(item).__name__}, not {expected.__name__}; skipped")
                )
                continue
            try:
                problems = item.problems()
            except Exception as exc:  # noqa: BLE001 - a broken descriptor subclass
                problems = [_format_exception(exc)[0]]
            if problems:
                info.problems.append(PluginProblem(info.name, hook, f"{hook} item {index} skipped: " + "; ".join(problems)))
                continue
            good.append(item)
        return good

    # --------------------------------------------------------------- lookups
    def availability(self) -> dict[tuple[str, str], str]:
        """Why each part that tells it when its hook runs cannot be used here ("" when it can),
        by (kind, name): the model kinds (the hybrid kind without torch). Compared before and
        after an install, it tells which parts the installed packages made usable."""
        return {("models", name): getattr(spec, "unavailable", "") or "" for name, spec in self._specs["models"].items()}

    def specs(self, kind: str) -> dict[str, Spec]:
        """Every descriptor of a kind (``"encodings"``, ``"datasets"``...) by name, in load order."""
        return dict(self._specs[kind])

    @property
    def encodings(self) -> dict[str, Any]:
        return self.specs("encodings")

    @property
    def ansatze(self) -> dict[str, Any]:
        return self.specs("ansatze")

    @property
    def optimizers(self) -> dict[str, Any]:
        return self.specs("optimizers")

    @property
    def datasets(self) -> dict[str, Any]:
        return self.specs("datasets")

    @property
    def backends(self) -> dict[str, Any]:
        return self.specs("backends")

    @property
    def panels(self) -> dict[str, Any]:
        return self.specs("panels")

    @property
    def importers(self) -> dict[str, Any]:
        return self.specs("importers")

    @property
    def accounts(self) -> dict[str, Any]:
        return self.specs("accounts")

    def get(self, kind: str, name: str) -> Any:
        """The descriptor called ``name``, or :class:`UnknownNameError` listing what exists."""
        table = self._specs[kind]
        try:
            return table[name]
        except KeyError:
            singular = SPEC_TYPES["qmlstudio_" + kind].kind
            known = ", ".join(table) or "none: no plugin provides any"
            hint = ""
            providers = self.disabled_providers(kind, name)
            unchecked = [p for p in self._disabled_sources if p in self._unreadable]
            if providers:
                plugin = providers[0]
                hint = (f": it is provided by the plugin {plugin!r}, which is disabled "
                        f"(enable it with 'qmlstudio plugins enable {plugin}' or in Plugins ▸ Manage Plugins)")
            elif unchecked:
                hint = f"; perhaps a disabled plugin provides it: {', '.join(repr(p) for p in unchecked)}"
            raise UnknownNameError(f"unknown {singular} {name!r}{hint} (available: {known})") from None

    def disabled_specs(self, plugin: str) -> dict[str, list[Spec]]:
        """What the disabled ``plugin`` would provide, by kind (its hooks are called in a scratch registry).

        Used only to explain a missing name and by ``qmlstudio plugins show``, so a disabled
        plugin is imported only then; one that fails to import provides nothing.
        """
        if plugin not in self._disabled_parts:
            source = self._disabled_sources.get(plugin)
            parts: dict[str, list[Spec]] = {}
            if source is not None:
                scratch = PluginRegistry()
                try:
                    obj = source()
                    info = scratch.register(obj, plugin)
                    if info.status == "failed":
                        self._unreadable.add(plugin)
                    parts = {kind: [scratch.get(kind, n) for n in names] for kind, names in info.provides.items() if names}
                except Exception:  # noqa: BLE001 - a broken disabled plugin explains nothing
                    self._unreadable.add(plugin)
                    parts = {}
            self._disabled_parts[plugin] = parts
        return self._disabled_parts[plugin]

    def disabled_providers(self, kind: str, name: str) -> list[str]:
        """The disabled plugins that would provide the ``kind`` called ``name``."""
        return [plugin for plugin in self._disabled_sources
                if any(spec.name == name for spec in self.disabled_specs(plugin).get(kind, []))]

    def owner(self, kind: str, name: str) -> str | None:
        """The plugin that provides ``name``."""
        return self._owner[kind].get(name)

    @property
    def problems(self) -> list[PluginProblem]:
        return [p for info in self.plugins.values() for p in info.problems]


def availability_changes(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> list[str]:
    """One line for each part whose availability changed between two :meth:`PluginRegistry.availability`
    snapshots ("model kind 'hybrid' can be used now")."""
    words = {"models": "model kind"}
    return [f"{words.get(kind, kind)} '{name}' " + (f"cannot be used now: {reason}" if reason else "can be used now")
            for (kind, name), reason in sorted(after.items()) if (kind, name) in before and before[(kind, name)] != reason]


def autoload_enabled() -> bool:
    """False when ``QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD`` is set to a true value (tests use it)."""
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def probing_enabled() -> bool:
    """False when ``QMLSTUDIO_PLUGIN_PROBE`` is ``0`` (no child-process probe of new plugins)."""
    return os.environ.get(PROBE_ENV, "").strip().lower() not in ("0", "false", "no", "off")


def load_plugins(disabled: Iterable[str] | None = None, autoload: bool | None = None) -> PluginRegistry:
    """The registry the app and the CLI use: entry points loaded, disabled ones from settings skipped."""
    if disabled is None:
        from qmlstudio.core.settings import Settings

        disabled = Settings.load().disabled_plugins
    registry = PluginRegistry(disabled)
    if autoload_enabled() if autoload is None else autoload:
        registry.load_entry_points()
        for problem in registry.problems:
            if problem.hang or problem.stage == "probe":  # skipped: say so on stderr too, not only in listings
                logging.getLogger("qmlstudio.plugins").warning("qmlstudio: warning: %s", problem.message)
    return registry
