"""Classical baselines (qmlstudio.core.baselines): tuned on the training rows only, standardised,
parameter-matched, and better than the untuned defaults they replace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qmlstudio.core.baselines import (
    PARAMETER_MATCHED,
    SELECTION,
    matched_hidden_units,
    mlp_parameters,
    paired_test_choice,
    run_baselines,
)
from qmlstudio.core.preprocessing import prepare
from qmlstudio.core.project import Preprocessing
from qmlstudio.core.training import Controls
from qmlstudio.plugins.manager import load_plugins


def prepared(name: str, **preprocessing):
    registry = load_plugins()
    spec = registry.get("datasets", name)
    return prepare(spec.create(spec.resolve({})), Preprocessing(**preprocessing), seed=7)


@pytest.fixture(scope="module")
def adhoc():
    # ad-hoc data is made of angles in [0, 2π): unscaled, its structure is intact
    data = prepared("ad-hoc", scaling="none")
    return data, run_baselines(data, 7, quantum_parameters=6)


def test_tuned_baselines_beat_the_untuned_defaults_on_ad_hoc_data(adhoc):
    """Deterministic (seeded folds, seeded MLPs): the RBF SVM at C=1 and default gamma is at
    chance on ad-hoc data; C and gamma chosen by cross-validation on the training rows do better."""
    _, results = adhoc
    for name in ("logistic regression", "RBF SVM", "MLP"):
        scores = results[name]
        assert scores["test_accuracy"] >= scores["untuned_test_accuracy"], name
    assert results["RBF SVM"]["untuned_test_accuracy"] <= 0.55
    assert results["RBF SVM"]["test_accuracy"] >= 0.75
    svm = results["RBF SVM"]["tuned"]
    assert set(svm["chosen"]) == {"C", "gamma", "scale"} and svm["grid"]["C"][0] == 1.0 and svm["cv"] == "5-fold stratified"
    assert svm["grid"]["scale"] == ["as prepared", "standardised"] and svm["selection"] == SELECTION
    assert 0 <= svm["cv_score"] <= svm["best_cv_score"] <= 1 and "training rows only" in svm["note"]


def test_each_baseline_counts_its_trainable_parameters(adhoc):
    data, results = adhoc
    mlp = results["MLP"]
    hidden = mlp["tuned"]["chosen"]["hidden_layer_sizes"][0]
    assert mlp["parameters"] == mlp_parameters(2, hidden, 1) == 2 * hidden + hidden + hidden + 1
    assert results["logistic regression"]["parameters"] == 3  # two weights and the intercept
    # one hidden unit (2·1 + 1 + 1·1 + 1 = 5) is the closest to the quantum model's 6
    assert results[PARAMETER_MATCHED]["parameters"] == 5
    assert set(results[PARAMETER_MATCHED]["tuned"]["chosen"]) == {"alpha", "scale"}


def cv_results(*candidates: list[float]) -> dict:
    """``GridSearchCV.cv_results_`` as the search makes them: each candidate's score per fold."""
    scores = np.array(candidates, dtype=float)
    results = {"params": [{"model__C": float(i)} for i in range(len(candidates))],
               "mean_test_score": scores.mean(axis=1), "std_test_score": scores.std(axis=1)}
    results.update({f"split{k}_test_score": scores[:, k] for k in range(scores.shape[1])})
    return results


def test_the_defaults_stay_unless_a_candidate_beats_them_fold_by_fold():
    """The grid's first candidate is the defaults; the best-scoring one replaces it only when a
    one-sided paired t-test over the same folds says it is better (5 %)."""
    default = [0.90, 0.95, 0.85, 0.90, 0.95]
    # better on average by one row in one fold, worse in another: noise, the defaults stay
    assert paired_test_choice(cv_results(default, [0.95, 0.95, 0.80, 0.95, 0.95])) == 0
    # better in every fold: replaced
    assert paired_test_choice(cv_results(default, [0.95, 1.00, 0.90, 0.95, 1.00])) == 1
    # clearly better in most folds, by different margins: replaced
    assert paired_test_choice(cv_results(default, [0.80, 0.85, 0.80, 0.80, 0.85],
                                         [1.00, 1.00, 0.95, 0.95, 0.95])) == 2
    # the defaults score best: kept
    assert paired_test_choice(cv_results(default, [0.80, 0.85, 0.80, 0.80, 0.85])) == 0
    # a candidate that could not be scored (NaN in a fold) is never chosen
    assert paired_test_choice(cv_results(default, [1.0, 1.0, float("nan"), 1.0, 1.0])) == 0


