"""An example QML Studio plugin: one of each part, through the public API only.

* an encoding, ``example-arctan``: RY(2·arctan(s·x)) per feature (:mod:`.encoding`);
* an ansatz, ``example-ry-cz``: RY layers and a CZ ladder (:mod:`.ansatz`);
* an optimizer, ``example-momentum``: gradient descent with momentum (:mod:`.optimizer`);
* a backend, ``example-noisy-aer``: qiskit-aer with depolarizing noise (:mod:`.backend`);
* a dataset, ``example-spirals``: two interleaved spirals (:mod:`.dataset`).

The hooks below only describe the parts. Factories are import paths, so listing plugins
imports none of the modules, and qiskit-aer is imported only when the backend is used.
"""

from __future__ import annotations

from qmlstudio.plugins import (
    AnsatzSpec,
    BackendSpec,
    DatasetSpec,
    EncodingSpec,
    Option,
    OptimizerSpec,
    hookimpl,
)

__version__ = "0.1.0"


@hookimpl
def qmlstudio_encodings():
    return [
        EncodingSpec(
            name="example-arctan",
            title="Arctan angle encoding (example plugin)",
            description="One qubit per feature, RY(2·arctan(s·x)): bounded angles whatever the features' scale.",
            factory="qmls_example.encoding:ArctanEncoding",
            options=(Option("scale", "float", 1.0, minimum=0.01, maximum=100.0, help="s in 2·arctan(s·x)"),),
        )
    ]


@hookimpl
def qmlstudio_ansatze():
    return [
        AnsatzSpec(
            name="example-ry-cz",
            title="RY layers with a CZ ladder (example plugin)",
            description="reps layers of RY on every qubit, each followed by CZ between neighbours, and a final RY layer.",
            factory="qmls_example.ansatz:RyCzAnsatz",
            options=(Option("reps", "int", 2, minimum=1, maximum=20, help="entangling layers"),),
        )
    ]


@hookimpl
def qmlstudio_optimizers():
    return [
        OptimizerSpec(
            name="example-momentum",
            title="Gradient descent with momentum (example plugin)",
            description="x ← x + v, v ← μ·v − η·∇L: plain heavy-ball gradient descent.",
            factory="qmls_example.optimizer:MomentumDescent",
            uses_gradient=True,
            options=(
                Option("learning_rate", "float", 0.1, minimum=1e-6, maximum=10.0, help="η, the step size"),
                Option("momentum", "float", 0.5, minimum=0.0, maximum=0.99, help="μ, how much of the last step is kept"),
            ),
        )
    ]


def _aer_missing() -> str | None:
    import importlib.util

    return None if importlib.util.find_spec("qiskit_aer") else "qiskit-aer is not installed (pip install qiskit-aer)"


@hookimpl
def qmlstudio_backends():
    return [
        BackendSpec(
            name="example-noisy-aer",
            title="Aer with depolarizing noise (example plugin)",
            description="qiskit-aer's V2 primitives with a depolarizing error after every gate; shot-based.",
            factory="qmls_example.backend:NoisyAerBackend",
            available=_aer_missing,
            positional="error",
            options=(
                Option("error", "float", 0.01, minimum=0.0, maximum=0.5, help="depolarizing probability per gate"),
                Option("shots", "int", 4000, minimum=1, maximum=1_000_000, help="shots per circuit"),
                Option("seed", "int", None, nullable=True, help="simulator seed (none: a new one every run)"),
            ),
        )
    ]


@hookimpl
def qmlstudio_datasets():
    return [
        DatasetSpec(
            name="example-spirals",
            title="Two spirals (example plugin)",
            description="Two interleaved spirals: a classic hard 2-D classification problem.",
            factory="qmls_example.dataset:two_spirals",
            options=(
                Option("samples", "int", 200, minimum=10, maximum=100000),
                Option("turns", "float", 1.5, minimum=0.25, maximum=5.0),
                Option("noise", "float", 0.05, minimum=0.0, maximum=1.0),
                Option("seed", "int", 0, help="QML Studio sets it to the project's seed unless given"),
            ),
        )
    ]
