"""The plugin manager: one test per hook, and every way a plugin can break."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.dataset import Dataset
from qmlstudio.core.options import Option
from qmlstudio.plugins import (
    Ansatz,
    AnsatzSpec,
    Backend,
    BackendSpec,
    DatasetSpec,
    Encoding,
    EncodingSpec,
    Optimizer,
    OptimizerResult,
    OptimizerSpec,
    PanelSpec,
    hookimpl,
)
from qmlstudio.plugins.manager import HOOKS, PluginRegistry, UnknownNameError, load_plugins


# --------------------------------------------------------------- a toy plugin
class ToyEncoding(Encoding):
    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        return CircuitDesign(num_features, [Gate("rx", (q,), [f"{self.scale}*x[{q}]"]) for q in range(num_features)])


class ToyAnsatz(Ansatz):
    def __init__(self, reps: int = 1) -> None:
        self.reps = reps

    def build(self, num_qubits: int) -> CircuitDesign:
        gates = [Gate("ry", (q,), [f"θ[{r * num_qubits + q}]"], column=r) for r in range(self.reps) for q in range(num_qubits)]
        return CircuitDesign(num_qubits, gates)


class ToyOptimizer(Optimizer):
    def minimize(self, problem, x0, *, max_iterations, callback=None):
        return OptimizerResult(np.asarray(x0), problem.value(x0), 0)


class ToyBackend(Backend):
    exact = True

    def estimator(self):
        from qiskit.primitives import StatevectorEstimator

        return StatevectorEstimator()

    def sampler(self):
        from qiskit.primitives import StatevectorSampler

        return StatevectorSampler()


def toy_dataset(samples: int = 10) -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(rng.normal(size=(samples, 2)), np.arange(samples) % 2)


class ToyPlugin:
    @hookimpl
    def qmlstudio_encodings(self):
        return [EncodingSpec("toy-enc", "Toy encoding", ToyEncoding, options=(Option("scale", "float", 1.0),))]

    @hookimpl
    def qmlstudio_ansatze(self):
        return [AnsatzSpec("toy-ansatz", "Toy ansatz", ToyAnsatz, options=(Option("reps", "int", 1, minimum=1),))]

    @hookimpl
    def qmlstudio_optimizers(self):
        return [OptimizerSpec("toy-opt", "Toy optimizer", ToyOptimizer, uses_gradient=False)]

    @hookimpl
    def qmlstudio_datasets(self):
        return [DatasetSpec("toy-data", "Toy data", toy_dataset, options=(Option("samples", "int", 10, minimum=2),))]

    @hookimpl
    def qmlstudio_backends(self):
        return [
            BackendSpec("toy-backend", "Toy backend", ToyBackend),
            BackendSpec("toy-missing", "Missing", "no_such_module_xyz:Backend", available=lambda: "needs no_such_module_xyz"),
        ]

    @hookimpl
    def qmlstudio_panels(self):
        return [PanelSpec("toy-panel", "Toy panel", "tests.plugins.toy_panel:ToyPanel", area="bottom")]


@pytest.fixture
def registry():
    return PluginRegistry()


@pytest.fixture
def toy(registry):
    registry.register(ToyPlugin(), "toy")
    try:
        yield registry
    finally:
        registry.unregister("toy")


# ------------------------------------------------------------ one per hook
def test_hook_qmlstudio_encodings(toy):
    spec = toy.get("encodings", "toy-enc")
    encoding = spec.create({"scale": "2"})
    design = encoding.circuit(3)
    assert encoding.num_qubits(3) == 3
    assert design.gates[1].params[0].text == "2.0 * x[1]"
    assert toy.owner("encodings", "toy-enc") == "toy"


def test_hook_qmlstudio_ansatze(toy):
    design = toy.get("ansatze", "toy-ansatz").create({"reps": 2}).build(2)
    assert design.num_weights == 4


def test_hook_qmlstudio_optimizers(toy):
    spec = toy.get("optimizers", "toy-opt")
    assert spec.uses_gradient is False
    assert isinstance(spec.create(), ToyOptimizer)


def test_hook_qmlstudio_datasets(toy):
    data = toy.get("datasets", "toy-data").create({"samples": 6})
    assert data.features.shape == (6, 2)


def test_hook_qmlstudio_backends(toy):
    assert toy.get("backends", "toy-backend").unavailable_reason() is None
    assert toy.get("backends", "toy-missing").unavailable_reason() == "needs no_such_module_xyz"
    assert toy.get("backends", "toy-backend").create().exact


def test_hook_qmlstudio_panels(toy):
    spec = toy.get("panels", "toy-panel")
    assert spec.area == "bottom"  # the widget itself is imported only by the GUI
    assert "tests.plugins.toy_panel" not in sys.modules


def test_unknown_name_lists_what_exists(toy):
    with pytest.raises(UnknownNameError, match=r"unknown encoding 'nope' \(available: toy-enc\)"):
        toy.get("encodings", "nope")


def test_register_and_unregister_in_try_finally(registry):
    registry.register(ToyPlugin(), "toy")
    try:
        assert "toy-enc" in registry.encodings
    finally:
        registry.unregister("toy")
    assert "toy-enc" not in registry.encodings
    assert "toy" not in registry.plugins


# --------------------------------------------------------- faults isolated
@pytest.mark.parametrize("hook", list(HOOKS))
def test_plugin_raising_in_a_hook_is_reported_and_skipped(registry, hook):
    def boom():
        raise RuntimeError(f"broken {hook}")

    bad = types.SimpleNamespace(**{hook: hookimpl(boom)})
    registry.register(ToyPlugin(), "toy")
    try:
        info = registry.register(bad, "bad")
        assert info.status == "failed"
        assert f"{hook} raised RuntimeError: broken {hook}" in info.reason
        assert "Traceback" in info.problems[0].traceback
        assert "toy-enc" in registry.encodings  # the others still work
    finally:
        registry.unregister("bad")
        registry.unregister("toy")


@pytest.mark.parametrize(
    "garbage, expected",
    [
        (42, "returned int, not a list of EncodingSpec"),
        ("angle", "returned str, not a list of EncodingSpec"),
        ([object()], "item 0 is object, not EncodingSpec"),
        ([AnsatzSpec("a", "A", ToyAnsatz)], "item 0 is AnsatzSpec, not EncodingSpec"),
        ([EncodingSpec("Bad Name!", "t", ToyEncoding)], "must be lowercase letters"),
        ([EncodingSpec("ok", "", ToyEncoding)], "needs a title"),
        ([EncodingSpec("ok", "OK", "not-an-import-path")], "factory must be callable"),
    ],
)
def test_plugin_returning_garbage_is_reported_and_skipped(registry, garbage, expected):
    bad = types.SimpleNamespace(qmlstudio_encodings=hookimpl(lambda: garbage))
    info = registry.register(bad, "bad")
    try:
        assert expected in info.reason
        assert registry.encodings == {}
    finally:
        registry.unregister("bad")


def test_good_items_survive_next_to_a_malformed_one(registry):
    bad = types.SimpleNamespace(
        qmlstudio_encodings=hookimpl(lambda: [EncodingSpec("fine", "Fine", ToyEncoding), "junk"])
    )
    info = registry.register(bad, "mixed")
    try:
        assert list(registry.encodings) == ["fine"]
        assert "item 1 is str" in info.reason
    finally:
        registry.unregister("mixed")


def test_name_claimed_twice_keeps_the_first(registry):
    registry.register(ToyPlugin(), "toy")
    clash = types.SimpleNamespace(
        qmlstudio_encodings=hookimpl(lambda: [EncodingSpec("toy-enc", "Impostor", ToyEncoding)])
    )
    try:
        info = registry.register(clash, "clash")
        assert registry.encodings["toy-enc"].title == "Toy encoding"
        assert "already provided by plugin 'toy'" in info.reason
    finally:
        registry.unregister("clash")
        registry.unregister("toy")


def test_misspelled_hook_is_reported(registry):
    typo = types.SimpleNamespace(qmlstudio_encoding=hookimpl(lambda: []))
    info = registry.register(typo, "typo")
    try:
        assert "qmlstudio_encoding is not a QML Studio hook (did you mean qmlstudio_encodings?)" in info.reason
    finally:
        registry.unregister("typo")


def test_hookimpl_with_unknown_argument_fails_registration(registry):
    def qmlstudio_encodings(window):  # the spec has no such argument
        return []

    info = registry.register(types.SimpleNamespace(qmlstudio_encodings=hookimpl(qmlstudio_encodings)), "args")
    try:
        assert info.status == "failed"
        assert info.problems[0].stage == "register"
    finally:
        registry.unregister("args")


# ----------------------------------------------------- entry-point discovery
def _fake_entry_points(monkeypatch, tmp_path, modules: dict[str, str]):
    for name, source in modules.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [importlib.metadata.EntryPoint(name=n, value=n, group="qmlstudio") for n in modules]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group=None: eps if group == "qmlstudio" else [])


GOOD_MODULE = """
    from qmlstudio.plugins import hookimpl, DatasetSpec
    from qmlstudio.core.dataset import Dataset
    import numpy as np
    def load():
        return Dataset(np.eye(2), np.array([0, 1]))
    @hookimpl
    def qmlstudio_datasets():
        return [DatasetSpec("good-data", "Good data", load)]
