"""Installing, updating, removing and rolling back plugins safely (qmlstudio.installer and the CLI).

The unit tests drive the flows with a fake runner. The others change a *temporary virtual
environment* and never the project's own: ``make_env`` creates one with ``--without-pip``
and a ``.pth`` file that adds this interpreter's site-packages with ``site.addsitedir``.
(``venv --system-site-packages`` would not do: run from a virtualenv it exposes the *base*
interpreter's packages, not the ones QML Studio is installed in, and ``addsitedir`` is what
makes the editable install's own ``.pth`` hook work.) pip run by that interpreter installs
into the temporary environment and refuses to remove anything outside it. Every pip
command runs with ``--no-index`` (and ``PIP_NO_INDEX``, with the user's pip configuration
switched off): no test uses the network. Wheels of the test plugins are built once per
session with ``pip wheel --no-build-isolation --no-index``.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from qmlstudio import installer as inst
from qmlstudio.installer import (
    Change,
    Confirm,
    Environment,
    History,
    InstalledDistribution,
    InstallError,
    Installer,
    InstallSource,
    Result,
    Run,
    make_plan,
    parse_source,
    requirement_conflicts,
    run_flow,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "plugins"
EXAMPLE = ROOT / "plugins" / "example-plugin"
NUMPY = metadata.version("numpy")


# ------------------------------------------------------------------ helpers (also used by the GUI tests)
def other_numpy() -> str:
    """A numpy version different from the installed one."""
    return "1.26.4" if NUMPY != "1.26.4" else "1.26.3"


def hermetic_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip without the user's configuration and without any index: nothing comes from the network."""
    for key in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")


_WHEELS: dict[str, Path] = {}


