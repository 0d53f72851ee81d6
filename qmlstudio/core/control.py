"""What every run shares: the :class:`Run` protocol, its one cancel token :class:`Controls`
and the :class:`Cancelled` that token raises.

Every long piece of work (a training run, a kernel fit, a study, an evaluation on another
backend) takes a :class:`Controls`; the GUI or CLI holds it and calls :meth:`Controls.cancel`,
:meth:`Controls.pause` and :meth:`Controls.resume` from another thread. The work calls
:meth:`Controls.check` between its steps, which raises :class:`Cancelled` when asked to stop.
``qmlstudio.core.training.Cancelled`` and ``qmlstudio.core.analysis.Cancelled`` are this
same class (kept as names for older callers).

:class:`Run` is what a variational :class:`~qmlstudio.core.training.TrainingRun` and a
:class:`~qmlstudio.core.kernels.KernelRun` both answer, so that callers (the GUI's worker,
the CLI, the study runner) never tell them apart by their attributes; they ask ``kind``.
Evaluation on another backend and cost estimates are the application layer's
(``qmlstudio.workflow.evaluate_weights``, ``run_cost``), written once for every run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol, runtime_checkable

__all__ = ["Cancelled", "Controls", "Run"]


class Cancelled(Exception):
    """The work was asked to stop (raised by :meth:`Controls.check` or a study's progress)."""


@dataclass
class Controls:
    """The cancel token and pause flag a GUI or CLI holds while a run works.

    ``on_cancel(hook)`` adds a function called by :meth:`cancel` (the run registers its
    backend's ``cancel``, so Stop also cancels remote jobs); hooks must return at once.
    """

    cancelled: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)
    #: Seconds the run has spent blocked in :meth:`check` while paused (not training time).
    paused_s: float = 0.0
    _cancel_hooks: list[Callable[[], Any]] = field(default_factory=list, repr=False, compare=False)

    def cancel(self) -> None:
        self.cancelled.set()
        for hook in list(self._cancel_hooks):
            try:
                hook()
            except Exception:  # noqa: BLE001 - a failing hook must not keep the run from stopping
                pass

    def on_cancel(self, hook: Callable[[], Any]) -> Callable[[], None]:
        """Calls ``hook()`` on :meth:`cancel` (at once if already cancelled); returns a remover."""
        self._cancel_hooks.append(hook)
        if self.cancelled.is_set():
            try:
                hook()
            except Exception:  # noqa: BLE001
                pass

        def remove() -> None:
            if hook in self._cancel_hooks:
                self._cancel_hooks.remove(hook)

        return remove

    def pause(self) -> None:
        self.paused.set()

    def resume(self) -> None:
        self.paused.clear()

    def check(self) -> None:
        """Raises :class:`Cancelled` when asked to stop; blocks while paused (counted in :attr:`paused_s`)."""
        if self.paused.is_set() and not self.cancelled.is_set():
            since = time.perf_counter()
            while self.paused.is_set() and not self.cancelled.is_set():
                time.sleep(0.05)
            self.paused_s += time.perf_counter() - since
        if self.cancelled.is_set():
            raise Cancelled()


@runtime_checkable
class Run(Protocol):
    """A run built from a project (``qmlstudio.workflow.build_run``), variational or kernel."""

    #: ``"vqc"``, ``"regressor"`` or ``"kernel"``
    kind: str
    #: the prepared data it trains on (:class:`~qmlstudio.core.preprocessing.PreparedData`)
    data: Any
    #: what it did, filled as it runs (:class:`~qmlstudio.core.project.RunRecord`)
    record: Any
    #: its one cancel token and pause flag
    controls: Controls
    @property
    def total_iterations(self) -> int:
        """The iteration it will have reached when done (a kernel: 1, one report after the fit)."""

    @property
    def num_parameters(self) -> int:
        """The weights each of its reports carries (0 for a kernel)."""

    @property
    def exact(self) -> bool:
        """Whether it evaluates on QML Studio's exact simulator (no shots, no noise)."""

    def run(self) -> Any:
        """Trains (or fits); returns the record, also when stopped or failed."""

    def predict_proba(self, features: Any, parameters: Any = None) -> Any:
        """Class probabilities of prepared rows (a regressor: predicted values in the data's
        units), at ``parameters`` or, when None, at the run's final weights."""

    def fit_baselines(self) -> dict[str, Any]:
        """The classical baselines fitted now (kept in the record, not fitted again by
        :meth:`run`), or ``{}`` when the run fits them itself or was not asked to."""

    def uninterrupted(self) -> AbstractContextManager[None]:
        """Within it, evaluations ignore Pause and Stop (for the pictures of an ended run)."""
