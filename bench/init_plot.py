"""Draws ``qmlstudio analyze barren-plateau --init ... --json``: the mean square of the
gradient E[(∂C/∂θ)²] against the qubits, per initialisation, for each cost and layer count,
with the 95 % bootstrap intervals as error bars and the fitted rate a in the legend.

    .venv/bin/python -m qmlstudio analyze barren-plateau P --init uniform,small-angle,identity-blocks \\
        --qubits 2-8 --layers 4,20 --json > init.json
    .venv/bin/python bench/init_plot.py init.json -o init.png
"""
import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("result", help="the --json output of analyze barren-plateau --init")
parser.add_argument("-o", "--output", required=True, help="the PNG to write")
args = parser.parse_args()

data = json.loads(Path(args.result).read_text())
results = data["results"]
first = next(iter(results.values()))
costs, layers = list(first["mean_square"]), [str(L) for L in first["layers"]]
colours = {"uniform": "#CE2C31", "small-angle": "#E08A00", "identity-blocks": "#218358"}
fig, axes = plt.subplots(1, len(costs), figsize=(6 * len(costs), 4.2), squeeze=False)
for ax, cost in zip(axes[0], costs):
    for init, result in results.items():
        for L, style in zip(layers, ("-o", "--s")):
            ys = result["mean_square"][cost][L]
            low, high = zip(*result["mean_square_ci95"][cost][L])
            errors = [[y - lo for y, lo in zip(ys, low)], [hi - y for y, hi in zip(ys, high)]]
            rate, (r_lo, r_hi) = result["mean_square_rate"][cost][L], result["mean_square_rate_ci95"][cost][L]
            label = f"{init}, {L} layers: a = {rate:.2f} [{r_lo:.2f}, {r_hi:.2f}]"
            if init == "small-angle":
                label = label.replace("small-angle", f"small-angle ε={result['epsilon']}")
            ax.errorbar(result["qubits"], ys, yerr=errors, fmt=style, ms=4, lw=1.3, capsize=2,
                        color=colours.get(init), alpha=0.9 if L == layers[0] else 0.6, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("qubits n")
    ax.set_title(f"{cost} cost", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
axes[0][0].set_ylabel("E[(∂C/∂θ)²] at the initial point")
fig.suptitle(f"{first['template']}, RY(π/4) input, {first['samples']} samples, fit E[g²] ∝ 2^(−a·n), 95 % bootstrap intervals",
             fontsize=10)
fig.tight_layout()
fig.savefig(args.output, dpi=110)
print(f"wrote {args.output}")