def test_matched_width_is_the_closest_parameter_count():
    for inputs, outputs in ((2, 1), (4, 3), (64, 10)):
        for target in (1, 6, 40, 67, 500):
            hidden = matched_hidden_units(inputs, outputs, target)
            best = min(abs(mlp_parameters(inputs, h, outputs) - target) for h in range(1, 600))
            assert abs(mlp_parameters(inputs, hidden, outputs) - target) == best
    # the example: 64 pixels, 10 classes, 40 weights -> 1 hidden unit (75 parameters)
    assert matched_hidden_units(64, 10, 67) == 1


def test_the_search_never_sees_the_test_rows(adhoc):
    data, results = adhoc
    rng = np.random.default_rng(3)
    altered = dataclasses.replace(data, x_test=rng.permutation(data.x_test) + 1.0, y_test=1 - data.y_test)
    again = run_baselines(altered, 7, quantum_parameters=6)
    for name, scores in results.items():
        assert again[name]["tuned"] == scores["tuned"], name
        assert again[name]["train_accuracy"] == scores["train_accuracy"], name


def test_a_cancelled_run_fits_no_more_baselines():
    data = prepared("moons")
    controls = Controls()
    controls.cancel()
    assert run_baselines(data, 7, quantum_parameters=6, controls=controls) == {}


def test_large_data_is_searched_on_a_sample_and_says_so():
    data = prepared("moons")
    results = run_baselines(data, 7, max_search_rows=60)
    n = len(data.y_train)
    for scores in results.values():
        assert f"60 of {n} rows sampled for the search" in scores["tuned"]["note"]
    assert PARAMETER_MATCHED not in results  # no quantum parameter count given


def big_data(rows: int, seed: int = 0):
    """Two noisy blobs, ``rows`` training and ``rows // 4`` test rows (as a 10⁶-row CSV would be)."""
    data = prepared("moons")
    rng = np.random.default_rng(seed)

    def blob(n):
        y = rng.integers(0, 2, n)
        return rng.normal(size=(n, 2)) + y[:, None] * 1.5, y

    x_train, y_train = blob(rows)
    x_test, y_test = blob(rows // 4)
    return dataclasses.replace(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                               x_val=None, y_val=None)


def test_large_data_is_fitted_and_scored_on_a_seeded_sample_and_says_so():
    data = big_data(4000)
    results = run_baselines(data, 7, max_search_rows=100, max_fit_rows=300, max_score_rows=500)
    assert set(results) == {"logistic regression", "MLP", "RBF SVM"}
    for name, scores in results.items():
        note = scores["tuned"]["note"]
        assert "fitted on 300 of 4000 training rows" in note and "scored on 500 of 1000 test rows" in note, name
        # blobs 1.5 apart in each feature: about 86 % is the best any model can do; the sample is enough to get near it
        assert 0.65 <= scores["test_accuracy"] <= 0.9, name
    # the same seed, the same sample: the same scores
    again = run_baselines(data, 7, max_search_rows=100, max_fit_rows=300, max_score_rows=500)
    assert {k: v["test_accuracy"] for k, v in again.items()} == {k: v["test_accuracy"] for k, v in results.items()}


def test_small_data_is_not_subsampled():
    data = prepared("moons")
    for scores in run_baselines(data, 7, max_search_rows=60).values():
        assert "fitted on" not in scores["tuned"]["note"] and "scored on" not in scores["tuned"]["note"]


def test_a_cancel_during_a_long_fit_returns_within_a_second():
    import threading
    import time

    data = big_data(12_000)
    controls = Controls()
    fitting = threading.Event()
    timer = threading.Timer(0.5, lambda: (fitting.set(), controls.cancel()))
    timer.start()
    start = time.perf_counter()
    try:
        # no limits: fitting 12,000 rows takes many seconds (each grid point an RBF SVM on all of them)
        results = run_baselines(data, 7, controls=controls, max_search_rows=12_000, max_fit_rows=12_000)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    assert fitting.is_set()
    # the quick linear model may be done by then; the slow ones are left out, and it returns at once
    assert set(results) <= {"logistic regression"} and "RBF SVM" not in results
    assert seconds < 0.5 + 1.0, seconds
