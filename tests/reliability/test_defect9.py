"""Issue #23 defect 9: settings writes are checked (`plugins disable` on a full disk, a config folder
that is a file, settings.json that is a folder) and refused with a clear message, no traceback."""

from __future__ import annotations

import errno
import importlib.metadata

import pytest

from qmlstudio import cli
from qmlstudio.plugins.manager import ENTRY_POINT_GROUP


def _a_plugin() -> str:
    names = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
    if not names:
        pytest.fail("no plugin entry point installed: the test environment is broken")
    return names[0]


def _disable(capsys) -> tuple[int, str]:
    code = cli.main(["plugins", "disable", _a_plugin()])
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" not in err
    return code, err


def test_defect9_plugins_disable_on_a_full_disk(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(tmp_path / "cfg"))

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("qmlstudio.core.storage.atomic_write_text", full)
    code, err = _disable(capsys)
    assert code != 0
    assert "No space left on device" in err and "settings" in err


def test_defect9_plugins_disable_when_the_config_folder_is_a_file(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "cfg"
    cfg.write_bytes(b"not a folder")
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(cfg))
    code, err = _disable(capsys)
    assert code != 0 and "cannot save the settings" in err
    assert cfg.read_bytes() == b"not a folder"


def test_defect9_plugins_disable_when_settings_json_is_a_folder(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "cfg"
    (cfg / "settings.json").mkdir(parents=True)
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(cfg))
    code, err = _disable(capsys)
    assert code != 0 and "cannot save the settings" in err
    assert (cfg / "settings.json").is_dir()


def test_defect9_report_on_a_full_disk_leaves_no_temporary_and_follows_no_symlink(tmp_path, monkeypatch):
    from qmlstudio.core import report as report_module
    from qmlstudio.core.errors import QMLStudioError

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "r.html"
    # the old fixed temporary name, planted as a symlink to a file the user owns
    (tmp_path / ".r.html.tmp").symlink_to(victim)
    monkeypatch.setattr(report_module, "render_report", lambda *_a, **_k: "<html>x</html>")
    import qmlstudio.core.storage as storage

    real_fsync = storage.os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, "fsync", full)
    with pytest.raises(QMLStudioError, match="No space left on device"):
        report_module.write_report(object(), out)
    monkeypatch.setattr(storage.os, "fsync", real_fsync)
    assert victim.read_text() == "keep me"
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r.html.tmp", "victim.txt"]
    report_module.write_report(object(), out)
    assert out.read_text() == "<html>x</html>" and victim.read_text() == "keep me"


def test_defect9_train_refuses_a_read_only_project(tmp_path, capsys):
    path = tmp_path / "p.qmls"
    assert cli.main(["new", str(path), "--dataset", "moons", "--encoding", "angle", "--ansatz",
                     "real-amplitudes", "--reps", "1", "--optimizer", "adam", "--seed", "7"]) == 0
    capsys.readouterr()
    path.chmod(0o444)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    code = cli.main(["train", str(path), "--epochs", "1"])
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" not in err
    assert code != 0 and "read-only" in err
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert path.stat().st_mode & 0o777 == 0o444


def test_defect9_report_on_a_run_whose_backend_is_a_list(tmp_path, capsys):
    import json

    path = tmp_path / "p.qmls"
    assert cli.main(["new", str(path), "--dataset", "moons", "--encoding", "angle", "--ansatz",
                     "real-amplitudes", "--reps", "1", "--optimizer", "adam", "--seed", "7"]) == 0
    assert cli.main(["train", str(path), "--epochs", "1"]) == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    run = data["runs"][0]
    run["config"]["backend"] = ["aer"]
    path.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    out = tmp_path / "r.html"
    code = cli.main(["analyze", "report", str(path), "--output", str(out)])
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" not in err
    assert code == 0, err
    assert "angle" in out.read_text(encoding="utf-8")
