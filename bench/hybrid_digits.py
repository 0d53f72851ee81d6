"""The honest digit classifier: a hybrid model on the 8×8 digits (10 classes), or on one of
the shipped IDX subsets (28×28, 10 classes, 2,000 images each): handwritten MNIST
(``--dataset mnist``) or Fashion-MNIST (``--dataset fashion-mnist``), over seeds,
next to its ablations (the same front and head, the quantum layer replaced by a classical
layer of about its parameter count, trained the same way: elementwise a·tanh(b·x + c), and a
bottleneck MLP) and the tuned classical baselines
(qmlstudio.core.baselines, tuned on the training rows), all on the same seed's split.

The hybrid: 64 grey levels scaled to [-1, 1] → Linear(64, 8) → π·tanh → 8 qubits (RY(x)
encoding, 3 layers of RY(θ) and a CX ladder, 24 weights) → ⟨Z_q⟩ → Linear(8, 10); Adam,
cross-entropy, batches of 64. Prints per seed and the mean ± sd with the 95% t interval.

    .venv/bin/python bench/hybrid_digits.py [--dataset digits|mnist|fashion-mnist] [--seeds 3] [--epochs 30] [--lr 0.01]
                                            [--qubits 8] [--reps 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qmlstudio.core.baselines import run_baselines
from qmlstudio.core.gate_matrices import z_diagonal
from qmlstudio.core.preprocessing import prepare
from qmlstudio.core.project_settings import Preprocessing
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow.statistics import summary
from qmls_torch import HybridNet, QuantumTorchLayer, ablation
from qmls_torch.hybrid import parameter_count

from hybrid_bench import design  # noqa: E402  (bench/ is the script's folder)


def train(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int) -> float:
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), 64):
            rows = order[start : start + 64]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x[rows]), y[rows]).backward()
            optimizer.step()
    return time.perf_counter() - started


def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net(x).argmax(dim=1) == y).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "mnist", "fashion-mnist"), default="digits")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--front", choices=("dense", "conv"), default="dense",
                        help="conv: 3×3 convolutions with 2×2 max-pooling on the images (--conv-channels)")
    parser.add_argument("--conv-channels", default="8,16")
    args = parser.parse_args()
    channels = tuple(int(c) for c in args.conv_channels.split(",")) if args.front == "conv" else ()
    registry = load_plugins()
    classes = ",".join(str(c) for c in range(10))
    if args.dataset == "digits":
        dataset = registry.get("datasets", "digits").create({"classes": classes})
    else:
        from pathlib import Path

        folder = Path(__file__).resolve().parents[1] / "resources" / "datasets" / f"{args.dataset}-2000"
        dataset = registry.get("datasets", "idx").create({"images_path": str(folder / "train-images-idx3-ubyte.gz"),
                                                         "labels_path": str(folder / "train-labels-idx1-ubyte.gz"),
                                                         "limit": 0, "classes": classes})
    n = args.qubits
    d = design(n, args.reps)
    observables = np.stack([z_diagonal(n, (q,)) for q in range(n)])
    scores: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        data = prepare(dataset, Preprocessing(scaling="minmax-sym"), seed)
        x_train, x_test = torch.tensor(data.x_train), torch.tensor(data.x_test)
        y_train, y_test = torch.tensor(data.y_train).long(), torch.tensor(data.y_test).long()
        hybrid = HybridNet(QuantumTorchLayer(d, observables, seed=seed), num_features=data.num_features,
                           num_outputs=10, seed=seed, conv_channels=channels,
                           image_shape=data.image_shape if channels else None)
        classical = ablation(hybrid, seed=seed)  # elementwise a·tanh(b·x + c): 24 parameters
        bottleneck = ablation(hybrid, seed=seed, kind="mlp")  # 8 → 1 → 8: 25 parameters
        row = {}
        for name, net in (("hybrid", hybrid), ("ablation", classical), ("ablation mlp", bottleneck)):
            seconds = train(net, x_train, y_train, args.epochs, args.lr, seed)
            row[name] = accuracy(net, x_test, y_test)
            row[name + " s"] = seconds
        baselines = run_baselines(data, seed, quantum_parameters=parameter_count(hybrid))
        for name, result in baselines.items():
            row[name] = result["test_accuracy"]
        for name, value in row.items():
            scores.setdefault(name, []).append(value)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    print(f"\n{args.dataset}, {args.front} front{' ' + str(list(channels)) if channels else ''}, 10 classes, {data.num_features} features, {len(data.y_train)} training and {len(data.y_test)} test rows; "
          f"hybrid {parameter_count(hybrid)} parameters ({d.num_weights} quantum); ablation {parameter_count(classical)} "
          f"(elementwise stand-in: {parameter_count(classical.quantum)}); ablation mlp {parameter_count(bottleneck)} "
          f"({parameter_count(bottleneck.quantum)}: {n} -> 1 -> {n}); {args.epochs} epochs")
    for name, values in scores.items():
        if name.endswith(" s"):
            continue
        s = summary(values)
        print(f"  {name:<28} {s['mean']:.3f} ± {s['std']:.3f}  95% CI [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]  (n={s['n']})")
    print(f"  training seconds: hybrid {np.mean(scores['hybrid s']):.1f} s, ablation {np.mean(scores['ablation s']):.1f} s, "
          f"ablation mlp {np.mean(scores['ablation mlp s']):.1f} s")


if __name__ == "__main__":
    main()
