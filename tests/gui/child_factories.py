"""Run factories the training child process can import (module-level, so they pickle by name).

Each wraps :func:`qmlstudio.workflow.build_run` and misbehaves after a few iterations, as a
plugin or native code might: ``exit_after_five`` calls ``os._exit(3)``,
``memory_error_after_five`` raises ``MemoryError`` from inside the engine's callback.
"""

from __future__ import annotations

import os
from typing import Any

from qmlstudio.workflow import build_run

AFTER = 5


def _wrapping(action: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> Any:
        callback = kwargs["callback"]

        def misbehaving(report: Any) -> None:
            callback(report)
            if report.iteration >= AFTER:
                action()

        kwargs["callback"] = misbehaving
        return build_run(*args, **kwargs)

    return factory


def _exit() -> None:
    os._exit(3)


def _memory() -> None:
    raise MemoryError("no room for the statevector")


def exit_after_five(*args: Any, **kwargs: Any) -> Any:
    return _wrapping(_exit)(*args, **kwargs)


def memory_error_after_five(*args: Any, **kwargs: Any) -> Any:
    return _wrapping(_memory)(*args, **kwargs)


SLOW_EXIT_S = 3.0


def slow_to_exit(*args: Any, **kwargs: Any) -> Any:
    """A normal run whose process then takes seconds to exit (an interpreter's teardown on a
    busy machine, a library's exit handler)."""
    import atexit
    import time

    atexit.register(time.sleep, SLOW_EXIT_S)
    return build_run(*args, **kwargs)
