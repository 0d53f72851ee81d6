"""Tuned against untuned classical baselines, over several seeds, on the split `qmlstudio new` makes.

For each dataset and seed the project is made as `qmlstudio new` makes it (its default split and
scaling, the seed reaching the dataset and the split), and the baselines of a run are trained:
each tuned one (a standardising pipeline, hyper-parameters chosen by cross-validation on the
training rows) beside the untuned model QML Studio used before. Prints, per baseline, the mean
test accuracy with a 95 % t-interval over the seeds, tuned and untuned, and the paired
difference (tuned − untuned) with its interval. One test split of 20–50 rows moves in steps of
2–5 %, so single-seed comparisons are noise; the paired mean over seeds is what to read.

    .venv/bin/python bench/baselines_bench.py [--seeds 5] [--datasets moons,iris,ad-hoc]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from qmlstudio.core.baselines import PARAMETER_MATCHED, run_baselines
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project, prepared_data


def interval(values: list[float]) -> str:
    """Mean ± half-width of the 95 % t-interval."""
    a = np.asarray(values, dtype=float)
    if len(a) < 2:
        return f"{a.mean():.3f}"
    half = stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / np.sqrt(len(a))
    return f"{a.mean():.3f} ± {half:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="moons,iris,ad-hoc")
    args = parser.parse_args()
    registry = load_plugins()
    for dataset in args.datasets.split(","):
        rows: dict[str, dict[str, list[float]]] = {}
        started = time.perf_counter()
        quantum_parameters = None
        for seed in range(args.seeds):
            project = new_project(registry, name=dataset, dataset=dataset, seed=seed)
            data = prepared_data(project, registry)
            quantum_parameters = build_run(project, registry).num_parameters
            for name, result in run_baselines(data, seed, quantum_parameters=quantum_parameters).items():
                row = rows.setdefault(name, {"tuned": [], "untuned": []})
                row["tuned"].append(result["test_accuracy"])
                if result.get("untuned_test_accuracy") is not None:
                    row["untuned"].append(result["untuned_test_accuracy"])
        print(f"== {dataset}: {args.seeds} seeds, test rows {len(data.y_test)}, scaling "
              f"{project.preprocessing.scaling!r}, quantum model {quantum_parameters} parameters "
              f"({time.perf_counter() - started:.0f} s)")
        print(f"  {'baseline':26} {'tuned':>15} {'untuned':>15} {'tuned − untuned':>17}")
        for name, row in rows.items():
            untuned = interval(row["untuned"]) if row["untuned"] else "-"
            paired = (interval(list(np.subtract(row["tuned"], row["untuned"])))
                      if len(row["untuned"]) == len(row["tuned"]) else "-")
            label = name if name != PARAMETER_MATCHED else "MLP (param-matched)"
            print(f"  {label:26} {interval(row['tuned']):>15} {untuned:>15} {paired:>17}")


if __name__ == "__main__":
    main()
