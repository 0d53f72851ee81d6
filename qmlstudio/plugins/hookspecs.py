"""The public plugin API of QML Studio: every hook a plugin may implement.

A plugin is a module or object with functions marked ``@qmlstudio.plugins.hookimpl`` and
named after the hooks below, registered under the ``qmlstudio`` entry-point group::

    [project.entry-points.qmlstudio]
    my-plugin = "my_package.plugin"

Every hook takes no arguments today and returns a list of descriptors from
:mod:`qmlstudio.plugins.descriptors`. Arguments may be added to hooks in later versions and
are never removed; an implementation may accept fewer arguments than the spec names
(pluggy passes only those it asks for).

Hooks are called once when the plugin manager loads, each plugin's implementation on its
own: a plugin that raises or returns something malformed is reported and skipped, and the
other plugins' results are kept. Names must be unique per hook across all plugins; the
first plugin to claim a name keeps it, the later one is reported.
"""

from __future__ import annotations

import pluggy

from qmlstudio.plugins.descriptors import (
    AccountSpec,
    AnsatzSpec,
    BackendSpec,
    DatasetSpec,
    EncodingSpec,
    ImporterSpec,
    ModelSpec,
    OptimizerSpec,
    PanelSpec,
)

PROJECT_NAME = "qmlstudio"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---------------------------------------------------------------------------
# Data and encodings
# ---------------------------------------------------------------------------
@hookspec
def qmlstudio_encodings() -> list[EncodingSpec]:
    """Encodings: how a row of features becomes a parameterized circuit.

    Called once at start-up. Returns a list of :class:`EncodingSpec`; each factory, called
    with the encoding's options as keyword arguments, returns an
    :class:`~qmlstudio.plugins.descriptors.Encoding` that says how many qubits it needs for
    k features, gives its circuit over input parameters ``x[j]``, and maps a batch of raw
    feature rows to the values bound to those parameters.

    ``transform`` receives the rows after the project's preprocessing, fitted on the
    training split: by default every feature scaled to [0, π] (the project's ``scaling``:
    ``minmax-pi``, ``minmax-sym`` to [-1, 1], ``standardize`` or ``none``).
    """


@hookspec
def qmlstudio_datasets() -> list[DatasetSpec]:
    """Datasets a user can pick.

    Called once at start-up. Returns a list of :class:`DatasetSpec`; each factory, called
    with the dataset's options, returns a :class:`~qmlstudio.core.dataset.Dataset` holding
    features, labels, feature names, class names and, for images, the image shape. Factories
    must work offline: nothing may be downloaded at run time.

    Features are returned raw (unscaled): the engine scales them. An ``int`` option named
    ``seed`` receives the project's seed unless the user set it, so one seed repeats a project.
    """


# ---------------------------------------------------------------------------
# Models and training
# ---------------------------------------------------------------------------
@hookspec
def qmlstudio_ansatze() -> list[AnsatzSpec]:
    """Trainable layer templates the editor can insert and expand into gates.

    Called once at start-up. Returns a list of :class:`AnsatzSpec`; each factory, called
    with the template's options (such as ``reps``), returns an
    :class:`~qmlstudio.plugins.descriptors.Ansatz` whose ``build(num_qubits)`` gives a
    :class:`~qmlstudio.core.circuit.CircuitDesign` with weights ``θ[0..n-1]``.
    """


@hookspec
def qmlstudio_optimizers() -> list[OptimizerSpec]:
    """Optimizers with their options (name, type, default, range).

    Called once at start-up. Returns a list of :class:`OptimizerSpec`; each factory, called
    with the optimizer's options, returns an
    :class:`~qmlstudio.plugins.descriptors.Optimizer` that reports each iteration to a
    callback and stops as soon as the callback returns ``True``.

    ``minimize`` receives the loss of the current mini-batch as a ``Problem`` (the batch
    changes between iterations), the initial weights and ``max_iterations`` (epochs ×
    batches); it returns an ``OptimizerResult``.
    """


# ---------------------------------------------------------------------------
# Where circuits run
# ---------------------------------------------------------------------------
@hookspec
def qmlstudio_backends() -> list[BackendSpec]:
    """Backends that hand the engine qiskit V2 primitives and a pass manager.

    Called once at start-up. Returns a list of :class:`BackendSpec`; each factory, called
    with the backend's options, returns a :class:`~qmlstudio.plugins.descriptors.Backend`
    giving a ``BaseEstimatorV2``, a ``BaseSamplerV2`` and a pass manager. The spec's
    ``available`` check says why the backend cannot be used here (or ``None``); it must not
    import the backend's heavy dependencies.

    The engine unrolls parameterized controlled rotations before the primitives see them
    (qiskit-aer binds them wrongly, Qiskit/qiskit-aer#2323), so Aer's primitives can be
    handed over as they come.
    """


# ---------------------------------------------------------------------------
# The window
# ---------------------------------------------------------------------------
@hookspec
def qmlstudio_panels() -> list[PanelSpec]:
    """Extra dock widgets a plugin adds to the main window.

    Called once at start-up, also by the headless CLI. Returns a list of
    :class:`PanelSpec`, each naming its widget by import path: the Qt code is imported only
    by the GUI, which calls the factory with the main window and docks the widget it returns
    in the spec's ``area``.
    """


@hookspec
def qmlstudio_importers() -> list[ImporterSpec]:
    """Ways to import a user's file as a dataset, listed in the dataset panel's Import menu.

    Called once at start-up. Returns a list of :class:`ImporterSpec`: a menu label, the
    dataset it configures, a file filter and a Qt-free ``factory(path)`` that returns that
    dataset's options for the file (an optional table ``preview`` gets the column dialog).
    The window draws the dialog; the plugin never imports Qt.
    """


@hookspec
def qmlstudio_accounts() -> list[AccountSpec]:
    """Accounts that backends need (an API token kept in the system keyring).

    Called once at start-up. Returns a list of :class:`AccountSpec`; each factory returns a
    Qt-free account object (load, store, forget and test the token) that the window's
    account dialog calls, listed in the Run menu.
    """


# ---------------------------------------------------------------------------
# Model kinds
# ---------------------------------------------------------------------------
@hookspec
def qmlstudio_models() -> list[ModelSpec]:
    """Model kinds beyond the built-in variational classifier, regressor and kernel SVM.

    Called once at start-up. Returns a list of :class:`ModelSpec`; each factory, called with
    the kind's options (the project's ``model.options``) as keyword arguments, returns a
    :class:`~qmlstudio.plugins.descriptors.ModelKind` whose ``build_run`` makes the run that
    trains it (a :class:`~qmlstudio.core.control.Run`). A kind that needs an optional package
    is returned with ``unavailable`` saying why and how to install it, so that the window can
    show it disabled.
    """