def built_wheels() -> dict[str, Path]:
    """Wheels of the example plugin (0.1.0, and 0.2.0 in a folder of its own), raises-on-import and pins-numpy.

    Built once per test session, offline, from copies of the projects (setuptools writes
    build/ and .egg-info/ next to the sources).
    """
    if _WHEELS:
        return _WHEELS
    work = Path(tempfile.mkdtemp(prefix="qmlstudio-test-wheels-"))
    atexit.register(shutil.rmtree, work, True)
    ignore = shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
    sources = {
        "example": EXAMPLE,
        "example-0.2": EXAMPLE,
        "raises": DATA / "raises-on-import",
        "pins-numpy": DATA / "pins-numpy",
    }
    for key, source in sources.items():
        shutil.copytree(source, work / "src" / key, ignore=ignore)
    newer = work / "src" / "example-0.2" / "pyproject.toml"
    newer.write_text(newer.read_text().replace('version = "0.1.0"', 'version = "0.2.0"'))
    pins = work / "src" / "pins-numpy" / "pyproject.toml"
    pins.write_text(pins.read_text().replace('"numpy==1.26.4"', f'"numpy=={other_numpy()}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")
    dist, updates = work / "dist", work / "updates"
    # two versions of one project cannot be built by one pip command: two commands, side by side
    builds = [
        subprocess.Popen(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
             str(out), *(str(work / "src" / key) for key in keys)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        for out, keys in ((dist, ["example", "raises", "pins-numpy"]), (updates, ["example-0.2"]))
    ]
    for build in builds:
        output, _ = build.communicate(timeout=300)
        assert build.returncode == 0, output
    new = next(updates.glob("qmlstudio_example_plugin-0.2.0-*.whl"))
    _WHEELS.update(
        {
            "dist": dist,
            "updates": updates,
            "example": next(dist.glob("qmlstudio_example_plugin-0.1.0-*.whl")),
            "example-0.2": new,
            "raises": next(dist.glob("qmlstudio_raises_on_import-*.whl")),
            "pins-numpy": next(dist.glob("qmlstudio_pins_numpy-*.whl")),
        }
    )
    return _WHEELS


def make_env(folder: Path) -> tuple[Path, Path]:
    """A virtual environment in ``folder`` that sees this one's packages and installs into its own.

    Returns its interpreter and its site-packages folder.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_dir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()
    import site

    parents = [p for p in site.getsitepackages() if os.path.isdir(p)]
    hook = "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in parents)
    (Path(site_dir) / "_qmlstudio_test_parent.pth").write_text(hook + "\n", encoding="utf-8")
    return python, Path(site_dir)


def env_vars(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", QMLSTUDIO_CONFIG_DIR=str(config), QT_QPA_PLATFORM="offscreen")
    return env


def qmlstudio(python: Path, config: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """``python -m qmlstudio ARGS`` in the temporary environment, with its own settings folder."""
    return subprocess.run([str(python), "-m", "qmlstudio", *args], capture_output=True, text=True,
                          env=env_vars(config), timeout=timeout, stdin=subprocess.DEVNULL)


def env_state(python: Path, config: Path) -> Path:
    """The per-environment state folder of ``python``'s environment: config/environments/<name>-<hash>."""
    prefix = subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                            check=True, timeout=60).stdout.strip()
    folders = list((config / "environments").glob(f"{Path(prefix).name}-*"))
    assert len(folders) == 1, folders
    return folders[0]


def listing(python: Path, config: Path) -> dict[str, dict]:
    done = qmlstudio(python, config, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    return {p["name"]: p for p in json.loads(done.stdout)["plugins"]}


# ------------------------------------------------------------------------- sources
def test_parse_source_tells_names_wheels_and_folders_apart(tmp_path):
    assert parse_source("qmlstudio-foo") == InstallSource("index", "qmlstudio-foo", "qmlstudio-foo")
    assert parse_source(" qmlstudio-foo==1.2 ").target == "qmlstudio-foo==1.2"
    wheel = parse_source(str(built_wheels()["example"]))
    assert wheel.kind == "wheel" and wheel.name == "qmlstudio-example-plugin" and wheel.version == "0.1.0"
    assert wheel.wheel is not None and wheel.wheel.plugins == ("example",)
    assert "numpy" in wheel.wheel.requires
    assert parse_source(str(EXAMPLE)).kind == "folder"
    for bad, message in [
        ("", "give a package name"),
        (str(tmp_path / "missing.whl"), "no such file or folder"),
        ("./nowhere", "no such file or folder"),
        ("not a name!", "neither a package name"),
        (str(tmp_path), "not a Python project"),
    ]:
        with pytest.raises(InstallError, match=message):
            parse_source(bad)
    junk = tmp_path / "junk.whl"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InstallError, match="not a valid wheel"):
        parse_source(str(junk))
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InstallError, match="neither a wheel"):
        parse_source(str(tmp_path / "notes.txt"))


def test_protected_names_are_normalized():
    for name in ("numpy", "NumPy", "PySide6_Essentials", "pyside6-essentials", "Qiskit_Aer", "qiskit.machine.learning",
                 "shiboken6", "pyqtgraph", "pluggy", "scipy", "qiskit", "QMLStudio"):
        assert inst.is_protected(name), name
    assert not inst.is_protected("qmlstudio-example-plugin")
    assert not inst.is_protected("scikit-learn")


# ------------------------------------------------------------------------- planning
def _env(**versions: str) -> Environment:
    dists = {}
    for name, version in versions.items():
        name = name.replace("_", "-")
        dists[canonicalize_name(name)] = InstalledDistribution(name, version, location="/env/site-packages")
    return Environment("/env/bin/python", "/env", "/base", dists)


def _report(*items: tuple[str, str]) -> str:
    return json.dumps({"version": "1", "install": [{"metadata": {"name": n, "version": v}, "is_direct": False}
                                                   for n, v in items]})


def test_plan_sorts_new_upgraded_and_downgraded_packages():
    env = _env(numpy="2.1.0", qmlstudio="0.1.0", foo="1.0", bar="2.0")
    source = InstallSource("index", "qmlstudio-thing", "qmlstudio-thing")
    plan = make_plan("install", source, env, Result(0, _report(("qmlstudio-thing", "1.0"), ("foo", "1.1"), ("bar", "1.9"))))
    assert [c.name for c in plan.new] == ["qmlstudio-thing"]
    assert [(c.name, c.before, c.after) for c in plan.upgraded] == [("foo", "1.0", "1.1")]
    assert [(c.name, c.before, c.after) for c in plan.downgraded] == [("bar", "2.0", "1.9")]
    assert not plan.refused and not plan.protected_changes
    text = plan.describe()
    assert "install    qmlstudio-thing 1.0" in text and "upgrade    foo 1.0 → 1.1" in text and "downgrade  bar 2.0 → 1.9" in text


def test_plan_refuses_a_change_to_a_protected_package_from_the_dry_run():
    env = _env(numpy="2.1.0", PySide6_Essentials="6.11.3", shiboken6="6.11.3")
    source = InstallSource("index", "qmlstudio-old", "qmlstudio-old")
    plan = make_plan("install", source, env, Result(0, _report(("qmlstudio-old", "1.0"), ("numpy", "1.26.4"))))
    assert plan.refused
    [change] = plan.protected_changes
    assert (change.name, change.installed, change.wanted) == ("numpy", "2.1.0", "1.26.4")
    assert "numpy 2.1.0 → 1.26.4" in plan.refusal() and "Install anyway" in plan.refusal()
    # a PySide6 sibling that is not installed yet must match the installed Qt build
    plan = make_plan("install", source, env, Result(0, _report(("PySide6-Addons", "6.10.0"))))
    assert [(c.name, c.installed, c.wanted) for c in plan.protected_changes] == [("PySide6-Essentials", "6.11.3", "6.10.0")]
    plan = make_plan("install", source, env, Result(0, _report(("PySide6-Addons", "6.11.3"))))
    assert not plan.refused


def test_plan_reads_the_wheels_own_requirements_when_the_dry_run_cannot_resolve():
    env = _env(numpy=NUMPY, qmlstudio="0.1.0")
    source = parse_source(str(built_wheels()["pins-numpy"]))
    failed = Result(1, "", "Looking in links: x\nERROR: Could not find a version that satisfies the requirement "
                           f"numpy=={other_numpy()}\nERROR: No matching distribution found for numpy=={other_numpy()}\n")
    plan = make_plan("install", source, env, failed)
    assert plan.refused
    [change] = plan.protected_changes
    assert change.name == "numpy" and change.installed == NUMPY and change.wanted == f"=={other_numpy()}"
    assert "qmlstudio-pins-numpy 0.1.0 requires numpy==" in change.because
    refusal = plan.refusal()
    assert "QML Studio's own dependencies" in refusal and "No matching distribution" in refusal
    assert "Looking in links" not in refusal  # only pip's ERROR lines


def test_requirement_markers_and_extras_are_respected():
    env = _env(numpy="2.1.0", qiskit="2.0.0")
    reqs = ["numpy>=1.24", 'numpy==1.0; extra == "test"', 'qiskit<1; sys_platform == "nonexistent"', "qiskit>=3", "requests==1"]
    conflicts = requirement_conflicts(reqs, env, "p 1")
    assert [(c.name, c.wanted) for c in conflicts] == [("qiskit", ">=3")]


def test_a_package_without_a_plugin_gets_a_warning():
    env = _env(numpy=NUMPY)
    source = InstallSource("wheel", "/x.whl", "x", "1", inst.WheelInfo("x", "1", (), ()))
    plan = make_plan("install", source, env, Result(0, _report(("x", "1"))))
    assert not plan.refused and "declares no QML Studio plugin" in plan.describe()


# -------------------------------------------------------------------------- history
def _change(**kw) -> Change:
    base = dict(id=0, time="t", action="install", target="x", python="/env/bin/python", commands=[], returncode=0,
                before={"x": None, "foo": "1.0"}, after={"x": "1.0", "foo": "1.1"})
    base.update(kw)
    return Change(**base)


def test_history_records_and_rolls_back_in_order(tmp_path):
    history = History(tmp_path / "h.json")
    first = history.record(_change(target="first"))
    second = history.record(_change(target="second"))
    assert (first.id, second.id) == (1, 2)
    assert history.last_undoable("/env/bin/python").target == "second"
    assert history.last_undoable("/other/python") is None
    history.record(_change(action="rollback", undoes=2, before={}, after={}))
    assert history.last_undoable("/env/bin/python").target == "first"
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["version"] == inst.HISTORY_VERSION and [c["rolled_back"] for c in data["changes"]] == [False, True, False]


def test_corrupt_history_is_set_aside_not_lost(tmp_path):
    path = tmp_path / "h.json"
    path.write_text("{ not json")
    history = History(path)
    assert history.changes() == []
    assert (tmp_path / "h.json.bad").read_text() == "{ not json"
    history.record(_change())
    assert len(history.changes()) == 1
    path.write_text(json.dumps({"version": inst.HISTORY_VERSION + 1, "changes": "new shape"}))
    assert history.changes() == []
    assert json.loads((tmp_path / f"h.json.v{inst.HISTORY_VERSION + 1}").read_text())["changes"] == "new shape"


def test_rollback_removes_what_was_added_and_restores_what_changed(tmp_path):
    installer = Installer("/env/bin/python", ["--no-index"], History(tmp_path / "h.json"), wheel_cache=tmp_path)
    env = _env(x="1.0", foo="1.2")
    plan = installer.rollback_plan(_change(), env)
    assert plan.remove == ["x"] and plan.restore == {"foo": "1.0"}
    assert plan.commands[0][-3:] == ["uninstall", "--yes", "x"]
    assert plan.commands[1][3:] == ["install", "--no-deps", "--find-links", str(tmp_path), "--no-index", "foo==1.0"]
    assert "foo is now 1.2, not 1.1" in plan.describe()


# ------------------------------------------------------- flows with a fake runner
class FakePip:
    """Answers the flows' commands from tables, and remembers them."""

    def __init__(self, before: dict, after: dict, report: str, install_code: int = 0):
        self.snapshots = [before, after]
        self.report = report
        self.install_code = install_code
        self.commands: list[list[str]] = []

    def __call__(self, run: Run) -> Result:
        self.commands.append(run.argv)
        if run.argv[1] == "-c":
            versions = self.snapshots.pop(0) if len(self.snapshots) > 1 else self.snapshots[0]
            dists = {k: {"name": k, "version": v, "plugins": ["thing"] if k == "qmlstudio-thing" else []}
                     for k, v in versions.items()}
            return Result(0, json.dumps({"python": "/env/bin/python", "prefix": "/env", "base_prefix": "/env",
                                         "distributions": dists}))
        if "--dry-run" in run.argv:
            return Result(0, self.report)
        return Result(self.install_code)


def test_install_flow_refuses_without_override_and_runs_nothing(tmp_path):
    installer = Installer("/env/bin/python", [], History(tmp_path / "h.json"), wheel_cache=tmp_path / "cache")
    fake = FakePip({"numpy": "2.1.0"}, {"numpy": "2.1.0"}, _report(("qmlstudio-thing", "1"), ("numpy", "1.26.4")))
    seen: list[Confirm] = []
    outcome = run_flow(installer.install("qmlstudio-thing"), lambda c: seen.append(c) or False, echo=lambda _: None,
                       runner=fake)
    assert seen and seen[0].refused
    assert not outcome.ok and not outcome.cancelled and "Refused" in outcome.message
    assert not any("install" in c and "--dry-run" not in c for c in fake.commands)
    assert History(tmp_path / "h.json").changes() == []


def test_install_flow_pins_protected_packages_and_records_the_change(tmp_path):
    installer = Installer("/env/bin/python", ["--no-index"], History(tmp_path / "h.json"), wheel_cache=tmp_path / "cache")
    before = {"numpy": "2.1.0", "qmlstudio": "0.1.0"}
    fake = FakePip(before, {**before, "qmlstudio-thing": "1.0"}, _report(("qmlstudio-thing", "1.0")))
    constraints: list[str] = []

    def runner(run: Run) -> Result:
        if "--constraint" in run.argv:
            constraints.append(Path(run.argv[run.argv.index("--constraint") + 1]).read_text())
        return fake(run)

    outcome = run_flow(installer.install("qmlstudio-thing"), lambda c: True, echo=lambda _: None, runner=runner)
    assert outcome.ok, outcome.message
    assert constraints == ["numpy==2.1.0\nqmlstudio==0.1.0\n"]
    assert outcome.plugins == ["thing"] and not outcome.protected_touched
    [change] = History(tmp_path / "h.json").changes()
    assert change.before == {"qmlstudio-thing": None} and change.after == {"qmlstudio-thing": "1.0"}


def test_folder_build_falls_back_to_no_build_isolation(tmp_path):
    installer = Installer("/env/bin/python", ["--no-index"], History(tmp_path / "h.json"))
    notes: list[str] = []
    builds: list[list[str]] = []

    def runner(run: Run) -> Result:
        if run.argv[3:4] == ["wheel"]:
            builds.append(run.argv)
            if "--no-build-isolation" not in run.argv:
                return Result(1, "", "ERROR: No matching distribution found for setuptools>=61\n")
            out = Path(run.argv[run.argv.index("-w") + 1])
            shutil.copy(built_wheels()["example"], out)
            return Result(0)
        return FakePip({"numpy": NUMPY}, {"numpy": NUMPY}, _report())(run)

    flow = installer.install(str(EXAMPLE))
    outcome = run_flow(flow, lambda c: True, echo=notes.append, runner=runner)
    assert len(builds) == 2 and "--no-build-isolation" in builds[1] and "--no-index" in builds[0]
    assert any("--no-build-isolation" in n and "offline" in n for n in notes)
    assert outcome.ok and "already installed" in outcome.message  # the fake dry run changes nothing


# ---------------------------------------------------- the command line, for real
@pytest.fixture
def venv(tmp_path, monkeypatch):
    hermetic_pip(monkeypatch)
    python, site_dir = make_env(tmp_path / "venv")
    config = tmp_path / "config"
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(config))  # for the commands run in process
    return python, site_dir, config


