"""How the project file's JSON values are read: one checked reader per kind of value.

Each reader (``_text``, ``_whole``, ``_real``, ``_object``...) takes a value and the path of
its field (``runs[2].metrics.loss``) and returns it checked, or raises :class:`ProjectError`
naming the field and what is wrong with it. Split from :mod:`qmlstudio.core.project`, which
re-exports :class:`ProjectError`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from qmlstudio.core.errors import QMLStudioError

__all__ = ["MAX_SEED", "ProjectError"]

#: The largest seed NumPy and scikit-learn take (a project's seed, ``--seed``).
MAX_SEED = 2**32 - 1


_MAX_DEPTH = 32


class ProjectError(QMLStudioError, ValueError):
    """A project cannot be read or written.

    ``problem`` says what is wrong, ``field`` is the path of the field it is about
    (``"runs[2].metrics.loss"``, or None for the file as a whole) and ``file`` the project
    file (None for a dict that did not come from a file). ``str(error)`` joins them into
    one message for the user.
    """

    def __init__(
        self,
        problem: str,
        field: str | None = None,
        file: str | os.PathLike[str] | None = None,
        action: str = "open",
    ) -> None:
        self.problem = problem
        self.field = field
        self.file = None if file is None else os.fspath(file)
        self.action = action
        message = f"{field}: {problem}" if field else problem
        if self.file is not None:
            verb = "cannot save project to" if action == "save" else "cannot open project"
            message = f"{verb} '{self.file}': {message}"
        super().__init__(message)

    def inside(self, where: str) -> "ProjectError":
        """The same error with its field path put under ``where`` (``encoding`` + ``options.x``)."""
        if not self.field:
            inner = where
        elif self.field.startswith("["):
            inner = where + self.field
        else:
            inner = f"{where}.{self.field}"
        return ProjectError(self.problem, inner, self.file, self.action)

    def in_file(self, file: str | os.PathLike[str], action: str = "open") -> "ProjectError":
        """The same error naming the file it was found in."""
        return ProjectError(self.problem, self.field, file, action)


def _describe(value: Any) -> str:
    """A value in JSON words, for messages: ``text "abc"``, ``the number 3``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return "text " + json.dumps(shown, ensure_ascii=False)
    if isinstance(value, numbers.Number):
        return f"the number {value!r}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _fail(where: str | None, problem: str) -> None:
    raise ProjectError(problem, where or None)


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, f"expected text, got {_describe(value)}")
    return value


def _name(value: Any, where: str) -> str:
    _text(value, where)
    if not value.strip():
        _fail(where, "must not be empty")
    return value


def _whole(value: Any, where: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(where, f"expected a whole number, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        _fail(where, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        _fail(where, f"must be at most {maximum:,}, got {value:,}")
    return value


def _real(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, f"expected a number, got {_describe(value)}")
    if not math.isfinite(value):
        _fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"expected true or false, got {_describe(value)}")
    return value


def _one_of(value: Any, where: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed or not isinstance(value, str):
        _fail(where, f"expected one of {', '.join(repr(a) for a in allowed)}, got {_describe(value)}")
    return value


def _timestamp(value: Any, where: str) -> str:
    _text(value, where)
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        _fail(where, f"expected an ISO 8601 date and time such as '2025-01-31T12:00:00Z', got {_describe(value)}")
    return value


def _measure(value: Any, where: str) -> int | float | None:
    """A number that may be missing (null); non-finite floats stay in memory as they are."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, f"expected a number or null, got {_describe(value)}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _measure_json(value: Any) -> int | float | None:
    """A measure as JSON writes it: NaN and infinities (a diverged loss) become null."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _list(value: Any, where: str) -> list[Any]:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        _fail(where, f"expected a list, got {_describe(value)}")
    return value


def _object(value: Any, where: str, known: Iterable[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, f"expected an object {{...}}, got {_describe(value)}")
    for key in value:
        if not isinstance(key, str):
            _fail(where, f"field names must be text, got {_describe(key)}")
    if known is not None:
        known = tuple(known)
        for key in value:
            if key not in known:
                _fail(_join(where, key), f"unknown field (expected: {', '.join(known)})")
    return value


def _require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        _fail(_join(where, key), "missing")
    return data[key]


def _scalar(value: Any, where: str) -> Any:
    """A JSON scalar in normal form: text, a finite number, true/false or null."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _real(value, where)
    _fail(where, f"expected text, a number, true/false or null, got {_describe(value)}")


def _options(value: Any, where: str) -> dict[str, Any]:
    """Plugin options: names mapped to JSON scalars or flat lists of scalars, nothing deeper."""
    _object(value, where)
    result: dict[str, Any] = {}
    for key, item in value.items():
        path = _join(where, key)
        if isinstance(item, (list, tuple)):
            result[key] = [_options_item(x, _join(path, i)) for i, x in enumerate(item)]
        elif isinstance(item, Mapping):
            _fail(path, "options hold text, numbers, true/false, null or lists of those, not objects")
        else:
            result[key] = _scalar(item, path)
    return result


def _options_item(value: Any, where: str) -> Any:
    if isinstance(value, (list, tuple, Mapping)):
        _fail(where, "a list in the options may hold only text, numbers, true/false or null")
    return _scalar(value, where)


def _tree(value: Any, where: str, depth: int = 0) -> Any:
    """Any JSON value (objects with text keys, lists, scalars), copied, in normal form."""
    if depth > _MAX_DEPTH:
        _fail(where, f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        _object(value, where)
        return {k: _tree(v, _join(where, k), depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tree(v, _join(where, i), depth + 1) for i, v in enumerate(value)]
    return _scalar(value, where)


def _tree_json(value: Any) -> Any:
    """A free-form tree as JSON writes it (non-finite numbers become null)."""
    if isinstance(value, Mapping):
        return {str(k): _tree_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tree_json(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return _measure_json(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _built(where: str, build: Callable[[], Any]) -> Any:
    """Runs ``build`` and puts the field path of any ProjectError it raises under ``where``."""
    try:
        return build()
    except ProjectError as exc:
        raise exc.inside(where) from None
