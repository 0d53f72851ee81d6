"""Atomic writes: the target holds either its old or its new content, never a mix."""

from __future__ import annotations

import errno
import os
import stat
import sys

import pytest

from qmlstudio.core import storage
from qmlstudio.core.storage import atomic_write_bytes, atomic_write_text, atomic_writer

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and symlinks")


def only_file(folder):
    """Asserts that no temporary file is left next to the target."""
    return sorted(os.listdir(folder))


def test_write_text_creates_file_with_exact_utf8_bytes(tmp_path):
    target = tmp_path / "a.txt"
    atomic_write_text(target, "θ[0]\nline two\r\n")
    assert target.read_bytes() == "θ[0]\nline two\r\n".encode("utf-8")
    assert only_file(tmp_path) == ["a.txt"]


def test_write_bytes_replaces_existing_content(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old content that is longer than the new one")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert only_file(tmp_path) == ["a.bin"]


def test_accepts_str_paths(tmp_path):
    atomic_write_text(str(tmp_path / "s.txt"), "x")
    assert (tmp_path / "s.txt").read_text() == "x"


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_system_failure_keeps_old_file_and_removes_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, failing, broken)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "new content")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert only_file(tmp_path) == ["keep.txt"]


@pytest.mark.parametrize("error", [RuntimeError("encoder broke"), KeyboardInterrupt()])
def test_exception_midway_through_writing_keeps_old_file(tmp_path, error):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(type(error)):
        with atomic_writer(target) as file:
            file.write(b"half of the new con")
            file.flush()
            raise error
    assert target.read_text() == "old"
    assert only_file(tmp_path) == ["keep.txt"]


def test_failure_writing_a_new_file_leaves_nothing(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(ValueError):
        with atomic_writer(target) as file:
            file.write(b"partial")
            raise ValueError("stop")
    assert only_file(tmp_path) == []


def test_missing_folder_raises_and_creates_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "no" / "such" / "a.txt", "x")
    assert only_file(tmp_path) == []


def test_target_that_is_a_folder_raises_and_cleans_up(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "folder", "x")
    assert only_file(tmp_path) == ["folder"]


def test_directory_fsync_failure_is_not_an_error(tmp_path, monkeypatch):
    real_open = os.open

    def no_directory_open(path, flags, *args):
        if os.path.isdir(path):
            raise PermissionError(errno.EACCES, "not on this platform")
        return real_open(path, flags, *args)

    monkeypatch.setattr(storage.os, "open", no_directory_open)
    atomic_write_text(tmp_path / "a.txt", "fine")
    assert (tmp_path / "a.txt").read_text() == "fine"


@posix_only
def test_replacing_keeps_permission_bits(tmp_path):
    target = tmp_path / "private.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    atomic_write_text(target, "new")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    os.chmod(target, 0o604)
    atomic_write_text(target, "newer")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o604


@posix_only
def test_new_file_gets_umask_permissions(tmp_path):
    old_umask = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640


@posix_only
def test_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert only_file(tmp_path) == ["link.txt", "real.txt"]


def test_long_file_name_is_supported(tmp_path):
    name = "n" * 240 + ".qmls"
    atomic_write_text(tmp_path / name, "x")
    assert only_file(tmp_path) == [name]


def dead_pid() -> int:
    """The id of a process that has ended (started, reaped)."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_temporary_file_left_by_a_killed_writer_is_removed_at_the_next_write(tmp_path):
    target = tmp_path / "p.qmls"
    target.write_text("old")
    stale = tmp_path / f".p.qmls.{dead_pid()}-0123abcd.tmp"
    stale.write_bytes(b"x" * 1000)  # what a SIGKILL during a save leaves
    alive = tmp_path / f".p.qmls.{os.getppid()}-89abcdef.tmp"  # a running process's write: kept
    alive.write_bytes(b"y")
    other = tmp_path / f".other.qmls.{dead_pid()}-0123abcd.tmp"  # another file's: not ours to judge
    other.write_bytes(b"z")
    user = tmp_path / ".p.qmls.notes.tmp"  # not of our making
    user.write_bytes(b"u")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["p.qmls", alive.name, other.name, user.name]
    )


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_a_stale_temporary_name_that_is_a_symlink_is_removed_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "p.qmls"
    link = tmp_path / f".p.qmls.{dead_pid()}-0123abcd.tmp"
    link.symlink_to(victim)
    atomic_write_text(target, "new")
    assert not os.path.lexists(link) and victim.read_text() == "keep me"


def test_temporary_names_are_unique_and_never_opened_through_a_planted_symlink(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    names = iter(["0123abcd", "0123abcd", "fedcba98"])
    monkeypatch.setattr(storage.secrets, "token_hex", lambda n: next(names))
    planted = tmp_path / f".p.qmls.{os.getpid()}-0123abcd.tmp"
    planted.symlink_to(victim)  # an attacker guessed the first name
    atomic_write_text(tmp_path / "p.qmls", "new")
    assert victim.read_text() == "keep me" and (tmp_path / "p.qmls").read_text() == "new"
    assert planted.is_symlink()  # left alone (our own pid: it might be another thread's)