def installed(site_dir: Path, dist: str = "qmlstudio_example_plugin") -> list[str]:
    """Versions of ``dist`` installed in the temporary environment's own site-packages."""
    return sorted(p.name[len(dist) + 1 : -len(".dist-info")] for p in site_dir.glob(f"{dist}-*.dist-info"))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """``qmlstudio ARGS`` in this process (commands that change an environment get ``--python``)."""
    from qmlstudio.cli import main

    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_cli_install_update_uninstall_and_roll_back(venv):
    python, site_dir, config = venv
    wheels = built_wheels()
    done = qmlstudio(python, config, "plugins", "install", str(wheels["example"]), "--no-index", "--yes")
    assert done.returncode == 0, done.stderr
    assert "install    qmlstudio-example-plugin 0.1.0" in done.stdout  # the dry run's plan
    assert "plugin 'example': ok (encodings: example-arctan; ansatze: example-ry-cz; " in done.stdout
    assert installed(site_dir) == ["0.1.0"]

    done = qmlstudio(python, config, "plugins", "update", "example", "--find-links", str(wheels["updates"]), "--yes")
    assert done.returncode == 0, done.stderr
    assert "upgrade    qmlstudio-example-plugin 0.1.0 → 0.2.0" in done.stdout
    assert installed(site_dir) == ["0.2.0"]
    done = qmlstudio(python, config, "plugins", "rollback", "--yes")  # 0.1.0 comes back from the wheel cache
    assert done.returncode == 0, done.stderr
    assert "reinstall  qmlstudio-example-plugin 0.1.0" in done.stdout
    assert installed(site_dir) == ["0.1.0"]

    done = qmlstudio(python, config, "plugins", "uninstall", "example", "--yes")  # by plugin name
    assert done.returncode == 0, done.stderr
    assert "uninstalled qmlstudio-example-plugin 0.1.0" in done.stdout
    assert installed(site_dir) == []
    # the update was rolled back: the last change to undo is the uninstall, then the first install
    # the history is the temporary environment's own, keyed by its sys.prefix, not this process's
    history = History(env_state(python, config) / inst.HISTORY_FILE)
    assert not History().changes()
    assert [(c.action, c.rolled_back) for c in history.changes()] == [
        ("install", False), ("update", True), ("rollback", False), ("uninstall", False)]
    assert history.last_undoable(str(python)).action == "uninstall"


