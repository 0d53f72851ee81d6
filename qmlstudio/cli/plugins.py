"""``qmlstudio plugins``: list, describe, enable, disable, install, update, uninstall and roll back plugins."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qmlstudio.cli.base import PROG, Command
from qmlstudio.core.errors import QMLStudioError


class PluginsCommand(Command):
    name = "plugins"
    help = "list, install, update, uninstall, enable and disable plugins"
    description = (
        "Without an action, lists every plugin, its version, what it provides and its status (-v adds "
        "descriptions; --json adds every option). 'show NAME' prints a plugin's (or one part's) "
        "descriptions and every option with its type, default and range. "
        "'install' takes a package name (with an optional ==VERSION), a .whl file or a project folder; "
        "it first runs pip's dry run and refuses a change to QML Studio's own dependencies (qiskit, "
        "numpy, PySide6...) unless --force is given; --dry-run stops after showing the plan. 'rollback' "
        "undoes the last install, update or uninstall made to this Python environment (each environment "
        "keeps its own history). Enabling and disabling take effect the next time QML Studio starts."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks of failed plugins")
        actions = parser.add_subparsers(dest="plugins_action", metavar="ACTION")

        def pip_options(p: argparse.ArgumentParser, index: bool = True) -> None:
            p.add_argument("--yes", "-y", action="store_true",
                           help="do not ask for confirmation (never asked when stdin is not a terminal)")
            p.add_argument("--python", metavar="PATH", help="change this interpreter's environment (default: this one)")
            if index:
                p.add_argument("--no-index", action="store_true", help="do not use a package index (offline)")
                p.add_argument("--find-links", action="append", metavar="DIR", default=[],
                               help="also look for wheels in DIR (repeatable)")

        install = actions.add_parser("install", help="install a plugin from a package index, a wheel or a folder")
        install.add_argument("spec", metavar="SPEC", help="NAME, NAME==VERSION, a .whl file or a project folder")
        install.add_argument("--upgrade", "-U", action="store_true", help="upgrade it if it is installed")
        install.add_argument("--force", action="store_true",
                             help="install even if it would change QML Studio's own dependencies")
        install.add_argument("--dry-run", action="store_true",
                             help="only show what pip would change (and whether it is refused); change nothing")
        pip_options(install)
        update = actions.add_parser("update", help="update an installed plugin from the package index")
        update.add_argument("name", metavar="NAME", help="a plugin name (as listed) or its distribution's name")
        update.add_argument("--force", action="store_true",
                            help="update even if it would change QML Studio's own dependencies")
        pip_options(update)
        uninstall = actions.add_parser("uninstall", help="uninstall a third-party plugin")
        uninstall.add_argument("name", metavar="NAME", help="a plugin name (as listed) or its distribution's name")
        pip_options(uninstall, index=False)
        rollback = actions.add_parser("rollback", help="undo the last install, update or uninstall")
        pip_options(rollback)
        show = actions.add_parser("show", help="a plugin's parts, their descriptions and every option")
        show.add_argument("name", metavar="NAME", help="a plugin's name, as listed, or the name of one of its parts")
        show.add_argument("--json", action="store_true", dest="show_json", help="machine-readable output")
        for action, verb in (("enable", "enable"), ("disable", "disable")):
            p = actions.add_parser(action, help=f"{verb} a plugin from the next start on")
            p.add_argument("name", metavar="NAME", help="the plugin's name, as listed by 'qmlstudio plugins'")

    def run(self, args: argparse.Namespace) -> int:
        action = getattr(args, "plugins_action", None)
        if action in ("enable", "disable"):
            return self._set_enabled(args.name, action == "enable")
        if action == "show":
            return self._show(args)
        if action is not None:
            return self._change(args, action)
        return self._list(args)

    def _list(self, args: argparse.Namespace) -> int:
        from qmlstudio.plugins.manager import load_plugins

        registry = load_plugins()
        infos = list(registry.plugins.values())
        if args.json:
            plugins = [{**i.to_dict(), "parts": _parts(registry, i.provides)} for i in infos]
            print(json.dumps({"plugins": plugins}, indent=2, ensure_ascii=False, default=str))
            return 0
        if not infos:
            print("no plugins found (is QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD set?)")
        for info in infos:
            version = f" {info.version}" if info.version else ""
            print(f"{info.name}{version}  [{info.source}]  {info.status}")
            for kind, names in info.provides.items():
                if names and args.verbose:
                    print(f"    {kind}:")
                    for spec_name in names:
                        spec = registry.get(kind, spec_name)
                        print(f"      {spec_name}: {spec.title}" + (f". {spec.description}" if spec.description else ""))
                elif names:
                    print(f"    {kind}: {', '.join(names)}")
            for problem in info.problems:
                print(f"    ! {problem.stage}: {problem.message}")
                if args.verbose and problem.traceback:
                    print("      " + problem.traceback.rstrip().replace("\n", "\n      "))
        if infos:
            print(f"'{PROG} plugins show NAME' lists a plugin's parts and every option.")
        return 0

    def _show(self, args: argparse.Namespace) -> int:
        from qmlstudio.plugins.manager import HOOKS, load_plugins

        registry = load_plugins()
        info = registry.plugins.get(args.name)
        if info is not None:
            if info.status == "disabled":
                specs = {kind: [spec.to_dict() for spec in items] for kind, items in registry.disabled_specs(info.name).items()}
            else:
                specs = _parts(registry, info.provides)
            if args.show_json:
                print(json.dumps({"plugin": info.to_dict(), "parts": specs}, indent=2, ensure_ascii=False, default=str))
                return 0
            version = f" {info.version}" if info.version else ""
            print(f"{info.name}{version}  [{info.source}]  {info.status}" + (f"  ({info.module})" if info.module else ""))
            if info.status == "disabled":
                print(f"  disabled: '{PROG} plugins enable {info.name}' turns it on from the next start")
            for problem in info.problems:
                print(f"  ! {problem.stage}: {problem.message}")
            if not any(specs.values()):
                print("  provides nothing")
            for kind, items in specs.items():
                for item in items:
                    print(_describe_part(kind, item))
            return 0
        found = [(kind, registry.get(kind, args.name)) for kind in HOOKS.values() if args.name in registry.specs(kind)]
        if not found:
            known = ", ".join(registry.plugins) or "none"
            raise QMLStudioError(f"no plugin or part called {args.name!r} (plugins: {known})")
        if args.show_json:
            parts = [{"kind": kind, "plugin": registry.owner(kind, spec.name), **spec.to_dict()} for kind, spec in found]
            print(json.dumps({"parts": parts}, indent=2, ensure_ascii=False, default=str))
            return 0
        for kind, spec in found:
            print(_describe_part(kind, {**spec.to_dict(), "plugin": registry.owner(kind, spec.name)}))
        return 0

    def _set_enabled(self, name: str, enable: bool) -> int:
        import importlib.metadata

        from qmlstudio.core.settings import Settings
        from qmlstudio.plugins.manager import ENTRY_POINT_GROUP

        settings = Settings.load()
        known = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
        if name not in known and name not in settings.disabled_plugins:
            raise QMLStudioError(f"no plugin called {name!r} (installed: {', '.join(known) or 'none'})")
        disabled = name in settings.disabled_plugins
        if disabled != enable:
            print(f"plugin {name!r} is already {'enabled' if enable else 'disabled'}")
            return 0
        if enable:
            settings.disabled_plugins = [n for n in settings.disabled_plugins if n != name]
        else:
            settings.disabled_plugins = [*settings.disabled_plugins, name]
        try:
            settings.save()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise QMLStudioError(f"cannot save the settings to {Settings.path()}: {reason}; nothing was changed") from exc
        print(f"{'enabled' if enable else 'disabled'} plugin {name!r}: takes effect the next time QML Studio starts")
        return 0

    def _change(self, args: argparse.Namespace, action: str) -> int:
        import importlib

        from qmlstudio.installer import Confirm, Installer, InstallPlan, run_flow

        index_args: list[str] = ["--no-index"] if getattr(args, "no_index", False) else []
        for folder in getattr(args, "find_links", []) or []:
            index_args += ["--find-links", str(Path(folder).resolve())]
        installer = Installer(args.python, index_args)
        force = getattr(args, "force", False)

        dry_run = getattr(args, "dry_run", False)

        def confirm(request: Confirm) -> bool:
            print(request.plan.describe())
            if dry_run:
                return False
            if request.refused:
                if force:
                    print("--force: going ahead anyway")
                return force
            if args.yes or not sys.stdin.isatty():
                return True
            try:
                return input("Proceed? [y/N] ").strip().lower() in ("y", "yes")
            except EOFError:
                return False

        before = None
        if installer.same_interpreter and not dry_run:
            from qmlstudio.plugins.manager import load_plugins

            before = load_plugins().availability()  # which parts a package the install adds makes usable
        if action == "install":
            flow = installer.install(args.spec, upgrade=args.upgrade)
        elif action == "update":
            flow = installer.update(args.name)
        elif action == "uninstall":
            flow = installer.uninstall(args.name)
        else:
            flow = installer.rollback()
        outcome = run_flow(flow, confirm)
        if dry_run:
            plan = outcome.plan
            if isinstance(plan, InstallPlan) and plan.refused and not force:
                print(f"dry run: this install would be refused ({plan.summary()}); nothing was changed")
                return 1
            if outcome.ok:  # nothing to do
                print(f"dry run: {outcome.message}")
            else:
                print("dry run: nothing was changed (run again without --dry-run to install)")
            return 0
        if outcome.cancelled:
            print(f"{PROG}: cancelled", file=sys.stderr)
            return 1
        if not outcome.ok:
            plan = outcome.plan
            if isinstance(plan, InstallPlan) and plan.refused:
                raise QMLStudioError(f"refused: {plan.summary()}. Use --force to {action} anyway.")
            raise QMLStudioError(outcome.message)
        print(outcome.message)
        registry = None
        if installer.same_interpreter:
            from qmlstudio.plugins.manager import load_plugins

            importlib.invalidate_caches()
            registry = load_plugins()  # what this environment provides now
        if outcome.plugins and registry is not None:
            for name in outcome.plugins:
                info = registry.plugins.get(name)
                if info is None:
                    print(f"plugin {name!r}: not found after the install; restart and run '{PROG} plugins'")
                elif info.status == "failed":
                    print(f"plugin {name!r}: failed to load: {info.reason} (QML Studio still starts without it; "
                          f"'{PROG} plugins -v' shows the traceback)")
                else:
                    provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.provides.items() if v)
                    print(f"plugin {name!r}: {info.status}" + (f" ({provides})" if provides else ""))
        elif outcome.plugins:
            print(f"plugin(s) {', '.join(outcome.plugins)}: start QML Studio with {installer.python} to use them")
        if before is not None and registry is not None:
            from qmlstudio.plugins.manager import availability_changes

            for line in availability_changes(before, registry.availability()):
                print(line)
        if outcome.protected_touched:
            print("QML Studio's own dependencies changed: restart QML Studio; "
                  f"'{PROG} plugins rollback' undoes the change")
        return 0


def _parts(registry: Any, provides: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """Each part a plugin provides as its descriptor's JSON (title, description, options)."""
    return {kind: [registry.get(kind, name).to_dict() for name in names] for kind, names in provides.items() if names}


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


