"""Studies: one project over a grid (or a random sample) of choices times N seeds.

Each trial is an ordinary run (:func:`~qmlstudio.workflow.build_run`, its classical
baselines on the same seed's split). A study is kept in ``project.studies`` as plain JSON
(see docs/project-format.md); its id follows from what varies, the seeds and the epochs,
so running the same study again resumes it: only the trials without a result run.

Trials run in this process (``workers=0``), on a ``dask.distributed.LocalCluster`` of
single-threaded worker processes (the default), or on an existing Dask cluster
(``scheduler="tcp://HOST:PORT"``). A trial travels as a self-contained payload: the project
as JSON and, for a dataset read from a file, the file's bytes with their SHA-256, checked
on the worker, so a worker needs no shared disk.
"""

from __future__ import annotations

import contextlib

import hashlib
import itertools
import json
import math
import multiprocessing
import random
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice, Project

#: What a study can vary (``--vary NAME=V1,V2``), besides ``dataset.X``, ``encoding.X``,
#: ``ansatz.X``, ``optimizer.X``, ``model.X`` and ``backend.X`` for any plugin option X.
VARIABLES = {
    "encoding": "the encoding plugin",
    "ansatz": "the ansatz plugin (the circuit is rebuilt from it)",
    "reps": "the ansatz's repetitions (the circuit is rebuilt)",
    "features": "principal components kept (PCA; the circuit is rebuilt)",
    "optimizer": "the optimizer plugin",
    "lr": "the optimizer's learning rate",
    "epochs": "training epochs",
    "batch_size": "batch size",
    "backend": "the backend plugin",
    "init_scale": "initial weight scale (model option; ε of a small-angle initialisation)",
    "init": "initialisation: uniform, small-angle or identity-blocks (model option; the circuit is rebuilt)",
    "layerwise": "epochs per layer of layerwise training (0: every weight trained from the start; N: the template "
                 "grown a layer at a time, N epochs each, only the new layer trained)",
}
_STRUCTURAL = {"encoding", "ansatz", "reps", "features", "init", "model.init", "encoding.", "ansatz.", "dataset."}
_registry_cache: dict[str, Any] = {}


def _value(text: str) -> Any:
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def parse_vary(texts: Sequence[str]) -> dict[str, list[Any]]:
    """``["encoding=angle,amplitude", "reps=1,2"]`` → ``{"encoding": ["angle", "amplitude"], "reps": [1, 2]}``."""
    vary: dict[str, list[Any]] = {}
    for text in texts:
        name, sep, values = text.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise QMLStudioError(f"--vary {text!r}: write NAME=VALUE1,VALUE2 (e.g. encoding=angle,amplitude)")
        prefix = name.split(".", 1)[0] + "." if "." in name else None
        if name not in VARIABLES and prefix not in ("dataset.", "encoding.", "ansatz.", "optimizer.", "model.", "backend."):
            known = ", ".join(VARIABLES)
            raise QMLStudioError(f"--vary {name!r}: a study can vary {known}, or PLUGIN.OPTION (e.g. optimizer.learning_rate)")
        if name in vary:
            raise QMLStudioError(f"--vary {name!r} is given twice")
        vary[name] = [_value(v) for v in values.split(",") if v.strip()]
    return vary


def configurations(vary: Mapping[str, Sequence[Any]], sample: int | None = None, sample_seed: int = 0) -> list[dict[str, Any]]:
    """The grid of every combination, or ``sample`` of them drawn without replacement (seeded)."""
    names = list(vary)
    grid = [dict(zip(names, values)) for values in itertools.product(*(vary[n] for n in names))]
    if sample is not None and sample < len(grid):
        grid = random.Random(sample_seed).sample(grid, sample)
    return grid


def config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":")) if config else "{}"