def test_cli_enable_and_disable(venv, capsys):
    from qmlstudio.plugins.manager import load_plugins

    code, out, _ = cli(capsys, "plugins", "disable", "aer")
    assert code == 0 and "disabled plugin 'aer': takes effect the next time QML Studio starts" in out
    assert load_plugins().plugins["aer"].status == "disabled"
    code, out, _ = cli(capsys, "plugins", "disable", "aer")
    assert code == 0 and "already disabled" in out
    code, out, _ = cli(capsys, "plugins", "enable", "aer")
    assert code == 0 and load_plugins().plugins["aer"].status == "ok"
    code, _, err = cli(capsys, "plugins", "disable", "nope")
    assert code == 1 and "no plugin called 'nope' (installed: aer, ansatze" in err


def test_cli_refuses_a_plugin_that_pins_another_numpy(venv, capsys):
    python, site_dir, _ = venv
    code, out, err = cli(capsys, "plugins", "install", str(built_wheels()["pins-numpy"]), "--python", str(python),
                         "--no-index", "--yes")
    assert code == 1
    assert (f"refused: it would change QML Studio's own dependencies: numpy {NUMPY} is installed, but "
            f"qmlstudio-pins-numpy 0.1.0 requires numpy=={other_numpy()}. Use --force") in err
    assert "QML Studio's own dependencies" in out and "No matching distribution found" in out
    assert not list(site_dir.glob("qmlstudio_pins_numpy*"))
    assert not History().changes()


