"""Studies: statistics against independent references, Dask (LocalCluster and a real
scheduler + workers) giving the same results as a sequential run, resume after SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qmlstudio.core.project import Project, ProjectError, load_project
from qmlstudio.workflow import study as S
from qmlstudio.workflow.statistics import paired_comparison, study_statistics, summary

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")])
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


@pytest.fixture(scope="module")
def registry():
    from qmlstudio.plugins.manager import load_plugins

    return load_plugins()


@pytest.fixture()
def tiny(registry):
    return tiny_project(registry)


def tiny_project(registry, **model_options):
    from qmlstudio.workflow.projects import new_project

    # 2 qubits, 40 samples, 2 epochs of full batch: a trial takes well under a second
    return new_project(registry, name="tiny", dataset="moons", dataset_options={"samples": 40}, epochs=2,
                       batch_size=None, model_options=model_options or None)


def _results(study):
    return sorted((tuple(json.dumps(t.get(k), sort_keys=True) for k in S.RESULT_FIELDS) for t in study["trials"]))


# --------------------------------------------------------------------------- statistics
def test_summary_is_the_t_interval():
    s = summary([0.8, 0.9, 1.0])
    # t(0.975, 2) = 4.302652729911275 (tables); sd = 0.1; half width = t * 0.1 / sqrt(3)
    half = 4.302652729911275 * 0.1 / math.sqrt(3)
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.9) and s["std"] == pytest.approx(0.1)
    assert s["ci95"] == pytest.approx([0.9 - half, 0.9 + half])
    assert summary([0.5])["ci95"] is None and summary([None, float("nan")])["mean"] is None


def test_paired_t_test_and_verdicts():
    q, b = [0.70, 0.75, 0.72, 0.68, 0.74], [0.90, 0.93, 0.91, 0.92, 0.95]
    c = paired_comparison(q, b, "RBF SVM")
    diffs = [x - y for x, y in zip(q, b)]
    mean = sum(diffs) / 5
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 4)
    t = mean / (sd / math.sqrt(5))
    assert c.statistic == pytest.approx(t) and c.effect_size == pytest.approx(mean / sd)
    assert c.p_value < 0.05 and c.verdict.startswith("lower test accuracy than RBF SVM")
    # noise in both directions: no difference may be claimed
    c = paired_comparison([0.8, 0.9, 0.7, 0.85, 0.8], [0.85, 0.8, 0.8, 0.8, 0.82], "MLP")
    assert c.p_value >= 0.05 and c.verdict.startswith("no significant difference from MLP")
    assert "too few" in paired_comparison([0.9], [0.8], "MLP").verdict
    assert "no difference" in paired_comparison([0.9, 0.8], [0.9, 0.8], "MLP").verdict


def test_learning_curve_band_is_the_t_interval_per_step():
    from scipy import stats

    from qmlstudio.workflow.statistics import band

    curves = [[0.5, 0.6, 0.7], [0.7, 0.8], [0.6, 1.0]]
    b = band(curves)
    assert b["mean"] == pytest.approx([0.6, 0.8, 0.7])
    lo, hi = stats.t.interval(0.95, 2, loc=0.6, scale=stats.sem([0.5, 0.7, 0.6]))
    assert b["low"][0] == pytest.approx(lo) and b["high"][0] == pytest.approx(hi)
    lo, hi = stats.t.interval(0.95, 2, loc=0.8, scale=stats.sem([0.6, 0.8, 1.0]))
    assert b["low"][1] == pytest.approx(lo) and b["high"][1] == pytest.approx(hi)
    assert b["low"][2] == b["high"][2] == pytest.approx(0.7)  # one curve: no interval, the band closes


def test_study_statistics_groups_by_configuration():
    trials = [{"config": {"reps": r}, "config_key": S.config_key({"reps": r}), "seed": s, "status": "completed",
               "test_accuracy": 0.5 + 0.1 * r + 0.01 * s, "test_loss": 1.0, "seconds": 1.0,
               "baselines": {"a": 0.6 + 0.01 * s, "b": 0.9}, "curve": [0.1, 0.2 + s]}
              for r in (1, 2) for s in range(3)]
    trials.append({"config": {"reps": 1}, "config_key": S.config_key({"reps": 1}), "seed": 9, "status": "failed"})
    stats = study_statistics(trials)
    assert [s["config"] for s in stats] == [{"reps": 1}, {"reps": 2}]
    assert stats[0]["seeds"] == [0, 1, 2] and stats[0]["best_baseline"] == "b"
    assert stats[1]["test_accuracy"]["mean"] == pytest.approx(0.71)
    assert stats[0]["curve"]["mean"] == pytest.approx([0.1, 1.2])


def test_vary_parsing_and_grid():
    vary = S.parse_vary(["encoding=angle,amplitude", "reps=1,2,3"])
    assert vary == {"encoding": ["angle", "amplitude"], "reps": [1, 2, 3]}
    assert len(S.configurations(vary)) == 6
    sample = S.configurations(vary, sample=4)
    assert len(sample) == 4 and sample == S.configurations(vary, sample=4)
    for bad in (["colour=red"], ["reps"], ["reps="]):
        with pytest.raises(Exception, match="--vary"):
            S.parse_vary(bad)


def test_studies_field_round_trips_and_is_checked(tiny):
    study = S.find_or_add_study(tiny, S.new_study({"reps": [1]}, [0, 1]))
    study["trials"].append({"config": {"reps": 1}, "config_key": '{"reps":1}', "seed": 0, "status": "completed"})
    again = Project.from_dict(tiny.to_dict())
    assert again.studies == tiny.studies
    assert "studies" not in Project.new().to_dict()  # optional: absent when there are none
    with pytest.raises(ProjectError, match="studies"):
        Project.from_dict({**tiny.to_dict(), "studies": [{"trials": []}]})
    assert S.new_study({"reps": [1]}, [0, 1])["id"] == study["id"]  # the same study resumes
    assert S.missing_trials(study) == [({"reps": 1}, 1)]


def test_trial_project_rebuilds_the_circuit(tiny, registry):
    trial = S.trial_project(tiny, registry, {"encoding": "amplitude", "reps": 3, "lr": 0.05}, 4)
    assert trial.seed == 4 and trial.ansatz.options["reps"] == 3
    assert trial.optimizer.options["learning_rate"] == 0.05
    assert trial.circuit.num_qubits == 1  # amplitude encoding of 2 features
    assert tiny.circuit.num_qubits == 2 and tiny.seed == 7  # the project itself is untouched


def test_a_study_varies_layerwise_training_against_training_every_weight(registry):
    """--vary layerwise=0,1 (issue 19's training comparison with and without the mitigation):
    a layerwise trial runs the schedule run_layerwise runs, and the trial is its last phase."""
    from qmlstudio.workflow.layerwise import phases, run_layerwise
    from qmlstudio.workflow.projects import new_project

    project = new_project(registry, name="lw", dataset="moons", dataset_options={"samples": 40}, epochs=3,
                          batch_size=None, ansatz_options={"reps": 3}, model_options={"baselines": False})
    study = S.new_study(S.parse_vary(["layerwise=0,1"]), [0, 1])
    S.run_study(project, study, workers=0)
    trials = {(t["config"]["layerwise"], t["seed"]): t for t in study["trials"]}
    assert all(t["status"] == "completed" for t in trials.values()), [t.get("message") for t in trials.values()]
    for seed in (0, 1):
        trial = S.trial_project(project, registry, {"layerwise": 1}, seed)
        records = list(run_layerwise(trial, registry, phases(trial, registry, 1)))
        assert len(records) == 3
        assert trials[(1, seed)]["test_accuracy"] == records[-1].test["accuracy"]
        assert len(trials[(1, seed)]["curve"]) == sum(r.num_points for r in records)  # 1 epoch of each of 3 phases
        assert len(trials[(0, seed)]["curve"]) == 3  # 3 epochs, every weight
    with pytest.raises(S.QMLStudioError, match="epochs per layer"):
        S.trial_project(project, registry, {"layerwise": -1}, 0)
    refused = S.new_study(S.parse_vary(["layerwise=1"]), [0], epochs=2)
    S.run_study(project, refused, workers=0)
    assert refused["trials"][0]["status"] == "failed" and "cannot vary layerwise" in refused["trials"][0]["message"]


# --------------------------------------------------------------------------- on Dask
def test_local_cluster_gives_the_sequential_results(tiny):
    vary = {"encoding": ["angle", "amplitude"]}
    sequential = S.new_study(vary, [0, 1])
    S.run_study(tiny, sequential, workers=0)
    seen = []
    parallel = S.new_study(vary, [0, 1])
    S.run_study(tiny, parallel, workers=2, on_trial=lambda t, done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(t["status"] == "completed" for t in parallel["trials"])
    assert _results(parallel) == _results(sequential)
    # each trial says where it ran: here, or on one of the cluster's workers
    assert {t["worker"] for t in sequential["trials"]} == {None}
    assert all(t["worker"].startswith("tcp://127.0.0.1:") for t in parallel["trials"])
    # the seeds change the split: not every seed gives the same score
    assert len({t["test_accuracy"] for t in sequential["trials"]} | {json.dumps(t["baselines"]) for t in sequential["trials"]}) > 2


def _fork_servers():
    import psutil

    return [p for p in psutil.Process().children() if "multiprocessing.forkserver" in " ".join(p.cmdline())]


def test_local_workers_fork_from_a_server_with_the_engine_loaded_and_one_blas_thread():
    """The fork server starts at once (its imports run in the background), with the environment
    a Dask nanny gives its workers (one BLAS thread each: two workers with two threads each on
    two cores ran 2.5 times slower), while this process's environment stays as it was; its
    workers start with the engine, scikit-learn and the compiled loops already loaded (kept out
    of the collector's sight, and the collector on)."""
    import psutil

    before = dict(os.environ)
    started = time.perf_counter()
    S.start_local_workers()
    assert time.perf_counter() - started < 1.5  # the server's imports are not waited for
    assert dict(os.environ) == before
    servers = _fork_servers()
    assert len(servers) == 1
    environ = servers[0].environ()
    assert environ["OMP_NUM_THREADS"] == environ["OPENBLAS_NUM_THREADS"] == environ["MKL_NUM_THREADS"] == "1"
    assert environ["PYTHONHASHSEED"] == os.environ.get("PYTHONHASHSEED", "6640")
    S.start_local_workers()  # a second call starts no second server
    assert [p.pid for p in _fork_servers()] == [servers[0].pid]

    def loaded():
        from qmlstudio.core import _loops

        import gc

        import dask

        return (all(m in sys.modules for m in ("sklearn.svm", "qiskit", "qmls_statevector.backend"))
                and _loops.apply1_uniform.signatures != [] and gc.isenabled() and gc.get_freeze_count() > 100_000,
                os.environ["OMP_NUM_THREADS"], os.getppid(),
                [dask.config.get(key) for key in ("distributed.admin.tick.interval", "distributed.worker.profile.enabled")])

    with S._dask_client(2, None) as client:
        answers = client.run(loaded)
    assert len(answers) == 2
    for ok, threads, parent, quiet in answers.values():
        assert ok and threads == "1"
        # no event-loop health check every 20 ms nor statistical profiler taking the lock from the trial
        assert quiet == ["1s", False]
        assert parent == servers[0].pid or psutil.Process(parent).ppid() == servers[0].pid


def test_the_nanny_environment_is_read_without_importing_distributed():
    """The fork server starts before distributed is imported (the import would delay it by a
    third of a second): the nanny's environment read from distributed's own defaults file, under
    the user's configuration, equals what importing distributed then gives, with and without a
    user's setting."""
    script = (
        "import sys, json, dask\n"
        "if sys.argv[1:]: dask.config.set({'distributed.nanny.pre-spawn-environ': {'OMP_NUM_THREADS': 3}})\n"
        "from qmlstudio.workflow.study import _nanny_environ\n"
        "read = _nanny_environ()\n"
        "assert 'distributed' not in sys.modules\n"
        "import distributed\n"
        "print(json.dumps([read, dask.config.get('distributed.nanny.pre-spawn-environ')]))\n"
    )
    for args, threads in (([], 1), (["user"], 3)):
        out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True).stdout
        read, truth = json.loads(out)
        assert read == truth and read["OMP_NUM_THREADS"] == threads and read["OPENBLAS_NUM_THREADS"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_scheduler_and_two_workers(tiny, tmp_path):
    """A `dask scheduler` and two `dask worker` processes on localhost; the data file travels by value."""
    import numpy as np

    from qmlstudio.workflow.projects import new_project
    from qmlstudio.plugins.manager import load_plugins

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    csv = tmp_path / "blobs.csv"
    csv.write_text("a,b,label\n" + "".join(f"{p:.4f},{q:.4f},{int(p + q > 0)}\n" for p, q in x))
    project = new_project(load_plugins(), name="csv", dataset="csv", dataset_options={"path": str(csv), "label_column": "label"},
                          epochs=2, batch_size=None)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = _env()
    procs = [subprocess.Popen([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(VENV_BIN / "dask"), "worker", address, "--nthreads", "1",
                                           "--no-dashboard"], env=env, cwd="/", stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        from distributed import Client

        with Client(address, timeout="20s") as client:
            client.wait_for_workers(2, timeout=30)
        csv_copy = csv.read_bytes()
        remote = S.new_study({"reps": [1, 2]}, [0, 1])
        S.run_study(project, remote, scheduler=address)
        local = S.new_study({"reps": [1, 2]}, [0, 1])
        S.run_study(project, local, workers=0)
        assert all(t["status"] == "completed" for t in remote["trials"]), remote["trials"]
        assert _results(remote) == _results(local)
        assert csv.read_bytes() == csv_copy
    finally:
        for p in reversed(procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def test_cancel_keeps_the_finished_trials(tiny):
    study = S.new_study({"encoding": ["angle", "amplitude"]}, [0, 1, 2, 3])
    cancel = threading.Event()
    stamps = []

    def on_trial(trial, done, total):
        if done == 1:
            cancel.set()
            stamps.append(time.monotonic())

    with pytest.raises(S.StudyCancelled):
        S.run_study(tiny, study, workers=2, on_trial=on_trial, cancel=cancel)
    elapsed = time.monotonic() - stamps[0]
    assert 1 <= len(study["trials"]) < 8
    assert elapsed < 3.0, elapsed  # the loop notices within 0.25 s; closing the local cluster takes the rest


def test_a_trial_whose_worker_dies_is_retried_once_then_failed(tiny, tmp_path):
    """Real worker deaths on a LocalCluster: angle seed 0 kills its worker process on its first
    attempt (a marker file remembers it) and succeeds on the retry; amplitude seed 1 kills its
    worker every time and is recorded as failed with the reason; every other trial completes."""
    markers = str(tmp_path)

    def dying_trial(payload, config, seed, epochs=None, controls=None):
        import os as _os
        from pathlib import Path as _Path

        from qmlstudio.workflow.study import run_trial

        attempt = _Path(markers) / f"{config['encoding']}-{seed}-{_os.getpid()}"
        attempt.write_text("")
        if config["encoding"] == "amplitude" and seed == 1:
            _os._exit(3)
        if config["encoding"] == "angle" and seed == 0 and len(list(_Path(markers).glob("angle-0-*"))) == 1:
            _os._exit(3)
        return run_trial(payload, config, seed, epochs, controls)

    vary = {"encoding": ["angle", "amplitude"]}
    study = S.new_study(vary, [0, 1, 2])
    S.run_study(tiny, study, workers=2, trial_function=dying_trial)
    by = {(t["config"]["encoding"], t["seed"]): t for t in study["trials"]}
    assert sorted(by) == sorted((e, s) for e in ("angle", "amplitude") for s in (0, 1, 2))  # each exactly once
    assert len(study["trials"]) == 6
    dead = by[("amplitude", 1)]
    assert dead["status"] == "failed" and "worker died twice (retried once)" in dead["message"], dead
    # it ran twice, in two different worker processes (the nanny restarted the dead one)
    assert len(list(tmp_path.glob("amplitude-1-*"))) == 2
    # died once, then ran; a finished trial whose result was still on a worker that then died
    # runs again (Dask recomputes lost results): recorded once all the same
    assert len(list(tmp_path.glob("angle-0-*"))) >= 2
    others = [t for k, t in by.items() if k != ("amplitude", 1)]
    assert all(t["status"] == "completed" for t in others), others
    # the retried trial's result is that of an undisturbed run
    reference = S.new_study({"encoding": ["angle"]}, [0])
    S.run_study(tiny, reference, workers=0)
    assert _results({"trials": [by[("angle", 0)]]}) == _results(reference)


def test_both_workers_dying_at_once_lose_no_trial(registry, tmp_path):
    """Seeds 0 and 1 kill their workers at the same moment on their first attempt: every copy
    of the study's data dies with them. The data is a task's result the scheduler makes again
    (scattered data could not be: every waiting trial was cancelled, "already forgotten"),
    so the retries and the other trials complete."""
    markers = str(tmp_path)

    def both_die(payload, config, seed, epochs=None, controls=None):
        import os as _os
        import time as _time
        from pathlib import Path as _Path

        from qmlstudio.workflow.study import run_trial

        first = not list(_Path(markers).glob(f"{seed}-*"))
        (_Path(markers) / f"{seed}-{_os.getpid()}").write_text("")
        if first and seed in (0, 1):
            deadline = _time.time() + 30
            while len(list(_Path(markers).glob("[01]-*"))) < 2 and _time.time() < deadline:
                _time.sleep(0.02)
            _os._exit(3)
        return run_trial(payload, config, seed, epochs, controls)

    # tiny's project without its classical baselines (a second a trial): only statuses and seeds are checked
    project = tiny_project(registry, baselines=False)
    study = S.new_study({"encoding": ["angle"]}, [0, 1, 2, 3])
    S.run_study(project, study, workers=2, trial_function=both_die)
    assert sorted(t["seed"] for t in study["trials"]) == [0, 1, 2, 3]
    assert all(t["status"] == "completed" for t in study["trials"]), study["trials"]
    assert len(list(tmp_path.glob("0-*"))) == len(list(tmp_path.glob("1-*"))) == 2  # died once, then ran


# --------------------------------------------------------------------------- CLI, kill -9 and resume
def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "qmlstudio", *args], env=_env(), capture_output=True, text=True,
                          timeout=120, **kw)


def test_cli_study_killed_and_resumed_runs_every_trial_once(tmp_path):
    path = tmp_path / "t.qmls"
    assert _cli("new", str(path), "--dataset", "moons", "--dataset-option", "samples=40", "--epochs", "2",
                "--batch-size", "0").returncode == 0
    cmd = [sys.executable, "-m", "qmlstudio", "study", str(path), "--vary", "reps=1,2", "--seeds", "3",
           "--workers", "0", "--json"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    lines = []
    for line in proc.stdout:
        lines.append(json.loads(line))
        if len(lines) == 2:
            os.killpg(proc.pid, signal.SIGKILL)  # half-way: 2 of 6 trials
            break
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    kept = load_project(path).studies[0]["trials"]
    assert 2 <= len(kept) < 6
    result = _cli("study", str(path), "--vary", "reps=1,2", "--seeds", "3", "--workers", "0", "--json",
                  "--report", str(tmp_path / "r.html"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len([r for r in rows if r["event"] == "trial"]) == 6 - len(kept)
    summary_line = rows[-1]
    assert summary_line["event"] == "summary" and summary_line["test"].startswith("paired t test")
    for entry in summary_line["configurations"]:
        assert entry["seeds"] == [0, 1, 2] and set(entry["test_accuracy"]) >= {"mean", "std", "ci95"}
    trials = load_project(path).studies[0]["trials"]
    pairs = [(t["config_key"], t["seed"]) for t in trials]
    assert len(pairs) == 6 and len(set(pairs)) == 6
    assert "<table>" in (tmp_path / "r.html").read_text()


def test_cli_study_bad_input_is_a_clear_error(tmp_path):
    path = tmp_path / "t.qmls"
    Path(path).write_text(json.dumps(Project.new().to_dict()))
    for args, message in ((["--vary", "colour=red"], "--vary 'colour'"), (["--seeds", "0"], "--seeds"),
                          (["--scheduler", "localhost"], "--scheduler")):
        result = _cli("study", str(path), *args)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
