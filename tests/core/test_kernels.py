"""Quantum-kernel SVMs (qmlstudio.core.kernels) against qiskit-machine-learning's QSVC."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from qiskit.circuit.library import zz_feature_map
from qiskit_machine_learning.algorithms import QSVC
from qiskit_machine_learning.kernels import FidelityStatevectorKernel

from qmlstudio.core.kernels import KernelRun, QuantumKernel, kernel_target_alignment
from qmlstudio.core.project import ModelChoice, Preprocessing
from qmlstudio.core.training import TrainingError
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def adhoc_kernel_project(registry, features: int, seed: int, reps: int, entanglement: str, baselines: bool = False):
    project = new_project(
        registry, name="kernel", dataset="ad-hoc",
        dataset_options={"features": features, "training_size": 20, "test_size": 10, "gap": 0.1, "seed": seed},
        encoding="zz-feature-map", encoding_options={"reps": reps, "entanglement": entanglement}, model="kernel",
    )
    # The ad-hoc features are already angles in [0, 2π): no scaling, so that qiskit-machine-
    # learning sees exactly the inputs our kernel sees.
    project.preprocessing = Preprocessing(scaling="none")
    # C and the bandwidth fixed: the same SVM as QSVC's defaults (nothing tuned)
    project.model = ModelChoice("kernel", {"baselines": baselines, "C": 1.0, "bandwidth": 1.0})
    return project


@pytest.mark.parametrize(
    "features,seed,reps,entanglement", [(2, 3, 2, "full"), (2, 11, 2, "full"), (3, 5, 2, "full")]
)
def test_kernel_svm_matches_qsvc_on_ad_hoc_data(registry, features, seed, reps, entanglement):
    project = adhoc_kernel_project(registry, features, seed, reps, entanglement, baselines=features == 3)
    run = build_run(project, registry)
    assert isinstance(run, KernelRun)
    record = run.run()
    assert record.status == "completed" and "alignment" in record.message
    data = run.data
    assert data.x_train.shape == (40, features) and data.x_test.shape == (20, features)

    # qiskit's own feature map, not our design of it: an independent reference
    kernel = FidelityStatevectorKernel(feature_map=zz_feature_map(features, reps=reps, entanglement=entanglement))
    np.testing.assert_allclose(run.kernel.matrix(data.x_train), kernel.evaluate(data.x_train), atol=1e-8, rtol=0)
    np.testing.assert_allclose(
        run.kernel.matrix(data.x_test, data.x_train), kernel.evaluate(data.x_test, data.x_train), atol=1e-8, rtol=0
    )
    reference = QSVC(quantum_kernel=kernel).fit(data.x_train, data.y_train).score(data.x_test, data.y_test)
    ours = record.metrics["test_accuracy"][-1]
    assert ours >= reference - 0.02
    assert ours > 0.6  # better than chance: the comparison is not between two failures
    if features == 3:
        assert set(record.baselines) == {"logistic regression", "MLP", "RBF SVM", "MLP (parameter-matched)"}
        # the SVM's dual coefficients and intercept are its trained parameters
        assert record.parameters == np.size(run.svc.dual_coef_) + 1
    assert record.tuning == {}  # C and the bandwidth were set by the project


@pytest.fixture(scope="module")
def small_run(registry):
    return build_run(adhoc_kernel_project(registry, 2, 3, 1, "full"), registry)


def test_gram_matrix_is_a_fidelity_kernel(small_run):
    gram = small_run.kernel.matrix(small_run.data.x_train)
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=1e-12)
    np.testing.assert_allclose(gram, gram.T, atol=1e-12)
    assert np.all(gram >= -1e-12) and np.all(gram <= 1 + 1e-12)
    assert np.linalg.eigvalsh(gram).min() > -1e-9  # positive semi-definite
    assert -1 <= kernel_target_alignment(gram, small_run.data.y_train) <= 1


def test_sampled_kernel_agrees_with_the_exact_one(registry, small_run):
    """On a backend with shots the kernel goes through qiskit-machine-learning's
    compute-uncompute fidelity and the backend's sampler: close to the exact kernel."""
    x = small_run.data.x_train[:4]
    sampled_backend = registry.get("backends", "aer-statevector").create({"sampler_shots": 4000, "seed": 2})
    sampled = QuantumKernel(small_run.model, sampled_backend)
    assert not sampled.exact
    np.testing.assert_allclose(sampled.matrix(x), small_run.kernel.matrix(x), atol=0.05)


def test_a_kernel_svm_needs_classes(small_run):
    data = dataclasses.replace(small_run.data, task="regression")
    with pytest.raises(TrainingError, match="classif"):
        KernelRun(data=data, model=small_run.model)


def test_c_and_bandwidth_are_chosen_by_cross_validation_on_the_training_rows(registry):
    """Breast cancer, 8 features, ZZ kernel: at bandwidth 1 the kernel is too narrow (it fits
    the training rows and generalises poorly); cross-validation on the training rows picks a
    narrower feature scale (Shaydulin & Wild 2022) and the test score goes up."""
    project = new_project(registry, name="bc", dataset="breast-cancer", features=8, encoding="zz-feature-map",
                          model="kernel", validation_size=0.0)
    project.model = ModelChoice("kernel", {"baselines": False, "C": 1.0, "bandwidth": 1.0})
    fixed = build_run(project, registry).run()
    project.model = ModelChoice("kernel", {"baselines": False})
    run = build_run(project, registry)
    tuned = run.run()
    chosen = tuned.tuning["chosen"]
    assert set(chosen) == {"C", "bandwidth"} and chosen["bandwidth"] < 1.0
    assert tuned.tuning["grid"]["bandwidth"][0] == 1.0 and tuned.tuning["cv"].endswith("stratified")
    assert run.kernel.bandwidth == chosen["bandwidth"] and run.C == chosen["C"]
    assert fixed.metrics["train_accuracy"][-1] > fixed.test["accuracy"] + 0.2  # the narrow kernel overfits
    assert tuned.test["accuracy"] > fixed.test["accuracy"] + 0.1
    # the choice used the training rows only: the same choice with the test rows shuffled away
    shuffled = build_run(project, registry)
    rng = np.random.default_rng(0)
    shuffled.data.y_test = rng.permutation(shuffled.data.y_test)
    shuffled.data.x_test = rng.permutation(shuffled.data.x_test)
    assert shuffled.run().tuning == tuned.tuning


def test_kernel_c_and_bandwidth_must_be_positive(small_run):
    with pytest.raises(TrainingError, match="positive"):
        KernelRun(data=small_run.data, model=small_run.model, bandwidth=0.0)
