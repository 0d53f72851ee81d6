"""The guarded boundary around what plugins make: every call into plugin code after creation.

:meth:`Spec.create <qmlstudio.plugins.descriptors.Spec.create>` hands back the plugin's
object with its class swapped for a guarded subclass made here (:func:`guard`): the object
keeps its own state, attributes and ``isinstance`` relations, but the calls the engine
makes into it — an encoding's ``check``, ``num_qubits``, ``num_inputs``, ``circuit`` and
``transform``, an ansatz's ``build``, an optimizer's ``minimize``, a backend's
``estimator``/``sampler``/``pass_manager`` and the ``run``/``result`` of what those return —
go through :func:`call`, which turns an exception or a garbage return value (wrong type or
shape, NaN where numbers are needed, a circuit wider than declared) into a
:class:`PluginFailure` that names the plugin, the part and the call::

    plugin 'acme' (encoding 'zigzag') failed in circuit(): ValueError: bad row

Exceptions the engine raises through plugin code (the problem an optimizer minimizes, the
callback it reports to: cancellation, a diverging loss, another plugin's failure) pass
through unchanged. ``KeyboardInterrupt`` passes too: at use time it is the user's Ctrl-C.
"""

from __future__ import annotations

import copyreg
from collections.abc import Callable
from typing import Any

import numpy as np

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import DesignError, QMLStudioError
from qmlstudio.plugins.descriptors import (
    Ansatz,
    Backend,
    Encoding,
    Optimizer,
    OptimizerResult,
    OptimizerStep,
    PluginError,
    Problem,
)

#: the largest number of qubits or inputs an answer may give (far beyond any simulator)
_MAX_COUNT = 10_000


class PluginFailure(PluginError):
    """A plugin's code failed or returned garbage while it was being used."""

    def __init__(self, who: str, what: str, detail: str) -> None:
        super().__init__(f"{who} failed in {what}: {detail}")
        self.who = who
        self.what = what
        self.detail = detail


def describe(plugin: str | None, kind: str, name: str, code: str | None = None) -> str:
    """``plugin 'acme' (encoding 'zigzag')``, or ``the encoding 'zigzag' (plugin code mod)``."""
    if plugin:
        return f"plugin {plugin!r} ({kind} {name!r})"
    return f"the {kind} {name!r}" + (f" (plugin code {code})" if code else "")


def who(obj: Any, default: str = "a plugin") -> str:
    """How a guarded object is named in messages (``default`` for anything else)."""
    return getattr(type(obj), "_qmls_who", None) or default


