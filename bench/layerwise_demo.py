"""Issue 19's training comparison: 8 qubits, 6 layers, a global (parity) cost, over 5 seeds.

digits 0/1 reduced to 8 principal components, angle encoding, real-amplitudes with 6
repetitions, the `parity` readout (⟨Z⊗…⊗Z⟩ of all 8 qubits), batches of 32, baselines off.
The same number of iterations (6 × EPOCHS_PER_LAYER epochs) for

* uniform: every weight uniform in [−π, π), all 6 layers trained together;
* identity-blocks: 3 layers and their mirror (starts as the identity);
* layerwise (Skolik et al. 2021): 6 phases of EPOCHS_PER_LAYER epochs, each adding a layer
  at 0 and training only it.

Prints each run's first loss and the mean of its last 7 mini-batch losses, then the mean ± SD
over seeds.

    .venv/bin/python bench/layerwise_demo.py [OPTIMIZER] [LEARNING_RATE] [EPOCHS_PER_LAYER]
    (defaults: sgd 0.1 2)
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
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
