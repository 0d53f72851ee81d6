"""A study's trials on 2 local Dask workers against the same trials in a sequential loop.

12 trials (2 reps × 6 seeds) of a 6-qubit project (breast-cancer reduced to 6 principal
components, angle encoding, RealAmplitudes) with what `qmlstudio new` gives by default (30
epochs, batches of 32, the simulator's default threads), first one after another in this
process (`workers=0`), then on a LocalCluster of 2 single-threaded worker processes (the
`qmlstudio study` default on this machine: one worker per core). Prints both wall times, the
ratio (target ≤ 0.6×) and whether the results agree trial by trial. The parallel time includes
starting and stopping the cluster.

    .venv/bin/python bench/study_bench.py [--epochs 30] [--batch-size 32] [--seeds 6] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time

from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.study import RESULT_FIELDS, new_study, run_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per trial (default 30, as `qmlstudio new`)")
    parser.add_argument("--batch-size", type=int, default=32, help="0: full batch (default 32, as `qmlstudio new`)")
    parser.add_argument("--threads", type=int, help="the simulator's threads (default: its own default)")
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
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
    for label, workers in (("sequential", 0), (f"{args.workers} local workers", args.workers)):
        study = new_study(vary, seeds)
        started = time.perf_counter()
        run_study(project, study, workers=workers)
        results[label] = (time.perf_counter() - started, study)
    (t_seq, seq), (t_par, par) = results.values()

    def rows(study):
        return sorted(json.dumps([t.get(k) for k in RESULT_FIELDS], sort_keys=True) for t in study["trials"])

    print(f"{'sequential loop':<22} {t_seq:7.1f} s")
    print(f"{f'study, {args.workers} workers':<22} {t_par:7.1f} s   ratio {t_par / t_seq:.2f}x (target <= 0.6x)")
    print(f"same results trial by trial: {rows(seq) == rows(par)}")


if __name__ == "__main__":
    main()
