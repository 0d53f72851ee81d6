"""The built-in encodings, each checked against a textbook construction written out here.

States are compared in qiskit's little-endian order: qubit 0 is the rightmost factor of a
Kronecker product and the lowest bit of a basis index.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import reduce

import numpy as np
import pytest
from qiskit.circuit.library import zz_feature_map
from qiskit.quantum_info import Statevector

import qmls_encodings
from qmlstudio.core.errors import OptionError
from qmlstudio.plugins import Encoding, EncodingSpec

EXPECTED = {"angle", "dense-angle", "amplitude", "zz-feature-map", "iqp", "basis", "reuploading"}
ZERO = np.array([1.0, 0.0], dtype=complex)
H = np.array([[1, 1], [1, -1]], dtype=complex) / np.sqrt(2)


def rx(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -1j * s], [-1j * s, c]])


def ry(t: float) -> np.ndarray:
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def rz(t: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])


def product_state(qubit_states: list[np.ndarray]) -> np.ndarray:
    """|ψ_{n-1}⟩ ⊗ … ⊗ |ψ_0⟩ from the single-qubit states listed by qubit index."""
    return reduce(np.kron, reversed(qubit_states))


def spec(name: str) -> EncodingSpec:
    return {s.name: s for s in qmls_encodings.qmlstudio_encodings()}[name]


def prepared_state(encoding: Encoding, row: np.ndarray) -> np.ndarray:
    """The state the encoding's circuit prepares for one feature row, simulated by qiskit."""
    row = np.asarray(row, dtype=float)
    values = encoding.transform(row[None, :])[0]
    circuit = encoding.circuit(row.size).to_circuit()
    bound = circuit.assign_parameters({p: values[p.index] for p in circuit.parameters})
    return Statevector(bound).data


def fidelity(a: np.ndarray, b: np.ndarray) -> float:
    return abs(np.vdot(a, b)) ** 2 / (np.vdot(a, a).real * np.vdot(b, b).real)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240521)


# ---------------------------------------------------------------- the hook
def test_hook_qmlstudio_encodings():
    specs = qmls_encodings.qmlstudio_encodings()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert set(names) == EXPECTED
    for s in specs:
        assert isinstance(s, EncodingSpec)
        assert s.problems() == [], s.name
        assert s.description, s.name
        encoding = s.create()
        assert isinstance(encoding, Encoding), s.name
        for k in (2, 3, 5):
            assert encoding.check(k) is None, (s.name, k)
            design = encoding.circuit(k)
            assert design.problems() == []
            assert design.num_qubits == encoding.num_qubits(k)
            assert design.num_weights == 0, f"{s.name} must not have trainable weights"
            assert design.input_indices == list(range(encoding.num_inputs(k))), s.name
            assert {g.block for g in design.gates} == {f"encoding:{s.name}"}
            values = encoding.transform(np.full((4, k), 0.3))
            assert values.shape == (4, encoding.num_inputs(k)), s.name


def test_listing_the_encodings_does_not_import_qiskit():
    code = "import sys, qmls_encodings; qmls_encodings.qmlstudio_encodings(); print('qiskit' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"


def test_every_encoding_refuses_zero_features():
    for s in qmls_encodings.qmlstudio_encodings():
        assert "at least" in s.create().check(0), s.name


# ------------------------------------------------------------ angle family
@pytest.mark.parametrize("rotation, gate", [("rx", rx), ("ry", ry), ("rz", rz)])
@pytest.mark.parametrize("hadamard", [False, True])
@pytest.mark.parametrize("k", [1, 3, 4])
def test_angle_encoding_is_a_product_of_rotations(rng, rotation, gate, hadamard, k):
    encoding = spec("angle").create({"rotation": rotation, "hadamard": hadamard})
    assert encoding.num_qubits(k) == k
    x = rng.uniform(-np.pi, np.pi, k)
    start = H @ ZERO if hadamard else ZERO
    expected = product_state([gate(x[i]) @ start for i in range(k)])
    np.testing.assert_allclose(prepared_state(encoding, x), expected, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 6])
def test_dense_angle_encoding_puts_two_features_on_each_qubit(rng, k):
    encoding = spec("dense-angle").create()
    assert encoding.num_qubits(k) == -(-k // 2)
    x = rng.uniform(-np.pi, np.pi, k)
    qubits = []
    for i in range(encoding.num_qubits(k)):
        state = ry(x[2 * i]) @ ZERO
        if 2 * i + 1 < k:
            state = rz(x[2 * i + 1]) @ state
        qubits.append(state)
    np.testing.assert_allclose(prepared_state(encoding, x), product_state(qubits), atol=1e-12)


@pytest.mark.parametrize("threshold", [0.5, 0.0])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_basis_encoding_prepares_the_basis_state_of_the_bits(rng, threshold, k):
    encoding = spec("basis").create({"threshold": threshold})
    for _ in range(3):
        x = rng.uniform(-1, 1, k)
        bits = [int(v >= threshold) for v in x]
        expected = np.zeros(2**k)
        expected[sum(b << i for i, b in enumerate(bits))] = 1.0
        assert fidelity(prepared_state(encoding, x), expected) > 1 - 1e-10
    assert set(np.unique(encoding.transform(rng.uniform(-1, 1, (10, k))))) <= {0.0, np.pi}


def test_reuploading_is_angle_encoding_repeated_between_layers(rng):
    default = spec("reuploading").create()
    assert default.repetitions == 3
    encoding = spec("reuploading").create({"repetitions": 5, "rotation": "rx"})
    assert encoding.repetitions == 5
    assert spec("angle").create().repetitions == 1
    x = rng.uniform(-np.pi, np.pi, 3)
    expected = product_state([rx(v) @ ZERO for v in x])
    np.testing.assert_allclose(prepared_state(encoding, x), expected, atol=1e-12)


# -------------------------------------------------------------- amplitude
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 7, 8, 16])
def test_amplitude_encoding_prepares_the_normalized_feature_vector(rng, k):
    encoding = spec("amplitude").create()
    n = max(1, int(np.ceil(np.log2(k))))
    assert encoding.num_qubits(k) == n
    assert encoding.num_inputs(k) == 2**n - 1
    assert {g.name for g in encoding.circuit(k).gates} <= {"ry", "cx"}
    for _ in range(3):
        x = rng.normal(size=k)  # signs included
        expected = np.zeros(2**n)
        expected[:k] = x / np.linalg.norm(x)
        state = prepared_state(encoding, x)
        assert fidelity(state, expected) > 1 - 1e-10
        np.testing.assert_allclose(state, expected, atol=1e-10)  # not even a global phase


