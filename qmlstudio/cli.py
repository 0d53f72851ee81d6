"""The ``qmlstudio`` command: the GUI and headless commands over the same core.

Each command is a :class:`Command` subclass listed in :data:`COMMANDS`; adding one is a
class with ``add_arguments`` and ``run``. Errors meant for the user (every
:class:`~qmlstudio.core.errors.QMLStudioError`) go to stderr with exit code 1; bad usage
exits with 2 (argparse); a traceback is printed only for a bug.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from qmlstudio import __version__
from qmlstudio.core.errors import QMLStudioError

PROG = "qmlstudio"


class Command:
    """One sub-command: its name, one-line help, arguments and what it does."""

    name = ""
    help = ""
    description = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declares the command's arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Does the work; returns the exit code (errors are raised as QMLStudioError)."""
        raise NotImplementedError


def _option_pairs(values: Sequence[str] | None) -> dict[str, str]:
    from qmlstudio.core.options import parse_option_text

    return parse_option_text(values or [])


# ---------------------------------------------------------------------------
class GuiCommand(Command):
    name = "gui"
    help = "open the QML Studio window (the default when no command is given)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", nargs="?", help="a .qmls project to open")
        parser.add_argument(
            "--quit-after", type=int, metavar="MS", help="quit after MS milliseconds (for smoke tests)"
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            from qmlstudio.gui.app import run_gui
        except ImportError as exc:
            raise QMLStudioError(
                f"the GUI cannot start: {exc}. Install the Qt system libraries (see README, 'make run')."
            ) from None
        project = getattr(args, "project", None)
        if project and not Path(project).exists():
            raise QMLStudioError(f"{project}: no such project file")
        return run_gui(project, quit_after_ms=getattr(args, "quit_after", None))


class NewCommand(Command):
    name = "new"
    help = "write a ready-to-train project file"
    description = (
        "Creates PROJECT from a dataset, an encoding, an ansatz template, a model, an optimizer and a "
        "backend (names as listed by 'qmlstudio plugins'). Options of each are given as NAME=VALUE, "
        "e.g. --dataset-option samples=300 --encoding-option rotation=rx."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls file to write")
        parser.add_argument("--dataset", required=True, help="dataset name, e.g. moons, iris, digits, csv")
        parser.add_argument("--features", type=int, metavar="K", help="reduce to K features with PCA")
        parser.add_argument("--encoding", default="angle", help="encoding name (default: angle)")
        parser.add_argument("--ansatz", default="real-amplitudes", help="ansatz template (default: real-amplitudes)")
        parser.add_argument("--reps", type=int, metavar="N", help="layers of the ansatz template")
        parser.add_argument("--model", choices=["vqc", "regressor", "kernel"], help="model kind (default: by dataset)")
        parser.add_argument("--optimizer", default="adam", help="optimizer name (default: adam)")
        parser.add_argument("--backend", default="aer-statevector", help="backend name (default: aer-statevector)")
        parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
        parser.add_argument(
            "--batch-size", type=int, default=32, metavar="N", help="mini-batch size, 0 for full batch (default: 32)"
        )
        parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
        parser.add_argument("--name", help="project title (default: the file name)")
        parser.add_argument("--force", action="store_true", help="overwrite an existing file")
        for kind in ("dataset", "encoding", "ansatz", "optimizer", "backend"):
            parser.add_argument(
                f"--{kind}-option", action="append", metavar="NAME=VALUE", dest=f"{kind}_options",
                help=f"an option of the {kind} (repeatable)",
            )

    def run(self, args: argparse.Namespace) -> int:
        from qmlstudio.core.project import save_project
        from qmlstudio.plugins.manager import load_plugins
        from qmlstudio.plugins.project_setup import new_project

        path = Path(args.project)
        if path.exists() and not args.force:
            raise QMLStudioError(f"{path} exists; use --force to overwrite it")
        if args.features is not None and args.features < 1:
            raise QMLStudioError("--features must be at least 1")
        if args.reps is not None and args.reps < 1:
            raise QMLStudioError("--reps must be at least 1")
        if args.epochs < 1:
            raise QMLStudioError("--epochs must be at least 1")
        if args.batch_size < 0:
            raise QMLStudioError("--batch-size must be 0 (full batch) or more")
        registry = load_plugins()
        ansatz_options: dict[str, Any] = _option_pairs(args.ansatz_options)
        if args.reps is not None:
            ansatz_options["reps"] = args.reps
        project = new_project(
            registry,
            name=args.name or path.stem,
            dataset=args.dataset,
            dataset_options=_option_pairs(args.dataset_options),
            features=args.features,
            encoding=args.encoding,
            encoding_options=_option_pairs(args.encoding_options),
            ansatz=args.ansatz,
            ansatz_options=ansatz_options,
            model=args.model,
            optimizer=args.optimizer,
            optimizer_options=_option_pairs(args.optimizer_options),
            backend=args.backend,
            backend_options=_option_pairs(args.backend_options),
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
        )
        save_project(project, path)
        c = project.circuit
        print(
            f"wrote {path}: {project.dataset.name} → {project.encoding.name} encoding + "
            f"{project.ansatz.name if project.ansatz else 'custom'} ansatz on {c.num_qubits} qubits, "
            f"{c.num_weights} trainable weights, {project.model.kind}, {project.optimizer.name}, {project.backend.name}"
        )
        return 0


class TrainCommand(Command):
    name = "train"
    help = "train a project headless and append the run to it"
    description = (
        "Trains PROJECT as configured (model, optimizer, backend, epochs) and appends the run, with "
        "its metrics, weights and classical baselines, to the project file. Ctrl-C stops cleanly "
        "and keeps the run so far."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--epochs", type=int, metavar="N", help="train N epochs (default: the project's)")
        parser.add_argument("--json", action="store_true", help="one JSON object per iteration on stdout")
        parser.add_argument("--no-save", action="store_true", help="do not write the run into the project file")

    def run(self, args: argparse.Namespace) -> int:
        import math
        import signal

        from qmlstudio.core.project import load_project, save_project
        from qmlstudio.core.training import Controls
        from qmlstudio.plugins.manager import load_plugins
        from qmlstudio.plugins.project_setup import build_run

        if args.epochs is not None and args.epochs < 1:
            raise QMLStudioError("--epochs must be at least 1")
        project = load_project(args.project)
        registry = load_plugins()
        controls = Controls()
        progress = _Progress(enabled=not args.json and sys.stderr.isatty())

        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        def report(it: Any) -> None:
            if args.json:
                row = {k: clean(v) for k, v in it.metrics().items()}
                row["test_loss"] = clean(it.test_loss)
                row["shots"] = it.shots
                print(json.dumps(row), flush=True)
            progress.update(it)

        run = build_run(project, registry, epochs=args.epochs, callback=report, controls=controls)
        previous = signal.signal(signal.SIGINT, lambda *_: controls.cancel())
        try:
            record = run.run()
        finally:
            signal.signal(signal.SIGINT, previous)
            progress.close()
        project.add_run(record)
        if not args.no_save:
            save_project(project)
        last = {name: (values[-1] if values else None) for name, values in record.metrics.items()}
        done = {
            "event": "done",
            "status": record.status,
            "message": record.message,
            "run_id": record.id,
            "train_accuracy": clean(last.get("train_accuracy")),
            "test_accuracy": clean(last.get("test_accuracy")),
            "loss": clean(last.get("loss")),
            "baselines": record.baselines,
            "seconds": record.timings.get("seconds"),
        }
        if args.json:
            print(json.dumps(done), flush=True)
        else:
            print(_summary(record, project.model.kind))
        if record.status == "failed":
            print(f"{PROG}: error: {record.message}", file=sys.stderr)
            return 1
        return 0


class _Progress:
    """A one-line progress bar on a terminal, with the ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, it: Any) -> None:
        if not self.enabled:
            return
        total = max(it.total_iterations, 1)
        done = min(it.iteration, total)
        width = 28
        filled = int(width * done / total)
        eta = it.elapsed_s / done * (total - done) if done else 0.0
        acc = "" if it.test_accuracy is None else f"  test {it.test_accuracy:.3f}"
        line = (
            f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total}  epoch {it.epoch}  "
            f"loss {it.loss:.4f}{acc}  ETA {eta:5.1f}s "
        )
        sys.stderr.write(line)
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _summary(record: Any, kind: str) -> str:
    metrics = record.metrics
    score = "R²" if kind == "regressor" else "accuracy"
    train = metrics["train_accuracy"][-1] if metrics["train_accuracy"] else None
    test = metrics["test_accuracy"][-1] if metrics["test_accuracy"] else None
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        f"run {record.id}: {record.status}" + (f" ({record.message})" if record.message else ""),
        f"  quantum model        train {score} {fmt(train)}   test {fmt(test)}   {record.timings.get('seconds') or 0:.1f} s",
    ]
    for name, values in record.baselines.items():
        lines.append(
            f"  {name:<20} train {score} {fmt(values.get('train_accuracy'))}   test {fmt(values.get('test_accuracy'))}"
        )
    return "\n".join(lines)


class ExportCommand(Command):
    name = "export"
    help = "write a project's circuit as .qasm, .qpy, .py, .png or .svg"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--circuit", required=True, metavar="FILE", help="output file; the suffix picks the format")

    def run(self, args: argparse.Namespace) -> int:
        from qmlstudio.core.circuit_files import export_circuit
        from qmlstudio.core.project import load_project

        project = load_project(args.project)
        export_circuit(project.circuit, args.circuit)
        print(f"wrote {args.circuit}")
        return 0


class PluginsCommand(Command):
    name = "plugins"
    help = "list, install, update, uninstall, enable and disable plugins"
    description = (
        "Without an action, lists every plugin, its version, what it provides and its status. "
        "'install' takes a package name (with an optional ==VERSION), a .whl file or a project folder; "
        "it first runs pip's dry run and refuses a change to QML Studio's own dependencies (qiskit, "
        "numpy, PySide6...) unless --force is given. 'rollback' undoes the last install, update or "
        "uninstall. Enabling and disabling take effect the next time QML Studio starts."
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
        for action, verb in (("enable", "enable"), ("disable", "disable")):
            p = actions.add_parser(action, help=f"{verb} a plugin from the next start on")
            p.add_argument("name", metavar="NAME", help="the plugin's name, as listed by 'qmlstudio plugins'")

    def run(self, args: argparse.Namespace) -> int:
        action = getattr(args, "plugins_action", None)
        if action in ("enable", "disable"):
            return self._set_enabled(args.name, action == "enable")
        if action is not None:
            return self._change(args, action)
        return self._list(args)

    def _list(self, args: argparse.Namespace) -> int:
        from qmlstudio.plugins.manager import load_plugins

        registry = load_plugins()
        infos = list(registry.plugins.values())
        if args.json:
            print(json.dumps({"plugins": [i.to_dict() for i in infos]}, indent=2, ensure_ascii=False))
            return 0
        if not infos:
            print("no plugins found (is QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD set?)")
        for info in infos:
            version = f" {info.version}" if info.version else ""
            print(f"{info.name}{version}  [{info.source}]  {info.status}")
            for kind, names in info.provides.items():
                if names:
                    print(f"    {kind}: {', '.join(names)}")
            for problem in info.problems:
                print(f"    ! {problem.stage}: {problem.message}")
                if args.verbose and problem.traceback:
                    print("      " + problem.traceback.rstrip().replace("\n", "\n      "))
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
        settings.save()
        print(f"{'enabled' if enable else 'disabled'} plugin {name!r}: takes effect the next time QML Studio starts")
        return 0

    def _change(self, args: argparse.Namespace, action: str) -> int:
        import importlib

        from qmlstudio.plugins.installer import Confirm, InstallPlan, Installer, run_flow

        index_args: list[str] = ["--no-index"] if getattr(args, "no_index", False) else []
        for folder in getattr(args, "find_links", []) or []:
            index_args += ["--find-links", str(Path(folder).resolve())]
        installer = Installer(args.python, index_args)
        force = getattr(args, "force", False)

        def confirm(request: Confirm) -> bool:
            print(request.plan.describe())
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

        if action == "install":
            flow = installer.install(args.spec, upgrade=args.upgrade)
        elif action == "update":
            flow = installer.update(args.name)
        elif action == "uninstall":
            flow = installer.uninstall(args.name)
        else:
            flow = installer.rollback()
        outcome = run_flow(flow, confirm)
        if outcome.cancelled:
            print(f"{PROG}: cancelled", file=sys.stderr)
            return 1
        if not outcome.ok:
            plan = outcome.plan
            if isinstance(plan, InstallPlan) and plan.refused:
                raise QMLStudioError(f"refused: {plan.summary()}. Use --force to {action} anyway.")
            raise QMLStudioError(outcome.message)
        print(outcome.message)
        if outcome.plugins and installer.same_interpreter:
            from qmlstudio.plugins.manager import load_plugins

            importlib.invalidate_caches()
            registry = load_plugins()
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
        if outcome.protected_touched:
            print("QML Studio's own dependencies changed: restart QML Studio; "
                  f"'{PROG} plugins rollback' undoes the change")
        return 0


COMMANDS: list[Command] = [GuiCommand(), NewCommand(), TrainCommand(), ExportCommand(), PluginsCommand()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="QML Studio: design, train and benchmark quantum machine-learning circuits.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        command.add_arguments(p)
        p.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qmlstudio`` console script and ``python -m qmlstudio``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Command = getattr(args, "handler", None) or COMMANDS[0]
    try:
        return handler.run(args) or 0
    except QMLStudioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `qmlstudio plugins | head`
        return 0
