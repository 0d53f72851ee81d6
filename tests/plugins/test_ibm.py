"""The IBM Quantum backend (plugins/qmls_ibm), offline: qiskit-ibm-runtime's local testing
mode (a fake device as the mode) for training and evaluating, and mocks for what needs an
account: the token in the keyring, job status and Stop, and auth, network and quota errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime")
keyring = pytest.importorskip("keyring")

import qmls_ibm  # noqa: E402
from qmls_ibm import account  # noqa: E402
from qmls_ibm.backend import IbmBackend, TrackedSampler  # noqa: E402
from qmls_ibm.errors import IbmError, IbmJobCancelled, classify, explain  # noqa: E402

from qmlstudio.core.models import PrimitiveEvaluator  # noqa: E402
from qmlstudio.core.project import ModelChoice, PluginChoice, Training, load_project  # noqa: E402
from qmlstudio.core.training import Controls  # noqa: E402
from qmlstudio.plugins import Backend, BackendSpec  # noqa: E402
from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow import backend_choice, build_run, create_backend, evaluate_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC = qmls_ibm.qmlstudio_backends()[0]
SECRET = "qmls-test-token-5f1c9a77e2"
LOCAL = "ibm:fake_manila,channel=local,shots=256,seed=3"


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture
def clean_account():
    """No token in the session before and after; the system keyring as it was."""
    original = keyring.get_keyring()
    account._session_token = None
    yield
    account._session_token = None
    keyring.set_keyring(original)


@pytest.fixture
def memory_keyring(clean_account):
    """An in-memory keyring that QML Studio sees as a real system keyring."""
    import keyring.backend
    import keyring.errors

    class MemoryKeyring(keyring.backend.KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.store: dict[tuple[str, str], str] = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            if (service, username) not in self.store:
                raise keyring.errors.PasswordDeleteError("not stored")
            del self.store[(service, username)]

    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.backend.KeyringBackend._classes.discard(MemoryKeyring)  # never auto-detected later


def demo(samples: int = 60, optimizer: str = "spsa", epochs: int = 2):
    """The demo model (moons, angle encoding, RealAmplitudes ×2) on fewer samples, gradient-free."""
    project = load_project(ROOT / "resources" / "demo.qmls")
    project.dataset = PluginChoice("moons", {**project.dataset.options, "samples": samples})
    project.optimizer = PluginChoice(optimizer, {})
    project.model = ModelChoice("vqc", {"eval_every": 0, "baselines": False})
    project.training = Training(epochs=epochs, batch_size=32)
    return project


# ------------------------------------------------------------------ descriptor
def test_hook_qmlstudio_backends():
    assert isinstance(SPEC, BackendSpec) and SPEC.name == "ibm" and SPEC.problems() == []
    assert SPEC.positional == "backend" and SPEC.unavailable_reason() is None
    names = {o.name for o in SPEC.options}
    assert {"backend", "channel", "instance", "mode", "shots", "optimization_level", "resilience_level",
            "dynamical_decoupling", "dd_sequence", "twirling", "seed",
            # QML Studio's own error mitigation (qmls_aer.mitigation), applied when a run is evaluated
            "measure_mitigation", "calibration_shots", "zne", "zne_scales", "zne_folding"} == names
    assert "token" not in names  # a token option would end up in project files
    backend = SPEC.create({"backend": "ibm_brisbane"})
    assert isinstance(backend, Backend) and not backend.exact and backend.shots == 4096
    assert backend.describe() == "IBM Quantum ibm_brisbane (batch mode, 4096 shots)"
    assert backend.resilience_level == 0  # the Sampler the engine runs has no resilience levels


def test_unavailable_without_qiskit_ibm_runtime(monkeypatch, registry):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "qiskit_ibm_runtime" else real(name, *a))
    assert "qiskit-ibm-runtime is not installed" in SPEC.unavailable_reason()
    assert "qiskit-ibm-runtime" in registry.get("backends", "ibm").to_dict()["unavailable"]


def test_listing_imports_neither_the_runtime_nor_keyring():
    code = (
        "import json, sys\n"
        "import qmls_ibm\n"
        "specs = [s.to_dict() for s in qmls_ibm.qmlstudio_backends()]\n"
        "print(json.dumps([m for m in ('qiskit_ibm_runtime', 'keyring', 'qiskit_aer') if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_mitigation_options_reach_the_runtime_primitives():
    from qiskit_ibm_runtime import SamplerV2
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend = IbmBackend("ibm_x", shots=1000, dynamical_decoupling=True, dd_sequence="XY4", twirling=True)
    sampler_options = backend.primitive_options("sampler")
    assert sampler_options == {
        "default_shots": 1000,
        "dynamical_decoupling": {"enable": True, "sequence_type": "XY4"},
        "twirling": {"enable_gates": True},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=FakeManilaV2(), options=sampler_options)  # the runtime validates them
    assert sampler.options.twirling.enable_gates is True and sampler.options.default_shots == 1000
    assert sampler.options.dynamical_decoupling.sequence_type == "XY4"
    applied = backend.applied_options()
    assert applied["primitive"] == "sampler" and applied["resilience_level"] is None
    assert applied["dynamical_decoupling"] == "XY4" and applied["twirling"] is True
    assert backend.random_seeds() == {"transpiler": 0, "shots": None}  # hardware shots have no seed
    local = IbmBackend("fake_manila", channel="local", seed=1)
    assert set(local.primitive_options("sampler")) == {"default_shots", "simulator"}
    assert local.describe() == "IBM Quantum fake_manila (local testing mode, 4096 shots)"
    assert local.applied_options()["twirling"] is False and local.random_seeds() == {"transpiler": 1, "shots": 1}


@pytest.mark.parametrize("choice, words", [
    ("ibm:ibm_x,resilience_level=1", ["resilience_level 1", "Sampler", "resilience_level=0"]),
    ("ibm:ibm_x,resilience_level=2,twirling=true", ["resilience_level 2", "Sampler"]),
    ("ibm:fake_manila,channel=local,resilience_level=2", ["resilience_level 2"]),
    ("ibm:fake_manila,channel=local,twirling=true", ["local testing mode", "twirling"]),
    ("ibm:fake_manila,channel=local,dynamical_decoupling=true", ["local testing mode", "dynamical_decoupling"]),
    ("aer-noise:fake_manila,resilience_level=2", ["does not apply resilience_level", "measure_mitigation, zne"]),
    ("aer-noise:fake_manila,twirling=true,dynamical_decoupling=true", ["does not apply dynamical_decoupling, twirling"]),
    ("noisy-exact:fake_manila,measure_mitigation=true", ["corrects sampled counts", "set shots"]),
    ("noisy-exact:fake_manila,zne_scales=1/3", ["zne is off"]),
    ("aer-noise:fake_manila,zne=richardson,zne_scales=3/5", ["must start at 1"]),
    ("aer-noise:fake_manila,zne=linear,zne_scales=1", ["at least two"]),
    ("aer-noise:fake_manila,noise=false,measure_mitigation=true", ["no readout error"]),
    ("aer-shots,resilience_level=1", ["applies no error mitigation"]),
    ("aer-statevector,twirling=true", ["applies no error mitigation"]),
])
def test_options_a_backend_cannot_apply_are_refused(registry, choice, words):
    from qmlstudio.core.errors import OptionError

    with pytest.raises(OptionError) as caught:
        backend_choice(registry, choice)
    assert all(word in str(caught.value) for word in words), str(caught.value)
    with pytest.raises(OptionError):  # also when a stored project asks for them
        create_backend(registry, PluginChoice(*_stored(choice)))


def _stored(choice: str) -> tuple[str, dict]:
    from qmlstudio.workflow import parse_backend_choice

    name, arg, options = parse_backend_choice(choice)
    if arg is not None:
        options[{"ibm": "backend", "aer-noise": "fake_backend", "noisy-exact": "fake_backend"}[name]] = arg
    return name, {k: (v == "true" if v in ("true", "false") else v) for k, v in options.items()}


def test_ibm_backend_made_directly_refuses_what_it_cannot_apply():
    with pytest.raises(IbmError, match="Sampler"):
        IbmBackend("ibm_x", resilience_level=1)
    with pytest.raises(IbmError, match="local testing mode"):
        IbmBackend("fake_manila", channel="local", twirling=True)


def test_cli_refuses_unapplied_mitigation_and_stores_nothing(tmp_path, capsys):
    from qmlstudio.cli import main
    from qmlstudio.core.project import save_project

    path = tmp_path / "p.qmls"
    save_project(demo(epochs=1), path)
    before = path.read_bytes()
    assert main(["train", str(path), "--backend", "aer-noise:fake_manila,resilience_level=2"]) == 1
    assert "does not apply resilience_level" in capsys.readouterr().err
    assert main(["train", str(path), "--backend", "aer-shots,resilience_level=2"]) == 1
    assert "applies no error mitigation" in capsys.readouterr().err
    assert main(["train", str(path), "--backend", "aer-noise:fake_manila,measure_mitigation=true"]) == 1
    assert "applied when a trained run is evaluated" in capsys.readouterr().err
    assert main(["new", str(tmp_path / "q.qmls"), "--dataset", "moons",
                 "--backend", "ibm", "--backend-option", "channel=local", "--backend-option", "twirling=true"]) == 1
    assert "local testing mode" in capsys.readouterr().err and not (tmp_path / "q.qmls").exists()
    assert path.read_bytes() == before


# ------------------------------------------------------------- local testing
def test_local_mode_trains_and_evaluates_the_demo_model(registry):
    project = demo(epochs=1)
    events: list[tuple] = []
    reports = []
    run = build_run(project, registry, backend=LOCAL, callback=reports.append)
    run.backend.subscribe_jobs(lambda *event: events.append(event))
    assert run.backend.target().name == "fake_manila"
    record = run.run()
    assert record.status == "completed", record.message
    assert len(reports) == 2 and all(np.isfinite(r.loss) for r in reports)
    assert 0.4 <= record.test["accuracy"] <= 1.0
    assert reports[-1].shots > 0 and reports[-1].shots % 256 == 0
    job_ids = list(dict.fromkeys(e[0] for e in events))
    # two SPSA evaluations per iteration, the training and validation splits, then the test split
    assert len(job_ids) == 2 * 2 + 3
    assert all(run.backend.jobs[j].status == "DONE" for j in job_ids)
    assert {e[1] for e in events} <= {"SUBMITTED", "INITIALIZING", "QUEUED", "RUNNING", "DONE"}
    assert run.backend._container is None  # the batch was closed when the run ended

    project.add_run(record)
    first = evaluate_run(project, registry, record.id, "ibm:fake_manila,channel=local,seed=11,shots=512")
    again = evaluate_run(project, registry, record.id, "ibm:fake_manila,channel=local,seed=11,shots=512")
    assert first == again and 0.0 <= first <= 1.0
    assert [e["backend"] for e in record.evaluations] == ["ibm", "ibm"]
    assert record.evaluations[0]["options"]["backend"] == "fake_manila"


@pytest.mark.parametrize("mode", ["batch", "session", "job"])
def test_execution_modes_in_local_mode(mode):
    from qiskit import QuantumCircuit

    backend = create_backend(load_plugins(), f"ibm:fake_manila,channel=local,mode={mode},shots=100,seed=1")
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    result = backend.sampler().run([backend.pass_manager().run(circuit)]).result()[0]
    counts = result.data.meas.get_counts()
    assert sum(counts.values()) == 100 and counts.get("00", 0) + counts.get("11", 0) > 80
    container = backend._container
    assert (container is None) == (mode == "job")
    if container is not None:
        assert type(container).__name__ == mode.capitalize()
    backend.close()
    assert backend._container is None


# ------------------------------------------------------------ jobs and Stop
class FakeService:
    """A QiskitRuntimeService stand-in: one device, a fake manila."""

    def backend(self, name):
        from qiskit_ibm_runtime.fake_provider import FakeManilaV2

        return FakeManilaV2()


class QueuedJob:
    """A remote job stuck in the queue at position 7 until it is cancelled."""

    def __init__(self):
        self.cancelled = threading.Event()

    def job_id(self):
        return "d1e2f3"

    def status(self):
        return "CANCELLED" if self.cancelled.is_set() else "QUEUED"

    def metrics(self):
        return {"position_in_queue": 7}

    def cancel(self):
        self.cancelled.set()

    def result(self):  # pragma: no cover - never reached
        raise AssertionError("a queued job has no result")


class QueuedSampler:
    def __init__(self):
        self.jobs: list[QueuedJob] = []

    def run(self, pubs, shots=None):
        self.jobs.append(QueuedJob())
        return self.jobs[-1]


class StuckBackend(IbmBackend):
    def __init__(self, **options):
        super().__init__("ibm_test", service=FakeService(), **options)
        self.inner = QueuedSampler()
        self.poll_interval = 0.05

    def sampler(self):
        return TrackedSampler(self.inner, self)


def test_stop_cancels_the_remote_job_and_keeps_the_run(registry):
    controls = Controls()
    run = build_run(demo(), registry, controls=controls)
    backend = StuckBackend()
    events: list[tuple] = []
    backend.subscribe_jobs(lambda *event: events.append(event))
    run.backend = backend
    run.evaluator = PrimitiveEvaluator(run.model.design, run.head.observables(run.model.num_qubits), backend)
    timer = threading.Timer(0.4, controls.cancel)
    timer.start()
    record = run.run()
    timer.join()
    assert record.status == "stopped", record.message
    assert "stopped by the user" in record.message and "d1e2f3 was cancelled" in record.message
    assert backend.inner.jobs and backend.inner.jobs[0].cancelled.is_set()
    assert ("d1e2f3", "QUEUED", 7) in events and events[-1] == ("d1e2f3", "CANCELLED", None)
    assert not backend._cancel.is_set()  # closing the run clears the Stop for the next one


def test_a_job_stopped_before_it_is_sent_is_never_sent():
    backend = StuckBackend()
    backend.cancel()
    with pytest.raises(IbmJobCancelled):
        backend.sampler().run([])
    assert backend.inner.jobs == []


# ---------------------------------------------------------------- errors
def runtime_errors():
    import requests
    from qiskit.providers.exceptions import QiskitBackendNotFoundError
    from qiskit_ibm_runtime.accounts.exceptions import AccountNotFoundError, InvalidAccountError
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError
    from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError, IBMRuntimeError, RuntimeJobFailureError

    def wrapped(outer, inner):
        try:
            raise inner
        except Exception as cause:
            try:
                raise outer from cause
            except Exception as exc:
                return exc

    return [
        (IBMNotAuthorizedError(f"401 Client Error: Unauthorized for url (token {SECRET})"), "auth"),
        (InvalidAccountError("Unable to retrieve instances. Please check that you are using a valid API token."),
         "auth"),
        (RequestsApiError("403 Client Error: Forbidden", 403), "auth"),
        (wrapped(RequestsApiError("HTTPSConnectionPool(host='quantum.cloud.ibm.com', port=443): Max retries "
                                  "exceeded with url: /api/v1/backends"),
                 requests.exceptions.ConnectionError("Failed to establish a new connection")), "network"),
        (requests.exceptions.ConnectTimeout("connect timeout=30"), "network"),
        (RequestsApiError("429 Client Error: Too Many Requests", 429), "quota"),
        (RuntimeJobFailureError("Unable to retrieve job result. Error code 4317; Job create exceeds the usage "
                                "limit of the instance (quota)"), "quota"),
        (IBMRuntimeError("Failed to run program: 'Instance usage limit reached for this month'"), "quota"),
        (AccountNotFoundError("Unable to find account."), "account"),
        (QiskitBackendNotFoundError("No backend matches the criteria."), "backend"),
    ]


def test_runtime_errors_are_classified_with_advice():
    for exc, kind in runtime_errors():
        assert classify(exc) == kind, (exc, kind)
        error = explain(exc, "connecting to IBM Quantum", token=SECRET)
        assert isinstance(error, IbmError) and error.kind == kind
        assert SECRET not in str(error)
        assert "connecting to IBM Quantum" in str(error)
    assert "did not accept the API token" in str(explain(runtime_errors()[0][0]))
    assert "cannot reach IBM Quantum" in str(explain(runtime_errors()[3][0]))
    assert "quota" in str(explain(runtime_errors()[5][0]))


@pytest.mark.parametrize("index", [0, 3, 8])
def test_connecting_with_a_failing_service_gives_a_clear_message(monkeypatch, clean_account, index):
    import qiskit_ibm_runtime

    exc, kind = runtime_errors()[index]
    seen = {}

    def failing_service(**kwargs):
        seen.update(kwargs)
        raise exc

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", failing_service)
    account.store_token(SECRET, remember=False)
    with pytest.raises(IbmError) as caught:
        account.check_account("ibm_quantum_platform", "my-instance")
    assert caught.value.kind == kind and SECRET not in str(caught.value)
    assert seen == {"channel": "ibm_quantum_platform", "token": SECRET, "instance": "my-instance"}
    # the same through a backend: a clear error when the run is built, no traceback
    with pytest.raises(IbmError) as again:
        IbmBackend("ibm_brisbane").pass_manager()
    assert again.value.kind == kind and SECRET not in str(again.value)


def test_quota_errors_while_training_fail_the_run_with_the_advice(registry):
    from qiskit_ibm_runtime.api.exceptions import RequestsApiError

    class OverQuota(QueuedSampler):
        def run(self, pubs, shots=None):
            raise RequestsApiError("Job create exceeds the instance's usage limit (quota)", 403)

    run = build_run(demo(), registry)
    backend = StuckBackend()
    backend.inner = OverQuota()
    run.backend = backend
    run.evaluator = PrimitiveEvaluator(run.model.design, run.head.observables(run.model.num_qubits), backend)
    record = run.run()
    assert record.status == "failed"
    assert "quota of this instance is used up" in record.message and "sending the sampler job" in record.message


# ---------------------------------------------------------------- the token
def test_token_in_a_system_keyring(memory_keyring):
    status = account.keyring_status()
    assert status.available and "system keyring" in status.reason
    saved = account.store_token(f"  {SECRET}\n", remember=True)
    assert saved.where == "keyring"
    assert memory_keyring.store == {("qmlstudio", "ibm-quantum"): SECRET}
    account._session_token = None  # a new session: the keyring still has it
    assert account.load_token() == (SECRET, "keyring")
    account.store_token(SECRET, remember=False)  # unticking Remember removes it from the keyring
    assert memory_keyring.store == {} and account.load_token() == (SECRET, "session")
    account.store_token(SECRET)
    account.forget_token()
    assert memory_keyring.store == {} and account.load_token() == (None, "none")
    with pytest.raises(IbmError, match="empty"):
        account.store_token("   ")


def test_without_a_keyring_the_token_is_kept_for_the_session_only(clean_account, monkeypatch):
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())
    status = account.keyring_status()
    assert not status.available and "session only" in status.reason and "no system keyring" in status.reason
    saved = account.store_token(SECRET, remember=True)
    assert saved.where == "session" and "session only" in saved.message
    assert account.load_token() == (SECRET, "session")

    import keyring.backend

    class PlaintextKeyring(keyring.backend.KeyringBackend):
        priority = 0.5
        get_password = set_password = delete_password = lambda *a: None

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    keyring.set_keyring(PlaintextKeyring())
    keyring.backend.KeyringBackend._classes.discard(PlaintextKeyring)
    assert not account.keyring_status().available and "plain-text" in account.keyring_status().reason

    monkeypatch.setitem(sys.modules, "keyring", None)
    assert "keyring package is not installed" in account.keyring_status().reason


def test_local_channel_lists_fake_devices(clean_account):
    rows = account.check_account("local")
    names = {r.name for r in rows}
    assert {"fake_manila", "fake_brisbane"} <= names
    manila = next(r for r in rows if r.name == "fake_manila")
    assert manila.qubits == 5 and manila.operational and manila.pending_jobs == 0
    assert backend_choice(load_plugins(), "ibm:ibm_brisbane,mode=batch").options["mode"] == "batch"
    assert os.environ.get("QISKIT_IBM_TOKEN") != SECRET
