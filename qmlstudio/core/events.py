"""A minimal Qt-free observer, so that views can follow models (napari's ``model.events``)."""

from __future__ import annotations

from typing import Any, Callable


class Event:
    """A named notification that callbacks can connect to.

    ``emit(**payload)`` calls every connected callback with the same keyword
    arguments; a callback added or removed during an emit takes effect next time.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any]) -> None:
        try:
            self._callbacks.remove(callback)
        except ValueError:
            pass

    def emit(self, **payload: Any) -> None:
        for callback in list(self._callbacks):
            callback(**payload)

    def __len__(self) -> int:
        return len(self._callbacks)


class EventGroup:
    """A set of events owned by one model, reached as attributes (``model.events.changed``)."""

    def __init__(self, *names: str) -> None:
        for name in names:
            setattr(self, name, Event(name))
