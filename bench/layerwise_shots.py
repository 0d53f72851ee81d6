"""Issue 19's training comparison under sampling noise (Skolik et al. 2021's setting).

digits 0/1 reduced to 8 principal components scaled to [-1, 1] radians, angle encoding,
real-amplitudes with 6 repetitions, a global readout (``--readout parity``: ⟨Z⊗…⊗Z⟩ of all 8
qubits; ``projector``: p(class 0) = the probability of measuring all zeros),
batches of 32, baselines off, the same number of iterations for

* uniform: every weight uniform in [−π, π), all 6 layers trained together;
* layerwise (Skolik et al.): 6 phases of EPOCHS_PER_LAYER epochs, each adding a layer at 0
  and training only it.

Each run trains on ``aer-shots`` (qiskit-aer sampling SHOTS shots per circuit; parameter-shift
gradients from those shots), or on QML Studio's exact simulator with ``--shots 0``. After
training, each run's final weights are scored exactly (statevector) on the whole training
split, so that the figures compared carry no shot noise of their own.

Prints each run, then per strategy the mean ± SD over seeds of the exact final training loss
and accuracy, of the mini-batch loss the optimizer saw (from shots: a probability estimated
as 0 makes it large, log clipped at 1e-10) and of the exact training loss of the weights at
every EVERY-th iteration (the loss curves), and writes them to --json FILE when given.

    .venv/bin/python bench/layerwise_shots.py [--shots 20] [--seeds 5] [--epochs-per-layer 2]
        [--optimizer adam] [--lr 0.05] [--readout parity|projector] [--json FILE]
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow import new_project  # noqa: E402
from qmlstudio.workflow.layerwise import phases, run_layerwise  # noqa: E402
from qmlstudio.workflow.runs import build_run  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--shots", type=int, default=20, help="shots per circuit (0: exact simulation)")
parser.add_argument("--seeds", type=int, default=5)
parser.add_argument("--epochs-per-layer", type=int, default=2)
parser.add_argument("--optimizer", default="adam")
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--every", type=int, default=14, help="the curves' spacing in iterations")
parser.add_argument("--readout", default="parity", choices=["parity", "projector"],
                    help="the global cost: parity (<Z...Z>) or projector (p(class 0) = p(all zeros))")
parser.add_argument("--json", metavar="FILE")
args = parser.parse_args()
reg = load_plugins()
REPS = 6


def project(seed: int, exact: bool = False, reps: int = REPS):
    backend = "statevector" if exact or not args.shots else f"aer-shots,shots={args.shots},seed={seed + 101}"
    return new_project(reg, name="lw", dataset="digits", features=8, ansatz="real-amplitudes", ansatz_options={"reps": reps},
                       optimizer=args.optimizer, optimizer_options={"learning_rate": args.lr}, epochs=REPS * args.epochs_per_layer,
                       seed=seed, scaling="minmax-sym", backend=backend,
                       model_options={"readout": args.readout, "baselines": False, "init": "uniform"})


def exact_scores(seed: int, final: list[float], reps: int = REPS) -> tuple[float, float]:
    """The weights' loss and accuracy on the whole training split, simulated exactly."""
    run = build_run(project(seed, exact=True, reps=reps), reg)
    parameters = np.array(final, dtype=float)
    weights, extra = parameters[: run.model.num_weights], parameters[run.model.num_weights:]
    values = run.evaluator.values(weights, run.train_inputs)
    loss = float(run.head.loss(values, extra, run.data.y_train)[0])
    accuracy = float(np.mean(run.head.predict(values, extra) == run.data.y_train))
    return loss, accuracy


def losses(record) -> list[float]:
    return [float(v) for v in record.metrics["loss"] if v is not None]


results: dict[str, list[dict]] = {"uniform": [], "layerwise": []}
started = time.perf_counter()
for seed in range(args.seeds):
    for label in results:
        t0 = time.perf_counter()
        p = project(seed)
        snapshots: list[tuple[int, int, list[float]]] = []  # (iteration, layers, weights) every EVERY iterations

        def keep(layers: int, report) -> None:
            iteration = next(counter)  # the iteration over the whole schedule
            if iteration == 1 or iteration % args.every == 0:
                snapshots.append((iteration, layers, [float(w) for w in report.weights]))

        counter = iter(range(1, 10**9))
        if label == "layerwise":
            records = list(run_layerwise(p, reg, phases(p, reg, args.epochs_per_layer),
                                         callback=lambda phase, it: keep(phase.layers, it)))
            curve = sum((losses(r) for r in records), [])
            final = records[-1].final_weights
        else:
            record = build_run(p, reg, callback=lambda it: keep(REPS, it)).run()
            curve, final = losses(record), record.final_weights
        loss, accuracy = exact_scores(seed, final)
        exact_curve = [(i, exact_scores(seed, w, layers)[0]) for i, layers, w in snapshots]
        results[label].append({"seed": seed, "curve": curve, "exact_curve": exact_curve,
                               "exact_train_loss": loss, "exact_train_accuracy": accuracy})
        print(f"seed {seed} {label:9} {len(curve)} iterations  mini-batch loss {curve[0]:.3f} -> {np.mean(curve[-7:]):.3f}"
              f"  exact train loss {loss:.3f}  accuracy {accuracy:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)

noise = "exact simulation" if not args.shots else f"{args.shots} shots per circuit (aer-shots)"
print(f"\n8 qubits, real-amplitudes reps {REPS}, {args.readout} readout, digits 0/1, {noise}, {args.optimizer} lr {args.lr}, "
      f"{args.seeds} seeds, {time.perf_counter() - started:.0f} s in all")
print(f"{'strategy':10} {'exact final train loss':>24} {'exact final train accuracy':>27}")
for label, rows in results.items():
    loss = [r["exact_train_loss"] for r in rows]
    acc = [r["exact_train_accuracy"] for r in rows]
    sd = (lambda v: np.std(v, ddof=1) if len(v) > 1 else math.nan)
    print(f"{label:10} {np.mean(loss):>15.3f} ± {sd(loss):.3f} {np.mean(acc):>18.3f} ± {sd(acc):.3f}")
length = min(len(r["curve"]) for rows in results.values() for r in rows)
marks = [0] + list(range(args.every - 1, length, args.every))
print("\nmini-batch loss (mean ± SD over seeds) at iteration")
print(f"{'':10}" + "".join(f"{m + 1:>14}" for m in marks))
for label, rows in results.items():
    cells = []
    for m in marks:
        v = [r["curve"][m] for r in rows]
        cells.append(f"{np.mean(v):.3f}±{(np.std(v, ddof=1) if len(v) > 1 else 0):.3f}")
    print(f"{label:10}" + "".join(f"{c:>14}" for c in cells))
print("\nexact training loss (whole training split, mean ± SD over seeds) at iteration")
points = [i for i, _ in results["uniform"][0]["exact_curve"]]
print(f"{'':10}" + "".join(f"{i:>14}" for i in points))
for label, rows in results.items():
    cells = []
    for k in range(len(points)):
        v = [r["exact_curve"][k][1] for r in rows if len(r["exact_curve"]) > k]
        cells.append(f"{np.mean(v):.3f}±{(np.std(v, ddof=1) if len(v) > 1 else 0):.3f}")
    print(f"{label:10}" + "".join(f"{c:>14}" for c in cells))
if args.json:
    Path(args.json).write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))
