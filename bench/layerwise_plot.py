"""Draws the loss curves of ``layerwise_shots.py --json`` files: the exact training loss of each
seed's weights against the iteration, uniform and layerwise side by side, one panel per file.

    .venv/bin/python bench/layerwise_plot.py RUN.json [RUN2.json ...] -o curves.png
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("runs", nargs="+", help="layerwise_shots.py --json files")
parser.add_argument("-o", "--output", required=True, help="the PNG to write")
args = parser.parse_args()

colours = {"uniform": "#CE2C31", "layerwise": "#218358"}
fig, axes = plt.subplots(1, len(args.runs), figsize=(5.2 * len(args.runs), 3.8), sharey=True, squeeze=False)
for ax, path in zip(axes[0], args.runs):
    data = json.loads(Path(path).read_text())
    settings = data["settings"]
    for label, rows in data["results"].items():
        for index, row in enumerate(rows):
            xs = [i for i, _ in row["exact_curve"]]
            ys = [v for _, v in row["exact_curve"]]
            ax.plot(xs, ys, "-o", ms=3, lw=1.4, color=colours[label], alpha=0.8,
                    label=f"{label} ({len(rows)} seeds)" if index == 0 else None)
    shots = settings["shots"]
    ax.set_title(f"{settings['readout']} readout, {shots} shots per circuit" if shots else
                 f"{settings['readout']} readout, exact", fontsize=10)
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
axes[0][0].set_ylabel("exact training loss (whole split)")
axes[0][0].legend(fontsize=9)
fig.suptitle("8 qubits, real-amplitudes × 6, digits 0/1", fontsize=10)
fig.tight_layout()
fig.savefig(args.output, dpi=110)
print(f"wrote {args.output}")