def _detail(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(label: str, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, with what it raises turned into a :class:`PluginFailure`.

    A :class:`~qmlstudio.core.errors.QMLStudioError` the plugin raises is a message it means
    for people (a dataset it cannot read, a cancelled hardware job) and passes unchanged;
    ``KeyboardInterrupt`` passes (the user's Ctrl-C).
    """
    try:
        return function(*args, **kwargs)
    except DesignError as exc:  # the plugin built an invalid circuit
        raise PluginFailure(label, what, str(exc)) from exc
    except QMLStudioError:  # a message the plugin means for people, or another plugin's failure
        raise
    except (Exception, SystemExit) as exc:
        raise PluginFailure(label, what, _detail(exc)) from exc


def _whole(label: str, what: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= int(value) <= _MAX_COUNT:
        raise PluginFailure(label, what, f"returned {_shown(value)}, not a whole number from {low} to {_MAX_COUNT}")
    return int(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return (text[:60] + "…") if len(text) > 60 else f"{text} ({type(value).__name__})"


# ---------------------------------------------------------------------------
# The guarded classes: mixins put in front of the plugin's own class
# ---------------------------------------------------------------------------
def _own(obj: Any, name: str) -> Any:
    """The plugin's own ``obj.name`` (its class's, under the guarded subclass)."""
    return getattr(super(type(obj), obj), name)


class _Guarded:
    """What every guarded class has. The classes below are not bases: their methods are
    copied into a subclass of the plugin's own class (a mixin in front of it would change
    the object's layout, and ``__class__`` could not be swapped)."""

    _qmls_who: str = ""
    _qmls_base: type = object

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copies and pickles are of the plugin's own class (unguarded: they are rebuilt, not used)
        cls = type(self)
        object.__setattr__(self, "__class__", cls._qmls_base)
        try:
            reduced = self.__reduce_ex__(protocol)
        finally:
            object.__setattr__(self, "__class__", cls)
        if isinstance(reduced, tuple) and reduced and reduced[0] is copyreg.__newobj__:
            reduced = (_new_object, *reduced[1:])
        elif isinstance(reduced, tuple) and reduced and reduced[0] is copyreg.__newobj_ex__:
            reduced = (_new_object_ex, *reduced[1:])
        return reduced


def _new_object(cls: type, *args: Any) -> Any:
    return cls.__new__(cls, *args)


def _new_object_ex(cls: type, args: tuple, kwargs: dict) -> Any:
    return cls.__new__(cls, *args, **kwargs)


class _GuardedEncoding(_Guarded):

    def check(self, num_features: int) -> str | None:
        found = call(self._qmls_who, "check()", _own(self, "check"), num_features)
        if found is not None and not isinstance(found, str):
            raise PluginFailure(self._qmls_who, "check()", f"returned {_shown(found)}, not None or a message")
        return found

    def num_qubits(self, num_features: int) -> int:
        found = call(self._qmls_who, "num_qubits()", _own(self, "num_qubits"), num_features)
        return _whole(self._qmls_who, "num_qubits()", found)

    def num_inputs(self, num_features: int) -> int:
        found = call(self._qmls_who, "num_inputs()", _own(self, "num_inputs"), num_features)
        return _whole(self._qmls_who, "num_inputs()", found, 0)

    def circuit(self, num_features: int) -> CircuitDesign:
        label = self._qmls_who
        design = call(label, "circuit()", _own(self, "circuit"), num_features)
        if not isinstance(design, CircuitDesign):
            raise PluginFailure(label, "circuit()", f"returned {type(design).__name__}, not a CircuitDesign")
        declared = self.num_qubits(num_features)
        if design.num_qubits > declared:
            raise PluginFailure(label, "circuit()", f"returned a circuit on {design.num_qubits} qubits, but "
                                f"num_qubits({num_features}) declares {declared}")
        if design.num_weights:
            raise PluginFailure(label, "circuit()", "returned a circuit with trainable weights θ; an encoding "
                                "uses only data inputs x")
        inputs = self.num_inputs(num_features)
        if design.num_inputs > inputs:
            raise PluginFailure(label, "circuit()", f"returned a circuit that uses x[{design.num_inputs - 1}], but "
                                f"num_inputs({num_features}) declares {inputs} inputs")
        reps = getattr(self, "repetitions", 1)
        if reps is not None and reps != 0:  # the engine reads "or 1"
            _whole(label, "its repetitions attribute", reps)
        return design

    def transform(self, features: np.ndarray) -> np.ndarray:
        label = self._qmls_who
        given = np.asarray(features, dtype=float)
        made = call(label, "transform()", _own(self, "transform"), features)
        try:
            values = np.asarray(made, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PluginFailure(label, "transform()", f"returned {type(made).__name__} that is not an array of "
                                f"numbers ({exc})") from None
        rows = given.shape[0] if given.ndim == 2 else None
        if values.ndim not in (1, 2) or (rows is not None and (values.ndim != 2 or values.shape[0] != rows)):
            raise PluginFailure(label, "transform()", f"returned shape {values.shape} for {given.shape} features "
                                f"(expected one row of values per sample)")
        num_features = given.shape[-1] if given.ndim else 0
        expected = self.num_inputs(num_features)
        if values.shape[-1] != expected:
            raise PluginFailure(label, "transform()", f"returned {values.shape[-1]} values per sample, but "
                                f"num_inputs({num_features}) declares {expected}")
        if np.all(np.isfinite(given)) and not np.all(np.isfinite(values)):
            raise PluginFailure(label, "transform()", "returned NaN or infinite values for finite features")
        return values


class _GuardedAnsatz(_Guarded):

    def build(self, num_qubits: int) -> CircuitDesign:
        label = self._qmls_who
        design = call(label, "build()", _own(self, "build"), num_qubits)
        if not isinstance(design, CircuitDesign):
            raise PluginFailure(label, "build()", f"returned {type(design).__name__}, not a CircuitDesign")
        if design.num_qubits > num_qubits:
            raise PluginFailure(label, "build()", f"returned a circuit on {design.num_qubits} qubits when asked for "
                                f"{num_qubits}")
        return design


class _EngineErrors:
    """Exceptions raised by the engine's side (problem, callback) while plugin code ran."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    def run(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            self.seen.append(exc)
            raise

    def raised(self, exc: BaseException) -> bool:
        return any(exc is e for e in self.seen)


class _ProblemView(Problem):
    """The engine's problem as the optimizer sees it: exceptions from it are the engine's."""

    def __init__(self, problem: Problem, errors: _EngineErrors) -> None:
        self._problem = problem
        self._errors = errors

    def value(self, x: np.ndarray) -> float:
        return self._errors.run(self._problem.value, x)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        return self._errors.run(self._problem.value_and_grad, x)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self._problem, name)
        if callable(attribute):
            return lambda *args, **kwargs: self._errors.run(attribute, *args, **kwargs)
        return attribute


def _check_point(label: str, what: str, x: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        point = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise PluginFailure(label, what, f"gave x = {_shown(x)}, not an array of numbers") from None
    if point.shape != shape:
        raise PluginFailure(label, what, f"gave x of shape {point.shape}; the weights have shape {shape}")
    return point


def _check_number(label: str, what: str, name: str, value: Any) -> None:
    """A number (NaN allowed: the engine reports a diverging loss itself)."""
    try:
        if isinstance(value, (str, bytes, bool)):
            raise TypeError
        float(value)
    except (TypeError, ValueError, OverflowError):
        raise PluginFailure(label, what, f"gave {name} = {_shown(value)}, not a number") from None


class _GuardedOptimizer(_Guarded):

    def minimize(self, problem: Problem, x0: np.ndarray, *, max_iterations: int,
                 callback: Callable[[OptimizerStep], bool | None] | None = None) -> OptimizerResult:
        label = self._qmls_who
        shape = np.shape(x0)
        errors = _EngineErrors()

        def report(step: Any) -> Any:
            what = "minimize() (a reported step)"
            try:
                for attribute in ("iteration", "x", "loss"):
                    if not hasattr(step, attribute):
                        raise PluginFailure(label, what, f"reported {type(step).__name__} without "
                                            f"{attribute!r}, not an OptimizerStep")
                _check_point(label, what, step.x, shape)
                _check_number(label, what, "the loss", step.loss)
                if isinstance(step.iteration, bool) or not isinstance(step.iteration, (int, np.integer)):
                    raise PluginFailure(label, what, f"gave iteration = {_shown(step.iteration)}, not a whole number")
                grad = getattr(step, "grad_norm", None)
                if grad is not None:
                    _check_number(label, what, "grad_norm", grad)
            except PluginFailure as exc:
                errors.seen.append(exc)
                raise
            return errors.run(callback, step) if callback is not None else None

        try:
            result = _own(self, "minimize")(_ProblemView(problem, errors), x0,
                                      max_iterations=max_iterations, callback=report)
        except BaseException as exc:
            if errors.raised(exc) or not isinstance(exc, (Exception, SystemExit)):
                raise
            raise PluginFailure(label, "minimize()", _detail(exc)) from exc
        what = "minimize()"
        if not all(hasattr(result, a) for a in ("x", "loss", "iterations")):
            raise PluginFailure(label, what, f"returned {type(result).__name__}, not an OptimizerResult")
        _check_point(label, what, result.x, shape)
        _check_number(label, what, "the loss", result.loss)
        return result


class _GuardedBackend(_Guarded):

    def estimator(self) -> Any:
        return _Primitive(self._qmls_who, "estimator()", call(self._qmls_who, "estimator()", _own(self, "estimator")))

    def sampler(self) -> Any:
        return _Primitive(self._qmls_who, "sampler()", call(self._qmls_who, "sampler()", _own(self, "sampler")))

    def pass_manager(self) -> Any:
        made = call(self._qmls_who, "pass_manager()", _own(self, "pass_manager"))
        if not callable(getattr(made, "run", None)):
            raise PluginFailure(self._qmls_who, "pass_manager()", f"returned {type(made).__name__}, which has no run()")
        return _PassManager(self._qmls_who, made)

    def close(self) -> None:
        call(self._qmls_who, "close()", _own(self, "close"))

    def describe(self) -> str:
        return str(call(self._qmls_who, "describe()", _own(self, "describe")))


class _Wrapper:
    """Forwards everything to the wrapped object; subclasses guard the calls that matter."""

    def __init__(self, label: str, target: Any) -> None:
        self._label = label
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name in ("_label", "_target"):  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self._target, name)


class _Primitive(_Wrapper):
    """A backend's estimator or sampler: ``run`` and its job's ``result`` are plugin code."""

    def __init__(self, label: str, what: str, target: Any) -> None:
        if not callable(getattr(target, "run", None)):
            raise PluginFailure(label, what, f"returned {type(target).__name__}, which has no run()")
        super().__init__(label, target)
        self._what = what.removesuffix("()")

    def run(self, pubs: Any, *args: Any, **kwargs: Any) -> Any:
        pubs = list(pubs)
        what = f"{self._what}.run()"
        job = call(self._label, what, self._target.run, pubs, *args, **kwargs)
        if not callable(getattr(job, "result", None)):
            raise PluginFailure(self._label, what, f"returned {type(job).__name__}, not a job with result()")
        return _Job(self._label, f"{self._what} job's result()", job, len(pubs), self._what == "estimator")


class _Job(_Wrapper):
    def __init__(self, label: str, what: str, target: Any, pubs: int, estimator: bool) -> None:
        super().__init__(label, target)
        self._what, self._pubs, self._estimator = what, pubs, estimator

    def result(self, *args: Any, **kwargs: Any) -> Any:
        label, what = self._label, self._what
        result = call(label, what, self._target.result, *args, **kwargs)
        try:
            count = len(result)
            items = [result[i] for i in range(count)]
        except Exception:  # noqa: BLE001 - anything that is not a sequence of PUB results
            raise PluginFailure(label, what, f"returned {type(result).__name__}, not a result per PUB") from None
        if count != self._pubs:
            raise PluginFailure(label, what, f"returned {count} results for {self._pubs} PUBs")
        for index, item in enumerate(items):
            data = getattr(item, "data", None)
            if data is None:
                raise PluginFailure(label, what, f"result {index} is {type(item).__name__}, which has no data")
            if self._estimator:
                try:
                    evs = np.asarray(data.evs, dtype=complex)
                except (AttributeError, TypeError, ValueError):
                    raise PluginFailure(label, what, f"result {index} has no expectation values (data.evs)") from None
                if not np.all(np.isfinite(evs)):
                    raise PluginFailure(label, what, f"result {index} has NaN or infinite expectation values")
        return result


class _PassManager(_Wrapper):
    def run(self, circuits: Any, *args: Any, **kwargs: Any) -> Any:
        from qiskit import QuantumCircuit

        made = call(self._label, "pass_manager().run()", self._target.run, circuits, *args, **kwargs)
        single = isinstance(circuits, QuantumCircuit)
        if single and not isinstance(made, QuantumCircuit):
            raise PluginFailure(self._label, "pass_manager().run()",
                                f"returned {type(made).__name__}, not a QuantumCircuit")
        return made


_MIXINS: dict[type, type] = {
    Encoding: _GuardedEncoding,
    Ansatz: _GuardedAnsatz,
    Optimizer: _GuardedOptimizer,
    Backend: _GuardedBackend,
}
_CLASSES: dict[tuple[type, str], type] = {}


def guard(obj: Any, label: str) -> Any:
    """``obj`` with every call the engine makes into it guarded (``label`` names it in messages).

    The object itself is returned, its class swapped for a subclass of its own class; objects
    of no known kind, objects already guarded and classes that cannot be subclassed this way
    are returned as they are.
    """
    if "_qmls_base" in type(obj).__dict__:
        return obj
    base = type(obj)
    mixin = next((m for abc_, m in _MIXINS.items() if isinstance(obj, abc_)), None)
    if mixin is None:
        return obj
    key = (base, label)
    cls = _CLASSES.get(key)
    if cls is None:
        try:
            methods = {k: v for c in (mixin, _Guarded) for k, v in vars(c).items() if callable(v)}
            cls = type(base)(base.__name__, (base,), {
                **methods, "__slots__": (), "__module__": base.__module__, "__qualname__": base.__qualname__,
                "_qmls_who": label, "_qmls_base": base,
            })
        except TypeError:  # a final class or a metaclass that refuses
            return obj
        _CLASSES[key] = cls
    try:
        object.__setattr__(obj, "__class__", cls)
    except TypeError:  # a layout the subclass cannot take (C extension types)
        return obj
    return obj


__all__ = ["PluginFailure", "call", "describe", "guard", "who"]

