"""Loads a new or changed third-party plugin once in a child process before the app does.

A plugin whose import (or hook) ends the interpreter — ``os._exit``, a segfault in an
extension module, ``abort()`` — would take QML Studio down with it and leave no message. So
the first time an entry point of a distribution (at a given version and install time) is
seen, :func:`verdict` runs ``python -m qmlstudio.plugins.probe GROUP NAME VALUE`` which
imports it and calls its hooks, and keeps what became of the child:

* ``ok``: it loaded (an ordinary exception counts as loaded: the registry reports it);
* ``fatal``: the child died (a signal, or an exit status without its answer);
* ``hang``: its import or a hook did not answer within the time limit.

Verdicts are cached per Python environment in ``plugin-probes.json``
(:func:`qmlstudio.core.settings.environment_dir`), so a plugin is probed only when it is new
or was reinstalled; the registry skips plugins found ``fatal`` or ``hang`` with the reason.
Built-in plugins ship with QML Studio and are not probed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

CACHE_NAME = "plugin-probes.json"
#: seconds a probe child may take to start Python and QML Studio's plugin API, on top of the limit
STARTUP_ALLOWANCE_S = 30.0


def cache_key(ep: importlib.metadata.EntryPoint) -> str:
    """What identifies one installed version of an entry point (reinstalling changes it)."""
    dist = ep.dist
    name, version, stamp = (dist.name, dist.version, "") if dist is not None else ("?", "?", "")
    path = getattr(dist, "_path", None)
    if path is not None:
        try:
            stamp = str(Path(path).stat().st_mtime_ns)
        except OSError:
            stamp = ""
    return f"{name}=={version}@{stamp}:{ep.name}={ep.value}"


def _cache_path() -> Path:
    from qmlstudio.core.settings import environment_dir

    return environment_dir() / CACHE_NAME


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache: dict[str, Any]) -> None:
    from qmlstudio.core.storage import atomic_write_text

    try:
        path = _cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
    except (OSError, ValueError):  # a read-only or full config folder: probe again next time
        pass


def verdict(ep: importlib.metadata.EntryPoint, timeout: float) -> tuple[str, str]:
    """``(verdict, message)`` for the entry point: from the cache, else from a child process."""
    key = cache_key(ep)
    cache = _read_cache()
    known = cache.get(key)
    if isinstance(known, dict) and known.get("verdict") in ("ok", "fatal", "hang"):
        return str(known["verdict"]), str(known.get("message", ""))
    found, message = run_probe(ep, timeout)
    stale = [k for k in cache if k.endswith(f":{ep.name}={ep.value}") and k != key]
    for k in stale:  # an older version's verdict
        cache.pop(k, None)
    cache[key] = {"verdict": found, "message": message}
    _write_cache(cache)
    return found, message


def run_probe(ep: importlib.metadata.EntryPoint, timeout: float) -> tuple[str, str]:
    """Loads ``ep`` in a child process; ``(verdict, message)`` as described in the module."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    command = [sys.executable, "-m", "qmlstudio.plugins.probe", ep.group, ep.name, ep.value, str(timeout)]
    limit = STARTUP_ALLOWANCE_S + (timeout * 12 if timeout > 0 else 600.0)
    try:
        done = subprocess.run(command, check=False, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return "hang", f"did not answer within {limit:g} s while loading"
    except OSError as exc:  # no interpreter to start: trust the plugin rather than lose it
        return "ok", f"not probed ({exc})"
    answer = _answer(done.stdout)
    if answer is not None:
        if answer.get("hang"):
            where = "while importing" if answer["hang"] == "import" else f"in {answer['hang']}"
            return "hang", f"did not answer within {timeout:g} s {where}"
        return "ok", ""
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return "fatal", f"crashed the Python interpreter while loading ({name})"
    return "fatal", f"ended the Python process while loading (exit status {done.returncode})"


def _answer(stdout: bytes) -> dict[str, Any] | None:
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        if line.startswith("QMLSTUDIO-PROBE "):
            try:
                data = json.loads(line.removeprefix("QMLSTUDIO-PROBE "))
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def main(argv: list[str]) -> None:
    """The child: load one entry point, call its hooks, print the answer and leave at once."""
    group, name, value, timeout = argv[0], argv[1], argv[2], float(argv[3])
    os.environ["QMLSTUDIO_PLUGIN_PROBE"] = "0"  # no probes of probes
    from qmlstudio.plugins.manager import NoAnswer, PluginRegistry, run_limited

    ep = importlib.metadata.EntryPoint(name=name, value=value, group=group)
    hang = ""
    plugin = None
    try:
        plugin = run_limited(ep.load, timeout)
    except NoAnswer:
        hang = "import"
    except BaseException:  # noqa: BLE001 - an ordinary failure: the app reports it itself
        plugin = None
    if plugin is not None and not hang:
        registry = PluginRegistry()
        try:
            registry.register(plugin, name)
        except BaseException:  # noqa: BLE001
            pass
        hung = [p.stage for p in registry.problems if p.hang]
        hang = ", ".join(hung)
    sys.stdout.write("QMLSTUDIO-PROBE " + json.dumps({"hang": hang}) + "\n")
    sys.stdout.flush()
    os._exit(0)  # a hung plugin thread must not hold the exit


if __name__ == "__main__":  # pragma: no cover - run as a child process
    main(sys.argv[1:])