@pytest.mark.parametrize(
    "row",
    [[0, 0, 0, -2], [0, 3, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], [0, 0, 1, -1, 0, 0, 0, 0], [-1, -1, -1, -1, -1]],
)
def test_amplitude_encoding_handles_zero_blocks_and_negative_vectors(row):
    encoding = spec("amplitude").create()
    x = np.asarray(row, dtype=float)
    expected = np.zeros(2 ** encoding.num_qubits(x.size))
    expected[: x.size] = x / np.linalg.norm(x)
    np.testing.assert_allclose(prepared_state(encoding, x), expected, atol=1e-10)


def test_amplitude_encoding_transforms_a_batch_row_by_row(rng):
    encoding = spec("amplitude").create()
    batch = rng.normal(size=(6, 5))
    angles = encoding.transform(batch)
    assert angles.shape == (6, 7)
    for row, expected in zip(batch, angles):
        np.testing.assert_allclose(encoding.transform(row[None, :])[0], expected)


def test_amplitude_encoding_rejects_an_all_zero_sample():
    encoding = spec("amplitude").create()
    with pytest.raises(ValueError, match="sample 1 has all features 0"):
        encoding.transform(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))


def test_encodings_reject_nan_features():
    for name in ("amplitude", "angle", "basis"):
        with pytest.raises(ValueError, match="NaN"):
            spec(name).create().transform(np.array([[1.0, np.nan]]))


# ----------------------------------------------------------- feature maps
@pytest.mark.parametrize("entanglement", ["linear", "circular", "full"])
@pytest.mark.parametrize("reps", [1, 2])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_zz_feature_map_matches_qiskit(rng, entanglement, reps, k):
    encoding = spec("zz-feature-map").create({"reps": reps, "entanglement": entanglement})
    x = rng.uniform(0, 2 * np.pi, k)
    reference = zz_feature_map(k, reps=reps, entanglement=entanglement)
    expected = Statevector(reference.assign_parameters({p: x[p.index] for p in reference.parameters})).data
    np.testing.assert_allclose(prepared_state(encoding, x), expected, atol=1e-10)


def test_zz_feature_map_needs_two_features():
    assert "at least two" in spec("zz-feature-map").create().check(1)


def iqp_reference(x: np.ndarray, reps: int, pairs: set[frozenset[int]]) -> np.ndarray:
    """(D(x) H^⊗n)^reps |0…0⟩ with D(x) = exp(−i/2 (Σ x_i Z_i + Σ_pairs x_i x_j Z_i Z_j))."""
    n = x.size
    basis = np.arange(2**n)
    z = 1 - 2 * ((basis[:, None] >> np.arange(n)) & 1)  # z[b, i] = ±1: Z_i's eigenvalue on |b⟩
    phase = z @ x
    for pair in pairs:
        i, j = sorted(pair)
        phase = phase + x[i] * x[j] * z[:, i] * z[:, j]
    diagonal = np.exp(-0.5j * phase)
    hadamards = reduce(np.kron, [H] * n)
    state = np.zeros(2**n, dtype=complex)
    state[0] = 1
    for _ in range(reps):
        state = diagonal * (hadamards @ state)
    return state


@pytest.mark.parametrize("entanglement", ["linear", "circular", "full"])
@pytest.mark.parametrize("reps", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_iqp_encoding_matches_the_diagonal_construction(rng, entanglement, reps, k):
    encoding = spec("iqp").create({"reps": reps, "entanglement": entanglement})
    pairs = {
        "full": {frozenset((i, j)) for i in range(k) for j in range(i + 1, k)},
        "linear": {frozenset((i, i + 1)) for i in range(k - 1)},
        "circular": {frozenset((i, (i + 1) % k)) for i in range(k)} if k > 1 else set(),
    }[entanglement]
    x = rng.uniform(-np.pi, np.pi, k)
    np.testing.assert_allclose(prepared_state(encoding, x), iqp_reference(x, reps, pairs), atol=1e-10)


# --------------------------------------------------------------- options
@pytest.mark.parametrize(
    "name, options",
    [
        ("angle", {"rotation": "ryy"}),
        ("reuploading", {"rotation": "u"}),
        ("reuploading", {"repetitions": 0}),
        ("zz-feature-map", {"entanglement": "star"}),
        ("zz-feature-map", {"reps": 0}),
        ("iqp", {"reps": "two"}),
        ("basis", {"threshold": "high"}),
        ("dense-angle", {"rotation": "ry"}),
    ],
)
def test_bad_options_are_refused(name, options):
    with pytest.raises(OptionError):
        spec(name).create(options)


def test_options_given_as_text_work():
    encoding = spec("iqp").create({"reps": "3", "entanglement": "linear"})
    assert (encoding.reps, encoding.entanglement) == (3, "linear")