def new_study(vary: Mapping[str, Sequence[Any]], seeds: Sequence[int], *, epochs: int | None = None,
              sample: int | None = None) -> dict[str, Any]:
    """A study record (no trials yet); its ``id`` is the same for the same vary, seeds, epochs and sample."""
    if not seeds:
        raise QMLStudioError("a study needs at least one seed")
    if any((not isinstance(s, int)) or s < 0 for s in seeds):
        raise QMLStudioError("seeds are whole numbers, 0 or more")
    spec = {"vary": {k: list(v) for k, v in vary.items()}, "seeds": list(seeds), "epochs": epochs, "sample": sample}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]
    return {"id": f"study-{digest}", **spec, "trials": []}


def find_or_add_study(project: Project, study: dict[str, Any]) -> dict[str, Any]:
    """The project's study with the same id (to resume), or ``study`` added to the project."""
    for existing in project.studies:
        if existing.get("id") == study["id"]:
            return existing
    project.studies.append(study)
    project.mark_changed("studies")
    return study


def planned_trials(study: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
    return [(config, seed) for config in configurations(study["vary"], study.get("sample"))
            for seed in study["seeds"]]


def missing_trials(study: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """The planned (config, seed) pairs without a recorded result."""
    done = {(t["config_key"], t["seed"]) for t in study.get("trials", [])}
    return [(c, s) for c, s in planned_trials(study) if (config_key(c), s) not in done]


# --------------------------------------------------------------------------- one trial
def trial_project(project: Project, registry: Any, config: Mapping[str, Any], seed: int) -> Project:
    """A copy of ``project`` (no runs, no studies) with ``config`` applied and ``seed`` as its seed."""
    from qmlstudio.workflow.projects import encoding_qubits, model_options, template_circuit

    data = project.to_dict()
    data.update(runs=[], seed=seed)
    data.pop("studies", None)
    copy = Project.from_dict(data)
    object.__setattr__(copy, "path", project.path)
    structural = False
    for name, value in config.items():
        structural |= name in _STRUCTURAL or name.split(".", 1)[0] + "." in _STRUCTURAL
        if name in ("encoding", "optimizer", "backend"):
            kind = {"encoding": "encodings", "optimizer": "optimizers", "backend": "backends"}[name]
            current = getattr(copy, name)
            options = current.options if current.name == value else registry.get(kind, str(value)).resolve({})
            setattr(copy, name, PluginChoice(str(value), dict(options)))
        elif name == "ansatz":
            copy.ansatz = PluginChoice(str(value), registry.get("ansatze", str(value)).resolve({}))
        elif name == "reps":
            if copy.ansatz is None:
                raise QMLStudioError("reps: the project has no ansatz to repeat")
            copy.ansatz = PluginChoice(copy.ansatz.name, {**copy.ansatz.options, "reps": value})
        elif name == "lr":
            copy.optimizer = PluginChoice(copy.optimizer.name, {**copy.optimizer.options, "learning_rate": value})
        elif name == "features":
            copy.preprocessing = replace(copy.preprocessing, pca=value)
        elif name in ("epochs", "batch_size"):
            copy.training = replace(copy.training, **{name: value})
        elif name == "init_scale":
            copy.model = replace(copy.model, options={**copy.model.options, "init_scale": value})
        elif name == "layerwise":  # how the trial trains (run_trial), not what it trains
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise QMLStudioError(f"layerwise={value!r}: give the epochs per layer, a whole number, or 0 to train "
                                     "every weight from the start")
        elif name == "init":
            options = {**copy.model.options, "init": value}
            if value == "small-angle" and "init_scale" not in config and not options.get("init_scale", 1.0) < 1:
                from qmlstudio.workflow.projects import SMALL_ANGLE_SCALE

                options["init_scale"] = SMALL_ANGLE_SCALE
            copy.model = replace(copy.model, options=options)
        else:
            plugin, option = name.split(".", 1)
            current = getattr(copy, plugin)
            if current is None:
                raise QMLStudioError(f"{name}: the project has no {plugin}")
            if plugin == "model":
                copy.model = replace(current, options={**current.options, option: value})
            else:
                setattr(copy, plugin, PluginChoice(current.name, {**current.options, option: value}))
    if structural and copy.ansatz is not None and copy.model.kind != "kernel":
        _, qubits = encoding_qubits(copy, registry)
        spec = registry.get("ansatze", copy.ansatz.name)
        options = spec.resolve(copy.ansatz.options)
        copy.ansatz = PluginChoice(copy.ansatz.name, options)
        copy.circuit = template_circuit(registry, copy.ansatz, qubits, model_options(copy)["init"])
    return copy


def trial_payload(project: Project) -> dict[str, Any]:
    """The project as JSON and its data file's bytes with their SHA-256 (None: no file)."""
    from qmlstudio.core.project import dataset_file_problem

    payload: dict[str, Any] = {"project": project.to_dict(), "data": None, "sha256": None, "filename": None}
    payload["project"].pop("studies", None)
    payload["project"]["runs"] = []
    location = project.dataset.options.get("path")
    if isinstance(location, str) and location:
        path = Path(location)
        if not path.is_absolute() and project.path is not None:
            path = Path(project.path).parent / path
        if path.is_file():
            problem = dataset_file_problem(project)
            if problem:
                raise QMLStudioError(problem)
            blob = path.read_bytes()
            payload.update(data=blob, sha256=hashlib.sha256(blob).hexdigest(), filename=path.name)
    return payload


def project_from_payload(payload: Mapping[str, Any], folder: str | Path) -> Project:
    """The project a :func:`trial_payload` carries; its dataset file (sent by value) written into
    ``folder`` after its SHA-256 is checked."""
    data = dict(payload["project"])
    if payload.get("data") is not None:
        blob = payload["data"]
        if hashlib.sha256(blob).hexdigest() != payload["sha256"]:
            raise QMLStudioError("the dataset's bytes arrived damaged (SHA-256 differs)")
        target = Path(folder) / (payload.get("filename") or "data.csv")
        target.write_bytes(blob)
        data["dataset"] = {**data["dataset"], "options": {**data["dataset"]["options"], "path": str(target)}}
    return Project.from_dict(data)


def _registry() -> Any:
    if "registry" not in _registry_cache:
        from qmlstudio.plugins.manager import load_plugins

        _registry_cache["registry"] = load_plugins()
    return _registry_cache["registry"]


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _worker_address() -> str | None:
    """The Dask worker this runs on, None in the study's own process."""
    import sys

    distributed = sys.modules.get("distributed")
    if distributed is not None:
        try:
            return str(distributed.get_worker().address)
        except ValueError:  # not on a worker
            pass
    return None


def run_trial(payload: Mapping[str, Any], config: Mapping[str, Any], seed: int, epochs: int | None = None,
              controls: Any = None) -> dict[str, Any]:
    """Runs one trial from its payload (in this process or on a Dask worker) and returns its result.

    An error of the run itself (a bad choice, a diverged loss) is a failed trial with the
    reason, not an exception: retrying it would fail the same way.
    """
    import tempfile

    result: dict[str, Any] = {"config": dict(config), "config_key": config_key(config), "seed": seed,
                              "worker": _worker_address()}
    try:
        with tempfile.TemporaryDirectory(prefix="qmlstudio-trial-") as folder:
            project = project_from_payload(payload, folder)
            registry = _registry()
            trial = trial_project(project, registry, config, seed)
            import time

            started = time.perf_counter()
            records = _train_trial(trial, registry, config, epochs, controls)
            record = records[-1]
            seconds = time.perf_counter() - started
    except QMLStudioError as exc:
        result.update(status="failed", message=str(exc))
        return result
    curve: list[Any] = []
    losses: list[Any] = []
    for phase in records:  # a layerwise trial's phases one after another
        metrics = phase.metrics
        accuracy = metrics.get("val_accuracy") or []
        if not any(v is not None for v in accuracy):
            accuracy = metrics.get("train_accuracy") or []
        curve.extend(accuracy)
        losses.extend(v for v in metrics.get("loss") or [] if v is not None)
    result.update(
        status="completed" if record.status == "completed" else record.status,
        message=record.message,
        run_id=record.id,
        test_accuracy=_clean(record.test.get("accuracy")),
        test_loss=_clean(record.test.get("loss")),
        loss=_clean(losses[-1]) if losses else None,
        seconds=seconds,  # the trial's wall time: building the run, training, baselines
        parameters=record.parameters,
        baselines={name: _clean(v.get("test_accuracy")) for name, v in record.baselines.items()},
        curve=[_clean(v) for v in curve],
        seeds=dict(record.seeds),
    )
    if record.status not in ("completed", "stopped"):
        result["status"] = "failed" if record.status == "failed" else record.status
    else:
        result["status"] = "completed"
    return result


def _train_trial(trial: Project, registry: Any, config: Mapping[str, Any], epochs: int | None, controls: Any) -> list[Any]:
    """The trial's run records: one, or with ``layerwise`` N > 0 one per phase of the schedule
    (:mod:`qmlstudio.workflow.layerwise`; the last phase's record is the trial's)."""
    from qmlstudio.workflow.runs import build_run

    per_layer = int(config.get("layerwise", 0) or 0)
    if not per_layer:
        return [build_run(trial, registry, epochs=epochs, controls=controls, widen=True).run()]
    if epochs is not None:
        raise QMLStudioError("layerwise training sets each phase's epochs: a study with --epochs cannot vary layerwise")
    from qmlstudio.workflow.layerwise import phases, run_layerwise

    return list(run_layerwise(trial, registry, phases(trial, registry, per_layer), controls=controls))


#: the fields two runs of the same trial with the same seed must share (not the times)
RESULT_FIELDS = ("config_key", "seed", "status", "test_accuracy", "test_loss", "loss", "baselines", "curve")


# --------------------------------------------------------------------------- a whole study
class StudyCancelled(QMLStudioError):
    pass


def run_study(
    project: Project,
    study: dict[str, Any],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_trial: Callable[[dict[str, Any], int, int], None] | None = None,
    cancel: threading.Event | None = None,
    trial_function: Callable[..., dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Runs the study's missing trials and records each one in ``study["trials"]`` as it finishes
    (then calls ``on_trial(trial, done, total)``: the CLI saves the project there).

    ``workers=0`` runs the trials one after another in this process; otherwise they run on
    ``scheduler`` (a Dask address) or on a LocalCluster of ``workers`` single-threaded
    processes (default: one per core). A trial whose worker dies is retried once, then
    recorded as failed with the reason. Setting ``cancel`` stops within about a second;
    the finished trials stay recorded. ``trial_function`` replaces :func:`run_trial` (same
    signature; the tests wrap it with one that kills its worker). Returns the study.
    """
    trial_function = trial_function or run_trial
    todo = missing_trials(study)
    total = len(planned_trials(study))
    done = total - len(todo)
    cancel = cancel or threading.Event()
    if not todo:
        return study
    if workers != 0 and scheduler is None:
        start_local_workers()  # its imports run while the payload is made and the scheduler starts
    payload = trial_payload(project)
    epochs = study.get("epochs")

    def record(trial: dict[str, Any]) -> None:
        nonlocal done
        study["trials"].append(trial)
        project.mark_changed("studies")
        done += 1
        if on_trial is not None:
            on_trial(trial, done, total)

    stop = lambda: StudyCancelled(f"study cancelled: {done} of {total} trials recorded")
    if workers == 0 and scheduler is None:
        for config, seed in todo:
            record(_trial_here(trial_function, payload, config, seed, epochs, cancel, stop))
        return study
    _run_on_dask(payload, todo, epochs, workers, scheduler, record, cancel, stop, trial_function)
    return study


def _trial_here(trial_function: Callable[..., dict[str, Any]], payload: Any, config: dict[str, Any], seed: int,
                epochs: int | None, cancel: threading.Event, stop: Callable[[], Exception]) -> dict[str, Any]:
    """One trial in this process; setting ``cancel`` stops it and raises ``stop()``."""
    from qmlstudio.core.training import Controls

    if cancel.is_set():
        raise stop()
    controls = Controls()
    watcher = threading.Thread(target=lambda: (cancel.wait(), controls.cancel()), daemon=True)
    watcher.start()
    trial = trial_function(payload, config, seed, epochs, controls=controls)
    if cancel.is_set():
        raise stop()
    return trial


def _run_on_dask(payload: Any, todo: list[tuple[dict[str, Any], int]], epochs: int | None, workers: int | None,
                 scheduler: str | None, record: Callable[[dict[str, Any]], None], cancel: threading.Event,
                 stop: Callable[[], Exception], trial_function: Callable[..., dict[str, Any]] = run_trial) -> None:
    import os

    with _dask_client(workers, scheduler) as client:
        shared = _shared(client, payload)
        futures = {
            client.submit(trial_function, shared, config, seed, epochs, pure=False,
                          key=f"trial-{config_key(config)}-{seed}-{os.urandom(4).hex()}"): (config, seed)
            for config, seed in todo
        }
        for future in _as_finished(client, futures, cancel.is_set, stop):
            config, seed = futures[future]
            if future.status == "error":
                exc = future.exception()
                reason = f"{type(exc).__name__}: {exc}"
                if type(exc).__name__ == "KilledWorker":
                    reason = f"its worker died twice (retried once): {exc}"
                record({"config": dict(config), "config_key": config_key(config), "seed": seed,
                        "status": "failed", "message": reason})
            else:
                record(future.result())


def _payload(payload: Any) -> Any:
    return payload


def _shared(client: Any, payload: Any) -> Any:
    """The payload on the cluster, as a task's result rather than scattered data: scattered
    data that every worker holding it loses (two workers dying at once) cannot be made again,
    and every trial waiting for it was cancelled ("already forgotten"); a task's result the
    scheduler computes again from the payload it keeps."""
    import os

    return client.submit(_payload, payload, pure=False, key=f"payload-{os.urandom(4).hex()}")


def _as_finished(client: Any, futures: Any, cancelled: Callable[[], bool], stop: Callable[[], Exception]) -> Iterator[Any]:
    """The futures as they finish; when ``cancelled()`` turns true (checked about every 0.25 s)
    the rest are cancelled and ``stop()`` is raised."""
    from distributed import wait
    from distributed.client import FIRST_COMPLETED

    pending = set(futures)
    while pending:
        if cancelled():
            client.cancel(list(pending), force=True)
            raise stop()
        try:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
        except TimeoutError:
            continue
        yield from finished


#: what the local workers' fork server imports once (:mod:`qmlstudio.workflow.study_worker`:
#: the engine, the built-in plugins, scikit-learn's models, the compiled loops), so that each
#: worker (and a restarted one) starts its first trial as fast as its next ones. A module the
#: server cannot import is skipped (what it imported before stays), and the worker imports
#: what a trial needs when it needs it.
_WORKER_PRELOAD = ("qmlstudio.workflow.study_worker",)


#: how local workers start: forked from the fork server (POSIX), else each a fresh interpreter
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


_server_lock = threading.Lock()


def start_local_workers() -> None:
    """Starts the fork server that local study workers are forked from, and returns at once:
    its imports (:data:`_WORKER_PRELOAD`, about 2 s on one core) then run while the caller
    goes on. :func:`run_study` calls it; ``qmlstudio study`` calls it before it reads the
    project, and the Study dock when it is first shown, so that its workers start in a
    fraction of a second. Later calls change nothing while the server runs (it stops with
    this process). Any thread may call it."""
    import os
    from multiprocessing import forkserver

    if _START_METHOD != "forkserver":
        return
    # The environment a Dask nanny gives its worker before it starts (one BLAS thread per
    # single-threaded worker, PYTHONHASHSEED fixed, malloc trimming), which the workers
    # inherit from the server, set here only while the server starts
    env = {k: os.environ.get(k, str(v)) for k, v in _nanny_environ().items() if v is not None}
    if env.get("PYTHONHASHSEED") in (None, "0"):
        env["PYTHONHASHSEED"] = "6640"  # Dask's value
    with _server_lock:
        multiprocessing.get_context("forkserver").set_forkserver_preload(list(_WORKER_PRELOAD))
        before = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            forkserver.ensure_running()
        finally:
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _nanny_environ() -> dict[str, Any]:
    """Dask's ``distributed.nanny.pre-spawn-environ``, with distributed's defaults under the
    user's configuration as importing distributed would set them, but read from its
    ``distributed.yaml`` instead: the import (a third of a second) would delay the fork
    server's start, which is on every cold study's critical path."""
    import importlib.util
    from pathlib import Path

    import dask
    import yaml

    key = "distributed.nanny.pre-spawn-environ"
    if "distributed" in sys.modules:
        return dict(dask.config.get(key))
    spec = importlib.util.find_spec("distributed")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    try:
        defaults = yaml.safe_load((Path(locations[0]) / "distributed.yaml").read_text(encoding="utf-8"))
    except (IndexError, OSError, yaml.YAMLError):
        import distributed  # noqa: F401  (its configuration's defaults, the slow way)

        return dict(dask.config.get(key))
    merged = dask.config.merge(defaults, dask.config.config)
    return dict(dask.config.get(key, config=merged))


def _forkserver_preload() -> None:
    """The fork server's imports (:data:`_WORKER_PRELOAD`, in place of Dask's list: distributed
    and every optional package it knows), and the server started. Dask sets its own list the
    first time a local cluster asks for the context; ours is set after it, and a server
    already running (:func:`start_local_workers`) keeps the list it started with."""
    import dask
    import distributed.utils

    if _START_METHOD != "forkserver":
        return
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        distributed.utils.get_mp_context()  # Dask sets its own list here, once
    start_local_workers()


@contextlib.contextmanager
def _dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client on ``scheduler`` or on a LocalCluster of ``workers`` single-threaded processes."""
    import os

    import dask
    from distributed import Client, LocalCluster

    cluster = None
    # allowed-failures 1: a task whose worker dies runs once more, then is a KilledWorker.
    # worker-saturation 1.0: a single-threaded local worker holds one task at a time, so a
    # task that kills its worker does not count against a neighbour queued on it.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0,
                          "distributed.logging.distributed": "error",
                          "distributed.worker.profile.enabled": False,
                          # workers forked from a server that imported the engine once
                          # (start_local_workers), rather than each a fresh interpreter
                          "distributed.worker.multiprocessing-method": _START_METHOD,
                          "distributed.worker.memory.monitor-interval": "1s", "distributed.admin.system-monitor.interval": "2s",
                          # the event loop's health check, every 20 ms by default, takes the
                          # interpreter's lock from the trial each time: 4-5 % of a trial's time
                          "distributed.admin.tick.interval": "1s"}):
        try:
            if scheduler:
                client = Client(scheduler, timeout="10s")
            else:
                n = workers or os.cpu_count() or 1
                _forkserver_preload()
                cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            raise QMLStudioError(f"cannot reach the Dask scheduler {scheduler or '(local)'}: {exc}") from None
        try:
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _replace_text(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_text(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, old, new) for v in value]
    return new if value == old else value


def encoding_study_task(payload: Mapping[str, Any], seed: int, encodings: Sequence[str],
                        options: Mapping[str, Any]) -> Any:
    """One seed of the encoding study from a :func:`trial_payload` (on a Dask worker or here).

    ``options`` are :func:`~qmlstudio.core.analysis.encoding_study`'s plain ones (``epochs``,
    ``match_ansatz``, ``basis_gates``, ``device``); a device's pass manager is built here, where
    the study runs. The runs' records name the project's own dataset file, not the copy.
    """
    import tempfile

    from qmlstudio.core.analysis import encoding_study
    from qmlstudio.workflow.runs import build_run

    options = dict(options)
    registry = _registry()
    device = options.get("device")
    if device:
        from qmlstudio.workflow.backends import backend_choice, create_backend

        options["device_pass_manager"] = create_backend(
            registry, backend_choice(registry, f"aer-noise:{device},noise=false")).pass_manager()
    with tempfile.TemporaryDirectory(prefix="qmlstudio-encodings-") as folder:
        project = project_from_payload(payload, folder)
        project.seed = int(seed)
        result = encoding_study(project, registry, list(encodings), build_run=build_run, **options)
        copy = (project.dataset.options or {}).get("path") if payload.get("data") is not None else None
        original = ((payload["project"].get("dataset") or {}).get("options") or {}).get("path")
        if copy and original:
            for record in result.records:
                record.config = _replace_text(record.config, str(copy), str(original))
    return result


def encoding_study_over_seeds(project: Project, registry: Any, encodings: Sequence[str], seeds: Sequence[int],
                              **options: Any) -> dict[str, Any]:
    """The encoding study (:func:`qmlstudio.core.analysis.encoding_study`, same ``options``)
    once per seed (the project's ``seed``: split, initial weights, shuffling), with the
    study's statistics per encoding: ``{"seeds", "results": [EncodingStudyResult per seed],
    "summary": {encoding: {"test_accuracy": {n, mean, std, ci95}, "seconds": {...},
    "failed": [messages]}}}``. A failed row counts as missing, never as a zero.

    With ``workers`` (local Dask worker processes) or ``scheduler`` (an existing Dask
    scheduler) in ``options``, the seeds run as one task each on the study runner's machinery
    (:func:`encoding_study_task`), the project's data sent by value; the results are those of
    the sequential loop.
    """
    from qmlstudio.core.analysis import encoding_study
    from qmlstudio.workflow.runs import build_run
    from qmlstudio.workflow.statistics import summary

    if not seeds:
        raise QMLStudioError("give at least one seed")
    workers, scheduler = options.pop("workers", 0), options.pop("scheduler", None)
    if workers or scheduler:
        results = _encoding_seeds_on_dask(project, encodings, seeds, options, workers, scheduler)
    else:
        results = []
        for seed in seeds:
            data = project.to_dict()
            data["seed"] = int(seed)
            results.append(encoding_study(Project.from_dict(data), registry, encodings, build_run=build_run, **options))
    table: dict[str, Any] = {}
    for name in encodings:
        rows = [next(r for r in res.rows if r.encoding == name) for res in results]
        ok = [r for r in rows if r.status == "completed"]
        table[name] = {"test_accuracy": summary(r.test_accuracy for r in ok),
                       "seconds": summary(r.seconds for r in ok),
                       "failed": [r.message for r in rows if r.status != "completed"]}
    return {"seeds": [int(s) for s in seeds], "results": results, "summary": table}


def _encoding_seeds_on_dask(project: Project, encodings: Sequence[str], seeds: Sequence[int],
                            options: dict[str, Any], workers: int | None, scheduler: str | None) -> list[Any]:
    from distributed import wait
    from distributed.client import FIRST_COMPLETED

    progress, controls = options.pop("progress", None), options.pop("controls", None)
    options.pop("device_pass_manager", None)  # rebuilt on the worker from ``device``
    payload = trial_payload(project)
    results: dict[int, Any] = {}
    with _dask_client(workers, scheduler) as client:
        shared = _shared(client, payload)
        futures = {client.submit(encoding_study_task, shared, int(seed), list(encodings), options, pure=False): int(seed)
                   for seed in seeds}
        pending = set(futures)
        while pending:
            cancelled = controls is not None and getattr(controls, "cancelled", None) is not None \
                and controls.cancelled.is_set()
            if cancelled:
                client.cancel(list(pending), force=True)
                from qmlstudio.core.control import Cancelled

                raise Cancelled("the encoding study was stopped")
            try:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            except TimeoutError:
                continue
            for future in finished:
                seed = futures[future]
                if future.status == "error":
                    exc = future.exception()
                    raise QMLStudioError(f"the encoding study for seed {seed} failed: {type(exc).__name__}: {exc}")
                results[seed] = future.result()
                if progress is not None:
                    progress(len(results), len(seeds), f"seed {seed} done")
    return [results[int(seed)] for seed in seeds]


# --------------------------------------------------------------------------- the barren-plateau sweep
def barren_plateau_point_task(template: str, options: Mapping[str, Any], n: int, layers: int, samples: int,
                              seed: int, weight: Any, init: str = "uniform", epsilon: float = 0.05,
                              input_layer: bool = False) -> dict[str, Any]:
    """One ``(qubits, layers)`` point of the barren-plateau sweep (on a Dask worker or here):
    the template is built from the worker's own plugins, the point seeded ``[seed, n, layers]``
    as in the sequential loop, so the numbers are the same."""
    from qmlstudio.core.analysis import barren_plateau_point, study_design, template_builder

    design = study_design(template_builder(_registry(), template, options), template, n, layers, init, input_layer)
    return barren_plateau_point(design, samples, [seed, n, layers], weight, init, epsilon)


def barren_plateau_on_dask(template: str, options: Mapping[str, Any], qubits: Sequence[int], layers: Sequence[int],
                           *, samples: int, seed: int, weight: Any = "first", workers: int | None = None,
                           scheduler: str | None = None, progress: Any = None,
                           cancel: threading.Event | None = None, registry: Any = None, init: str = "uniform",
                           epsilon: float = 0.05, input_layer: bool = False) -> Any:
    """:func:`~qmlstudio.core.analysis.barren_plateau_study` with its points as tasks on the
    study runner's Dask machinery (``workers`` local processes or ``scheduler``); the result
    equals the sequential one. ``cancel`` stops it within about a second."""
    from qmlstudio.core.analysis import barren_plateau_study, template_builder

    cancel = cancel or threading.Event()

    def map_points(points: list[tuple[int, int]], done: Callable[[int, int], None]) -> list[dict[str, Any]]:
        results: dict[tuple[int, int], dict[str, Any]] = {}
        with _dask_client(workers, scheduler) as client:
            # the largest points first: they bound the wall time
            order = sorted(points, key=lambda p: (-p[0], -p[1]))
            futures = {client.submit(barren_plateau_point_task, template, dict(options), n, L, samples, seed, weight,
                                     init, epsilon, input_layer, pure=False): (n, L) for n, L in order}
            def stop() -> Exception:
                return StudyCancelled(f"the barren-plateau study was cancelled: {len(results)} of {len(points)} "
                                      "points computed")

            for future in _as_finished(client, futures, cancel.is_set, stop):
                n, L = futures[future]
                if future.status == "error":
                    exc = future.exception()
                    if isinstance(exc, QMLStudioError):
                        raise QMLStudioError(str(exc))
                    raise QMLStudioError(f"the point {n} qubits × {L} layers failed: {type(exc).__name__}: {exc}")
                results[(n, L)] = future.result()
                done(n, L)
        return [results[p] for p in points]

    # built here too, so that a template that cannot build is refused before a cluster starts
    build = template_builder(registry or _registry(), template, options)
    return barren_plateau_study(build, qubits, layers, samples=samples, seed=seed, weight=weight, template=template,
                                progress=progress, map_points=map_points, init=init, epsilon=epsilon,
                                input_layer=input_layer)
