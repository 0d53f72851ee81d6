"""Classical baselines worth beating, trained on the identical split as the quantum model.

Each baseline is a scikit-learn ``Pipeline(scale, model)`` whose inputs (the quantum model's
prepared inputs as they are, with the defaults, or standardised by a ``StandardScaler``
fitted on the training rows) and hyper-parameters are chosen by ``GridSearchCV`` on the
training rows only (stratified, seeded folds for classification): logistic regression
(C), an RBF support-vector machine (C, gamma), an MLP (hidden units, alpha) and a
**parameter-matched MLP**, one hidden layer whose trainable parameter count (weights and
biases) is the closest to the quantum model's, with only its alpha tuned. For
regression: ridge (alpha), RBF SVR (C, gamma) and the MLPs. The validation and test rows
are never seen by the search; the test rows are scored once, after it.

The search's first candidate is the untuned model (scikit-learn's defaults on the quantum
model's inputs), then the grid on standardised inputs (:func:`search_space`): it keeps the
first unless its best-scoring candidate beats it on the same folds by a one-sided paired
t-test at 5 % (:func:`paired_test_choice`).

Each record also holds ``untuned_test_accuracy``: the test score of the model as QML Studio
fitted it before (default settings, on the quantum model's prepared inputs), so a reader
can see what the tuning changed.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from qmlstudio.core.preprocessing import PreparedData

#: The grid search sees at most this many training rows (a seeded, stratified sample);
#: the chosen model is then refitted on all of them.
MAX_SEARCH_ROWS = 1000
#: The chosen model is refitted on at most this many training rows (a seeded, stratified
#: sample, said in the note), and scored on at most MAX_SCORE_ROWS rows of each split: an RBF
#: SVM's fit grows with the square of the rows, and a 10⁶-row CSV must not take hours.
MAX_FIT_ROWS = 10_000
MAX_SCORE_ROWS = 50_000
#: How often a fit in progress looks at the cancel flag (seconds).
_POLL_S = 0.05


class _Cancelled(Exception):
    """The run was cancelled while a baseline was being fitted."""


def _interruptible(fn: Any, controls: Any) -> Any:
    """``fn()``, in a daemon thread when there are ``controls``, so that a cancel returns at
    once (raising :class:`_Cancelled`) instead of after the fit; the abandoned fit ends on its
    own (it is bounded by MAX_FIT_ROWS) and its result is dropped."""
    if controls is None:
        return fn()
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=work, name="qmlstudio-baseline", daemon=True)
    thread.start()
    while thread.is_alive():
        if controls.cancelled.wait(_POLL_S):
            raise _Cancelled
        thread.join(_POLL_S)
    if "error" in box:
        raise box["error"]
    return box.get("value")
#: Folds of the cross-validation (fewer when the smallest class is smaller); the MLPs,
#: each fit of which costs ten times a linear model's, get 3.
FOLDS = 5
MLP_FOLDS = 3
#: A candidate replaces the defaults when a one-sided paired t-test over the folds says it is
#: better at this level (see :func:`paired_test_choice`).
SIGNIFICANCE = 0.05
#: How a search chooses among its candidates, as the record says it.
SELECTION = ("the defaults unless the best-scoring candidate beats them on the same folds "
             "(one-sided paired t-test, 5 %)")
PARAMETER_MATCHED = "MLP (parameter-matched)"


def baseline_models(task: str, seed: int) -> dict[str, Any]:
    """The untuned estimators QML Studio compared with before (defaults, on the quantum model's inputs)."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC, SVR

    if task == "regression":
        return {
            "linear regression": LinearRegression(),
            "MLP": MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=seed),
            "RBF SVR": SVR(kernel="rbf"),
        }
    return {
        "logistic regression": LogisticRegression(max_iter=1000),
        "MLP": MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=seed),
        "RBF SVM": SVC(kernel="rbf"),
    }


def mlp_parameters(inputs: int, hidden: int, outputs: int) -> int:
    """Weights and biases of a one-hidden-layer MLP (what ``coefs_`` + ``intercepts_`` hold)."""
    return inputs * hidden + hidden + hidden * outputs + outputs


