"""The preprocessing applied at prediction time is the one fitted at training time.

A small project is trained for a few epochs, saved with its run, reopened from disk and
its run rebuilt: the reopened project prepares the same features (the same split, the
same scalers and PCA, fitted again from the saved settings and seed) and the saved final
weights predict the same labels, for the prepared test rows and for raw rows pushed
through the fitted transformation (``FittedPreprocessing.apply``). No Qt needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qmlstudio.core.project import PluginChoice, Preprocessing, file_sha256, load_project, save_project
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, load_dataset, new_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def _csv(folder: Path) -> Path:
    """A small table with a missing value (imputed) and text labels."""
    rng = np.random.default_rng(3)
    lines = ["width;height;depth;kind"]
    for i in range(48):
        kind = ("round", "flat")[i % 2]
        w, h, d = rng.normal([1.0 + i % 2, 2.0, 3.0 - i % 2], 0.3)
        cell = "" if i == 5 else f"{h:.4f}".replace(".", ",")  # decimal commas, one gap
        lines.append(f"{w:.4f}".replace(".", ",") + f";{cell};" + f"{d:.4f}".replace(".", ",") + f";{kind}")
    path = folder / "shapes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CASES = {
    # digits 0 vs 1 as 8×8 images reduced to 4 principal components, scaled to [0, π]
    "digits-pca": dict(dataset="digits", features=4),
    # iris, two of its classes by name, standardized, two chosen features padded to 4 qubits
    "iris-subset-padding": dict(dataset="iris", features=None),
    # the user's own CSV with a missing value imputed
    "csv-impute": dict(dataset="csv", features=None),
}


def _project(case: str, registry, tmp_path: Path):
    if case == "csv-impute":
        path = _csv(tmp_path)
        options = {"path": str(path), "label_column": "kind", "missing": "impute-mean"}
        project = new_project(registry, name=case, dataset="csv", dataset_options=options, epochs=3,
                              batch_size=None, seed=11)
        assert project.dataset.options["sha256"] == file_sha256(path)
        return project
    project = new_project(registry, name=case, dataset=CASES[case]["dataset"], features=CASES[case]["features"],
                          epochs=3, batch_size=None, seed=5)
    if case == "iris-subset-padding":
        from qmlstudio.core.circuit import CircuitDesign

        ansatz = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options)
        project.circuit = ansatz.build(4)
        project.preprocessing = Preprocessing(
            classes=("versicolor", "virginica"), features=(2, 3), scaling="standardize", padding=True, test_size=0.3
        )
        assert isinstance(project.circuit, CircuitDesign)
    return project


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_reopened_project_predicts_the_same_labels(case, registry, tmp_path):
    project = _project(case, registry, tmp_path)
    run = build_run(project, registry, epochs=3)
    record = run.run()
    assert record.status == "completed", record.message
    project.add_run(record)
    weights = np.array(record.final_weights, dtype=float)
    before_test = run.predict(weights, run.data.x_test)
    raw = load_dataset(project, registry).features
    before_raw = run.predict(weights, run.data.fitted.apply(raw))
    if case == "iris-subset-padding":
        assert run.data.num_features == 4 and np.all(run.data.x_train[:, 2:] == 0)  # padded to fill 4 qubits

    file = save_project(project, tmp_path / f"{case}.qmls")
    saved = json.loads(file.read_text(encoding="utf-8"))
    assert saved["preprocessing"] == project.preprocessing.to_dict()

    reopened = load_project(file)
    assert reopened.preprocessing == project.preprocessing and reopened.seed == project.seed
    again = build_run(reopened, registry)
    saved_weights = np.array(reopened.runs[-1].final_weights, dtype=float)
    assert np.array_equal(saved_weights, weights)

    # the same preparation: split, features and the fitted transformation
    assert again.data.fitted.to_dict() == run.data.fitted.to_dict()
    np.testing.assert_array_equal(again.data.x_train, run.data.x_train)
    np.testing.assert_array_equal(again.data.x_test, run.data.x_test)
    np.testing.assert_array_equal(again.data.y_test, run.data.y_test)
    assert again.data.feature_names == run.data.feature_names

    # the same predictions: on the test split, and on raw rows through the fitted transform
    np.testing.assert_array_equal(again.predict(saved_weights, again.data.x_test), before_test)
    raw_again = load_dataset(reopened, registry).features
    np.testing.assert_array_equal(raw_again, raw)
    np.testing.assert_array_equal(again.predict(saved_weights, again.data.fitted.apply(raw_again)), before_raw)


def test_the_fitted_transformation_reproduces_the_prepared_rows(registry):
    """``apply`` on raw rows gives exactly the prepared training rows (no second, different path)."""
    from qmlstudio.core.preprocessing import prepare

    dataset = registry.get("datasets", "wine").create({})
    settings = Preprocessing(pca=3, scaling="minmax-pi", test_size=0.2)
    data = prepare(dataset, settings, seed=4)
    applied = data.fitted.apply(dataset.features)
    # every prepared training row is the transform of some raw row
    distances = np.abs(applied[None, :, :] - data.x_train[:, None, :]).max(axis=2).min(axis=1)
    assert distances.max() < 1e-12
    restored = type(data.fitted).from_dict(json.loads(json.dumps(data.fitted.to_dict())))
    np.testing.assert_array_equal(restored.apply(dataset.features), applied)


def test_dataset_choice_survives_the_file(registry, tmp_path):
    project = _project("csv-impute", registry, tmp_path)
    file = save_project(project, tmp_path / "p.qmls")
    reopened = load_project(file)
    assert reopened.dataset == project.dataset
    assert isinstance(reopened.dataset, PluginChoice)
