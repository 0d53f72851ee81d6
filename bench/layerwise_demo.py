"""8 qubits, 6 layers, parity readout: uniform vs layerwise vs identity-blocks, over 5 seeds."""
import sys, numpy as np
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.runs import build_run
from qmlstudio.workflow.layerwise import phases, run_layerwise

opt = sys.argv[1] if len(sys.argv) > 1 else "sgd"
lr = float(sys.argv[2]) if len(sys.argv) > 2 else 0.1
per_layer = int(sys.argv[3]) if len(sys.argv) > 3 else 2
reg = load_plugins()
def project(seed, init="uniform"):
    p = new_project(reg, name="lw", dataset="digits", features=8, ansatz="real-amplitudes", ansatz_options={"reps": 6},
                    optimizer=opt, optimizer_options={"learning_rate": lr}, epochs=6 * per_layer, seed=seed,
                    model_options={"readout": "parity", "baselines": False, "init": init})
    return p
def losses(record):
    return [l for l in record.metrics["loss"] if l is not None]
rows = {}
for seed in range(5):
    for label in ("uniform", "identity-blocks", "layerwise"):
        if label == "layerwise":
            p = project(seed)
            recs = list(run_layerwise(p, reg, phases(p, reg, per_layer)))
            curve = sum((losses(r) for r in recs), [])
        else:
            r = build_run(project(seed, label), reg).run()
            curve = losses(r)
        rows.setdefault(label, []).append(curve)
        print(seed, label, len(curve), f"{curve[0]:.3f} -> {np.mean(curve[-7:]):.3f}", flush=True)
for label, curves in rows.items():
    ends = [np.mean(c[-7:]) for c in curves]
    print(f"{label:16} final train loss {np.mean(ends):.3f} ± {np.std(ends, ddof=1):.3f}")
