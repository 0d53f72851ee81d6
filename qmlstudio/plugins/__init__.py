"""The plugin API: hook specifications, descriptors and the plugin manager.

Plugins import what they need from here::

    from qmlstudio.plugins import hookimpl, EncodingSpec, Encoding, Option
"""

from qmlstudio.core.circuit import MAX_QUBITS, CircuitDesign, Gate
from qmlstudio.core.dataset import Dataset, DatasetError
from qmlstudio.core.errors import OptionError, QMLStudioError
from qmlstudio.core.options import Option
from qmlstudio.plugins.descriptors import (
    AccountSpec,
    Ansatz,
    AnsatzSpec,
    Backend,
    BackendSpec,
    DatasetSpec,
    Encoding,
    EncodingSpec,
    ImporterSpec,
    ModelKind,
    ModelSpec,
    Optimizer,
    OptimizerResult,
    OptimizerSpec,
    OptimizerStep,
    PanelSpec,
    PluginError,
    Problem,
)
from qmlstudio.plugins.hookspecs import hookimpl, hookspec

__all__ = [
    "MAX_QUBITS",
    "DatasetError",
    "OptionError",
    "QMLStudioError",
    "AccountSpec",
    "Ansatz",
    "AnsatzSpec",
    "Backend",
    "BackendSpec",
    "CircuitDesign",
    "Dataset",
    "DatasetSpec",
    "Encoding",
    "EncodingSpec",
    "ImporterSpec",
    "ModelKind",
    "ModelSpec",
    "Gate",
    "Option",
    "Optimizer",
    "OptimizerResult",
    "OptimizerSpec",
    "OptimizerStep",
    "PanelSpec",
    "PluginError",
    "Problem",
    "hookimpl",
    "hookspec",
]
