"""QML Studio's look: the colours of gate families, the canvas, and the application style sheet.

One table of colours serves the style sheet, the canvas painter and the palette icons, so
a gate has the same colour everywhere. The style sheet is built here rather than read
from a ``.qss`` file, so that it is always packaged with the code and can use the table.
Gates are coloured by family, as in Quirk and IBM Quantum Composer.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import QApplication

from qmlstudio.core.circuit import GATES

#: Fill colour of each palette group, and of templates and encodings.
FAMILY_COLORS: dict[str, str] = {
    "single-qubit": "#E5484D",  # red: fixed one-qubit gates (H, Paulis, phases)
    "rotations": "#8E4EC6",  # violet: trainable rotations
    "two-qubit": "#0D74CE",  # blue: entanglers
    "three-qubit": "#12A594",  # teal: Toffoli
    "template": "#3E63DD",  # indigo: ansatz templates
    "encoding": "#EF5F00",  # orange: data, everywhere (encodings, x[j] angles)
}
#: What each kind of angle looks like on a gate.
ANGLE_COLORS: dict[str, str] = {
    "weight": "#FFFFFF",
    "input": "#FFD8A8",
    "constant": "#E8E8EC",
    "expression": "#FFE9C7",
}

ACCENT = "#0D74CE"
ACCENT_SOFT = "#E6F1FD"
CANVAS_BG = "#FFFFFF"
CANVAS_GRID = "#F3F4F6"
WIRE = "#A6ADB5"
WIRE_LABEL = "#3C4149"
MUTED_TEXT = "#6F7782"
WINDOW_BG = "#F4F5F7"
PANEL_BG = "#FFFFFF"
BORDER = "#DFE2E6"
TEXT = "#1C2024"
ERROR = "#CE2C31"
SUCCESS = "#218358"
#: Text and icons of a control that cannot be used now.
DISABLED_TEXT = "#A8AEB5"
DISABLED_BG = "#F1F2F4"


def family_color(family: str) -> QColor:
    return QColor(FAMILY_COLORS.get(family, "#60646C"))


def gate_color(name: str) -> QColor:
    """The fill colour of a gate by its family (its palette group)."""
    gtype = GATES.get(name)
    return family_color(gtype.group if gtype is not None else "")


def ui_font(point_size: float | None = None, bold: bool = False) -> QFont:
    font = QFont(QApplication.font())
    if point_size is not None:
        font.setPointSizeF(point_size)
    font.setBold(bold)
    return font


def mono_font(point_size: float = 9.5) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(point_size)
    return font


def style_sheet() -> str:
    """The application style sheet: a calm light theme with clear panel headers."""
    return f"""
