"""The ``qmlstudio`` command: the GUI and headless commands over the same core.

Each command is a :class:`Command` subclass listed in :data:`COMMANDS`; adding one is a
class with ``add_arguments`` and ``run``. Errors meant for the user (every
:class:`~qmlstudio.core.errors.QMLStudioError`) go to stderr with exit code 1; bad usage
exits with 2 (argparse); a traceback is printed only for a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

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
        code = run_gui(project, quit_after_ms=getattr(args, "quit_after", None))
        from qmlstudio.gui.app import exit_now

        exit_now(code)  # the window has closed and saved: no 0.5-3 s of teardown after Ctrl+Q
        return code  # (not reached)


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
        parser.add_argument("--backend", default="statevector", metavar="CHOICE",
                            help="backend: NAME[:ARG][,key=value...] as for train and evaluate, e.g. "
                            "aer-noise:fake_manila,shots=2000 (default: statevector, QML Studio's exact simulator)")
        parser.add_argument("--epochs", type=int, default=30, help="training epochs (default: 30)")
        parser.add_argument(
            "--batch-size", type=int, default=32, metavar="N", help="mini-batch size, 0 for full batch (default: 32)"
        )
        parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
        parser.add_argument("--test-size", type=float, default=0.25, metavar="F",
                            help="fraction of the samples held out for the final test (default: 0.25)")
        parser.add_argument("--validation-size", type=float, default=0.2, metavar="F",
                            help="fraction of the samples held out for validation (early stopping, live "
                                 "curves); 0 for none (default: 0.2)")
        parser.add_argument(
            "--scaling", choices=["none", "minmax-pi", "minmax-sym", "standardize"],
            help="feature scaling (default: the dataset's: none for data with a natural range such as "
            "ad-hoc, else minmax-pi); a scaling that destroys the data's structure prints a warning",
        )
        model = parser.add_argument_group("model options")
        model.add_argument("--readout", choices=["modulo", "z"], help="how a VQC reads classes (default: modulo)")
        model.add_argument("--init-scale", type=float, metavar="S",
                           help="initial weights uniform in [-S·π, S·π] (default: 1)")
        model.add_argument("--C", type=float, metavar="C", dest="C", help="the kernel SVM's C (default: 1)")
        model.add_argument("--model-option", action="append", metavar="NAME=VALUE", dest="model_options",
                           help="any other model option, e.g. gradient=parameter-shift, eval_every=0, "
                           "baselines=false (repeatable)")
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
        from qmlstudio.workflow import new_project, scaling_warning

        path = Path(args.project)
        try:
            exists = path.exists()
        except OSError as exc:  # e.g. a name longer than the file system allows
            raise QMLStudioError(f"cannot write {path}: {exc.strerror or exc}") from None
        if exists and not args.force:
            raise QMLStudioError(f"{path} exists; use --force to overwrite it")
        if args.name is not None and not _encodable(args.name):
            raise QMLStudioError("--name holds a character that cannot be saved (a lone surrogate)")
        _check_seed(args.seed)
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
        model_options = _model_options(args.model_options)
        for name, value in (("readout", args.readout), ("init_scale", args.init_scale), ("C", args.C)):
            if value is not None:
                model_options[name] = value
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
            test_size=args.test_size,
            validation_size=args.validation_size,
            scaling=args.scaling,
            model_options=model_options,
        )
        warning = scaling_warning(registry, project)
        if warning:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        save_project(project, path)
        c = project.circuit
        print(
            f"wrote {path}: {project.dataset.name} → {project.encoding.name} encoding + "
            f"{project.ansatz.name if project.ansatz else 'custom'} ansatz on {c.num_qubits} qubits, "
            f"{c.num_weights} trainable weights, {project.model.kind}, {project.optimizer.name}, {project.backend.name}"
        )
        _warn_if_too_big(project, registry)
        return 0


def _warn_if_too_big(project: Any, registry: Any) -> None:
    """A warning on stderr when the project just written cannot be trained on this machine."""
    from qmlstudio.workflow import SimulationTooLarge
    from qmlstudio.workflow import check_trainable

    try:
        check_trainable(project, registry)
    except SimulationTooLarge as exc:
        print(f"{PROG}: warning: 'train' will refuse it: {exc}", file=sys.stderr)
    except QMLStudioError:
        pass  # 'train' says what is wrong, when it comes to it


def _model_options(values: Sequence[str] | None) -> dict[str, Any]:
    """``--model-option NAME=VALUE`` texts converted to the types of the model's options."""
    from qmlstudio.workflow import MODEL_OPTIONS

    result: dict[str, Any] = {}
    for name, text in _option_pairs(values).items():
        if name not in MODEL_OPTIONS:
            raise QMLStudioError(f"model: unknown option {name!r} (known: {', '.join(MODEL_OPTIONS)})")
        kind = MODEL_OPTIONS[name][1]
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                result[name] = text.lower() in ("true", "1", "yes")
            else:
                result[name] = kind(text)
        except ValueError:
            raise QMLStudioError(f"model option {name!r}: expected {kind.__name__}, got {text!r}") from None
    return result


