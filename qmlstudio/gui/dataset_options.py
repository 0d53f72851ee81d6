"""A form built from a plugin's declared options (:class:`~qmlstudio.core.options.Option`).

Each option gets the editor its type calls for: a spin box with the declared range for
``int`` and ``float``, a check box for ``bool``, a combo box for ``choice``, a line edit for
``str`` and a line edit with a Browse button for ``path``. The option's ``help`` is the
tooltip. The form holds no values of its own beyond its editors: the owner sets them with
:meth:`OptionForm.set_values` and hears each edit, once it is committed (Enter, focus out,
a click), through :attr:`OptionForm.option_changed`.

:class:`CheckChips` is a list of check boxes that wrap like chips (classes, columns).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from qmlstudio.core.errors import OptionError
from qmlstudio.core.options import Option

_INT_LIMIT = 2**31 - 1  # what a QSpinBox holds


def format_number(value: float) -> str:
    """A float as people write it: ``0.01``, ``0.9``, ``1e-08``, ``2.5e+06``; never ``0.0000`` for a small one.

    Six significant digits, in scientific notation below 1e-4 and from 1e6 on (Python's ``g``).
    """
    return f"{float(value):.6g}"


class NumberSpinBox(QDoubleSpinBox):
    """A spin box for a float option that keeps and shows any magnitude (Adam's ε = 1e-08).

    A plain ``QDoubleSpinBox`` rounds its value to its decimals, so 1e-08 became 0.0000 and
    could not be typed. This one keeps full precision, shows :func:`format_number`, accepts
    scientific notation, and steps small values by factors of ten.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(323)  # no rounding: the most a QDoubleSpinBox allows

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt's name)
        return format_number(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text.strip().replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:  # noqa: D102
        from PySide6.QtGui import QValidator

        stripped = text.strip().replace(",", ".")
        try:
            value = float(stripped)
        except ValueError:
            partial = stripped in ("", "-", "+", ".") or stripped[-1:] in ("e", "E", "-", "+", ".")
            return (QValidator.State.Intermediate if partial else QValidator.State.Invalid), text, pos
        if not self.minimum() <= value <= self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802
        value = self.value()
        if value != 0 and abs(value) < self.singleStep():
            # 1e-08 → 1e-07 → … : an additive step would jump straight to the single step.
            self.setValue(min(self.maximum(), max(self.minimum(), value * 10.0**steps)))
            return
        super().stepBy(steps)


def _tooltip(option: Option) -> str:
    parts = [option.help] if option.help else []
    if option.type in ("int", "float") and (option.minimum is not None or option.maximum is not None):
        low = "" if option.minimum is None else f"{option.minimum:g}"
        high = "" if option.maximum is None else f"{option.maximum:g}"
        parts.append(f"Range: {low} … {high}")
    if option.default not in (None, ""):
        parts.append(f"Default: {option.default}")
    return "\n".join(parts)


def _wants_folder(option: Option) -> bool:
    words = f"{option.name} {option.title} {option.help}".lower()
    return "folder" in words or "directory" in words


class PathEdit(QWidget):
    """A line edit for a file (or folder) path with a Browse… button."""

    committed = Signal(str)

    def __init__(self, folder: bool = False, file_filter: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = folder
        self.file_filter = file_filter or "All files (*)"
        self.line = QLineEdit(self)
        self.line.setPlaceholderText("Choose a folder…" if folder else "Choose a file…")
        self.line.setClearButtonEnabled(True)
        self.browse = QToolButton(self)
        self.browse.setText("Browse…")
        self.browse.setToolTip("Choose the folder" if folder else "Choose the file")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.browse)
        self._last = ""
        self.line.editingFinished.connect(self._commit)
        self.browse.clicked.connect(self._choose)

    def text(self) -> str:
        return self.line.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802  (Qt naming)
        self._last = text
        self.line.setText(text)

    def _commit(self) -> None:
        if self.text() != self._last:
            self._last = self.text()
            self.committed.emit(self._last)

    def _choose(self) -> None:
        start = self.text()
        if self.folder:
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", start, self.file_filter)
        if chosen:
            self.line.setText(chosen)
            self._commit()


class OptionForm(QWidget):
    """Editors for a list of :class:`Option`\\ s, laid out as a form.

    :attr:`option_changed` ``(name, value)`` is emitted when the user commits a new value
    (already converted to the option's type). A value that does not convert (a nullable
    number typed as text) marks its editor and is not emitted.
    """

    option_changed = Signal(str, object)

    def __init__(
        self,
        options: Sequence[Option] = (),
        values: Mapping[str, Any] | None = None,
        file_filters: Mapping[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        # In a narrow dock a long label ("Zero-noise extrapolation (mitiq)") puts its field on
        # the next line instead of pushing the form past the dock's edge.
        self._layout.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self._options: dict[str, Option] = {}
        self._editors: dict[str, QWidget] = {}
        self._file_filters = dict(file_filters or {})
        self.set_options(options, values)

    # ------------------------------------------------------------------ API
    @property
    def options(self) -> list[Option]:
        return list(self._options.values())

    def editor(self, name: str) -> QWidget:
        """The editor of option ``name`` (a QSpinBox, QCheckBox, QComboBox, QLineEdit or PathEdit)."""
        return self._editors[name]

    def set_options(self, options: Sequence[Option], values: Mapping[str, Any] | None = None,
                    file_filters: Mapping[str, str] | None = None) -> None:
        """Rebuilds the form for ``options``, showing ``values`` (defaults where missing)."""
        if file_filters is not None:
            self._file_filters = dict(file_filters)
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._options = {o.name: o for o in options}
        self._editors = {}
        for option in options:
            editor = self._make_editor(option)
            editor.setObjectName(f"option_{option.name}")
            tip = _tooltip(option)
            editor.setToolTip(tip)
            label = QLabel(option.label)
            label.setToolTip(tip)
            label.setBuddy(editor if not isinstance(editor, PathEdit) else editor.line)
            self._layout.addRow(label, editor)
            self._editors[option.name] = editor
        self.set_values(values or {})

    def set_values(self, values: Mapping[str, Any]) -> None:
        """Shows ``values`` (an option missing from them shows its default) without emitting."""
        for name, option in self._options.items():
            value = values.get(name, option.default)
            editor = self._editors[name]
            with QSignalBlocker(editor):
                self._show(option, editor, value)

    def values(self) -> dict[str, Any]:
        """The values the editors show, converted to the options' types (unconvertible ones left out)."""
        result = {}
        for name, option in self._options.items():
            try:
                result[name] = self._read(option, self._editors[name])
            except OptionError:
                pass
        return result

    # ------------------------------------------------------------- editors
    def _make_editor(self, option: Option) -> QWidget:
        name = option.name
        if option.type == "int" and not option.nullable:
            box = QSpinBox()
            low = -_INT_LIMIT if option.minimum is None else max(-_INT_LIMIT, int(math.ceil(option.minimum)))
            high = _INT_LIMIT if option.maximum is None else min(_INT_LIMIT, int(math.floor(option.maximum)))
            box.setRange(low, high)
            box.setKeyboardTracking(False)
            box.setAccelerated(True)
            box.valueChanged.connect(lambda value, n=name: self._emit(n))
            return box
        if option.type == "float" and not option.nullable:
            box = NumberSpinBox()
            low = -1e12 if option.minimum is None else float(option.minimum)
            high = 1e12 if option.maximum is None else float(option.maximum)
            box.setRange(low, high)
            span = high - low
            step = 0.01 if span <= 2 else 0.1 if span <= 20 else 1.0
            box.setSingleStep(step)
            box.setKeyboardTracking(False)
            box.valueChanged.connect(lambda value, n=name: self._emit(n))
            return box
        if option.type == "bool":
            check = QCheckBox()
            check.toggled.connect(lambda value, n=name: self._emit(n))
            return check
        if option.type == "choice":
            combo = NarrowComboBox()
            for choice in option.choices:
                combo.addItem(str(choice), choice)
            combo.currentIndexChanged.connect(lambda index, n=name: self._emit(n))
            return combo
        if option.type == "path":
            edit = PathEdit(folder=_wants_folder(option), file_filter=self._file_filters.get(name, ""))
            edit.committed.connect(lambda text, n=name: self._emit(n))
            return edit
        line = QLineEdit()  # str, and nullable numbers
        if option.nullable:
            line.setPlaceholderText("none")
        line.setClearButtonEnabled(option.type == "str")
        line.editingFinished.connect(lambda n=name, w=line: self._line_committed(n, w))
        line.setProperty("committed", "")
        return line

    def _show(self, option: Option, editor: QWidget, value: Any) -> None:
        if isinstance(editor, QSpinBox):
            editor.setValue(int(value) if value is not None else editor.minimum())
        elif isinstance(editor, QDoubleSpinBox):
            editor.setValue(float(value) if value is not None else editor.minimum())
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QComboBox):
            index = editor.findData(value)
            if index < 0:
                index = editor.findText(str(value))
            editor.setCurrentIndex(max(index, 0))
        elif isinstance(editor, PathEdit):
            editor.setText("" if value is None else str(value))
        elif isinstance(editor, QLineEdit):
            text = "" if value is None else str(value)
            editor.setText(text)
            editor.setProperty("committed", text)
            editor.setStyleSheet("")

    def _read(self, option: Option, editor: QWidget) -> Any:
        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            return option.coerce(editor.value())
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QComboBox):
            return editor.currentData()
        if isinstance(editor, PathEdit):
            return editor.text()
        return option.coerce(editor.text()) if option.type != "str" else editor.text()

    def _line_committed(self, name: str, line: QLineEdit) -> None:
        if line.text() == line.property("committed"):
            return
        line.setProperty("committed", line.text())
        self._emit(name)

    def _emit(self, name: str) -> None:
        option, editor = self._options[name], self._editors[name]
        try:
            value = self._read(option, editor)
        except OptionError as exc:
            editor.setStyleSheet("border: 1px solid #CE2C31;")
            editor.setToolTip(f"{exc}\n\n{_tooltip(option)}")
            return
        if isinstance(editor, QLineEdit):
            editor.setStyleSheet("")
            editor.setToolTip(_tooltip(option))
        self.option_changed.emit(name, value)


class NarrowComboBox(QComboBox):
    """A combo box as narrow as ``characters`` allow (its text elided when the panel is narrow),
    whose popup is as wide as its longest item: a form in a narrow dock then fits without
    scrolling sideways or cutting its rows off at the dock's edge."""

    def __init__(self, *args: Any, characters: int = 8, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(characters)

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        view = self.view()
        view.setTextElideMode(Qt.TextElideMode.ElideNone)
        view.setMinimumWidth(view.sizeHintForColumn(0) + 2 * view.frameWidth()
                             + view.verticalScrollBar().sizeHint().width())
        super().showPopup()


class CheckChips(QListWidget):
    """Checkable items that wrap like chips (classes to keep, feature columns), as tall as their rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.viewport().setAutoFillBackground(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def fit_height(self) -> None:
        if not self.count():
            self.setFixedHeight(0)
            return
        last = self.visualItemRect(self.item(self.count() - 1))
        rows = last.bottom() + self.verticalScrollBar().value() + 2 * self.spacing()
        self.setFixedHeight(min(max(rows + 4, 28), 110))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        QTimer.singleShot(0, self, self.fit_height)
