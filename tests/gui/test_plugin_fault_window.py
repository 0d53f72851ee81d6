"""A faulty plugin encoding chosen in the window is a message naming the plugin; the window goes on (issue 23, defect 8)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.screenshot import sample_project
from qmlstudio.plugins import Encoding, EncodingSpec, hookimpl


class CrumblingEncoding(Encoding):
    """Declares one qubit per feature, then cannot build its circuit."""

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        raise ValueError("the gates crumbled")


class CrumblingPlugin:
    @hookimpl
    def qmlstudio_encodings(self):
        return [EncodingSpec("zz-crumbling", "Zz crumbling encoding", CrumblingEncoding)]


def _click_scene_item(qtbot, window: MainWindow, item) -> None:
    view = window.canvas
    view.ensureVisible(item)
    point = view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_a_faulty_encoding_chosen_in_the_inspector_is_a_message_and_the_window_goes_on(qtbot, registry):
    registry.register(CrumblingPlugin(), "crumbling")
    try:
        project = sample_project()
        window = MainWindow(project, registry=registry)
        window.close_without_asking = True
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        before = project.encoding.name
        editor, inspector = window.editor, window.inspector

        # Select the encoding block on the canvas with the mouse: the inspector offers the encodings.
        qtbot.waitUntil(lambda: editor.scene.encoding_item is not None)
        _click_scene_item(qtbot, window, editor.scene.encoding_item)
        qtbot.waitUntil(lambda: inspector.encoding_box.isVisible())
        combo = inspector.encoding_choice
        row = combo.findData("zz-crumbling")
        assert row == combo.count() - 1  # registered last, listed last

        # Open the list with a click and choose the faulty one with the keyboard.
        qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
        popup = combo.view()
        qtbot.waitUntil(lambda: popup.isVisible())
        qtbot.keyClick(popup, Qt.Key.Key_End)
        qtbot.keyClick(popup, Qt.Key.Key_Return)

        bar = window.statusBar()
        qtbot.waitUntil(lambda: "plugin 'crumbling'" in bar.currentMessage())
        message = bar.currentMessage()
        assert ("plugin 'crumbling' (encoding 'zz-crumbling') failed in circuit(): ValueError: the gates crumbled"
                in message)
        assert "Traceback" not in message
        assert project.encoding.name == "zz-crumbling"  # chosen (undoably); only its drawing failed
        assert window.isVisible()

        # The window keeps working: Ctrl+Z takes the choice back and the encoding is drawn again.
        qtbot.waitUntil(lambda: not popup.isVisible())
        window.activateWindow()
        window.canvas.setFocus()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window and window.canvas.hasFocus())
        qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: project.encoding.name == before and editor.scene.encoding_item is not None)
        window.close()
    finally:
        registry.unregister("crumbling")