"""


def test_plugin_failing_to_import_is_reported_and_skipped(monkeypatch, tmp_path):
    _fake_entry_points(
        monkeypatch,
        tmp_path,
        {"qmls_test_good": GOOD_MODULE, "qmls_test_broken": "import numpy\nraise ImportError('needs libfoo 2.0')\n"},
    )
    registry = PluginRegistry()
    registry.load_entry_points()
    broken = registry.plugins["qmls_test_broken"]
    assert broken.status == "failed"
    assert broken.problems[0].stage == "import"
    assert "ImportError: needs libfoo 2.0" in broken.reason
    assert registry.plugins["qmls_test_good"].status == "ok"
    assert list(registry.datasets) == ["good-data"]


def test_plugin_calling_sys_exit_on_import_does_not_stop_us(monkeypatch, tmp_path):
    _fake_entry_points(monkeypatch, tmp_path, {"qmls_test_exit": "import sys\nsys.exit(3)\n"})
    registry = PluginRegistry()
    registry.load_entry_points()
    assert registry.plugins["qmls_test_exit"].status == "failed"


def test_disabled_plugin_is_not_imported(monkeypatch, tmp_path):
    _fake_entry_points(monkeypatch, tmp_path, {"qmls_test_never": "raise RuntimeError('imported!')\n"})
    registry = PluginRegistry(disabled=["qmls_test_never"])
    registry.load_entry_points()
    assert registry.plugins["qmls_test_never"].status == "disabled"
    assert "qmls_test_never" not in sys.modules


def test_autoload_switch(monkeypatch, tmp_path):
    _fake_entry_points(monkeypatch, tmp_path, {"qmls_test_good2": GOOD_MODULE})
    monkeypatch.setenv("QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert load_plugins(disabled=[]).plugins == {}
    monkeypatch.delenv("QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD")
    assert "qmls_test_good2" in load_plugins(disabled=[]).plugins


def test_disabled_list_comes_from_settings(monkeypatch, tmp_path):
    from qmlstudio.core.settings import Settings

    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    _fake_entry_points(monkeypatch, tmp_path, {"qmls_test_good3": GOOD_MODULE})
    Settings(disabled_plugins=["qmls_test_good3"]).save()
    assert load_plugins().plugins["qmls_test_good3"].status == "disabled"


# ------------------------------------------------------------- the built-ins
BUILTIN_NAMES = {
    "encodings": {"angle", "dense-angle", "amplitude", "zz-feature-map", "iqp", "basis", "reuploading"},
    "ansatze": {"real-amplitudes", "efficient-su2", "strongly-entangling", "two-local"},
    "optimizers": {"adam", "sgd", "spsa", "cobyla", "nelder-mead", "l-bfgs-b"},
    "datasets": {"moons", "circles", "xor", "blobs", "iris", "wine", "breast-cancer", "digits", "ad-hoc", "csv", "idx", "image-folder"},
    "backends": {"statevector", "aer-statevector"},
}


def _cli(*args, env=None):
    import os

    full_env = {**os.environ, **(env or {})}
    full_env.pop("QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.run([sys.executable, "-m", "qmlstudio", *args], capture_output=True, text=True, env=full_env, timeout=120)


def test_cli_plugins_json_lists_every_builtin_by_entry_point():
    result = _cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = json.loads(result.stdout)["plugins"]
    builtins = [p for p in plugins if p["builtin"]]
    provided: dict[str, set[str]] = {}
    for plugin in builtins:
        assert plugin["status"] == "ok", plugin
        assert plugin["version"]
        for kind, names in plugin["provides"].items():
            provided.setdefault(kind, set()).update(names)
    for kind, names in BUILTIN_NAMES.items():
        assert names <= provided.get(kind, set()), (kind, names - provided.get(kind, set()))


def test_listing_plugins_imports_no_heavy_backend():
    code = textwrap.dedent(
        """
        import sys, json
        from qmlstudio.plugins.manager import load_plugins
        registry = load_plugins(disabled=[])
        listing = [s.to_dict() for kind in ("encodings", "ansatze", "optimizers", "datasets", "backends", "panels")
                   for s in registry.specs(kind).values()]
        print(json.dumps(sorted(m for m in ("qiskit_aer", "qiskit_ibm_runtime") if m in sys.modules)))
        """
    )
    import os

    env = {k: v for k, v in os.environ.items() if k != "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


# ------------------------------------------- KeyboardInterrupt (issue 23, defect 8)
def test_a_hook_raising_keyboard_interrupt_is_that_plugins_fault_not_a_ctrl_c(registry):
    def boom():
        raise KeyboardInterrupt

    bad = types.SimpleNamespace(qmlstudio_encodings=hookimpl(boom))
    registry.register(ToyPlugin(), "toy")
    try:
        info = registry.register(bad, "bad")  # no KeyboardInterrupt escapes: every command would exit 130
        assert info.status == "failed" and "qmlstudio_encodings raised KeyboardInterrupt" in info.reason
        assert "toy-enc" in registry.encodings
    finally:
        registry.unregister("bad")
        registry.unregister("toy")


def test_a_real_ctrl_c_during_a_hook_still_stops(registry):
    import os
    import signal
    import time

    def slow():
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C while the hook runs
        time.sleep(5)
        return []

    slow_plugin = types.SimpleNamespace(qmlstudio_encodings=hookimpl(slow))
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a background job of a shell
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            registry.register(slow_plugin, "slow")
    finally:
        if "slow" in registry.plugins:
            registry.unregister("slow")
    assert time.monotonic() - start < 4
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back, whatever it was


# ----------------------------------------- use-time faults (issue 23, defect 8)
def _factory_raises(**_):
    raise ZeroDivisionError("division by zero in the plugin")


def _factory_garbage(**_):
    return 42


@pytest.mark.parametrize("spec_type", [EncodingSpec, OptimizerSpec, BackendSpec, AnsatzSpec])
def test_a_factory_that_raises_or_returns_garbage_is_a_message_naming_it(spec_type):
    from qmlstudio.plugins import PluginError

    spec = spec_type(name="wobbly", title="Wobbly", factory=_factory_raises)
    with pytest.raises(PluginError) as raised:
        spec.create({})
    message = str(raised.value)
    assert f"the {spec.kind} 'wobbly'" in message and "ZeroDivisionError: division by zero in the plugin" in message
    assert __name__ in message  # where the plugin's code lives
    garbage = spec_type(name="wobbly", title="Wobbly", factory=_factory_garbage)
    with pytest.raises(PluginError, match=rf"the {spec.kind} 'wobbly' .* returned int, not an? [A-Z]"):
        garbage.create({})


def test_a_dataset_factory_that_raises_is_a_message_naming_it():
    from qmlstudio.plugins import PluginError

    spec = DatasetSpec(name="wobbly", title="Wobbly", factory=_factory_raises)
    with pytest.raises(PluginError, match="the dataset 'wobbly' .* failed to start: ZeroDivisionError"):
        spec.create({})


def test_a_factory_module_that_raises_on_import_is_a_message(tmp_path, monkeypatch):
    from qmlstudio.plugins import PluginError

    (tmp_path / "wobbly_plugin_mod.py").write_text("raise RuntimeError('bad module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = EncodingSpec(name="wobbly", title="Wobbly", factory="wobbly_plugin_mod:make")
    with pytest.raises(PluginError, match="importing 'wobbly_plugin_mod' .* failed: RuntimeError: bad module"):
        spec.create({})
