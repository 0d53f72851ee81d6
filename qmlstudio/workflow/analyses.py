"""The Analysis menu's long studies, described as plain data and run from it, here or in a child process.

A study is a *spec*: a dict of plain values (the project as the JSON dict of
:meth:`~qmlstudio.core.project.Project.config_snapshot` and its path, the study's choices). One
function, :func:`run_analysis`, turns a spec into the study's result; the window calls it on a
thread of its own process when a plugin it needs exists only in memory there, and otherwise in a
child process (``python -m qmlstudio.workflow.analyses EVENTS_FD COMMANDS_FD``), so that a study's
minutes of numerics never compete with the window for its interpreter, and a crash in native code
ends the child, not the window.

The child's protocol (``multiprocessing`` connections over two pipes): the window sends
``("path", sys.path)`` then ``("job", spec, disabled_plugins)``; the child answers
``("ready", pid)``, then ``("progress", done, total, message)`` as it goes, and at the end
``("ok", result)`` (the result pickled) or ``("failed", message)`` (``"cancelled"`` when it was
cancelled). The window may send ``("cancel",)`` at any time; closing the commands pipe cancels too.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from qmlstudio.core.analysis import (
    barren_plateau_study,
    encoding_study,
    gradient_heatmap,
    parse_range,
    project_kernel_study,
    template_builder,
)
from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.control import Cancelled, Controls
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import Project

__all__ = ["ANALYSES", "analysis_spec_project", "run_analysis"]

#: The studies that :func:`run_analysis` knows.
ANALYSES = ("barren-plateau", "encodings", "kernel")

Progress = Callable[[int, int, str], bool]


def analysis_spec_project(project: Project) -> dict[str, Any]:
    """The project as plain data for a spec (what a child process rebuilds it from)."""
    return {
        "project": {"schema_version": 1, "name": project.name, **project.config_snapshot()},
        "path": None if project.path is None else str(project.path),
    }


def _project(spec: Mapping[str, Any]) -> Project:
    project = Project.from_dict(spec["project"])
    project.path = spec.get("path")
    return project


def run_analysis(spec: Mapping[str, Any], registry: Any, progress: Progress,
                 controls: Controls | None = None) -> Any:
    """The study ``spec`` describes, with ``progress(done, total, message)`` (True: stop).

    ``barren-plateau``: ``(BarrenPlateauResult, GradientHeatmap | None)``; ``encodings``: an
    ``EncodingStudyResult``; ``kernel``: a ``KernelStudyResult``.
    """
    from qmlstudio.workflow.runs import build_run

    kind = spec.get("kind")
    if kind == "barren-plateau":
        template, options = str(spec["template"]), dict(spec.get("options") or {})
        seed, samples = int(spec["seed"]), int(spec["samples"])
        result = barren_plateau_study(
            template_builder(registry, template, options), parse_range(str(spec["qubits"]), "qubits"),
            parse_range(str(spec["layers"]), "layers"), samples=samples, seed=seed,
            template=template, progress=progress,
        )
        heat = None
        if spec.get("design") is not None:
            design = CircuitDesign.from_dict(spec["design"])
            if design.num_weights:
                heat = gradient_heatmap(design, samples=min(samples, 100), seed=seed)
        return result, heat
    if kind == "encodings":
        device = spec.get("device") or None
        device_pm = None
        if device:  # the device's layout, routing and basis, offline (aer-noise without noise)
            from qmlstudio.workflow.backends import backend_choice, create_backend

            choice = backend_choice(registry, f"aer-noise:{device},noise=false")
            device_pm = create_backend(registry, choice).pass_manager()
        return encoding_study(_project(spec), registry, list(spec["encodings"]), build_run=build_run,
                              epochs=int(spec["epochs"]), progress=progress, controls=controls,
                              match_ansatz=bool(spec.get("same_ansatz", True)), device=device,
                              device_pass_manager=device_pm)
    if kind == "kernel":
        return project_kernel_study(_project(spec), registry, build_run=build_run, encoding=spec.get("encoding"),
                                    progress=progress)
    raise QMLStudioError(f"unknown analysis {kind!r}; known: {', '.join(ANALYSES)}")


# ============================================================================ the child
def _message(exc: BaseException) -> str:
    if isinstance(exc, QMLStudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this work"
    return f"{type(exc).__name__}: {exc}"


def child_main(events: Any, commands: Any) -> None:
    """The child's whole life: one study, its progress and its result, then exit."""
    lock = threading.Lock()

    def send(*message: Any) -> None:
        with lock:
            events.send(message)

    try:
        first = commands.recv()
        if first and first[0] == "path":
            sys.path[:] = [entry for entry in first[1] if isinstance(entry, str)]
            first = commands.recv()
    except (EOFError, OSError):
        return
    if not first or first[0] != "job":
        return
    spec, disabled = first[1], first[2] if len(first) > 2 else ()
    cancelled = threading.Event()
    controls = Controls()

    def listen() -> None:
        try:
            while True:
                command = commands.recv()
                if command and command[0] == "cancel":
                    break
        except (EOFError, OSError):
            pass  # the window went away: nobody would see the rest
        cancelled.set()
        controls.cancel()

    try:
        from qmlstudio.core.circuit import standard_gate_classes
        from qmlstudio.plugins.manager import load_plugins

        standard_gate_classes()  # on the main thread, as qiskit wants
        registry = load_plugins(disabled=set(disabled))
        send("ready", os.getpid())
        threading.Thread(target=listen, name="qmlstudio-analysis-commands", daemon=True).start()
        last: list[tuple[int, int, str]] = []

        def progress(done: int, total: int, message: str = "") -> bool:
            report = (int(done), int(max(total, 1)), str(message))
            if report != (last[-1] if last else None):
                last[:] = [report]
                send("progress", *report)
            return cancelled.is_set()

        result = run_analysis(spec, registry, progress, controls)
        if cancelled.is_set():
            send("failed", "cancelled")
        else:
            send("ok", result)
    except Cancelled:
        send("failed", "cancelled")
    except BaseException as exc:  # noqa: BLE001 - every failure is the window's to show
        try:
            send("failed", "cancelled" if cancelled.is_set() else _message(exc), traceback.format_exc())
        except Exception:  # noqa: BLE001 - the pipe is gone: nobody to tell
            pass
    finally:
        try:
            events.close()
        except Exception:  # noqa: BLE001
            pass


if __name__ == "__main__":  # python -m qmlstudio.workflow.analyses EVENTS_FD COMMANDS_FD
    from multiprocessing.connection import Connection

    child_main(Connection(int(sys.argv[1]), readable=False), Connection(int(sys.argv[2]), writable=False))
