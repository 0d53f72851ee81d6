"""``qmlstudio study``: many seeds and configurations, locally or on a Dask cluster, with their statistics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from qmlstudio.cli.base import PROG, Command
from qmlstudio.core.errors import QMLStudioError


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
            start_local_workers,
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
        if args.workers != 0 and not args.scheduler:
            start_local_workers()  # the workers' imports run while the project loads
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
