"""Atomic file writes: a file on disk is always either its old or its new content.

Everything QML Studio saves (projects, autosaves, exported circuits, settings) goes through
:func:`atomic_write_bytes` or :func:`atomic_write_text`. The data is written to a temporary
file next to the target, flushed and ``fsync``-ed, then moved over the target with
``os.replace`` (atomic on POSIX and Windows) and the folder is ``fsync``-ed where the system
allows it. If anything fails on the way (disk full, permission denied, an exception or a
``KeyboardInterrupt`` while writing), the temporary file is removed, the old file is left
exactly as it was, and the error propagates (an :class:`OSError` for system failures).

When a file is replaced, the new one keeps the old one's permission bits; a new file gets
the usual ``0o666`` minus the umask. A symbolic link at the target is followed: the file it
points to is replaced and the link stays a link.

The temporary file's name is unique (``.<name>.<pid>-<random>.tmp``), created with
``O_EXCL`` (so never through a symbolic link planted at its name), and a process killed
during a write (SIGKILL, power cut) leaves it behind only until the next write of the same
file: every write first removes the temporary files of that target whose process is gone.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_writer"]

_TEMP_SUFFIX = ".tmp"
# File names are limited to 255 bytes on most file systems; the temporary name adds a
# prefix and suffix to the target's name, so long names are shortened.
_MAX_STEM = 200


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replaces the file at ``path`` with ``data``, atomically (see the module docstring)."""
    with atomic_writer(path) as file:
        file.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Replaces the file at ``path`` with ``text`` in ``encoding``, atomically.

    The text is written exactly as given: line endings are not translated.
    """
    atomic_write_bytes(path, text.encode(encoding))


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write into; it replaces ``path`` when the ``with`` block ends.

    If the block raises, nothing is replaced: the temporary file is removed and the
    exception propagates. Use it to stream large output without holding it in memory::

        with atomic_writer("runs.csv") as file:
            for row in rows:
                file.write(row)
    """
    try:
        target = Path(os.path.realpath(os.fspath(path)))
    except ValueError:  # a NUL byte in the name: an OSError like any other unusable name
        raise OSError(errno.EINVAL, "the file name contains a NUL byte", os.fspath(path)) from None
    directory = target.parent
    old_mode = _permission_bits(target)
    _remove_stale_temps(directory, target.name)
    fd, temp = _create_temp(directory, target.name)
    try:
        # Set the final permissions before any data is written, so that the new content
        # is never readable by more people than the old file was.
        if old_mode is not None:
            _set_mode(fd, temp, old_mode)
        with os.fdopen(fd, "wb") as file:
            fd = -1  # now owned (and closed) by the file object
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        if fd != -1:
            with suppress(OSError):
                os.close(fd)
        with suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def _permission_bits(target: Path) -> int | None:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return None


def _create_temp(directory: Path, name: str) -> tuple[int, Path]:
    """Creates a new, empty temporary file in ``directory``; returns its descriptor and path.

    ``O_EXCL`` makes the name ours alone; mode ``0o666`` lets the umask decide a new
    file's permissions exactly as for an ordinary ``open``.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    stem = name[:_MAX_STEM]
    while True:
        temp = directory / f".{stem}.{os.getpid()}-{secrets.token_hex(4)}{_TEMP_SUFFIX}"
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue


def _remove_stale_temps(directory: Path, name: str) -> None:
    """Removes ``name``'s temporary files left by processes that are gone (killed mid-write).

    Only names of the exact form :func:`_create_temp` makes are touched, only plain files
    and symbolic links (the link itself is removed, never its target), and only when the
    process id in the name no longer runs; a failure here never stops the write.
    """
    prefix = f".{name[:_MAX_STEM]}."
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        middle = entry.name[len(prefix) : -len(_TEMP_SUFFIX)]
        if not (entry.name.startswith(prefix) and entry.name.endswith(_TEMP_SUFFIX)):
            continue
        pid, _, token = middle.partition("-")
        if not (pid.isdigit() and len(token) == 8 and all(c in "0123456789abcdef" for c in token)):
            continue
        if int(pid) == os.getpid() or _running(int(pid)):
            continue
        with suppress(OSError):
            if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process, or we cannot tell: leave its file alone
    return True


def _set_mode(fd: int, temp: Path, mode: int) -> None:
    # Best effort: some file systems (FAT, network shares) do not keep permissions, and
    # failing to copy them is no reason to refuse saving the user's work.
    with suppress(OSError, NotImplementedError):
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:  # pragma: no cover - Windows
            os.chmod(temp, mode)


def _fsync_directory(directory: Path) -> None:
    """Makes the rename itself durable; not possible on Windows, where it is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
