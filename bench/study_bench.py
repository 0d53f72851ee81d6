"""A study's trials on 2 local Dask workers against the same trials in a sequential loop.

12 trials (2 reps × 6 seeds) of a 6-qubit project (breast-cancer reduced to 6 principal
components, angle encoding, RealAmplitudes) with what `qmlstudio new` gives by default (30
epochs, batches of 32, the simulator's default threads):

* through the API: first one after another in this process (`workers=0`), then on a
  LocalCluster of 2 single-threaded worker processes (the `qmlstudio study` default on this
  machine: one worker per core), twice: *cold*, when the study starts the workers' fork server
  (its imports, about 2 s on one core, come first), and *fork server running*, as in the
  window, where the Study tab starts it when first shown (and as for any later study);
* through the CLI, what a user types: `qmlstudio study P --vary reps=1,2 --seeds 6` with
  `--workers 0` and with `--workers 2`, each a fresh process, timed from start to exit.

Prints the wall times, the ratios (target ≤ 0.6×) and whether the results agree trial by trial.
The parallel times include starting and stopping the cluster.

    .venv/bin/python bench/study_bench.py [--epochs 30] [--batch-size 32] [--seeds 6] [--threads N] [--skip-cli]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qmlstudio.core.project import load_project, save_project
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.study import RESULT_FIELDS, new_study, run_study


def rows(study):
    return sorted(json.dumps([t.get(k) for k in RESULT_FIELDS], sort_keys=True) for t in study["trials"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per trial (default 30, as `qmlstudio new`)")
    parser.add_argument("--batch-size", type=int, default=32, help="0: full batch (default 32, as `qmlstudio new`)")
    parser.add_argument("--threads", type=int, help="the simulator's threads (default: its own default)")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-cli", action="store_true", help="only the API figures")
    args = parser.parse_args()
    registry = load_plugins()
    project = new_project(registry, name="bench", dataset="breast-cancer", features=6, epochs=args.epochs,
                          batch_size=args.batch_size or None,
                          backend_options={} if args.threads is None else {"threads": args.threads})
    print(f"project: {project.circuit.num_qubits} qubits, {args.epochs} epochs, batch {args.batch_size or 'full'}, "
          f"threads {args.threads or 'default'}; {2 * args.seeds} trials (reps 1,2 × {args.seeds} seeds)")
    vary = {"reps": [1, 2]}
    seeds = list(range(args.seeds))
    results = {}
    for label, workers in (("sequential loop", 0), (f"{args.workers} workers, cold", args.workers),
                           (f"{args.workers} workers, server up", args.workers)):
        study = new_study(vary, seeds)
        started = time.perf_counter()
        run_study(project, study, workers=workers)
        results[label] = (time.perf_counter() - started, study)
    (t_seq, seq), *parallel = results.values()
    print("through the API (run_study):")
    print(f"  {'sequential loop':<34} {t_seq:7.1f} s")
    for label, (seconds, study) in list(results.items())[1:]:
        print(f"  {'study, ' + label:<34} {seconds:7.1f} s   ratio {seconds / t_seq:.2f}x (target <= 0.6x)"
              f"   same results: {rows(study) == rows(seq)}")
    if args.skip_cli:
        return
    print("through the CLI (qmlstudio study, a fresh process each, start to exit):")
    with tempfile.TemporaryDirectory() as folder:
        times, studies = {}, {}
        for workers in (0, args.workers):
            path = Path(folder) / f"bench-{workers}.qmls"
            save_project(project, path)
            command = [sys.executable, "-m", "qmlstudio", "study", str(path), "--vary", "reps=1,2", "--seeds",
                       str(args.seeds), "--epochs", str(args.epochs), "--workers", str(workers)]
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[workers] = time.perf_counter() - started
            studies[workers] = load_project(path).studies[0]
        print(f"  {'--workers 0':<34} {times[0]:7.1f} s")
        print(f"  {f'--workers {args.workers}':<34} {times[args.workers]:7.1f} s   ratio "
              f"{times[args.workers] / times[0]:.2f}x (target <= 0.6x)   same results: "
              f"{rows(studies[args.workers]) == rows(studies[0]) == rows(seq)}")


if __name__ == "__main__":
    main()