def matched_hidden_units(inputs: int, outputs: int, target: int, limit: int = 4096) -> int:
    """The hidden-layer width whose parameter count is closest to ``target`` (ties: fewer units)."""
    per_unit = inputs + 1 + outputs
    guess = max(1, round((target - outputs) / per_unit))
    candidates = {max(1, min(limit, h)) for h in (guess - 1, guess, guess + 1)}
    return min(candidates, key=lambda h: (abs(mlp_parameters(inputs, h, outputs) - target), h))


def tuned_models(task: str, seed: int, inputs: int, outputs: int, quantum_parameters: int | None) -> dict[str, Any]:
    """``{name: (pipeline, grid)}``: the tuned baselines and the grids of hyper-parameters
    searched on standardised inputs (each with scikit-learn's default first); see
    :func:`search_space` for the whole search."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    def pipe(model: Any) -> Any:
        return Pipeline([("scale", StandardScaler()), ("model", model)])

    # L-BFGS suits the small data of QML studies: fast and no learning-rate schedule to tune.
    mlp = MLPRegressor if task == "regression" else MLPClassifier
    mlp_kwargs = {"solver": "lbfgs", "max_iter": 200, "random_state": seed}
    # Each grid lists scikit-learn's default first: among equal cross-validation scores the
    # search keeps the first, so tuning leaves a default alone unless something does better.
    alphas = [1e-4, 1e-2, 1.0]
    svm_grid = {"model__C": [1.0, 0.1, 10.0, 100.0], "model__gamma": ["scale", 0.01, 0.1, 1.0, 10.0]}
    if task == "regression":
        models = {
            "ridge regression": (pipe(Ridge()), {"model__alpha": [1.0, 0.01, 0.1, 10.0, 100.0]}),
            "RBF SVR": (pipe(SVR(kernel="rbf")), svm_grid),
        }
    else:
        models = {
            "logistic regression": (pipe(LogisticRegression(max_iter=2000)),
                                    {"model__C": [1.0, 0.01, 0.1, 10.0, 100.0]}),
            "RBF SVM": (pipe(SVC(kernel="rbf")), svm_grid),
        }
    models["MLP"] = (
        pipe(mlp(hidden_layer_sizes=(16,), **mlp_kwargs)),
        {"model__hidden_layer_sizes": [(16,), (64,)], "model__alpha": alphas},
    )
    if quantum_parameters is not None and quantum_parameters > 0:
        hidden = matched_hidden_units(inputs, outputs, quantum_parameters)
        models[PARAMETER_MATCHED] = (pipe(mlp(hidden_layer_sizes=(hidden,), **mlp_kwargs)),
                                     {"model__alpha": alphas})
    return models


def search_space(grid: dict[str, list[Any]]) -> list[dict[str, list[Any]]]:
    """What ``GridSearchCV`` searches for one baseline: first the defaults on the quantum
    model's own inputs (``scale`` passes them through: the untuned model), then ``grid`` on
    standardised inputs."""
    from sklearn.preprocessing import StandardScaler

    return [{"scale": ["passthrough"]}, {**grid, "scale": [StandardScaler()]}]


def paired_test_choice(results: dict[str, Any], level: float = SIGNIFICANCE) -> int:
    """The candidate a search keeps, from ``GridSearchCV.cv_results_``: the best-scoring one
    when it beats the default (the grid's first candidate) on the same folds by a one-sided
    paired t-test at ``level``, otherwise the default.

    Taking the top mean regardless picks, on a small training set, whichever candidate fitted
    these folds' noise best: a difference of one row in a fold of fifteen decides it. Here a
    candidate must be better across the folds, fold by fold, before it replaces the defaults.
    """
    from scipy import stats

    splits = sorted(key for key in results if key.startswith("split") and key.endswith("_test_score"))
    scores = np.array([results[key] for key in splits], dtype=float).T  # candidate x fold
    means = scores.mean(axis=1)
    means[~np.isfinite(scores).all(axis=1)] = -np.inf  # a candidate that failed a fold is never chosen
    best = int(np.argmax(means))
    if best == 0 or not np.isfinite(means[best]):
        return 0
    if not np.isfinite(means[0]):
        return best  # the default could not even be scored
    gain = scores[best] - scores[0]
    if len(gain) < 2 or gain.mean() <= 0:
        return 0
    spread = gain.std(ddof=1)
    if spread == 0:
        return best  # better on every fold by the same margin
    t = gain.mean() / (spread / np.sqrt(len(gain)))
    return best if stats.t.sf(t, len(gain) - 1) < level else 0


def count_parameters(estimator: Any) -> int | None:
    """Trainable parameters of a fitted model (the last step of a pipeline)."""
    model = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(model, "coefs_"):
        return int(sum(np.size(c) for c in model.coefs_) + sum(np.size(b) for b in model.intercepts_))
    if hasattr(model, "dual_coef_"):  # a kernel machine: one weight per support vector and class pair
        return int(np.size(model.dual_coef_) + np.size(model.intercept_))
    if hasattr(model, "coef_"):
        return int(np.size(model.coef_) + np.size(getattr(model, "intercept_", 0)))
    return None


def cross_validation(task: str, y: np.ndarray, seed: int, folds: int = FOLDS) -> tuple[Any, str] | None:
    """Seeded folds over the training rows and their description; None when too few rows."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "regression":
        folds = min(folds, len(y) // 2)
        return (KFold(folds, shuffle=True, random_state=seed), f"{folds}-fold") if folds >= 2 else None
    counts = np.bincount(np.asarray(y, dtype=int))
    smallest = int(counts[counts > 0].min()) if len(counts) else 0
    folds = min(folds, smallest)
    if folds < 2:
        return None
    return StratifiedKFold(folds, shuffle=True, random_state=seed), f"{folds}-fold stratified"


def search_rows(task: str, y: np.ndarray, seed: int, limit: int = MAX_SEARCH_ROWS) -> np.ndarray:
    """The training rows the grid search looks at: all, or a seeded (stratified) sample of ``limit``."""
    n = len(y)
    if n <= limit:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    stratify = y if task == "classification" and np.bincount(np.asarray(y, dtype=int)).min(initial=2) >= 2 else None
    try:
        rows, _ = train_test_split(np.arange(n), train_size=limit, random_state=seed, stratify=stratify)
    except ValueError:
        rows, _ = train_test_split(np.arange(n), train_size=limit, random_state=seed)
    return np.sort(rows)


#: How the record names the two input choices of the ``scale`` step.
AS_PREPARED = "as prepared"
STANDARDISED = "standardised"


def _plain(value: Any) -> Any:
    """A grid value as JSON writes it (tuples of hidden sizes become lists, a scaler its name)."""
    from sklearn.preprocessing import StandardScaler

    if isinstance(value, str) and value == "passthrough":
        return AS_PREPARED
    if isinstance(value, StandardScaler):
        return STANDARDISED
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def run_baselines(
    data: PreparedData,
    seed: int,
    quantum_parameters: int | None = None,
    controls: Any = None,
    max_search_rows: int = MAX_SEARCH_ROWS,
    max_fit_rows: int = MAX_FIT_ROWS,
    max_score_rows: int = MAX_SCORE_ROWS,
) -> dict[str, dict[str, Any]]:
    """Each tuned baseline's scores (accuracy, or R² for regression), seconds, parameter
    count, untuned test score and tuning record, by name.

    ``quantum_parameters`` (the quantum model's trainable parameter count) adds the
    parameter-matched MLP. ``controls`` (a :class:`~qmlstudio.core.training.Controls`):
    baselines not yet fitted when it is cancelled are left out, and a cancel during a fit
    returns within a fraction of a second. Large data is subsampled (seeded, stratified):
    the search sees ``max_search_rows`` rows, the refit ``max_fit_rows`` and each score
    ``max_score_rows``; each baseline's ``tuned.note`` says so.
    """
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    x_train, y_train = np.asarray(data.x_train), np.asarray(data.y_train)
    has_test = len(data.y_test) > 0
    outputs = 1 if data.task == "regression" or data.num_classes <= 2 else data.num_classes
    untuned = baseline_models(data.task, seed)
    untuned_names = {"ridge regression": "linear regression"}
    rows = search_rows(data.task, y_train, seed, max_search_rows)
    fit = search_rows(data.task, y_train, seed, max_fit_rows)
    x_test, y_test = np.asarray(data.x_test), np.asarray(data.y_test)
    scored_train = fit if len(fit) <= max_score_rows else fit[search_rows(data.task, y_train[fit], seed, max_score_rows)]
    scored_test = search_rows(data.task, y_test, seed, max_score_rows) if has_test else np.arange(0)
    sampled = []
    if len(fit) < len(y_train):
        sampled.append(f"fitted on {len(fit)} of {len(y_train)} training rows (a seeded sample)")
    if len(scored_test) < len(y_test):
        sampled.append(f"scored on {len(scored_test)} of {len(y_test)} test rows (a seeded sample)")
    sample_note = "; " + "; ".join(sampled) if sampled else ""
    results: dict[str, dict[str, Any]] = {}
    models = tuned_models(data.task, seed, data.num_features, outputs, quantum_parameters)
    for name, (pipeline, grid) in models.items():
        if controls is not None and controls.cancelled.is_set():
            break
        start = time.perf_counter()
        cv = cross_validation(data.task, y_train[rows], seed, MLP_FOLDS if name.startswith("MLP") else FOLDS)

        def fit_and_score(name: str = name, pipeline: Any = pipeline, grid: Any = grid,
                          cv: Any = cv) -> dict[str, Any]:
            entry: dict[str, Any] = {"train_accuracy": None, "test_accuracy": None, "parameters": None,
                                     "untuned_test_accuracy": None}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tuned: dict[str, Any] = {"grid": {**{k.removeprefix("model__"): [_plain(v) for v in values]
                                                     for k, values in grid.items()},
                                                  "scale": [AS_PREPARED, STANDARDISED]}}
                # Without folds to choose by, the defaults on the quantum model's inputs.
                pipeline = clone(pipeline).set_params(scale="passthrough") if cv is None else pipeline
                if cv is None:
                    model = clone(pipeline).fit(x_train[fit], y_train[fit])
                    tuned.update(chosen=None,
                                 note="too few training rows per class to cross-validate: defaults" + sample_note)
                else:
                    search = GridSearchCV(clone(pipeline), search_space(grid), cv=cv[0], n_jobs=1, refit=False)
                    search.fit(x_train[rows], y_train[rows])
                    kept = paired_test_choice(search.cv_results_)
                    # the defaults' candidate names only its inputs: its hyper-parameters are each grid's first
                    best = {**{k: values[0] for k, values in grid.items()}, **search.cv_results_["params"][kept]}
                    model = clone(pipeline).set_params(**best).fit(x_train[fit], y_train[fit])
                    tuned.update(
                        chosen={k.removeprefix("model__"): _plain(v) for k, v in best.items()},
                        cv=cv[1],
                        cv_score=float(search.cv_results_["mean_test_score"][kept]),
                        best_cv_score=float(search.best_score_),
                        selection=SELECTION,
                        note="the defaults on the quantum model's inputs, or standardised inputs and the grid's "
                        "hyper-parameters, chosen by cross-validation on the training rows only"
                        + (f" ({len(rows)} of {len(y_train)} rows sampled for the search)" if len(rows) < len(y_train) else "")
                        + sample_note,
                    )
                entry["tuned"] = tuned
                entry["train_accuracy"] = float(model.score(x_train[scored_train], y_train[scored_train]))
                entry["test_accuracy"] = (
                    float(model.score(x_test[scored_test], y_test[scored_test])) if has_test else None
                )
                entry["parameters"] = count_parameters(model)
                old = untuned.get(untuned_names.get(name, name))
                if old is not None and has_test:
                    old.fit(x_train[fit], y_train[fit])
                    entry["untuned_test_accuracy"] = float(old.score(x_test[scored_test], y_test[scored_test]))
            return entry

        try:
            entry = _interruptible(fit_and_score, controls)
        except _Cancelled:
            break
        except ValueError as exc:  # e.g. too few samples of a class for this model
            entry = {"train_accuracy": None, "test_accuracy": None, "parameters": None,
                     "untuned_test_accuracy": None, "tuned": {"note": f"could not be fitted: {exc}"}}
        entry["seconds"] = time.perf_counter() - start
        results[name] = entry
    return results
