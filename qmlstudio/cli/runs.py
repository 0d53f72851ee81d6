"""The commands on one project: ``gui``, ``new``, ``train``, ``export`` and ``evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from qmlstudio.cli.base import (
    PROG,
    Command,
    _check_seed,
    _encodable,
    _follow_jobs,
    _model_options,
    _option_pairs,
    _Progress,
    _read_only,
    _RunAutosave,
    _stop_on_signals,
    _summary,
    _warn_if_too_big,
    _with_seed,
)
from qmlstudio.core.errors import QMLStudioError

NOISE_HELP = ("train under DEVICE's noise (a fake IBM device, e.g. fake_manila), on the best simulator for it: "
              "noisy-exact (exact noisy probabilities and gradients) up to 10 qubits, aer-noise (Aer's shots) above")


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
        parser.add_argument("--model", metavar="KIND",
                            help="model kind: vqc, regressor, kernel, or one a plugin provides such as hybrid "
                            "(PyTorch); default: by dataset")
        parser.add_argument("--qubits", type=int, metavar="N",
                            help="a hybrid model's circuit qubits (default 4): its front maps the features to them")
        parser.add_argument("--optimizer", default="adam", help="optimizer name (default: adam)")
        parser.add_argument("--backend", default="statevector", metavar="CHOICE",
                            help="backend: NAME[:ARG][,key=value...] as for train and evaluate, e.g. "
                            "aer-noise:fake_manila,shots=2000 (default: statevector, QML Studio's exact simulator)")
        parser.add_argument("--noise", metavar="DEVICE", help=NOISE_HELP)
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
        model.add_argument("--readout", choices=["modulo", "z", "parity", "projector"],  # core.models.READOUTS
                           help="how a VQC reads classes: modulo (default), z (<Z> of qubit 0: a local cost), "
                           "parity (<Z...Z> of all qubits, two classes: a global cost) or projector (p(class 0) = "
                           "the probability of all zeros, two classes: the global cost of Cerezo et al.)")
        model.add_argument("--init", choices=["uniform", "small-angle", "identity-blocks"],
                           help="how the weights start: uniform (default), small-angle (uniform in ±ε·π, ε the "
                           "--init-scale, 0.05 unless given) or identity-blocks (Grant et al. 2019: the template's "
                           "half repetitions and their mirror, starting as the identity)")
        model.add_argument("--init-scale", type=float, metavar="S",
                           help="initial weights uniform in [-S·π, S·π] (default: 1; with --init small-angle, 0.05)")
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
        from qmlstudio.workflow import new_project, noisy_training_choice, scaling_warning

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
        if args.noise and (args.backend != "statevector" or args.backend_options):
            raise QMLStudioError("--noise picks the backend itself: give --backend (aer-noise:DEVICE for shot-faithful "
                                 "training) or --noise, not both")
        registry = load_plugins()
        ansatz_options: dict[str, Any] = _option_pairs(args.ansatz_options)
        if args.reps is not None:
            _agree("--reps", args.reps, "--ansatz-option", ansatz_options, "reps")
            ansatz_options["reps"] = args.reps
        from qmlstudio.core.project import MODEL_KINDS

        if args.model is not None and args.model not in MODEL_KINDS:  # a plugin's kind: its own options
            model_options = _option_pairs(args.model_options)
        else:
            model_options = _model_options(args.model_options)
        for name, value in (("readout", args.readout), ("init", args.init), ("init_scale", args.init_scale), ("C", args.C)):
            if value is not None:
                _agree("--" + name.replace("_", "-"), value, "--model-option", model_options, name)
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
            qubits=args.qubits,
        )
        if args.noise:
            project.backend, why = noisy_training_choice(registry, args.noise, project.circuit.num_qubits,
                                                         base=project.backend)
            print(f"{PROG}: noise: {why}", file=sys.stderr)
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
        parser.add_argument("--noise", metavar="DEVICE", help=NOISE_HELP + " for this run")
        parser.add_argument("--shots", type=int, metavar="N", help="shots per circuit (shot-based backends)")
        parser.add_argument("--seed", type=int, metavar="N",
                            help="the run's seed (split, initial weights, shuffling, baselines) for this run "
                            "only; recorded in the run (default: the project's)")
        parser.add_argument("--init-from", metavar="RUN",
                            help="a warm start: begin from the final weights of run RUN of the project (an id, or "
                            "'last'), for this run only; recorded in the run")
        parser.add_argument("--layerwise", type=int, metavar="EPOCHS",
                            help="layerwise training: grow the template ansatz a layer at a time, EPOCHS epochs per "
                            "layer, training only the new layer (new weights start at 0); one run per phase")
        parser.add_argument("--then-all", type=int, default=0, metavar="EPOCHS",
                            help="with --layerwise: a last phase training every weight of the full circuit")
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
            noisy_training_choice,
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
        if args.noise:
            if args.backend or args.shots is not None:
                raise QMLStudioError("--noise picks the backend itself: give --backend (aer-noise:DEVICE,shots=N for "
                                     "shot-faithful training) or --noise, not both")
            choice, why = noisy_training_choice(registry, args.noise, project.circuit.num_qubits, base=project.backend)
            print(f"{PROG}: noise: {why}", file=sys.stderr, flush=True)
        elif args.backend or args.shots is not None:
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
        # --init-from: a warm start from one of its runs, for this run only
        trained = project if args.seed is None and not args.init_from else _with_seed(project, args.seed, args.init_from)
        if args.layerwise is not None or args.then_all:
            return self._layerwise(args, project, trained, registry, controls, progress, clean)
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


    def _layerwise(self, args: argparse.Namespace, project: Any, trained: Any, registry: Any, controls: Any,
                   progress: Any, clean: Callable[[Any], Any]) -> int:
        """``--layerwise``: the phases of :mod:`qmlstudio.workflow.layerwise`, each run saved
        into the project as it ends (a stop keeps the phases done and the one stopped)."""
        from qmlstudio.core.project import save_project
        from qmlstudio.workflow.layerwise import phases, run_layerwise

        if args.layerwise is None:
            raise QMLStudioError("--then-all goes with --layerwise")
        if args.epochs is not None or args.init_from or args.backend or args.shots is not None:
            raise QMLStudioError("--layerwise sets the epochs of each phase and starts from 0: it does not go with "
                                 "--epochs, --init-from, --backend or --shots")
        schedule = phases(trained, registry, args.layerwise, args.then_all)
        grow = len(schedule) - (1 if args.then_all else 0)
        print(f"{PROG}: layerwise: {grow} phases of {args.layerwise} epochs, one per layer of {trained.ansatz.name}"
              + (f", then one of {args.then_all} epochs training every weight" if args.then_all else ""),
              file=sys.stderr, flush=True)

        def report(phase: Any, it: Any) -> None:
            if args.json:
                row = {k: clean(v) for k, v in it.metrics().items()}
                row.update(test_loss=clean(it.test_loss), phase=phase.index, layers=phase.layers)
                print(json.dumps(row), flush=True)
            progress.update(it)

        records = []
        with _stop_on_signals(controls) as received:
            try:
                for phase, record in zip(schedule, run_layerwise(trained, registry, schedule, callback=report,
                                                                 controls=controls)):
                    project.add_run(record)
                    if not args.no_save:
                        save_project(project)
                    records.append(record)
                    progress.close()
                    if not args.json:
                        trains = "the new layer" if phase.only_new else "every weight"
                        print(f"phase {phase.index}/{len(schedule)}: {phase.layers} layer{'s' if phase.layers > 1 else ''}, "
                              f"trains {trains}")
                        print(_summary(record, project.model.kind))
            finally:
                progress.close()
        if received:
            print(f"{PROG}: {received[0]}: stopped; the phases so far are "
                  f"{'not saved (--no-save)' if args.no_save else 'saved'}", file=sys.stderr, flush=True)
        last = records[-1]
        if args.json:
            print(json.dumps({"event": "done", "status": last.status, "message": last.message,
                              "run_ids": [r.id for r in records], "phases": len(schedule),
                              "test_accuracy": clean(last.test.get("accuracy")), "test_loss": clean(last.test.get("loss")),
                              "loss": clean((last.metrics.get("loss") or [None])[-1])}), flush=True)
        if last.status == "failed":
            print(f"{PROG}: error: {last.message}", file=sys.stderr)
            return 1
        return 0


def _agree(flag: str, value: Any, pairs_flag: str, pairs: dict[str, Any], key: str) -> None:
    """A flag and a NAME=VALUE pair that set the same option to different values are refused
    (one of them would otherwise be dropped without a word)."""
    if key in pairs and str(pairs[key]) != str(value):
        raise QMLStudioError(f"{flag} {value} and {pairs_flag} {key}={pairs[key]} disagree: give one of them")


class ExportCommand(Command):
    name = "export"
    help = "write a project's circuit (.qasm, .qpy, .py, .png, .svg) or a trained run as a PyTorch module"
    description = (
        "--circuit FILE writes the project's circuit; the suffix picks the format. --torch FILE.pt writes a "
        "trained run (--run, default the last) as a self-contained PyTorch module: FILE.pt holds its tensors "
        "and FILE.py, written beside it, the source that rebuilds it (it needs only torch): the run's "
        "preprocessing, circuit and readout, simulated exactly. Exporting needs PyTorch: pip install "
        "qmlstudio[torch]. --qiskit-script FILE.py writes a runnable script that reproduces the run's "
        "predictions with qiskit-machine-learning's TorchConnector (SamplerQNN on its exact sampler), weights "
        "and preprocessing included."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("project", help="the .qmls project")
        parser.add_argument("--circuit", metavar="FILE", help="output file; the suffix picks the format")
        parser.add_argument("--torch", metavar="FILE.pt", help="a trained run as a PyTorch module (and FILE.py)")
        parser.add_argument("--qiskit-script", metavar="FILE.py",
                            help="a trained run as a script on qiskit-machine-learning's TorchConnector")
        parser.add_argument("--run", default="last", metavar="ID",
                            help="the run for --torch and --qiskit-script: its id, or 'last' (default)")

    def run(self, args: argparse.Namespace) -> int:
        from qmlstudio.core.circuit_files import export_circuit
        from qmlstudio.core.project import load_project

        if not args.circuit and not args.torch and not args.qiskit_script:
            raise QMLStudioError("give --circuit FILE, --torch FILE.pt or --qiskit-script FILE.py")
        project = load_project(args.project)
        if args.circuit:
            export_circuit(project.circuit, args.circuit)
            print(f"wrote {args.circuit}")
        if args.torch or args.qiskit_script:
            from qmlstudio.plugins.manager import load_plugins
            from qmlstudio.workflow import trained_run, write_torch_export, write_torchconnector_script

            built = trained_run(project, load_plugins(), args.run)
            if args.torch:
                weights, source = write_torch_export(built, args.torch)
                print(f"wrote {weights} and {source}")
            if args.qiskit_script:
                print(f"wrote {write_torchconnector_script(built, args.qiskit_script)}")
        return 0


def evaluation_lines(evaluation: dict, score: str = "accuracy") -> list[str]:
    """The figures of an evaluation as lines of text: raw and each mitigation, with their 95 %
    intervals over shots and the mean |Δp| against the exact simulator, then the cost."""
    from qmlstudio.workflow.evaluation import FIGURE_NAMES as names

    lines = []

    def interval(pair: Any) -> str:
        return f" [{pair[0]:.3f}, {pair[1]:.3f}]" if pair else ""

    for name, figures in (evaluation.get("metrics") or {}).items():
        lines.append(f"{names.get(name, name)}: {score} {figures['accuracy']:.3f}{interval(figures.get('accuracy_ci95'))}, "
                     f"loss {figures['loss']:.4f}{interval(figures.get('loss_ci95'))}, "
                     f"mean |Δp| vs exact {figures['mean_abs_dp']:.4f}")
    if evaluation.get("metrics") and any(f.get("accuracy_ci95") for f in evaluation["metrics"].values()):
        lines.append("(95 % intervals over shots: bootstrap of the measured counts)")
    cost = evaluation.get("cost") or {}
    if cost:
        calibration = (f", calibration {cost['calibration_circuits']} circuits × "
                       f"{cost['calibration_shots'] // max(cost['calibration_circuits'], 1):,} shots"
                       if cost.get("calibration_circuits") else "")
        lines.append(f"cost: {cost.get('circuits', 0):,} circuits, {cost.get('shots', 0):,} shots{calibration}")
    return lines


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
        parser.add_argument("--bootstrap", type=int, default=100, metavar="N",
                            help="replicates of the measured counts for the 95%% intervals over shots (default 100)")

    def run(self, args: argparse.Namespace) -> int:

        from qmlstudio.core.project import PluginChoice, load_project, save_project
        from qmlstudio.plugins.manager import load_plugins
        from qmlstudio.workflow import (
            Controls,
            backend_choice,
            describe_evaluation_plan,
            evaluate_run,
            find_run,
            format_backend_choice,
        )

        if args.shots is not None and args.shots < 1:
            raise QMLStudioError("--shots must be at least 1")
        if not 10 <= args.bootstrap <= 100_000:
            raise QMLStudioError("--bootstrap must be between 10 and 100000")
        project = load_project(args.project)
        registry = load_plugins()
        run = find_run(project, args.run)
        trained_on = run.config.get("backend") or {}
        base = PluginChoice.from_dict(trained_on, "backend") if trained_on else None
        choice = backend_choice(registry, args.backend, base=base, shots=args.shots)
        controls = Controls()
        with _stop_on_signals(controls):
            accuracy = evaluate_run(project, registry, run.id, choice, controls=controls, on_backend=_follow_jobs,
                                    bootstrap=args.bootstrap,
                                    on_plan=lambda plan: print(f"{PROG}: plan: {describe_evaluation_plan(plan)}",
                                                               file=sys.stderr, flush=True))
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
                "loss": run.evaluations[-1].get("loss"), "metrics": run.evaluations[-1].get("metrics"),
                "cost": run.evaluations[-1].get("cost"),
            }), flush=True)
        else:
            shown = format_backend_choice(choice, registry)
            trained_text = "–" if trained is None else f"{trained:.3f}"
            print(f"run {run.id}: {score} {accuracy:.3f} on {shown} "
                  f"(trained on {trained_on.get('name', '?')}: {trained_text})")
            for line in evaluation_lines(run.evaluations[-1], score):
                print(f"  {line}")
            for evaluation in run.evaluations[:-1]:
                print(f"  earlier: {evaluation['backend']}: {evaluation['accuracy']:.3f}")
        return 0