def test_cli_never_removes_qmlstudio_or_its_dependencies(venv, capsys):
    python, _, _ = venv
    for name, message in [("encodings", "built-in plugin 'encodings' is part of QML Studio"),
                          ("qmlstudio", "QML Studio itself"),
                          ("numpy", "one of QML Studio's own dependencies"),
                          ("nothing-here", "nothing called 'nothing-here' is installed")]:
        code, _, err = cli(capsys, "plugins", "uninstall", name, "--python", str(python), "--yes")
        assert code == 1 and message in err, (name, err)
    code, _, err = cli(capsys, "plugins", "rollback", "--python", str(python), "--yes")
    assert code == 1 and "no change to roll back" in err


def test_cli_installs_a_project_folder_offline_and_reports_a_broken_plugin(venv, tmp_path):
    python, site_dir, config = venv
    folder = tmp_path / "raises-on-import"
    shutil.copytree(DATA / "raises-on-import", folder)
    done = qmlstudio(python, config, "plugins", "install", str(folder), "--no-index", "--yes")
    assert done.returncode == 0, done.stderr
    assert "--no-build-isolation" in done.stdout  # isolation needs an index: the fallback explains itself
    assert "plugin 'raises': failed to load: RuntimeError: boom (QML Studio still starts without it" in done.stdout
    assert installed(site_dir, "qmlstudio_raises_on_import") == ["0.1.0"]
    # the wheel built from the folder was kept for rollbacks
    assert list((env_state(python, config) / inst.WHEEL_CACHE).glob("qmlstudio_raises_on_import-0.1.0-*.whl"))
    assert not (config / inst.WHEEL_CACHE).exists()


