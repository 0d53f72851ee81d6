"""What plugins hand to QML Studio: small declarative descriptors with lazy factories.

A hook returns a list of descriptors (an :class:`EncodingSpec`, an :class:`AnsatzSpec`...).
Each has a unique ``name``, a ``title`` and ``description`` for people, its declared
:class:`~qmlstudio.core.options.Option`\\ s, and a ``factory``: either a callable or an
import path ``"package.module:attribute"`` that is imported only when the thing is used,
so that listing plugins never imports heavy libraries such as qiskit-aer.

``spec.create(options)`` checks the options, imports the factory and calls it with them
as keyword arguments. What the factory returns is described by the abstract classes at the
bottom of this module (:class:`Encoding`, :class:`Ansatz`, :class:`Optimizer`,
:class:`Backend`); a dataset factory returns a :class:`~qmlstudio.core.dataset.Dataset`.
"""

from __future__ import annotations

import abc
import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.dataset import Dataset, DatasetError
from qmlstudio.core.errors import OptionError, QMLStudioError
from qmlstudio.core.options import Option, resolve_options

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class PluginError(QMLStudioError):
    """A plugin is broken: it failed to import, raised in a hook or returned garbage."""


def load_reference(reference: str | Callable[..., Any]) -> Callable[..., Any]:
    """The object an import path ``"pkg.module:attr.sub"`` names (a callable is returned as is)."""
    if callable(reference):
        return reference
    module_name, sep, attribute = str(reference).partition(":")
    if not sep or not module_name or not attribute:
        raise PluginError(f"factory {reference!r} must look like 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except ImportError as exc:
        raise PluginError(f"cannot import {module_name!r} for {reference!r}: {exc}") from exc
    except AttributeError:
        raise PluginError(f"{module_name!r} has no {attribute!r} (from {reference!r})") from None
    except Exception as exc:  # noqa: BLE001 - the plugin's module raised while importing
        raise PluginError(f"importing {module_name!r} for {reference!r} failed: {type(exc).__name__}: {exc}") from exc
    if not callable(target):
        raise PluginError(f"{reference!r} is not callable")
    return target


@dataclass(frozen=True)
class Spec:
    """Common part of every descriptor."""

    name: str
    title: str
    factory: str | Callable[..., Any]
    description: str = ""
    options: tuple[Option, ...] = field(default=())

    kind: ClassVar[str] = "thing"
    #: the class ``create`` must return (looked up in this module), or "" for no check
    product: ClassVar[str] = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))

    def problems(self) -> list[str]:
        """What makes this descriptor malformed (empty when it is fine)."""
        found = []
        if not isinstance(self.name, str) or not NAME_PATTERN.match(self.name):
            found.append(f"{self.kind} name {self.name!r} must be lowercase letters, digits, '-' or '_'")
        if not isinstance(self.title, str) or not self.title:
            found.append(f"{self.kind} {self.name!r} needs a title")
        if not (callable(self.factory) or (isinstance(self.factory, str) and ":" in self.factory)):
            found.append(f"{self.kind} {self.name!r}: factory must be callable or 'module:attribute'")
        if not all(isinstance(o, Option) for o in self.options):
            found.append(f"{self.kind} {self.name!r}: options must be Option objects")
        return found

    def resolve(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The options with defaults filled in and every value checked."""
        return resolve_options(self.options, options, owner=f"{self.kind} {self.name!r}")

    def create(self, options: Mapping[str, Any] | None = None) -> Any:
        """Imports the factory and calls it with the checked options.

        The guarded boundary into plugin code: an exception in the factory, or an object of
        the wrong kind returned, becomes a :class:`PluginError` naming the plugin, this spec
        and its factory (a message, never a traceback); Ctrl-C and QML Studio's own errors
        pass. What it returns is guarded too (:func:`qmlstudio.plugins.guard.guard`): every
        later call into it names the plugin when it fails or returns garbage.
        """
        from qmlstudio.plugins.guard import guard

        resolved = self.resolve(options)
        factory = load_reference(self.factory)
        try:
            made = factory(**resolved)
        except QMLStudioError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a plugin's factory may raise anything
            raise PluginError(f"{self._who()} failed to start: {type(exc).__name__}: {exc}") from exc
        expected = globals().get(self.product) if self.product else None
        if expected is not None and not isinstance(made, expected):
            raise PluginError(f"{self._who()} returned {type(made).__name__}, not {_article(self.product)}")
        return guard(made, self._who())

    @property
    def plugin(self) -> str | None:
        """The plugin that provides this descriptor (set when a registry takes it), or None."""
        return self.__dict__.get("_plugin")

    def _who(self) -> str:
        from qmlstudio.plugins.guard import describe

        where = self.factory if isinstance(self.factory, str) else getattr(self.factory, "__module__", None)
        return describe(self.plugin, self.kind, self.name, where)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description, for ``qmlstudio plugins --json`` and the GUI."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "options": [o.to_dict() for o in self.options],
        }


@dataclass(frozen=True)
class EncodingSpec(Spec):
    """An encoding: how a row of features becomes the angles of a data circuit.

    ``factory(**options)`` returns an :class:`Encoding`.
    """

    kind: ClassVar[str] = "encoding"
    product: ClassVar[str] = "Encoding"


@dataclass(frozen=True)
class AnsatzSpec(Spec):
    """A trainable layer template the editor can insert; ``factory(**options)`` returns an :class:`Ansatz`."""

    kind: ClassVar[str] = "ansatz"
    product: ClassVar[str] = "Ansatz"


@dataclass(frozen=True)
class OptimizerSpec(Spec):
    """An optimizer; ``factory(**options)`` returns an :class:`Optimizer`.

    ``uses_gradient`` says whether it asks for gradients (gradient-free ones run on any
    backend, including shot-based and hardware ones).
    """

    uses_gradient: bool = True
    kind: ClassVar[str] = "optimizer"
    product: ClassVar[str] = "Optimizer"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "uses_gradient": self.uses_gradient}


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """A dataset; ``factory(**options)`` returns a :class:`~qmlstudio.core.dataset.Dataset`.

    ``task`` is ``"classification"`` or ``"regression"``; ``images`` marks image data.
    """

    task: str = "classification"
    images: bool = False
    #: the interval every feature already lies in when the values are meant as they are (the
    #: ad-hoc data lies in [0, 2π]: its classes are defined through those angles); None
    #: when the data has no natural range and any scaling is fair
    natural_range: tuple[float, float] | None = None
    #: the scaling a new project uses (``"none"``, ``"minmax-pi"``, ``"minmax-sym"``,
    #: ``"standardize"``); ``"none"`` for data with a natural range
    default_scaling: str = "minmax-pi"
    kind: ClassVar[str] = "dataset"

    def problems(self) -> list[str]:
        found = super().problems()
        if self.default_scaling not in ("none", "minmax-pi", "minmax-sym", "standardize"):
            found.append(f"dataset {self.name!r}: default_scaling {self.default_scaling!r} is not a scaling")
        if self.natural_range is not None:
            try:
                low, high = (float(v) for v in self.natural_range)
            except (TypeError, ValueError):
                found.append(f"dataset {self.name!r}: natural_range must be two numbers (low, high)")
            else:
                if not low < high:
                    found.append(f"dataset {self.name!r}: natural_range needs low < high")
        return found

    def scaling_warning(self, scaling: str) -> str | None:
        """Why ``scaling`` destroys this dataset's structure, or None when it does not.

        Rescaling data that declares a natural range moves its points off the angles its
        classes are defined by (the ad-hoc data scaled to [0, π] falls to chance accuracy).
        """
        if self.natural_range is None or scaling == "none" or scaling == self.default_scaling:
            return None
        low, high = self.natural_range
        return (
            f"dataset {self.name!r} already lies in its natural range [{_angle_text(low)}, {_angle_text(high)}], "
            f"which its classes are defined by; scaling {scaling!r} rescales the features and destroys that "
            f"structure (expect chance accuracy). Use scaling 'none' (its default)."
        )

    def create(self, options: Mapping[str, Any] | None = None) -> Dataset:
        try:
            data = super().create(options)
        except DatasetError as exc:
            if not _raised_by_dataset_checks(exc):
                raise  # the plugin's own message (a file it cannot read...)
            # garbage handed to Dataset(...): say whose it is, keeping the class callers catch
            raise DatasetError(f"{self._who()} made unusable data: {exc}") from exc
        if not isinstance(data, Dataset):
            raise PluginError(f"{self._who()} returned {type(data).__name__}, not a Dataset")
        return data

    def to_dict(self) -> dict[str, Any]:
        natural = None if self.natural_range is None else [float(v) for v in self.natural_range]
        return {**super().to_dict(), "task": self.task, "images": self.images, "natural_range": natural,
                "default_scaling": self.default_scaling}


def _raised_by_dataset_checks(exc: BaseException) -> bool:
    """Whether ``exc`` came from the checks of ``Dataset(...)`` itself (not from the plugin's code)."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    code = frame.tb_frame.f_code
    return code.co_name == "__post_init__" and frame.tb_frame.f_globals.get("__name__") == "qmlstudio.core.dataset"


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "AEIOU" else "a ") + noun


def _angle_text(value: float) -> str:
    """``6.283185307179586`` → ``2π``: multiples of π/4 as people write them."""
    quarters = value / (np.pi / 4)
    if abs(quarters - round(quarters)) > 1e-9:
        return f"{value:g}"
    q = int(round(quarters))
    if q == 0:
        return "0"
    whole, rest = divmod(q, 4)
    if rest == 0:
        return "π" if whole == 1 else f"{whole}π"
    return f"{q}π/4" if q % 2 else f"{q // 2}π/2"


@dataclass(frozen=True)
class BackendSpec(Spec):
    """Where circuits run; ``factory(**options)`` returns a :class:`Backend`.

    ``available`` is a callable (or import path) that returns ``None`` when the backend can
    be used here, or a sentence saying why not (a missing package, no GPU, no account).
    It must be cheap and must not import the backend's heavy dependencies.

    ``positional`` names the option that the ``ARG`` of a backend choice sets
    (``aer-noise:fake_manila`` sets ``fake_backend``; see
    :func:`qmlstudio.workflow.parse_backend_choice`); ``None`` when the
    backend takes no ``ARG``.
    """

    available: str | Callable[[], str | None] | None = None
    positional: str | None = None
    #: a callable (or import path) given the resolved options that returns ``None`` when
    #: the backend applies all of them, or a sentence saying which one it cannot apply
    #: (mitigation that its path never uses, say); such options are refused, never stored
    refuse: str | Callable[[Mapping[str, Any]], str | None] | None = None
    #: a callable (or import path) returning ``{option: {choice: reason}}``: the choices of
    #: ``choice`` options that cannot be used here and why ("GPU": "no GPU found"); the
    #: window disables them with the reason. It may import the backend's libraries.
    choice_reasons: str | Callable[[], Mapping[str, Mapping[str, str | None]]] | None = None
    kind: ClassVar[str] = "backend"
    product: ClassVar[str] = "Backend"

    def resolve(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The options checked, with defaults; refuses options the backend would not apply.

        Error-mitigation options given to a backend that declares none get a message that
        says so (not only "unknown option"), and the spec's ``refuse`` check runs on the result.
        """
        given = dict(options or {})
        declared = {o.name for o in self.options}
        mitigation = sorted(name for name in given if name in MITIGATION_OPTIONS and name not in declared)
        own = sorted(declared & MITIGATION_OPTIONS)
        if mitigation and own:
            raise OptionError(
                f"backend {self.name!r} does not apply {', '.join(mitigation)}, so {'it' if len(mitigation) == 1 else 'they'}"
                f" would never take effect: its error mitigation is {', '.join(own)} (applied when a trained run is "
                "evaluated)"
            )
        if mitigation:
            raise OptionError(
                f"backend {self.name!r} applies no error mitigation, so {', '.join(mitigation)} would never take "
                f"effect: remove {'it' if len(mitigation) == 1 else 'them'} (readout mitigation and zero-noise "
                f"extrapolation exist on aer-noise and noisy-exact, applied when a trained run is evaluated)"
            )
        resolved = super().resolve(given)
        if self.refuse is not None:
            from qmlstudio.plugins.guard import call

            reason = call(self._who(), "its refuse() check", load_reference(self.refuse), resolved)
            if reason and not isinstance(reason, str):
                raise PluginError(f"{self._who()} failed in its refuse() check: returned {type(reason).__name__}, "
                                  f"not None or a message")
            if reason:
                raise OptionError(f"backend {self.name!r}: {reason}")
        return resolved

    def problems(self) -> list[str]:
        found = super().problems()
        if self.positional is not None and self.positional not in {o.name for o in self.options if isinstance(o, Option)}:
            found.append(f"backend {self.name!r}: positional option {self.positional!r} is not one of its options")
        return found

    def unusable_choices(self) -> dict[str, dict[str, str]]:
        """``{option: {choice: reason}}`` for the choices that cannot be used here (never raises)."""
        if self.choice_reasons is None:
            return {}
        try:
            found = load_reference(self.choice_reasons)()
            return {str(option): {str(c): str(r) for c, r in dict(reasons).items() if r}
                    for option, reasons in dict(found).items()}
        except Exception:  # noqa: BLE001 - a broken check must not break the settings; it disables nothing
            return {}

    def unavailable_reason(self) -> str | None:
        if self.available is None:
            return None
        try:
            return load_reference(self.available)()
        except Exception as exc:  # a broken check must not break the listing
            return f"its availability check failed: {exc}"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "unavailable": self.unavailable_reason(), "positional": self.positional}


@dataclass(frozen=True)
class PanelSpec(Spec):
    """An extra dock widget. ``factory(main_window)`` returns a QWidget; it is imported only by the GUI.

    ``area`` is ``"left"``, ``"right"`` or ``"bottom"``.
    """

    area: str = "right"
    kind: ClassVar[str] = "panel"

    def create(self, options: Mapping[str, Any] | None = None) -> Any:  # pragma: no cover - GUI only
        raise PluginError("panels are created by the GUI with create_widget(main_window)")

    def create_widget(self, main_window: Any) -> Any:
        return load_reference(self.factory)(main_window)


@dataclass(frozen=True)
class ImporterSpec(Spec):
    """A way to import a user's file as a dataset: one entry in the dataset panel's Import menu.

    ``title`` is the menu label ("CSV table…"), ``dataset`` the name of the dataset (from any
    plugin's ``qmlstudio_datasets``) that the import configures, ``file_filter`` the file
    dialog's filter (Qt's ``"Tables (*.csv);;All files (*)"`` syntax, plain text).
    ``factory(path)`` is Qt-free: it reads and checks the file and returns the dataset's
    options for it (a dict), or raises :class:`~qmlstudio.core.dataset.DatasetError` with
    a message for people.

    ``preview`` (optional, callable or import path) is ``preview(path, delimiter="auto",
    header="auto", rows=50)`` returning ``{"delimiter", "header", "columns", "rows": [(line,
    cells)]}`` for table files: an importer that has one is shown the table dialog (label and
    feature columns, missing values), whose options follow the ``csv`` dataset's
    (``path``, ``delimiter``, ``header``, ``label_column``, ``feature_columns``...).
    """

    dataset: str = ""
    file_filter: str = "All files (*)"
    preview: str | Callable[..., dict] | None = None
    kind: ClassVar[str] = "importer"

    def problems(self) -> list[str]:
        found = super().problems()
        if not isinstance(self.dataset, str) or not NAME_PATTERN.match(self.dataset):
            found.append(f"importer {self.name!r} must name the dataset it configures")
        if not isinstance(self.file_filter, str) or not self.file_filter:
            found.append(f"importer {self.name!r} needs a file filter")
        return found

    def create(self, options: Mapping[str, Any] | None = None) -> Any:
        raise PluginError("an importer reads a file: call read(path)")

    def read(self, path: str) -> dict[str, Any]:
        """The dataset's options for the file at ``path`` (the factory's checks included)."""
        from qmlstudio.plugins.guard import call

        options = call(self._who(), "read()", load_reference(self.factory), path)
        if not isinstance(options, Mapping):
            raise PluginError(f"importer {self.name!r} returned {type(options).__name__}, not the dataset's options")
        return dict(options)

    def preview_function(self) -> Callable[..., dict] | None:
        return None if self.preview is None else load_reference(self.preview)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "dataset": self.dataset, "file_filter": self.file_filter,
                "table": self.preview is not None}


@dataclass(frozen=True)
class AccountSpec(Spec):
    """The account a backend needs (a token, a channel, an instance), edited in the window.

    ``backend`` names the backend it serves. ``factory()`` returns the Qt-free account
    object the account dialog calls: ``load_token() -> (token | None, source)``,
    ``store_token(token, remember=True)`` (to the system keyring; returns an object with
    ``location`` and ``message``), ``forget_token()``, ``keyring_status()`` (``usable``,
    ``message``) and ``check_account(channel, instance, token)`` returning the devices
    (``name``, ``qubits``, ``operational``, ``status``, ``pending_jobs``, ``simulator``). Secrets never
    go into projects, settings or logs.
    """

    backend: str = ""
    kind: ClassVar[str] = "account"

    def problems(self) -> list[str]:
        found = super().problems()
        if not isinstance(self.backend, str) or not NAME_PATTERN.match(self.backend):
            found.append(f"account {self.name!r} must name the backend it serves")
        return found

    def create(self, options: Mapping[str, Any] | None = None) -> Any:
        return load_reference(self.factory)()

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "backend": self.backend}


@dataclass(frozen=True)
class ModelSpec(Spec):
    """A model kind beyond the built-in ones (``vqc``, ``regressor``, ``kernel``): for example a
    hybrid quantum-classical network. ``factory(**options)`` returns a :class:`ModelKind`,
    whose ``build_run`` makes the run that trains it.

    ``unavailable`` is a one-line reason the kind cannot be used on this machine (a missing
    optional dependency, with how to install it), or ``""``: the window shows the kind
    disabled with it, and a run of it is refused with it. Decide it without importing the
    dependency (``importlib.util.find_spec``), so that loading plugins stays fast.
    """

    unavailable: str = ""
    kind: ClassVar[str] = "model"
    product: ClassVar[str] = "ModelKind"

    def problems(self) -> list[str]:
        found = super().problems()
        if self.name in ("vqc", "regressor", "kernel"):
            found.append(f"model {self.name!r} is a built-in kind: choose another name")
        if not isinstance(self.unavailable, str):
            found.append(f"model {self.name!r}: unavailable must be text")
        return found

    def create(self, options: Mapping[str, Any] | None = None) -> Any:
        if self.unavailable:
            raise PluginError(f"model {self.name!r} is not available here: {self.unavailable}")
        return super().create(options)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "unavailable": self.unavailable}


# ---------------------------------------------------------------------------
# What factories return
# ---------------------------------------------------------------------------
class Encoding(abc.ABC):
    """A way of loading a feature row into qubits, as a bindable circuit template.

    The circuit uses data inputs ``x[0] .. x[m-1]`` and no weights; ``transform`` maps raw
    feature rows to the ``m`` values bound to them (the identity for angle encoding; the
    state-preparation angles for amplitude encoding), so the same template serves every
    sample of a batch.
    """

    #: how many times the encoding is repeated between ansatz layers (data re-uploading)
    repetitions: int = 1

    @abc.abstractmethod
    def num_qubits(self, num_features: int) -> int:
        """Qubits needed for ``num_features`` features."""

    def num_inputs(self, num_features: int) -> int:
        """Length of the input vector ``x`` the circuit uses (default: one per feature)."""
        return num_features

    @abc.abstractmethod
    def circuit(self, num_features: int) -> CircuitDesign:
        """The encoding circuit over inputs ``x[j]``."""

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Values bound to ``x`` for a batch of feature rows (samples × features)."""
        return np.asarray(features, dtype=float)

    def check(self, num_features: int) -> str | None:
        """``None`` when ``num_features`` features can be encoded, else why not."""
        return None


class Ansatz(abc.ABC):
    """A trainable layer template."""

    @abc.abstractmethod
    def build(self, num_qubits: int) -> CircuitDesign:
        """The template on ``num_qubits`` qubits with weights ``θ[0] .. θ[n-1]``."""


@dataclass
class OptimizerStep:
    """What an optimizer reports after each iteration."""

    iteration: int
    x: np.ndarray
    loss: float
    grad_norm: float | None = None
    evaluations: int = 0


@dataclass
class OptimizerResult:
    x: np.ndarray
    loss: float
    iterations: int
    stopped: bool = False
    message: str = ""


class Problem(abc.ABC):
    """The objective an optimizer minimizes (the engine provides it)."""

    @abc.abstractmethod
    def value(self, x: np.ndarray) -> float:
        """The loss at ``x``."""

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """The loss and its gradient at ``x``."""
        raise NotImplementedError


class Optimizer(abc.ABC):
    """Minimizes a :class:`Problem`, reporting every iteration.

    ``callback(step)`` is called after each iteration; when it returns ``True`` the
    optimizer stops at once and returns what it has. Evaluations may also raise (the engine
    raises to cancel); the optimizer lets such exceptions through.
    """

    uses_gradient: bool = True
    #: where the loss (and gradient norm) of each reported step was measured:
    #: ``"before_step"`` (at the weights the step started from), ``"after_step"`` (at the
    #: step's ``x``), ``"around_before_step"`` (an estimate from points near the starting
    #: weights, as SPSA's), or None (not declared; runs record it as ``"unknown"``)
    loss_at: str | None = None

    @abc.abstractmethod
    def minimize(
        self,
        problem: Problem,
        x0: np.ndarray,
        *,
        max_iterations: int,
        callback: Callable[[OptimizerStep], bool | None] | None = None,
    ) -> OptimizerResult:
        """Runs at most ``max_iterations`` iterations from ``x0``."""


class ModelKind(abc.ABC):
    """What a :class:`ModelSpec`'s factory returns: builds the run that trains the model.

    ``build_run`` receives the project's prepared data (``data``: the splits, as the
    built-in models get them), the model circuit (``model``: the encoding and the circuit,
    :class:`~qmlstudio.core.models.ModelCircuit`, for as many inputs as fill the circuit's
    qubits: the model maps the data's features to them), the backend object, the run's ``config``
    (recorded), ``epochs``, ``batch_size`` and ``seed``, the project's ``training`` settings and
    ``optimizer`` choice (``name``, ``options``: the model applies it or refuses it),
    a ``callback`` for each iteration's report and the run's ``controls``; it returns an
    object answering the :class:`~qmlstudio.core.control.Run` protocol, which the window, the
    CLI and studies run like the built-in runs.
    """

    @abc.abstractmethod
    def build_run(self, **context: Any) -> Any:
        """The run (see the class)."""

    def problem(self, data: Any, model: Any, backend: Any, optimizer: Any = None) -> str | None:
        """Why this model cannot be trained on this data, circuit, backend and optimizer (the
        project's choice: ``name`` and ``options``), or None."""
        return None

    def parts(self, num_features: int, num_inputs: int, num_qubits: int, num_classes: int | None = None,
              image_shape: tuple[int, int] | None = None) -> dict[str, dict[str, Any]]:
        """The model's classical parts around the circuit, for the canvas: ``{"front": …,
        "head": …}`` (either may be missing), each a dict with ``title`` (text), ``lines`` (a few
        short lines: layers and widths), ``parameters`` (int) and ``options`` (the names of the
        model options that shape it, which the inspector edits), for ``num_features`` data
        features, a circuit of ``num_inputs`` inputs on ``num_qubits`` qubits,
        ``num_classes`` classes (None: not known yet) and the data's ``image_shape`` (when its
        rows are images). Called in the window: it must
        be quick and import nothing heavy. Default: no parts."""
        return {}


class Backend(abc.ABC):
    """Hands the engine qiskit V2 primitives and the pass manager for the circuits they run."""

    #: exact expectation values (no shot noise), so exact gradients are meaningful
    exact: bool = False
    #: QML Studio's own compiled statevector simulator computes this backend's values,
    #: adjoint gradients and kernel states (the built-in ``statevector`` backend): the
    #: engine does not call its primitives for training, evaluation or kernels. Every
    #: other backend (``aer-statevector`` included) runs its own primitives.
    engine: bool = False
    #: shots per circuit, or None for exact backends
    shots: int | None = None

    @abc.abstractmethod
    def estimator(self) -> Any:
        """A ``qiskit.primitives.BaseEstimatorV2``."""

    @abc.abstractmethod
    def sampler(self) -> Any:
        """A ``qiskit.primitives.BaseSamplerV2``."""

    def pass_manager(self) -> Any:
        """A pass manager that turns circuits into what the primitives accept."""
        from qiskit.transpiler import generate_preset_pass_manager

        return generate_preset_pass_manager(optimization_level=1, basis_gates=None)

    def cancel(self) -> None:
        """Asks work in flight to stop (the user pressed Stop); the default does nothing.

        Called from any thread (the GUI's, a signal handler): it must return at once. A
        backend with remote jobs sets a flag here and cancels them on the thread that
        waits for them, which then raises a ``QMLStudioError``.
        """

    def close(self) -> None:
        """Releases what a run held (a hardware session or batch); the default does nothing.

        The engine calls it when a run ends; the backend may still be used afterwards
        (it opens what it needs again).
        """

    def describe(self) -> str:
        return type(self).__name__

    def training_problem(self) -> str | None:
        """Why this backend, as configured, cannot train (an option that applies only when a
        trained run is evaluated, such as error mitigation), or ``None``. Training is refused
        with this sentence before anything runs; the default has none."""
        return None

    def mitigation_cost(self, rows: int, measured_qubits: int) -> dict[str, int]:
        """The circuits and shots the mitigations add when ``rows`` samples of a circuit measuring
        ``measured_qubits`` qubits are evaluated (told before the evaluation runs):
        ``zne_circuits`` (at the evaluation's shots), ``calibration_circuits`` and
        ``calibration_shots``; the default adds none."""
        return {}

    def mitigations(self, evaluator: Any) -> list[Any]:
        """The error mitigations to apply when ``evaluator``'s trained model is evaluated; the
        default has none. Each is an object with a ``name`` and either
        ``correct(probabilities, shots) -> probabilities`` (readout mitigation on counts) or
        ``collect(sample_circuits, bound_circuits) -> [probabilities per scale]`` and
        ``extrapolate([values per scale]) -> values`` with ``scales`` (zero-noise
        extrapolation); see :mod:`qmls_aer.mitigation`."""
        return []


#: Names of error-mitigation options (qiskit-ibm-runtime's): a backend that does not declare
#: them refuses them with a message saying it applies no mitigation.
MITIGATION_OPTIONS = frozenset({
    "resilience_level", "resilience", "twirling", "dynamical_decoupling", "dd_sequence",
    "zne", "zne_mitigation", "pec", "pec_mitigation", "measure_mitigation", "mitigation",
})


SPEC_TYPES: dict[str, type[Spec]] = {
    "qmlstudio_encodings": EncodingSpec,
    "qmlstudio_ansatze": AnsatzSpec,
    "qmlstudio_optimizers": OptimizerSpec,
    "qmlstudio_datasets": DatasetSpec,
    "qmlstudio_backends": BackendSpec,
    "qmlstudio_panels": PanelSpec,
    "qmlstudio_importers": ImporterSpec,
    "qmlstudio_accounts": AccountSpec,
    "qmlstudio_models": ModelSpec,
}


def spec_names(specs: Sequence[Spec]) -> list[str]:
    return [s.name for s in specs]
