"""Dragging from every palette section onto the canvas with the real mouse: press, move, release.

Qt's offscreen platform, on which the suite runs, has no drag loop (``QDrag.exec`` returns
at once), so the drags run in one child process on the ``minimal`` platform, where Qt's
own ``QSimpleDrag`` carries the drag from the palette's list view to the canvas. See
:mod:`tests.gui.real_drag` for how the mouse is driven; nothing there builds mime data or
calls a drop handler. Each test below checks one section's drag: the canvas received the
drag events, showed its drop preview under the pointer, and the design got the gate,
template or encoding at the wire and column the mouse was released on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qmlstudio.core.project import Project

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = {
    "single-qubit": "gate:h@1,2",
    "rotations": "gate:ry@2,3",
    "two-qubit": "gate:cx@0,4",
    "three-qubit": "gate:ccx@1,2",
    "template": "template:real-amplitudes@0,3",
    "encoding-layer": "encoding:iqp@0,2",
    "encoding-block": "encoding:zz-feature-map@encoding",
    "plugin-template": "template:test-ladder@0,3",
    "plugin-encoding": "encoding:test-phases@2,1",
}


@pytest.fixture(scope="module")
def drags(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Runs every drag once in a child process on the minimal platform; the results by section."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "minimal:enable_fonts"
    env["QMLSTUDIO_CONFIG_DIR"] = str(tmp_path_factory.mktemp("drag-config"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    try:
        done = subprocess.run([sys.executable, "-m", "tests.gui.real_drag", *SCENARIOS.values()], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the drag process did not finish in 90 s (a drag loop that never ended?):\n{exc.stdout}")
    assert done.returncode == 0, f"the drag process failed:\n{done.stdout}\n{done.stderr}"
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_scenario = {r["scenario"]: r for r in results}
    assert set(by_scenario) == set(SCENARIOS.values()), done.stdout + done.stderr
    return {section: by_scenario[scenario] for section, scenario in SCENARIOS.items()}


def reached_the_canvas(result: dict[str, Any]) -> None:
    """Qt started a drag that entered the canvas, moved over it and dropped there."""
    assert result["drag_events"] == ["enter", "move", "drop"], (
        f"{result['scenario']}: the canvas saw {result['drag_events']} (no QDrag reached it)")
    assert result["in_drag_loop"]


def added_gates(result: dict[str, Any]) -> list[tuple[str, tuple[int, ...], int, str | None]]:
    return [(g["gate"], tuple(g["qubits"]), g["column"], g.get("block")) for g in result["added"]]


@pytest.mark.parametrize("section, gate, qubits, column, caption", [
    ("single-qubit", "h", (1,), 2, "H → q1 · column 2"),
    ("rotations", "ry", (2,), 3, "RY → q2 · column 3"),
    ("two-qubit", "cx", (0, 1), 4, "CX → q0, q1 · column 4"),
    ("three-qubit", "ccx", (1, 2, 3), 2, "CCX → q1, q2, q3 · column 2"),
], ids=["single-qubit", "rotations", "two-qubit", "three-qubit"])
def test_a_gate_dragged_from_its_palette_section_lands_on_the_wire_and_column_released_on(
        drags, section: str, gate: str, qubits: tuple[int, ...], column: int, caption: str) -> None:
    result = drags[section]
    reached_the_canvas(result)
    assert result["preview"] == caption
    assert added_gates(result) == [(gate, qubits, column, None)]
    assert result["gates_after"] == result["gates_before"] + 1
    assert result["undo_text"] == f"Add {gate.upper()}"
    assert result["selected"] == [result["gates_after"] - 1]


def test_a_template_dragged_from_the_palette_is_inserted_at_the_column_released_on(drags, registry) -> None:
    result = drags["template"]
    reached_the_canvas(result)
    # The drag project is a new one, whose own ansatz is real-amplitudes: its options apply.
    project = Project.new("drag")
    assert project.ansatz.name == "real-amplitudes"
    expected = registry.ansatze["real-amplitudes"].create(project.ansatz.options).build(4)
    assert result["preview"] == f"Insert Real amplitudes ({len(expected.gates)} gates) at column 3"
    added = added_gates(result)
    assert len(added) == len(expected.gates)
    assert {block for *_, block in added} == {"real-amplitudes"}
    assert min(column for _, _, column, _ in added) == 3
    assert sorted((n, q) for n, q, _, _ in added) == sorted((g.name, g.qubits) for g in expected.gates)
    assert result["undo_text"] == "Insert Real amplitudes"


def test_an_encoding_dragged_onto_the_wires_is_a_data_layer_and_onto_the_block_the_projects_encoding(
        drags, registry) -> None:
    layer = drags["encoding-layer"]
    reached_the_canvas(layer)
    assert layer["preview"] == "Insert IQP encoding (layer) at column 2"
    expected = registry.encodings["iqp"].create({}).circuit(4)
    added = added_gates(layer)
    assert len(added) == len(expected.gates) and {b for *_, b in added} == {"encoding:iqp"}
    assert min(column for _, _, column, _ in added) == 2
    assert layer["encoding_after"] == layer["encoding_before"] == "angle"

    block = drags["encoding-block"]
    reached_the_canvas(block)
    assert block["preview"] == "Use ZZ feature map as the encoding"
    assert block["added"] == [] and block["encoding_after"] == "zz-feature-map"
    assert block["undo_text"] == "Set encoding to ZZ feature map"


def test_entries_a_plugin_adds_drag_like_the_built_in_ones(drags) -> None:
    template = drags["plugin-template"]
    reached_the_canvas(template)
    assert template["preview"] == "Insert Test ladder (test plugin) (7 gates) at column 3"
    assert added_gates(template) == (
        [("ry", (q,), 3, "test-ladder") for q in range(4)]
        + [("cz", (q, q + 1), 4 + q, "test-ladder") for q in range(3)])

    encoding = drags["plugin-encoding"]
    reached_the_canvas(encoding)
    # Released on q2: a block covers every wire, so it starts at q0 in the column released on.
    assert added_gates(encoding) == [("p", (q,), 1, "encoding:test-phases") for q in range(4)]
