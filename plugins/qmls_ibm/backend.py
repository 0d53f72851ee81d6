"""The IBM Quantum backend: qiskit-ibm-runtime's ``SamplerV2`` / ``EstimatorV2`` on real devices.

Nothing connects until the engine first asks for a pass manager or a primitive; then the
service is opened with the stored token (:mod:`qmls_ibm.account`), the device is looked
up (the least busy one when no name is given), and circuits are transpiled to its ISA
with a preset pass manager. Jobs run in a ``Batch`` (default), a ``Session`` or one by
one (``mode="job"``); the batch or session is closed when the run ends (:meth:`close`).

Every job is followed until it ends, and each change of its status (and queue position
when IBM Quantum reports one) is sent to the callbacks given to :meth:`subscribe_jobs`
— the training dock and the CLI show them. :meth:`cancel` (Stop) makes the waiting thread
cancel the job on IBM Quantum and raise :class:`~qmls_ibm.errors.IbmJobCancelled`.

``channel="local"`` is qiskit-ibm-runtime's local testing mode: the mode is a fake device
(``fake_manila``...) simulated by Aer with its noise model, offline. The runtime's own
mitigation options (twirling, dynamical decoupling) have no effect there, so they are
refused (:func:`qmls_ibm.refused_options`), as are resilience levels anywhere: the engine
runs only the Sampler, which has none.

QML Studio's own error mitigation (:class:`qmls_aer.mitigation.Mitigated`: readout mitigation
with mthree, zero-noise extrapolation with mitiq) applies on hardware and in the local mode
when a trained run is evaluated: mthree's calibration circuits run on the device in the same
Batch or Session (in the local mode on Aer with the fake device's noise model, seeded), and
the folded circuits run through the same Sampler as the raw ones.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
from qiskit.primitives import BaseEstimatorV2, BaseSamplerV2

from qmlstudio.plugins import Backend

from qmls_aer.mitigation import Mitigated
from qmls_ibm import account
from qmls_ibm.errors import IbmError, IbmJobCancelled, explain

log = logging.getLogger(__name__)

#: job_id, status (QUEUED, RUNNING, DONE, CANCELLED, ERROR...), queue position or None
JobListener = Callable[[str, str, "int | None"], None]
FINAL_STATUSES = {"DONE", "CANCELLED", "ERROR", "FAILED", "CANCELLED - RAN TOO LONG"}
DEFAULT_LOCAL_DEVICE = "fake_manila"


@dataclass
class JobInfo:
    """What is known about one job of this backend."""

    job_id: str
    primitive: str
    status: str = "SUBMITTED"
    queue_position: int | None = None
    submitted: float = field(default_factory=time.time)


def _status_name(status: Any) -> str:
    name = getattr(status, "name", None) or str(status)
    return name.split(".")[-1].upper()


class IbmBackend(Mitigated, Backend):
    """Real IBM Quantum hardware (or its local testing mode) behind the engine's Backend API."""

    exact = False

    def __init__(
        self,
        backend: str = "",
        channel: str = "ibm_quantum_platform",
        instance: str = "",
        mode: str = "batch",
        shots: int = 4096,
        optimization_level: int = 2,
        resilience_level: int = 0,
        dynamical_decoupling: bool = False,
        dd_sequence: str = "XpXm",
        twirling: bool = False,
        seed: int | None = None,
        measure_mitigation: bool = False,
        calibration_shots: int = 10_000,
        zne: str = "off",
        zne_scales: str = "1,3,5",
        zne_folding: str = "global",
        *,
        service: Any = None,
    ) -> None:
        from qmls_ibm import refused_options

        reason = refused_options({"resilience_level": resilience_level, "channel": channel,
                                  "twirling": twirling, "dynamical_decoupling": dynamical_decoupling,
                                  "measure_mitigation": measure_mitigation, "zne": zne, "zne_scales": zne_scales,
                                  "zne_folding": zne_folding})
        if reason:
            raise IbmError(reason)
        self._set_mitigation(measure_mitigation, calibration_shots, zne, zne_scales, zne_folding)
        self.backend_name = backend
        self.channel = channel
        self.instance = instance
        self.mode = mode
        self.shots = int(shots)
        self.optimization_level = int(optimization_level)
        self.resilience_level = int(resilience_level)
        self.dynamical_decoupling = bool(dynamical_decoupling)
        self.dd_sequence = dd_sequence
        self.twirling = bool(twirling)
        self.seed = seed
        #: the seed of the local mode's simulator stream: the given one, or a fresh one drawn
        #: here and recorded with the run (real hardware has no seed: its shots are physical)
        self.seed_used = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**32)
        self._seeds = np.random.default_rng(self.seed_used)
        self._service = service
        self._target: Any = None
        self._container: Any = None  # the Batch or Session
        self._lock = threading.RLock()
        self._cancel = threading.Event()
        self._listeners: list[JobListener] = []
        self.jobs: dict[str, JobInfo] = {}
        #: seconds between status polls of a remote job (local jobs are polled faster)
        self.poll_interval = 2.0

    # ------------------------------------------------------------ connecting
    @property
    def local(self) -> bool:
        return self.channel == "local"

    def service(self) -> Any:
        """The runtime service (connects on first use)."""
        with self._lock:
            if self._service is None:
                self._service = account.connect(self.channel, self.instance)
            return self._service

    def target(self) -> Any:
        """The device jobs run on: the named one, or the least busy operational one."""
        with self._lock:
            if self._target is None:
                service = self.service()
                name = self.backend_name or (DEFAULT_LOCAL_DEVICE if self.local else "")
                try:
                    if self.local:
                        self._target = _fake_device(service, name)
                    elif name:
                        self._target = service.backend(name)
                    else:
                        self._target = service.least_busy(operational=True, simulator=False)
                except Exception as exc:  # noqa: BLE001
                    what = f"looking up backend {name!r}" if name else "looking for the least busy backend"
                    raise explain(exc, what) from None
                log.info("IBM Quantum backend: %s", self._target.name)
            return self._target

    def _mode(self) -> Any:
        target = self.target()
        if self.mode == "job":
            return target
        with self._lock:
            if self._container is None:
                from qiskit_ibm_runtime import Batch, Session

                try:
                    self._container = (Session if self.mode == "session" else Batch)(backend=target)
                except Exception as exc:  # noqa: BLE001
                    raise explain(exc, f"opening a {self.mode}") from None
            return self._container

    def pass_manager(self) -> Any:
        """qiskit's preset pass manager for the device's ISA (layout, routing, basis gates)."""
        from qiskit.transpiler import generate_preset_pass_manager

        return generate_preset_pass_manager(
            optimization_level=self.optimization_level,
            backend=self.target(),
            seed_transpiler=0 if self.seed is None else self.seed,
        )

    # ------------------------------------------------------------ error mitigation
    def _readout_mitigation(self, isa: Any) -> Any:
        """mthree's calibration: on the device (its jobs in the run's Batch or Session), or in the
        local testing mode on Aer with the fake device's noise model on the measured qubits, seeded."""
        from qmls_aer.mitigation import ReadoutMitigation, _measured_qubits

        if self.local:
            from qmls_aer.noisy_exact import device_noise_model

            model = device_noise_model(self.target(), _measured_qubits(isa))
            return ReadoutMitigation.on_noise_model(model, isa, self.calibration_shots, self._mitigation_seed())
        mode = None if self.mode == "job" else self._mode()
        try:
            return ReadoutMitigation(self.target(), isa, self.calibration_shots, runtime_mode=mode)
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, "running mthree's readout calibration") from None

    def _zne_device(self) -> Any:
        return self.target()

    def _mitigation_seed(self) -> int:
        return int(self._seeds.integers(0, 2**31 - 1))

    # ------------------------------------------------------------ primitives
    def primitive_options(self, primitive: str) -> dict[str, Any]:
        """The runtime options sent with each job (mitigation options only off the local mode)."""
        options: dict[str, Any] = {"default_shots": self.shots}
        if self.local:
            options["simulator"] = {"seed_simulator": int(self._seeds.integers(0, 2**31 - 1))}
            return options
        if self.dynamical_decoupling:
            options["dynamical_decoupling"] = {"enable": True, "sequence_type": self.dd_sequence}
        if primitive == "estimator":
            options["resilience_level"] = self.resilience_level
            if self.twirling:
                options["twirling"] = {"enable_gates": True, "enable_measure": True}
        elif self.twirling:
            options["twirling"] = {"enable_gates": True}
        return options

    def applied_options(self) -> dict[str, Any]:
        """What the runs' Sampler jobs apply (the engine uses only the Sampler), for the record."""
        applied: dict[str, Any] = {
            "primitive": "sampler",
            "channel": self.channel,
            "device": self.backend_name or ("least busy" if not self.local else DEFAULT_LOCAL_DEVICE),
            "mode": "local" if self.local else self.mode,
            "shots": self.shots,
            "optimization_level": self.optimization_level,
            "resilience_level": None,  # the Sampler has no resilience levels
            "dynamical_decoupling": (self.dd_sequence if self.dynamical_decoupling and not self.local else None),
            "twirling": bool(self.twirling and not self.local),
            "mitigation": self.mitigation_options() or None,
        }
        if self._target is not None:
            applied["device"] = str(getattr(self._target, "name", applied["device"]))
        return applied

    def random_seeds(self) -> dict[str, int | None]:
        """The seed of each random source: the transpiler's layout and, in local mode, the shots."""
        seeds: dict[str, int | None] = {"transpiler": 0 if self.seed is None else int(self.seed)}
        seeds["shots"] = int(self.seed_used) if self.local else None
        return seeds

    def sampler(self) -> "TrackedSampler":
        """qiskit-ibm-runtime's ``SamplerV2`` on the device, its jobs followed and cancellable."""
        from qiskit_ibm_runtime import SamplerV2

        with warnings.catch_warnings():
            # 0.50 deprecates SamplerV2 for the executor-based Sampler; SamplerV2 is what the
            # local testing mode and the V2 primitive API run, and it stays until then.
            warnings.simplefilter("ignore", DeprecationWarning)
            inner = SamplerV2(mode=self._mode(), options=self.primitive_options("sampler"))
        return TrackedSampler(inner, self)

    def estimator(self) -> "TrackedEstimator":
        """qiskit-ibm-runtime's ``EstimatorV2`` with the resilience (error mitigation) options."""
        from qiskit_ibm_runtime import EstimatorV2

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            inner = EstimatorV2(mode=self._mode(), options=self.primitive_options("estimator"))
        return TrackedEstimator(inner, self)

    # ------------------------------------------------------------ jobs
    def subscribe_jobs(self, listener: JobListener) -> Callable[[], None]:
        """Calls ``listener(job_id, status, queue_position)`` on every change; returns an unsubscribe function.

        Called on the thread that waits for the job (the training worker): a GUI must
        hand the call to its own thread (a queued signal).
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _notify(self, info: JobInfo) -> None:
        for listener in list(self._listeners):
            try:
                listener(info.job_id, info.status, info.queue_position)
            except Exception:  # noqa: BLE001 - a broken view must not stop the run
                log.exception("a job listener failed")

    def _submit(self, primitive: str, run: Callable[[], Any]) -> "TrackedJob":
        if self._cancel.is_set():
            raise IbmJobCancelled("stopped before the IBM Quantum job was sent")
        try:
            job = run()
        except Exception as exc:  # noqa: BLE001
            raise explain(exc, f"sending the {primitive} job") from None
        info = JobInfo(str(job.job_id()), primitive)
        self.jobs[info.job_id] = info
        log.info("IBM Quantum %s job %s sent", primitive, info.job_id)
        self._notify(info)
        return TrackedJob(job, info, self)

    def _queue_position(self, job: Any) -> int | None:
        try:
            if callable(getattr(job, "queue_position", None)):
                position = job.queue_position()
            else:
                position = (job.metrics() or {}).get("position_in_queue")
            return None if position is None else int(position)
        except Exception:  # noqa: BLE001 - the position is a nicety
            return None

    def _wait(self, job: Any, info: JobInfo) -> Any:
        interval = 0.02 if self.local else min(0.5, self.poll_interval)
        limit = 0.2 if self.local else self.poll_interval
        while True:
            if self._cancel.is_set():
                self._cancel_job(job, info)
                raise IbmJobCancelled(f"stopped by the user: IBM Quantum job {info.job_id} was cancelled")
            try:
                status = _status_name(job.status())
            except Exception as exc:  # noqa: BLE001
                raise explain(exc, f"following job {info.job_id}") from None
            position = self._queue_position(job) if status == "QUEUED" else None
            if (status, position) != (info.status, info.queue_position):
                info.status, info.queue_position = status, position
                self._notify(info)
            if status in FINAL_STATUSES:
                break
            self._cancel.wait(interval)
            interval = min(interval * 1.5, limit)
        if status == "CANCELLED":
            raise IbmJobCancelled(f"IBM Quantum job {info.job_id} was cancelled")
        try:
            return job.result()
        except Exception as exc:  # noqa: BLE001
            message = ""
            try:
                message = job.error_message() or ""
            except Exception:  # noqa: BLE001
                pass
            error = explain(exc, f"running job {info.job_id}" + (f": {message}" if message else ""))
            raise error from None

    def _cancel_job(self, job: Any, info: JobInfo) -> None:
        try:
            job.cancel()
        except Exception as exc:  # noqa: BLE001 - it may have finished meanwhile
            log.warning("cancelling IBM Quantum job %s failed: %s", info.job_id, type(exc).__name__)
        info.status, info.queue_position = "CANCELLED", None
        self._notify(info)

    def cancel(self) -> None:
        """Stop: the job being waited for is cancelled on IBM Quantum (returns at once)."""
        self._cancel.set()

    def close(self) -> None:
        """Closes the batch or session (queued jobs still finish) and clears a Stop."""
        with self._lock:
            container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the IBM Quantum %s failed: %s", self.mode, type(exc).__name__)
        self._cancel.clear()

    def describe(self) -> str:
        device = self.backend_name or ("the least busy device" if not self.local else DEFAULT_LOCAL_DEVICE)
        where = "local testing mode" if self.local else f"{self.mode} mode"
        mitigation = []
        if self.dynamical_decoupling and not self.local:
            mitigation.append(f"DD {self.dd_sequence}")
        if self.twirling and not self.local:
            mitigation.append("twirling")
        if self.measure_mitigation:
            mitigation.append("readout mitigation (mthree)")
        if self.zne != "off":
            mitigation.append(f"ZNE {self.zne} (mitiq)")
        extra = f", {', '.join(mitigation)}" if mitigation else ""
        return f"IBM Quantum {device} ({where}, {self.shots} shots{extra})"


def _fake_device(service: Any, name: str) -> Any:
    """A fake device for the local testing mode, loaded directly (the service loads all 68)."""
    try:
        from qmls_aer.devices import fake_backend
    except ImportError:
        fake_backend = None
    device = None
    if fake_backend is not None:
        try:
            device = fake_backend(name)
        except Exception:  # noqa: BLE001 - let the service say what it knows
            device = None
    if device is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            device = service.backend(name)
    try:
        # Aer simulates the fake device: let it run a job's circuits in parallel (five times faster).
        device.set_options(max_parallel_experiments=0)
    except Exception:  # noqa: BLE001 - a device without Aer's options runs as it is
        pass
    return device


class TrackedJob:
    """A runtime job whose ``result()`` follows its status and honours Stop."""

    def __init__(self, job: Any, info: JobInfo, backend: IbmBackend) -> None:
        self._job = job
        self.info = info
        self._backend = backend

    def job_id(self) -> str:
        return self.info.job_id

    def status(self) -> Any:
        return self._job.status()

    def done(self) -> bool:
        return _status_name(self._job.status()) in FINAL_STATUSES

    def cancel(self) -> None:
        self._backend._cancel_job(self._job, self.info)

    def result(self) -> Any:
        return self._backend._wait(self._job, self.info)


def _bindable(pubs: Iterable[Any], local: bool, coerce: Callable[[Any], Any], rebuild: Callable[[Any, Any], Any]) -> list[Any]:
    """In the local mode Aer runs the circuits: unroll what Aer binds wrongly (qiskit-aer#2323)."""
    pubs = list(pubs)
    if not local:
        return pubs
    from qmls_aer.binding import bindable_circuit

    fixed = []
    for pub in pubs:
        coerced = coerce(pub)
        circuit = bindable_circuit(coerced.circuit)
        fixed.append(coerced if circuit is coerced.circuit else rebuild(coerced, circuit))
    return fixed


class TrackedSampler(BaseSamplerV2):
    """The runtime's ``SamplerV2``, each job followed by its backend."""

    def __init__(self, inner: Any, backend: IbmBackend) -> None:
        self.inner = inner
        self.backend = backend

    @property
    def options(self) -> Any:
        return self.inner.options

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> TrackedJob:
        from qiskit.primitives.containers.sampler_pub import SamplerPub

        fixed = _bindable(
            pubs, self.backend.local, SamplerPub.coerce,
            lambda p, c: SamplerPub(c, p.parameter_values, p.shots, validate=False),
        )
        return self.backend._submit("sampler", lambda: self.inner.run(fixed, shots=shots))


class TrackedEstimator(BaseEstimatorV2):
    """The runtime's ``EstimatorV2``, each job followed by its backend."""

    def __init__(self, inner: Any, backend: IbmBackend) -> None:
        self.inner = inner
        self.backend = backend

    @property
    def options(self) -> Any:
        return self.inner.options

    def run(self, pubs: Iterable[Any], *, precision: float | None = None) -> TrackedJob:
        from qiskit.primitives.containers.estimator_pub import EstimatorPub

        fixed = _bindable(
            pubs, self.backend.local, EstimatorPub.coerce,
            lambda p, c: EstimatorPub(c, p.observables, p.parameter_values, p.precision, validate=False),
        )
        return self.backend._submit("estimator", lambda: self.inner.run(fixed, precision=precision))


__all__ = ["IbmBackend", "IbmError", "JobInfo", "TrackedEstimator", "TrackedJob", "TrackedSampler"]