class TrainCommand(Command):
    name = "train"
    help = "train a project headless and append the run to it"
    description = (
        "Trains PROJECT as configured (model, optimizer, backend, epochs) and appends the run, with "
        "its metrics, weights and classical baselines, to the project file. Ctrl-C stops cleanly "
        "and keeps the run so far (and cancels a running IBM Quantum job). --backend runs on another "
        "backend for this run only: NAME[:ARG][,key=value...], e.g. aer-noise:fake_manila, "
        "aer-shots,shots=2000,seed=3 or ibm:ibm_brisbane,mode=batch. Before a run on a shot-based "
        "backend the circuits and shots it needs are printed to stderr (and, with --json, as a first "
        'line {"event": "plan", ...}); before an exact run, the memory its states take and the '
        "expected seconds per iteration (timed on one part of the first batch), with a warning "
        "when the run will be long. The exact simulator runs on every core: "
        "--backend statevector,threads=N sets how many (the results do not change)."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--epochs", type=int, metavar="N", help="train N epochs (default: the project's)")
        parser.add_argument(
            "--backend", metavar="CHOICE",
            help="backend for this run: NAME[:ARG][,key=value...] (default: the project's)",
        )
        parser.add_argument("--shots", type=int, metavar="N", help="shots per circuit (shot-based backends)")
        parser.add_argument("--seed", type=int, metavar="N",
                            help="the run's seed (split, initial weights, shuffling, baselines) for this run "
                            "only; recorded in the run (default: the project's)")
        parser.add_argument("--json", action="store_true", help="one JSON object per iteration on stdout")
        parser.add_argument("--no-save", action="store_true", help="do not write the run into the project file")
        parser.add_argument(
            "--autosave", type=float, default=30.0, metavar="SECONDS",
            help="write the run so far into the project file at the end of each epoch and at least every "
            "SECONDS seconds, so that a kill or a crash loses little (default 30; 0: at each epoch only)",
        )

    def run(self, args: argparse.Namespace) -> int:
        import math

        from qmlstudio.core.project import load_project, save_project
        from qmlstudio.plugins.manager import load_plugins
        from qmlstudio.workflow import (
            Controls,
            backend_choice,
            backend_of,
            build_run,
            describe_cost,
            describe_exact_plan,
            exact_plan,
            hidden_qubits,
            run_cost,
            scaling_warning,
            widen_circuit,
        )

        if args.epochs is not None and args.epochs < 1:
            raise QMLStudioError("--epochs must be at least 1")
        if args.shots is not None and args.shots < 1:
            raise QMLStudioError("--shots must be at least 1")
        _check_seed(args.seed)
        if not math.isfinite(args.autosave) or args.autosave < 0:
            raise QMLStudioError("--autosave must be a number of seconds, 0 or more")
        project = load_project(args.project)
        if not args.no_save and _read_only(args.project):
            # the atomic writer could replace a read-only file (it writes the folder, not the file):
            # a file the user made read-only is not silently replaced
            raise QMLStudioError(
                f"{args.project} is read-only: the run cannot be saved into it "
                "(make it writable, or train with --no-save)"
            )
        registry = load_plugins()
        warning = scaling_warning(registry, project)
        if warning:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        choice = None
        if args.backend or args.shots is not None:
            choice = backend_choice(
                registry, args.backend or project.backend.name, base=project.backend, shots=args.shots
            )
        controls = Controls()
        progress = _Progress(enabled=not args.json and sys.stderr.isatty())

        def clean(value: Any) -> Any:
            return None if isinstance(value, float) and not math.isfinite(value) else value

        def report(it: Any) -> None:
            if args.json:
                row = {k: clean(v) for k, v in it.metrics().items()}
                row["test_loss"] = clean(it.test_loss)
                row["shots"] = it.shots
                # which weights each figure belongs to (see docs/project-format.md)
                row["measured_at"] = {k: v for k, v in run.record.measured_at.items() if k in row}
                print(json.dumps(row), flush=True)
            progress.update(it)
            if autosave is not None:
                autosave.after(it)

        hidden = hidden_qubits(project, registry)
        if hidden is not None:  # the circuit gets the wires the encoding needs, and says so
            widen_circuit(project, hidden.needed)
            saved = "" if args.no_save else " (saved with the run)"
            print(f"{PROG}: note: {hidden.note}{saved}", file=sys.stderr, flush=True)
        # --seed: the same (widened) circuit, another seed, for this run only
        trained = project if args.seed is None else _with_seed(project, args.seed)
        run = build_run(trained, registry, epochs=args.epochs, callback=report, controls=controls, backend=choice)
        cost = run_cost(run)
        if cost["total_shots"]:  # a shot-based run: say what it will cost before it starts
            print(f"{PROG}: plan: {describe_cost(cost)}", file=sys.stderr, flush=True)
            if args.json:
                print(json.dumps({"event": "plan", **cost}), flush=True)
        plan = exact_plan(run)
        if plan is not None:  # the engine's simulator: its memory, and how long the run will take
            print(f"{PROG}: plan: {describe_exact_plan(plan)}", file=sys.stderr, flush=True)
            if plan["long"]:
                print(
                    f"{PROG}: warning: a long run, about {plan['seconds_per_iteration']:.3g} s per iteration: "
                    "fewer qubits, a smaller batch or fewer epochs train faster; Ctrl-C stops it and keeps "
                    "the run so far",
                    file=sys.stderr, flush=True,
                )
        _follow_jobs(backend_of(run))
        autosave = None if args.no_save else _RunAutosave(project, run, args.autosave, json_events=args.json)
        with _stop_on_signals(controls) as received:
            try:
                record = run.run()
            finally:
                progress.close()
        project.add_run(record)
        if not args.no_save:
            save_project(project)
        if received:
            print(f"{PROG}: {received[0]}: stopped; the run so far is "
                  f"{'not saved (--no-save)' if args.no_save else 'saved'}", file=sys.stderr, flush=True)
        last = {name: (values[-1] if values else None) for name, values in record.metrics.items()}
        done = {
            "event": "done",
            "status": record.status,
            "message": record.message,
            "run_id": record.id,
            "train_accuracy": clean(last.get("train_accuracy")),
            "val_accuracy": clean(last.get("val_accuracy")),
            # scored once, after training, at the final weights
            "test_accuracy": clean(record.test.get("accuracy")),
            "test_loss": clean(record.test.get("loss")),
            "loss": clean(last.get("loss")),
            "parameters": record.parameters,
            "tuning": record.tuning,
            "baselines": record.baselines,
            "seconds": record.timings.get("seconds"),
            # every shot the run spent, the final test included (iteration lines count up to their own)
            "shots": int(getattr(getattr(run, "evaluator", None), "shots_used", 0) or 0),
        }
        if args.json:
            print(json.dumps(done), flush=True)
        else:
            print(_summary(record, project.model.kind))
        if record.status == "failed":
            print(f"{PROG}: error: {record.message}", file=sys.stderr)
            return 1
        return 0


class _RunAutosave:
    """`qmlstudio train`'s autosave: the run so far, written into the project file (atomically,
    see :func:`qmlstudio.core.autosave.save_in_place`) at the end of each epoch and at least
    every ``every`` seconds, so that a SIGKILL, a crash or a power cut loses little."""

    def __init__(self, project: Any, run: Any, every: float, *, json_events: bool) -> None:
        self.project, self.run, self.every, self.json_events = project, run, every, json_events
        self.last_epoch: int | None = None
        self.last_time = time.monotonic()
        self.failed = False

    def after(self, it: Any) -> None:
        if self.failed:
            return
        epoch_done = self.last_epoch is not None and it.epoch != self.last_epoch
        self.last_epoch = it.epoch
        total = getattr(it, "total_iterations", None)
        if total is not None and it.iteration >= total:
            return  # the last iteration: the real save follows
        due = self.every > 0 and time.monotonic() - self.last_time >= self.every
        if not (epoch_done or due):
            return
        from qmlstudio.core.autosave import partial_run, save_in_place
        from qmlstudio.core.project import ProjectError

        self.last_time = time.monotonic()
        partial = partial_run(self.run.record)
        if partial is None:
            return
        try:
            save_in_place(self.project, [partial])
        except ProjectError as exc:
            self.failed = True  # said once; the run goes on and is saved (or refused) at the end
            print(f"{PROG}: warning: {exc}; autosave is off for this run", file=sys.stderr, flush=True)
            return
        if self.json_events:
            print(json.dumps({"event": "autosave", "iteration": int(it.iteration)}), flush=True)


@contextlib.contextmanager
def _stop_on_signals(controls: Any) -> Iterator[list[str]]:
    """SIGINT, SIGTERM and SIGHUP stop the work through ``controls`` (so that what was done is
    kept and saved) instead of killing the process; yields the names of the signals received."""
    import signal

    received: list[str] = []

    def stop(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        controls.cancel()

    names = ["SIGINT", "SIGTERM", "SIGHUP"]
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, stop)
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _with_seed(project: Any, seed: int) -> Any:
    """A copy of ``project`` (same file location, no runs) with another seed, for one run."""
    from qmlstudio.core.project import Project

    data = project.to_dict()
    data.update(seed=seed, runs=[])
    copy = Project.from_dict(data)
    object.__setattr__(copy, "path", project.path)
    return copy


def _follow_jobs(backend: Any) -> None:
    """Prints each change of a remote job's status (IBM Quantum) to stderr."""
    subscribe = getattr(backend, "subscribe_jobs", None)
    if not callable(subscribe):
        return

    def show(job_id: str, status: str, position: int | None) -> None:
        where = f" (queue position {position})" if position is not None else ""
        print(f"{PROG}: job {job_id}: {status}{where}", file=sys.stderr, flush=True)

    subscribe(show)


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
        acc = "" if it.val_accuracy is None else f"  validation {it.val_accuracy:.3f}"
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
    test = record.test.get("accuracy") if record.test else None
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    count = lambda v: "" if v is None else f"   {v} parameters"  # noqa: E731
    lines = [
        f"run {record.id}: {record.status}" + (f" ({record.message})" if record.message else ""),
        f"  quantum model        train {score} {fmt(train)}   test {fmt(test)}   {record.timings.get('seconds') or 0:.1f} s"
        + count(record.parameters),
    ]
    if record.tuning.get("chosen"):
        lines.append("  quantum model tuned: " + ", ".join(f"{k}={v}" for k, v in record.tuning["chosen"].items())
                     + f" ({record.tuning.get('cv', 'cross-validation')} on the training rows)")
    for name, values in record.baselines.items():
        chosen = (values.get("tuned") or {}).get("chosen")
        tuned = "" if not chosen else "   tuned: " + ", ".join(f"{k}={v}" for k, v in chosen.items())
        untuned = values.get("untuned_test_accuracy")
        lines.append(
            f"  {name:<24} train {score} {fmt(values.get('train_accuracy'))}   test {fmt(values.get('test_accuracy'))}"
            + ("" if untuned is None else f" (untuned {fmt(untuned)})") + count(values.get("parameters")) + tuned
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

        from qmlstudio.installer import Confirm, InstallPlan, Installer, run_flow

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


class EvaluateCommand(Command):
    name = "evaluate"
    help = "evaluate a trained run on another backend, without retraining"
    description = (
        "Rebuilds the model and data of a run of PROJECT exactly as they were, binds its final weights "
        "and measures the test accuracy (R² for regressors) on BACKEND, e.g. a noisy device model "
        "(aer-noise:fake_manila) or hardware (ibm:ibm_brisbane). The result is added to the run's "
        "evaluations in the project file, so ideal, noisy and hardware accuracy stand side by side."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--run", default="last", metavar="ID", help="the run's id, or 'last' (default)")
        parser.add_argument("--backend", required=True, metavar="CHOICE",
                            help="NAME[:ARG][,key=value...], e.g. aer-noise:fake_manila,seed=3")
        parser.add_argument("--shots", type=int, metavar="N", help="shots per circuit (shot-based backends)")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
        parser.add_argument("--no-save", action="store_true", help="do not write the result into the project file")

    def run(self, args: argparse.Namespace) -> int:

        from qmlstudio.core.project import PluginChoice, load_project, save_project
        from qmlstudio.plugins.manager import load_plugins
        from qmlstudio.workflow import Controls, backend_choice, evaluate_run, find_run, format_backend_choice

        if args.shots is not None and args.shots < 1:
            raise QMLStudioError("--shots must be at least 1")
        project = load_project(args.project)
        registry = load_plugins()
        run = find_run(project, args.run)
        trained_on = run.config.get("backend") or {}
        base = PluginChoice.from_dict(trained_on, "backend") if trained_on else None
        choice = backend_choice(registry, args.backend, base=base, shots=args.shots)
        controls = Controls()
        with _stop_on_signals(controls):
            accuracy = evaluate_run(project, registry, run.id, choice, controls=controls, on_backend=_follow_jobs)
        if not args.no_save:
            save_project(project)
        tests = run.metrics.get("test_accuracy") or []
        trained = next((v for v in reversed(tests) if v is not None), None)
        score = "R²" if (run.config.get("model") or {}).get("kind") == "regressor" else "test accuracy"
        if args.json:
            print(json.dumps({
                "event": "evaluation", "run_id": run.id, "backend": choice.name, "options": choice.options,
                "accuracy": accuracy, "trained_backend": trained_on.get("name"), "trained_accuracy": trained,
                "seeds": run.evaluations[-1].get("seeds"), "backend_applied": run.evaluations[-1].get("backend_applied"),
            }), flush=True)
        else:
            shown = format_backend_choice(choice, registry)
            trained_text = "–" if trained is None else f"{trained:.3f}"
            print(f"run {run.id}: {score} {accuracy:.3f} on {shown} "
                  f"(trained on {trained_on.get('name', '?')}: {trained_text})")
            for evaluation in run.evaluations[:-1]:
                print(f"  earlier: {evaluation['backend']}: {evaluation['accuracy']:.3f}")
        return 0


class AnalyzeCommand(Command):
    name = "analyze"
    help = "analysis studies: barren plateaus, encodings, kernels, and the comparison report"
    description = (
        "barren-plateau: variance of the gradient of a global cost (parity of all qubits) and a local "
        "cost (qubit 0) over random weights, for --qubits and --layers, with the fitted decay rate a of "
        "Var ∝ 2^(-a·n). encodings: trains the project's model once per encoding (same data, seed, "
        "optimizer, and the same ansatz on the widest qubit count, so weight counts match) and tabulates "
        "accuracy, weights, time, and depth and two-qubit gates of the encoding alone and the whole circuit "
        "transpiled to a basis gate set (and with --device to a fake IBM device). "
        "kernel: the quantum kernel's Gram matrix, kernel-target alignment, and a quantum-kernel SVM "
        "against an RBF SVM on the same split. report: one self-contained HTML page with every run, "
        "the baselines, the plots and the configuration. Progress goes to stderr on a terminal."
    )
    STUDIES = ("barren-plateau", "encodings", "kernel", "report")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("study", choices=self.STUDIES, help="which study")
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
        bp = parser.add_argument_group("barren-plateau")
        bp.add_argument("--qubits", default="2-8", metavar="RANGE", help="qubit counts, e.g. 2-8 or 2,4,6 (default 2-8)")
        bp.add_argument("--layers", default="2,20", metavar="LIST", help="layer counts (default 2,20)")
        bp.add_argument("--samples", type=int, default=200, metavar="M", help="random weight samples (default 200)")
        bp.add_argument("--template", default="hardware-efficient", metavar="NAME",
                        help="hardware-efficient (default), current (the project's ansatz) or an ansatz plugin")
        bp.add_argument("--weight", default="first", metavar="W", help="differentiated weight: first, middle, last or an index")
        bp.add_argument("--seed", type=int, metavar="N", help="random seed (default: the project's)")
        bp.add_argument("--heatmap", action="store_true", help="also map mean |gradient| of the project's circuit")
        enc = parser.add_argument_group("encodings")
        enc.add_argument("--encodings", metavar="LIST", help="comma-separated encodings (default: angle,dense-angle,zz-feature-map)")
        enc.add_argument("--epochs", type=int, metavar="N", help="epochs per training (default: the project's)")
        enc.add_argument("--keep", action="store_true", help="add the study's runs to the project file")
        enc.add_argument("--seeds", type=int, metavar="N",
                         help="repeat the study for seeds 0..N-1 and report each encoding's test accuracy as "
                         "mean ± sd with its 95%% t interval")
        enc.add_argument("--workers", type=int, metavar="N",
                         help="with --seeds: run the seeds on N local Dask worker processes (the study runner's)")
        enc.add_argument("--scheduler", metavar="ADDR",
                         help="with --seeds: run the seeds on an existing Dask scheduler, tcp://HOST:PORT")
        enc.add_argument("--own-width", action="store_true",
                         help="build the ansatz on each encoding's own qubits (default: on the widest, so every "
                         "encoding trains the same ansatz and weight count)")
        enc.add_argument("--basis", default="rz,sx,x,cx", metavar="GATES",
                         help="basis gates the depths are transpiled to (default: rz,sx,x,cx)")
        enc.add_argument("--device", metavar="NAME",
                         help="also transpile to a fake IBM device's coupling map and basis, e.g. fake_manila (offline)")
        ker = parser.add_argument_group("kernel")
        ker.add_argument("--encoding", metavar="NAME", help="the kernel's encoding (default: the project's)")
        ker.add_argument("--matrix", action="store_true", help="include the Gram matrix in the JSON output")
        rep = parser.add_argument_group("report")
        rep.add_argument("-o", "--output", metavar="FILE", help="the report's HTML file (default: PROJECT.report.html)")

    def run(self, args: argparse.Namespace) -> int:
        from qmlstudio.core.project import load_project
        from qmlstudio.plugins.manager import load_plugins

        project = load_project(args.project)
        if args.study == "report":
            return self._report(args, project)
        registry = load_plugins()
        progress = _StudyProgress(enabled=not args.json and sys.stderr.isatty())
        try:
            if args.study == "barren-plateau":
                return self._barren_plateau(args, project, registry, progress)
            if args.study == "encodings":
                return self._encodings(args, project, registry, progress)
            return self._kernel(args, project, registry, progress)
        finally:
            progress.close()

    def _barren_plateau(self, args: argparse.Namespace, project: Any, registry: Any, progress: Any) -> int:
        from qmlstudio.workflow import barren_plateau_study, gradient_heatmap, parse_range, template_builder

        if args.samples < 2:
            raise QMLStudioError("--samples must be at least 2")
        template, options = args.template, {}
        if template == "current":
            if project.ansatz is None:
                raise QMLStudioError("the project's circuit is drawn by hand: choose --template hardware-efficient or a plugin")
            template, options = project.ansatz.name, project.ansatz.options
        weight: Any = int(args.weight) if args.weight.isdigit() else args.weight
        _check_seed(args.seed)
        seed = project.seed if args.seed is None else args.seed
        result = barren_plateau_study(
            template_builder(registry, template, options), parse_range(args.qubits, "--qubits"),
            parse_range(args.layers, "--layers"), samples=args.samples, seed=seed, weight=weight,
            template=template, progress=progress.update,
        )
        heatmap = gradient_heatmap(project.circuit, samples=min(args.samples, 100), seed=seed) if args.heatmap else None
        if args.json:
            data = result.to_dict()
            if heatmap is not None:
                data["heatmap"] = heatmap.to_dict()
            print(json.dumps(data), flush=True)
            return 0
        progress.close()
        print(f"barren plateau: {template}, {result.samples} samples, seed {seed}, weight {result.weight} "
              f"({result.seconds:.1f} s); Var ∝ 2^(-a·n)")
        print("  cost    layers  " + "  ".join(f"n={n:<8d}" for n in result.qubits) + "  a")
        for cost in ("global", "local"):
            for L in result.layers:
                values = "  ".join(f"{v:<10.3g}" for v in result.variance[cost][str(L)])
                print(f"  {cost:<7} {L:<7d} {values}  {result.rate[cost][str(L)]:.2f}")
        print("  95% bootstrap intervals of the variances:")
        for cost in ("global", "local"):
            for L in result.layers:
                spans = "  ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in result.variance_ci95[cost][str(L)])
                print(f"  {cost:<7} {L:<7d} {spans}")
        if heatmap is not None:
            print(f"mean |∂C/∂θ| of the project's circuit ({heatmap.samples} samples): "
                  f"global {float(heatmap.per_weight['global'].mean()):.3g}, local {float(heatmap.per_weight['local'].mean()):.3g}")
        return 0

    def _encodings(self, args: argparse.Namespace, project: Any, registry: Any, progress: Any) -> int:

        from qmlstudio.core.project import save_project
        from qmlstudio.workflow import Cancelled, Controls, build_run, encoding_study

        if args.epochs is not None and args.epochs < 1:
            raise QMLStudioError("--epochs must be at least 1")
        names = [n.strip() for n in (args.encodings or "angle,dense-angle,zz-feature-map").split(",") if n.strip()]
        basis = [g.strip() for g in args.basis.split(",") if g.strip()]
        if not basis:
            raise QMLStudioError("--basis needs at least one gate, e.g. rz,sx,x,cx")
        device_pm = None
        if args.device:
            from qmlstudio.workflow import backend_choice, create_backend

            # The device's layout, routing and basis gates, offline: aer-noise's pass manager without noise.
            device = create_backend(registry, backend_choice(registry, f"aer-noise:{args.device},noise=false"))
            device_pm = device.pass_manager()
        controls = Controls()
        if args.seeds is None and (args.workers is not None or args.scheduler):
            raise QMLStudioError("--workers and --scheduler spread the seeds of --seeds N: give --seeds too")
        if args.seeds is not None:
            return self._encodings_over_seeds(args, project, registry, progress, names, basis, device_pm, controls)
        with _stop_on_signals(controls):
            try:
                result = encoding_study(project, registry, names, build_run=build_run, epochs=args.epochs,
                                        progress=progress.update, controls=controls,
                                        match_ansatz=not args.own_width, basis_gates=basis, device=args.device,
                                        device_pass_manager=device_pm)
            except Cancelled:
                raise QMLStudioError("the encoding study was stopped") from None
        if args.keep:
            for record in result.records:
                project.add_run(record)
            save_project(project)
        if args.json:
            print(json.dumps(result.to_dict()), flush=True)
            return 0
        progress.close()
        fmt = lambda v, d=3: "–" if v is None else (f"{v:.{d}f}" if isinstance(v, float) else str(v))  # noqa: E731
        width = (f"the same ansatz on {result.qubits} qubits for every encoding" if result.qubits is not None
                 else "the ansatz on each encoding's own qubits")
        print(f"encodings: ansatz {result.ansatz or 'hand-drawn'}, {width}, seed {result.seed}, {result.epochs} epochs")
        print(f"  depth and two-qubit gates (2q) transpiled to {','.join(result.basis_gates)}"
              + (f" and to {result.device}" if result.device else "") + "; enc = the encoding alone")
        head = (f"  {'encoding':<16} {'enc q':>5} {'qubits':>6} {'weights':>7} {'enc depth':>9} {'enc 2q':>6} "
                f"{'depth':>6} {'2q':>4}")
        if result.device:
            head += f" {'dev enc depth':>13} {'dev enc 2q':>10} {'dev depth':>9} {'dev 2q':>6}"
        print(head + f" {'test acc':>8} {'seconds':>8}")
        for r in result.rows:
            line = (f"  {r.encoding:<16} {fmt(r.encoding_qubits):>5} {fmt(r.qubits):>6} {fmt(r.weights):>7} "
                    f"{fmt(r.encoding_depth):>9} {fmt(r.encoding_two_qubit):>6} {fmt(r.depth):>6} {fmt(r.two_qubit):>4}")
            if result.device:
                line += (f" {fmt(r.device_encoding_depth):>13} {fmt(r.device_encoding_two_qubit):>10} "
                         f"{fmt(r.device_depth):>9} {fmt(r.device_two_qubit):>6}")
            line += f" {fmt(r.test_accuracy):>8} {fmt(r.seconds, 2):>8}"
            notes = [] if r.status == "completed" else [f"{r.status}: {r.message}"]
            if r.device_message:
                notes.append(r.device_message)
            print(line + ("  " + "; ".join(notes) if notes else ""))
        return 0

    def _encodings_over_seeds(self, args: argparse.Namespace, project: Any, registry: Any, progress: Any,
                              names: list[str], basis: list[str], device_pm: Any, controls: Any) -> int:
        from qmlstudio.workflow import Cancelled
        from qmlstudio.core.project import save_project
        from qmlstudio.workflow.study import encoding_study_over_seeds

        if args.seeds < 1:
            raise QMLStudioError("--seeds must be at least 1")
        if args.workers is not None and args.workers < 0:
            raise QMLStudioError("--workers must be 0 (in this process) or more")
        with _stop_on_signals(controls):
            try:
                out = encoding_study_over_seeds(project, registry, names, list(range(args.seeds)), epochs=args.epochs,
                                                progress=progress.update, controls=controls,
                                                match_ansatz=not args.own_width, basis_gates=basis,
                                                device=args.device, device_pass_manager=device_pm,
                                                workers=args.workers or 0, scheduler=args.scheduler)
            except Cancelled:
                raise QMLStudioError("the encoding study was stopped") from None
        if args.keep:
            for result in out["results"]:
                for record in result.records:
                    project.add_run(record)
            save_project(project)
        if args.json:
            print(json.dumps({"study": "encodings", "seeds": out["seeds"], "summary": out["summary"],
                              "per_seed": [r.to_dict() for r in out["results"]]}), flush=True)
            return 0
        progress.close()
        print(f"encodings over seeds {out['seeds'][0]}..{out['seeds'][-1]} (test accuracy: mean ± sd, 95% t interval)")
        for name, s in out["summary"].items():
            acc = s["test_accuracy"]
            if acc["mean"] is None:
                text = "no completed run"
            else:
                text = f"{acc['mean']:.3f} ± {(acc['std'] or 0.0):.3f}  n={acc['n']}"
                if acc["ci95"]:
                    text += f"  95% CI [{acc['ci95'][0]:.3f}, {acc['ci95'][1]:.3f}]"
            failed = f"  ({len(s['failed'])} failed: {s['failed'][0]})" if s["failed"] else ""
            print(f"  {name:<16} {text}{failed}")
        return 0

    def _kernel(self, args: argparse.Namespace, project: Any, registry: Any, progress: Any) -> int:
        from qmlstudio.workflow import project_kernel_study
        from qmlstudio.workflow import build_run

        result = project_kernel_study(project, registry, build_run=build_run, encoding=args.encoding,
                                      progress=progress.update)
        if args.json:
            print(json.dumps(result.to_dict(matrix=args.matrix)), flush=True)
            return 0
        progress.close()
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        print(f"kernel: {result.encoding}, {result.num_train} training and {result.num_test} test samples "
              f"({result.seconds:.1f} s)")
        print(f"  quantum kernel SVM   alignment {fmt(result.alignment)}   train {fmt(result.quantum_train_accuracy)}"
              f"   test {fmt(result.quantum_test_accuracy)}")
        print(f"  RBF SVM              alignment {fmt(result.rbf_alignment)}   train {fmt(result.rbf_train_accuracy)}"
              f"   test {fmt(result.rbf_test_accuracy)}")
        return 0

    def _report(self, args: argparse.Namespace, project: Any) -> int:
        from qmlstudio.workflow import write_report

        output = Path(args.output) if args.output else Path(args.project).with_suffix(".report.html")
        path = write_report(project, output)
        if args.json:
            print(json.dumps({"study": "report", "path": str(path), "runs": len(project.runs)}), flush=True)
        else:
            print(f"report: {path} ({len(project.runs)} run(s))")
        return 0


def _read_only(path: str) -> bool:
    """True when the user has made ``path`` read-only (no write bit for its owner, or no access).

    Mode bits, not os.access: root may write anything, but a file marked read-only is still a refusal.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (mode & 0o200) or (os.getuid() != 0 and not os.access(path, os.W_OK))


class _StudyProgress:
    """A one-line progress bar of a study on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, done: int, total: int, message: str) -> None:
        if not self.enabled:
            return
        total = max(total, 1)
        width = 28
        filled = int(width * min(done, total) / total)
        sys.stderr.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {100 * done // total:3d}%  {message[:40]:<40}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.shown = False


class StudyCommand(Command):
    name = "study"
    help = "run a study: configurations times seeds, with intervals and paired tests, on Dask"
    description = (
        "Runs PROJECT for every combination of the --vary choices (or --sample of them) times --seeds "
        "seeds (default 5), each trial an ordinary run with its classical baselines on the same seed's "
        "split, and records every trial in the project file as it finishes. Running the same study "
        "again resumes it: only the missing trials run. Trials run on a Dask LocalCluster of "
        "single-threaded worker processes (--workers N, default one per core; 0 runs them here, one "
        "after another) or on an existing cluster (--scheduler tcp://HOST:8786). Prints per "
        "configuration the mean ± sd and 95% t interval of the test score and a paired t test against "
        "the best classical baseline; --json prints one line per trial and a summary line."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2",
                            help="a choice to vary (repeatable): encoding, ansatz, reps, features, optimizer, "
                            "lr, epochs, batch_size, backend, init_scale or PLUGIN.OPTION")
        parser.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds 0..N-1 per configuration (default 5)")
        parser.add_argument("--sample", type=int, metavar="K", help="K configurations drawn from the grid (seeded)")
        parser.add_argument("--epochs", type=int, metavar="N", help="epochs per trial (default: the project's)")
        parser.add_argument("--workers", type=int, metavar="N", help="local worker processes (0: in this process)")
        parser.add_argument("--scheduler", metavar="ADDR", help="an existing Dask scheduler, tcp://HOST:PORT")
        parser.add_argument("--json", action="store_true", help="one JSON line per trial and a summary line")
        parser.add_argument("--report", metavar="FILE.html", help="write the tables and plots to an HTML file")

    def run(self, args: argparse.Namespace) -> int:
        import signal
        import threading

        from qmlstudio.core.project import load_project, save_project
        from qmlstudio.workflow.statistics import PAIRED_TEST, study_statistics
        from qmlstudio.workflow.study import (
            StudyCancelled,
            find_or_add_study,
            missing_trials,
            new_study,
            parse_vary,
            planned_trials,
            run_study,
        )

        if args.seeds < 1:
            raise QMLStudioError("--seeds must be at least 1")
        if args.epochs is not None and args.epochs < 1:
            raise QMLStudioError("--epochs must be at least 1")
        if args.workers is not None and args.workers < 0:
            raise QMLStudioError("--workers must be 0 or more")
        if args.sample is not None and args.sample < 1:
            raise QMLStudioError("--sample must be at least 1")
        if args.scheduler and not args.scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise QMLStudioError(f"--scheduler {args.scheduler!r}: give a Dask address such as tcp://HOST:8786")
        project = load_project(args.project)
        study = find_or_add_study(project, new_study(parse_vary(args.vary), list(range(args.seeds)),
                                                     epochs=args.epochs, sample=args.sample))
        total, todo = len(planned_trials(study)), len(missing_trials(study))
        print(f"{PROG}: {study['id']}: {total} trials, {total - todo} already recorded, {todo} to run",
              file=sys.stderr, flush=True)
        save_project(project)
        bar = _StudyProgress(enabled=not args.json and sys.stderr.isatty())
        cancel = threading.Event()

        def on_trial(trial: dict[str, Any], done: int, count: int) -> None:
            save_project(project)  # atomically, so a kill loses at most the trials still running
            if args.json:
                keys = ("config", "seed", "status", "message", "test_accuracy", "test_loss", "loss",
                        "baselines", "seconds", "run_id")
                print(json.dumps({"event": "trial", **{k: trial.get(k) for k in keys}}), flush=True)
            bar.update(done, count, f"{trial['config_key']} seed {trial['seed']}: {trial['status']}")

        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        try:
            run_study(project, study, workers=args.workers, scheduler=args.scheduler, on_trial=on_trial, cancel=cancel)
        except StudyCancelled as exc:
            bar.close()
            print(f"{PROG}: {exc}; run the same command again to resume", file=sys.stderr)
            return 130
        finally:
            signal.signal(signal.SIGINT, previous)
            bar.close()
        stats = study_statistics(study["trials"], "R²" if project.model.kind == "regressor" else "accuracy")
        if args.report:
            from qmlstudio.workflow.study_report import report_html

            try:
                Path(args.report).write_text(report_html(study, stats), encoding="utf-8")
            except OSError as exc:
                raise QMLStudioError(f"cannot write {args.report}: {exc.strerror or exc}") from None
        failed = sum(1 for t in study["trials"] if t.get("status") != "completed")
        if args.json:
            print(json.dumps({"event": "summary", "study": study["id"], "test": PAIRED_TEST, "failed": failed,
                              "configurations": [{k: s[k] for k in ("config", "seeds", "test_accuracy", "loss",
                                                                    "seconds", "baselines", "best_baseline",
                                                                    "comparison")} for s in stats]}), flush=True)
        else:
            print(_study_table(stats, failed))
        return 0


def _study_table(stats: Any, failed: int) -> str:
    def cell(s: Any) -> str:
        if s["mean"] is None:
            return "–"
        ci = "" if not s["ci95"] else f"  95% CI [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
        sd = "" if s["std"] is None else f" ± {s['std']:.3f}"
        return f"{s['mean']:.3f}{sd}{ci}"

    lines = []
    for s in stats:
        label = ", ".join(f"{k}={v}" for k, v in s["config"].items()) or "(project as is)"
        lines.append(f"{label}  ({len(s['seeds'])} seeds)")
        lines.append(f"  quantum model        test {cell(s['test_accuracy'])}   {s['seconds']['mean'] or 0:.1f} s")
        for name, b in s["baselines"].items():
            lines.append(f"  {name:<24} test {cell(b)}")
        if s["comparison"]:
            lines.append(f"  verdict: {s['comparison']['verdict']}")
    if failed:
        lines.append(f"{failed} trial(s) failed: see the project's study record")
    return "\n".join(lines)


COMMANDS: list[Command] = [GuiCommand(), NewCommand(), TrainCommand(), ExportCommand(), PluginsCommand(),
                           EvaluateCommand(), AnalyzeCommand(), StudyCommand()]


MAX_SEED = 2**32 - 1  # what NumPy and scikit-learn accept as a seed


def _check_seed(seed: int | None) -> None:
    """Refuses a --seed outside 0..2³²−1 (NumPy and scikit-learn fail on it deep in a run)."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise QMLStudioError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    except OSError as exc:  # a file the command could not read or write, not caught closer to it
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"{PROG}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