QMainWindow, QDialog {{ background: {WINDOW_BG}; }}
QMainWindow::separator {{ background: {WINDOW_BG}; width: 6px; height: 6px; }}
QMainWindow::separator:hover {{ background: {BORDER}; }}
QToolBar#mainToolBar {{
    background: {PANEL_BG}; border: none; border-bottom: 1px solid {BORDER}; spacing: 4px; padding: 4px 8px;
}}
QToolBar#mainToolBar QToolButton {{ padding: 4px 8px; border-radius: 6px; color: {TEXT}; }}
QToolBar#mainToolBar QToolButton:hover {{ background: {ACCENT_SOFT}; }}
QToolBar#mainToolBar QToolButton:pressed {{ background: #D5E7FB; }}
QToolBar#mainToolBar QToolButton:disabled {{ color: #A8AEB5; }}
QToolBar#mainToolBar QToolButton#run_trainActionButton {{
    background: #E6F4EC; color: {SUCCESS}; font-weight: 700; padding: 4px 14px; border: 1px solid #B8E0C9;
}}
QToolBar#mainToolBar QToolButton#run_trainActionButton:hover {{ background: #D4EDE0; }}
QToolBar#mainToolBar QToolButton#run_trainActionButton:disabled {{
    background: transparent; color: #A8AEB5; border-color: transparent;
}}
QDockWidget {{ color: {TEXT}; font-weight: 600; }}
QDockWidget::title {{
    background: {PANEL_BG}; padding: 7px 10px; border-bottom: 1px solid {BORDER}; text-align: left;
}}
QDockWidget > QWidget {{ background: {PANEL_BG}; }}
QStatusBar {{ background: {PANEL_BG}; border-top: 1px solid {BORDER}; color: {MUTED_TEXT}; }}
QStatusBar QLabel {{ color: {MUTED_TEXT}; }}
QLineEdit {{
    background: white; border: 1px solid {BORDER}; border-radius: 6px; padding: 3px 6px; min-height: 20px;
    selection-background-color: {ACCENT};
}}
QLineEdit:focus {{ border: 1px solid {ACCENT}; }}
QLineEdit[invalid="true"] {{ border: 1px solid {ERROR}; background: #FFF7F7; }}
QPushButton {{
    background: white; border: 1px solid {BORDER}; border-radius: 6px; padding: 4px 12px; color: {TEXT};
}}
QPushButton:hover {{ background: {ACCENT_SOFT}; border-color: #B7D5F5; }}
QPushButton:disabled {{ color: {DISABLED_TEXT}; background: {DISABLED_BG}; border-color: {BORDER}; }}
QToolButton:disabled, QCheckBox:disabled, QRadioButton:disabled, QLabel:disabled {{ color: {DISABLED_TEXT}; }}
QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QLineEdit:disabled {{
    color: {DISABLED_TEXT}; background: {DISABLED_BG};
}}
QLabel[role="heading"] {{ font-weight: 700; color: {TEXT}; }}
QLabel[role="muted"] {{ color: {MUTED_TEXT}; }}
QLabel[role="error"] {{ color: {ERROR}; }}
QLabel[role="section"] {{
    color: {MUTED_TEXT}; font-size: 8pt; font-weight: 700; letter-spacing: 1px; padding-top: 6px;
}}
QListWidget#paletteList {{ background: transparent; border: none; outline: none; }}
QListWidget#paletteList::item {{ border-radius: 6px; color: {TEXT}; }}
QListWidget#paletteList::item:hover {{ background: {ACCENT_SOFT}; }}
QListWidget#paletteList::item:selected {{ background: #D5E7FB; color: {TEXT}; }}
QScrollArea#paletteScroll, QScrollArea#paletteScroll > QWidget > QWidget {{ background: {PANEL_BG}; border: none; }}
QFrame#circuitFigures {{ background: {PANEL_BG}; border-top: 1px solid {BORDER}; }}
QLabel[role="figureValue"] {{ font-size: 12pt; font-weight: 700; color: {TEXT}; }}
QLabel[role="figureName"] {{ color: {MUTED_TEXT}; font-size: 8pt; }}
QGraphicsView#circuitCanvas {{ border: none; background: {CANVAS_BG}; }}
QTabBar::tab {{ padding: 5px 12px; }}
QScrollBar:vertical {{ background: transparent; width: 10px; margin: 2px; }}
QScrollBar:horizontal {{ background: transparent; height: 10px; margin: 2px; }}
QScrollBar::handle:vertical {{ background: #CDD2D7; border-radius: 3px; min-height: 24px; }}
QScrollBar::handle:horizontal {{ background: #CDD2D7; border-radius: 3px; min-width: 24px; }}
QScrollBar::handle:hover {{ background: #A9B0B7; }}
QScrollBar::add-line, QScrollBar::sub-line {{ width: 0; height: 0; }}
QScrollBar::add-page, QScrollBar::sub-page {{ background: transparent; }}
QToolTip {{ background: #FFFFFF; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion with a light palette and :func:`style_sheet`; the same on every platform.

    Once applied it is not applied again: setting the style re-polishes every widget that
    exists (seconds, in a process that has made many windows, such as a test session)."""
    sheet = style_sheet()
    if app.property("qmlstudioTheme") and app.styleSheet() == sheet:
        return
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor(WINDOW_BG))
    palette.setColor(QPalette.ColorRole.Base, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#F8F9FA"))
    palette.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Button, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.Mid, QColor("#C1C8CD"))
    palette.setColor(QPalette.ColorRole.Midlight, QColor(BORDER))
    palette.setColor(QPalette.ColorRole.Dark, QColor(MUTED_TEXT))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#9BA1A6"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor("#FFFFFF"))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    # setColor(role, …) above set every colour group, the disabled one too: without these
    # a disabled button's text looked exactly like an enabled one's.
    disabled = QPalette.ColorGroup.Disabled
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(disabled, role, QColor(DISABLED_TEXT))
    palette.setColor(disabled, QPalette.ColorRole.Button, QColor(DISABLED_BG))
    palette.setColor(disabled, QPalette.ColorRole.Base, QColor(DISABLED_BG))
    app.setPalette(palette)
    app.setStyleSheet(sheet)
    app.setProperty("qmlstudioTheme", True)