def test_plugins_listing_still_works_without_an_action(capsys):
    from qmlstudio.cli import main

    assert main(["plugins", "--json"]) == 0
    names = {p["name"] for p in json.loads(capsys.readouterr().out)["plugins"]}
    assert {"encodings", "ansatze", "optimizers", "datasets", "aer"} <= names



def test_cli_dry_run_shows_the_plan_and_changes_nothing(venv, capsys):
    python, site_dir, config = venv
    wheels = built_wheels()
    code, out, _ = cli(capsys, "plugins", "install", str(wheels["example"]), "--python", str(python), "--no-index",
                       "--dry-run")
    assert code == 0, out
    assert "install    qmlstudio-example-plugin 0.1.0" in out and "dry run: nothing was changed" in out
    assert installed(site_dir) == [] and not (config / "environments").exists()
    code, out, _ = cli(capsys, "plugins", "install", str(wheels["pins-numpy"]), "--python", str(python), "--no-index",
                       "--dry-run")
    assert code == 1 and "dry run: this install would be refused" in out
    assert not list(site_dir.glob("qmlstudio_pins_numpy*"))


def test_history_and_wheel_cache_are_kept_per_environment(tmp_path, monkeypatch):
    from qmlstudio.core.settings import environment_dir

    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(tmp_path / "config"))
    one, two = tmp_path / "envs" / "one", tmp_path / "envs" / "two"
    assert environment_dir(one) != environment_dir(two)
    assert environment_dir(one).parent == tmp_path / "config" / "environments"
    assert environment_dir(one).name.startswith("one-") and environment_dir(one) == environment_dir(str(one) + "/")
    assert History().path == environment_dir() / inst.HISTORY_FILE  # this process: keyed by sys.prefix
    a = Installer(one / "bin" / "python", [])
    a._prefix = str(one)  # the interpreter does not exist: its prefix as its snapshot would say
    b = Installer(two / "bin" / "python", [])
    b._prefix = str(two)
    a.history.record(_change(python=str(one / "bin" / "python")))
    assert len(a.history.changes()) == 1 and b.history.changes() == []
    assert a.history.path.parent == environment_dir(one) and a.wheel_cache == environment_dir(one) / inst.WHEEL_CACHE
    assert json.loads(a.history.path.read_text())["prefix"] == str(one)
    assert b.history.last_undoable(str(two / "bin" / "python")) is None


def test_the_shared_history_of_older_versions_is_read_per_environment(tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(config))
    config.mkdir()
    shared = {"version": inst.HISTORY_VERSION, "changes": [
        {**_change(target="mine", python="/envs/one/bin/python").__dict__, "id": 1},
        {**_change(target="theirs", python="/envs/two/bin/python").__dict__, "id": 2}]}
    (config / inst.HISTORY_FILE).write_text(json.dumps(shared))
    mine = History(prefix="/envs/one")
    assert [c.target for c in mine.changes()] == ["mine"]
    mine.record(_change(target="next", python="/envs/one/bin/python"))
    assert [c.target for c in History(prefix="/envs/one").changes()] == ["mine", "next"]
    assert [c.target for c in History(prefix="/envs/two").changes()] == ["theirs"]
    assert json.loads((config / inst.HISTORY_FILE).read_text()) == shared  # left for the other environments