def _describe_option(option: dict[str, Any]) -> str:
    kind = option["type"]
    facts = [f"default {option['default']!r}" if option.get("default") is not None else "default none"]
    low, high = option.get("minimum"), option.get("maximum")
    if low is not None or high is not None:
        facts.append(f"range {_number(low)}..{_number(high)}")
    if option.get("choices"):
        facts.append("choices " + " | ".join(map(str, option["choices"])))
    text = f"        {option['name']} ({kind}): " + ", ".join(facts)
    about = option.get("help") or option.get("title")
    return text + (f". {about}" if about else "")


def _describe_part(kind: str, item: dict[str, Any]) -> str:
    singular = {"ansatze": "ansatz"}.get(kind, kind.rstrip("s"))
    lines = [f"  {singular} {item['name']}" + (f": {item['title']}" if item.get("title") else "")
             + (f"  (plugin {item['plugin']})" if item.get("plugin") else "")]
    if item.get("description"):
        lines.append(f"      {item['description']}")
    extras = [f"{key} {item[key]}" for key in ("task", "images", "uses_gradient", "positional") if item.get(key) not in (None, False)]
    if item.get("unavailable"):
        extras.append(f"unavailable here: {item['unavailable']}")
    if extras:
        lines.append("      " + "; ".join(extras))
    options = item.get("options") or []
    lines.append("      options:" if options else "      options: none")
    lines += [_describe_option(o) for o in options]
    return "\n".join(lines)
