"""Choosing a subset of classes by value, as typed in a text option ("0,1" or "3, 5, 8")."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from qmlstudio.core.dataset import DatasetError


def parse_class_selection(text: str, available: Iterable[int]) -> list[int]:
    """The class values named in ``text`` (sorted), or all of ``available`` when it is empty.

    Raises :class:`DatasetError` for something that is not a whole number, a value the data
    does not have, or fewer than two classes.
    """
    available = sorted({int(v) for v in available})
    text = (text or "").strip()
    if not text:
        chosen = available
    else:
        chosen_set = set()
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                value = int(part)
            except ValueError:
                raise DatasetError(
                    f"classes: {part!r} is not a whole number; write the classes to keep like '0,1'"
                ) from None
            if value not in available:
                raise DatasetError(
                    f"classes: there is no class {value} in the data (it has {_list(available)})"
                )
            chosen_set.add(value)
        chosen = sorted(chosen_set)
    if len(chosen) < 2:
        raise DatasetError(
            f"classes: a classifier needs at least two classes, got {_list(chosen) or 'none'}"
        )
    return chosen


def select_classes(labels: np.ndarray, chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose label is in ``chosen`` (a boolean mask) and those labels renumbered 0..len(chosen)-1."""
    labels = np.asarray(labels)
    mask = np.isin(labels, chosen)
    lookup = {value: index for index, value in enumerate(chosen)}
    renumbered = np.array([lookup[int(v)] for v in labels[mask]], dtype=int)
    return mask, renumbered


def _list(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)
