"""The application layer: what the CLI, the GUI and the study runner ask of the engine.

Qt-free. It turns a project into prepared data (:mod:`.data`), checks and builds projects
(:mod:`.projects`), builds runs (:mod:`.runs`), parses and creates backends (:mod:`.backends`),
estimates what a run costs (:mod:`.cost`), evaluates trained weights on another backend
(:mod:`.evaluation`) and computes the views' previews of a model (:mod:`.previews`). Every run
it builds answers the :class:`Run` protocol (variational and kernel alike, with one
:class:`Controls` cancel token); :mod:`.engine` re-exports the engine's names the callers need. Callers above this layer (``qmlstudio.gui``, ``qmlstudio.cli``) import
from here, not from the engine's modules that build runs; import-linter keeps that so.
"""

from __future__ import annotations

from qmlstudio.workflow.projects import new_project, MODEL_OPTIONS, scaling_warning, model_options, HiddenQubits, encoding_qubits, hidden_qubits, check_trainable, widen_circuit, SimulationFix, PCA_FEATURES, simulation_fixes, fixed_project_fields, apply_fix, initialisation_fields, template_circuit, INITIALISATIONS
from qmlstudio.workflow.data import load_dataset, prepared_data, prepare_for_encoding, features_needed
from qmlstudio.workflow.runs import build_run, backend_of, find_run, project_for_run
from qmlstudio.workflow.backends import (
    NOISY_EXACT_QUBITS,
    backend_choice,
    create_backend,
    format_backend_choice,
    noisy_training_choice,
    parse_backend_choice,
    transpiled_figures,
)
from qmlstudio.workflow.cost import estimate_cost, run_cost, LONG_RUN_SECONDS, exact_plan, describe_exact_plan, describe_cost
from qmlstudio.workflow.evaluation import (
    Evaluation,
    describe_evaluation_plan,
    evaluate_run,
    evaluate_weights,
    evaluation_plan,
    record_evaluation,
)
from qmlstudio.workflow.engine import *  # noqa: F403 - the engine's names the windows and the CLI use
from qmlstudio.workflow.engine import __all__ as _engine_names
from qmlstudio.workflow.export_torch import export_run_to_torch, trained_run, write_torch_export, write_torchconnector_script
from qmlstudio.workflow.previews import ExactView, ModelPreview, data_units, exact_view, initial_weights

__all__ = [
    "new_project",
    "export_run_to_torch",
    "trained_run",
    "write_torch_export",
    "write_torchconnector_script",
    "MODEL_OPTIONS",
    "scaling_warning",
    "model_options",
    "HiddenQubits",
    "encoding_qubits",
    "hidden_qubits",
    "check_trainable",
    "widen_circuit",
    "SimulationFix",
    "PCA_FEATURES",
    "simulation_fixes",
    "fixed_project_fields",
    "initialisation_fields",
    "template_circuit",
    "INITIALISATIONS",
    "apply_fix",
    "load_dataset",
    "prepared_data",
    "prepare_for_encoding",
    "features_needed",
    "build_run",
    "backend_of",
    "find_run",
    "project_for_run",
    "parse_backend_choice",
    "backend_choice",
    "format_backend_choice",
    "create_backend",
    "transpiled_figures",
    "NOISY_EXACT_QUBITS",
    "noisy_training_choice",
    "estimate_cost",
    "run_cost",
    "LONG_RUN_SECONDS",
    "exact_plan",
    "describe_exact_plan",
    "describe_cost",
    "Evaluation",
    "evaluate_weights",
    "evaluate_run",
    "record_evaluation",
    "evaluation_plan",
    "describe_evaluation_plan",
    "ExactView",
    "ModelPreview",
    "data_units",
    "exact_view",
    "initial_weights",
    *_engine_names,
]
