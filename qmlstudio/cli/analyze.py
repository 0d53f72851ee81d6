"""``qmlstudio analyze``: the barren-plateau, encoding and kernel studies, and the comparison report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qmlstudio.cli.base import Command, _check_seed, _stop_on_signals
from qmlstudio.cli.study import _StudyProgress
from qmlstudio.core.errors import QMLStudioError


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
        bp.add_argument("--init", metavar="LIST",
                        help="compare initialisations side by side: uniform, small-angle, identity-blocks (comma-"
                        "separated); every circuit then starts with RY(pi/4) on each qubit")
        bp.add_argument("--epsilon", type=float, default=0.05, metavar="E",
                        help="small-angle initialisation: weights uniform in +-E*pi (default 0.05)")
        enc = parser.add_argument_group("encodings")
        enc.add_argument("--encodings", metavar="LIST", help="comma-separated encodings (default: angle,dense-angle,zz-feature-map)")
        enc.add_argument("--epochs", type=int, metavar="N", help="epochs per training (default: the project's)")
        enc.add_argument("--keep", action="store_true", help="add the study's runs to the project file")
        enc.add_argument("--seeds", type=int, metavar="N",
                         help="repeat the study for seeds 0..N-1 and report each encoding's test accuracy as "
                         "mean ± sd with its 95%% t interval")
        enc.add_argument("--workers", type=int, metavar="N",
                         help="barren-plateau, and encodings with --seeds: run the points or seeds on N local Dask "
                         "worker processes (the study runner's)")
        enc.add_argument("--scheduler", metavar="ADDR",
                         help="barren-plateau, and encodings with --seeds: run them on an existing Dask scheduler, "
                         "tcp://HOST:PORT")
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
        self._defaults = {dest: parser.get_default(dest) for dest in self.OWNERS}

    #: the studies each option applies to: given to another study it is refused, not ignored
    OWNERS: dict[str, tuple[str, ...]] = {
        **{dest: ("barren-plateau",) for dest in ("qubits", "layers", "samples", "template", "weight", "seed",
                                                 "heatmap", "init", "epsilon")},
        **{dest: ("encodings",) for dest in ("encodings", "epochs", "keep", "seeds", "own_width", "basis", "device")},
        "workers": ("barren-plateau", "encodings"),
        "scheduler": ("barren-plateau", "encodings"),
        "encoding": ("kernel",),
        "matrix": ("kernel",),
        "output": ("report",),
    }

    def _refuse_strays(self, args: argparse.Namespace) -> None:
        """Options given to a study that does not use them are refused, with where they belong."""
        defaults = getattr(self, "_defaults", {})
        for dest, studies in self.OWNERS.items():
            if dest in defaults and getattr(args, dest, None) != defaults[dest] and args.study not in studies:
                flag = "-o/--output" if dest == "output" else "--" + dest.replace("_", "-")
                raise QMLStudioError(f"{flag} goes with analyze {' or '.join(studies)}, not {args.study}")
        if args.study == "barren-plateau":
            if args.init and args.heatmap:
                raise QMLStudioError("--heatmap maps the project's own circuit: it does not go with --init")
            if not args.init and args.epsilon != defaults.get("epsilon", args.epsilon):
                raise QMLStudioError("--epsilon sets the small-angle initialisation of --init: give --init too")

    def run(self, args: argparse.Namespace) -> int:
        from qmlstudio.core.project import load_project
        from qmlstudio.plugins.manager import load_plugins

        self._refuse_strays(args)
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
        from qmlstudio.workflow import (
            barren_plateau_study,
            gradient_heatmap,
            parse_range,
            template_builder,
        )

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
        qubits, layers = parse_range(args.qubits, "--qubits"), parse_range(args.layers, "--layers")
        if args.workers is not None and args.workers < 1:
            raise QMLStudioError("--workers must be at least 1")
        if args.init:
            return self._initialisations(args, registry, template, options, qubits, layers, seed, weight, progress)
        if args.workers or args.scheduler:
            from qmlstudio.workflow.study import barren_plateau_on_dask

            result = barren_plateau_on_dask(template, options, qubits, layers, samples=args.samples, seed=seed,
                                            weight=weight, workers=args.workers, scheduler=args.scheduler,
                                            progress=progress.update, registry=registry)
        else:
            result = barren_plateau_study(
                template_builder(registry, template, options), qubits, layers, samples=args.samples, seed=seed,
                weight=weight, template=template, progress=progress.update,
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
        print("  cost    layers  " + "  ".join(f"n={n:<8d}" for n in result.qubits) + "  a (95% bootstrap interval)")
        for cost in ("global", "local"):
            for L in result.layers:
                values = "  ".join(f"{v:<10.3g}" for v in result.variance[cost][str(L)])
                low, high = result.rate_ci95[cost][str(L)]
                print(f"  {cost:<7} {L:<7d} {values}  {result.rate[cost][str(L)]:.2f} [{low:.2f}, {high:.2f}]")
        print("  95% bootstrap intervals of the variances:")
        for cost in ("global", "local"):
            for L in result.layers:
                spans = "  ".join(f"[{lo:.3g}, {hi:.3g}]" for lo, hi in result.variance_ci95[cost][str(L)])
                print(f"  {cost:<7} {L:<7d} {spans}")
        if heatmap is not None:
            print(f"mean |∂C/∂θ| of the project's circuit ({heatmap.samples} samples): "
                  f"global {float(heatmap.per_weight['global'].mean()):.3g}, local {float(heatmap.per_weight['local'].mean()):.3g}")
        return 0

    def _initialisations(self, args: argparse.Namespace, registry: Any, template: str, options: Any, qubits: Any,
                         layers: Any, seed: int, weight: Any, progress: Any) -> int:
        """``--init``: the study once per initialisation strategy, and the decay rates side by side."""
        import functools
        import math

        from qmlstudio.workflow import initialisation_study, template_builder

        strategies = [s.strip() for s in args.init.split(",") if s.strip()]
        if not (math.isfinite(args.epsilon) and args.epsilon > 0):
            raise QMLStudioError("--epsilon must be greater than 0")
        common = dict(samples=args.samples, seed=seed, weight=weight, template=template, progress=progress.update,
                      epsilon=args.epsilon)
        run = None
        if args.workers or args.scheduler:
            from qmlstudio.workflow.study import barren_plateau_on_dask

            def run(_build: Any, qs: Any, ls: Any, **kw: Any) -> Any:
                kw.pop("template", None)
                return barren_plateau_on_dask(template, options, qs, ls, workers=args.workers,
                                              scheduler=args.scheduler, registry=registry, **kw)
        results = initialisation_study(template_builder(registry, template, options), qubits, layers, strategies,
                                       run=run, **common)
        if args.json:
            print(json.dumps({"study": "initialisation", "strategies": list(results),
                              "results": {k: r.to_dict() for k, r in results.items()}}), flush=True)
            return 0
        progress.close()
        first = next(iter(results.values()))
        print(f"initialisations: {template}, RY(pi/4) on every qubit first, {first.samples} samples, seed {seed}, "
              f"weight {first.weight}, small angles +-{args.epsilon:g}*pi; fitted a of 2^(-a*n) with 95% bootstrap "
              "intervals, for Var[dC/dθ] and for E[(dC/dθ)^2] (identity blocks give every draw the same gradient)")
        print(f"  {'initialisation':<16} {'cost':<7} {'layers':<7} {'a of Var':<22} a of E[g^2]")
        for name, result in results.items():
            for cost in ("global", "local"):
                for L in result.layers:
                    key = str(L)
                    if max(result.variance[cost][key]) < 1e-20:  # every draw gives the same gradient
                        var = "- (Var = 0)"
                    else:
                        var = (f"{result.rate[cost][key]:.2f} [{result.rate_ci95[cost][key][0]:.2f}, "
                               f"{result.rate_ci95[cost][key][1]:.2f}]")
                    low, high = result.mean_square_rate_ci95[cost][key]
                    print(f"  {name:<16} {cost:<7} {L:<7d} {var:<22} {result.mean_square_rate[cost][key]:.2f} "
                          f"[{low:.2f}, {high:.2f}]")
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
        from qmlstudio.core.project import save_project
        from qmlstudio.workflow import Cancelled
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
        from qmlstudio.workflow import build_run, project_kernel_study

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
