"""The training dock's states and rates, shared by its modules."""

from __future__ import annotations

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)

#: The plots are redrawn at most this often while a run trains. 20 Hz rather than 30: each frame
#: costs the GUI process CPU that the training child on a 2-core machine then lacks (bench/gui_latency.py:
#: 90-95 % of headless speed at 30 Hz, 93-99 % at 20 Hz), and curves move smoothly at either.
FRAME_RATE_HZ = 20
#: Text (progress, numbers) is refreshed at most this often while a run trains.
TEXT_INTERVAL_S = 0.1
#: While a run trains, the interpreter hands the GIL between threads this often (Python's
#: default is 5 ms). The engine's thread holds the GIL almost all the time; each time the GUI
#: thread needs it (every slot, every pyqtgraph paint) it would wait up to the switch interval,
#: and a repaint that needs it many times would stall the event loop for tens of milliseconds.
GIL_SWITCH_INTERVAL_S = 0.00025
#: The project is autosaved this often while a run trains (and after every run).
AUTOSAVE_INTERVAL_MS = 60_000

IDLE, PREPARING, RUNNING, PAUSED, STOPPING = "idle", "preparing", "running", "paused", "stopping"

_STATUS_COLOURS = {
    "completed": "#15803d",
    "stopped": "#b45309",
    "failed": "#b91c1c",
    "running": "#1d4ed8",
    "paused": "#b45309",
}
_STATE_TEXT = {
    IDLE: ("Ready", "#4b5563"),
    PREPARING: ("Preparing…", "#1d4ed8"),
    RUNNING: ("Training", "#15803d"),
    PAUSED: ("Paused", "#b45309"),
    STOPPING: ("Stopping…", "#b91c1c"),
}
