"""Declared options of a plugin-provided thing (an encoding's rotation, an optimizer's learning rate...).

An :class:`Option` says a name, a type, a default and the allowed range or choices. The
GUI builds its forms from them, the CLI and project files pass values through
:func:`resolve_options`, which fills in defaults and gives one clear error per bad value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from qmlstudio.core.errors import OptionError

OPTION_TYPES = ("int", "float", "bool", "choice", "str", "path")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Option:
    """One option: ``Option("reps", "int", 2, minimum=1, maximum=20, help="layers")``."""

    name: str
    type: str
    default: Any = None
    title: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = field(default=())
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise OptionError(f"option {self.name!r}: type must be one of {', '.join(OPTION_TYPES)}")
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.type == "choice" and not self.choices:
            raise OptionError(f"option {self.name!r}: a choice option needs choices")
        if self.default is not None or not self.nullable:
            object.__setattr__(self, "default", self.coerce(self.default))

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """The value converted to this option's type, or :class:`OptionError` saying why not.

        Text is accepted for every type, so values typed on a command line work.
        """
        if self.nullable and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))):
            return None
        try:
            result = _CONVERT[self.type](self, value)
        except (TypeError, ValueError):
            raise OptionError(f"option {self.name!r}: {self._expected()}, got {value!r}") from None
        if self.type in ("int", "float"):
            if (self.minimum is not None and result < self.minimum) or (
                self.maximum is not None and result > self.maximum
            ):
                raise OptionError(f"option {self.name!r}: {self._expected()}, got {value!r}")
        if self.type == "choice" and result not in self.choices:
            raise OptionError(
                f"option {self.name!r}: expected one of {', '.join(map(str, self.choices))}, got {value!r}"
            )
        return result

    def _expected(self) -> str:
        kind = {"int": "a whole number", "float": "a number", "bool": "true or false",
                "choice": "one of the choices", "str": "text", "path": "a file path"}[self.type]
        bounds = []
        if self.minimum is not None:
            bounds.append(f"≥ {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"≤ {self.maximum:g}")
        return "expected " + kind + (" " + " and ".join(bounds) if bounds else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for ``qmlstudio plugins --json`` and the plugin guide)."""
        data: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default}
        for key in ("title", "help", "minimum", "maximum"):
            value = getattr(self, key)
            if value not in ("", None):
                data[key] = value
        if self.choices:
            data["choices"] = list(self.choices)
        return data


def _to_int(option: Option, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    if isinstance(value, int):
        return value
    raise TypeError


def _to_float(option: Option, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    result = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(result):
        raise ValueError
    return result


def _to_bool(option: Option, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError


def _to_choice(option: Option, value: Any) -> Any:
    if isinstance(value, str):
        for choice in option.choices:
            if str(choice) == value.strip():
                return choice
    return value


def _to_str(option: Option, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


_CONVERT = {
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "choice": _to_choice,
    "str": _to_str,
    "path": _to_str,
}


def resolve_options(declared: Iterable[Option], given: Mapping[str, Any] | None, owner: str = "") -> dict[str, Any]:
    """Defaults overlaid with ``given``, each value checked; unknown names are an error."""
    declared = list(declared)
    by_name = {o.name: o for o in declared}
    given = dict(given or {})
    prefix = f"{owner}: " if owner else ""
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(by_name) or "none"
        raise OptionError(f"{prefix}unknown option(s) {', '.join(unknown)} (known: {known})")
    result = {}
    for option in declared:
        try:
            result[option.name] = option.coerce(given[option.name]) if option.name in given else option.default
        except OptionError as exc:
            raise OptionError(prefix + str(exc)) from None
    return result


def parse_option_text(items: Iterable[str]) -> dict[str, str]:
    """``["reps=3", "rotation=rx"]`` (as typed after ``--option``) to a dict of texts."""
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise OptionError(f"expected NAME=VALUE, got {item!r}")
        result[name.strip()] = value.strip()
    return result
