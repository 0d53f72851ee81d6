"""How long QML Studio takes to put its window on screen, and to exit after Ctrl+Q.

Launches the real application (``python -m qmlstudio gui``) ``--runs`` times in a real X11
server and measures, for each launch:

* **shown**: from just before the process is started to the moment the main window is first
  exposed on screen. The app prints that moment itself when ``$QMLSTUDIO_TRACE_STARTUP`` is
  set (``qmlstudio-shown <unix time> <window id>`` on stderr, from the window's first
  ``Expose`` event), so no polling adds to the figure;
* **quit**: from just before Ctrl+Q is typed into the window (``xdotool key``, a real key
  event through the X server) to the process's exit, interpreter shutdown included;
* **ready**: when the app also reports the moment its deferred start-up work (plugins'
  heavy parts, the state view's first simulation...) has finished, that moment too.

It prints every launch and the medians. Each launch gets a fresh configuration folder
(``$QMLSTUDIO_CONFIG_DIR``), so no saved layout, autosave or recovery offer is involved;
``--project`` opens a project (e.g. ``resources/demo.qmls``) instead of a new one.

A real X server is preferred over ``offscreen`` (mapping a window is part of what the user
waits for): with ``$DISPLAY`` unset the script starts ``Xvfb`` on a free display itself;
``--display :93`` uses that one (starting Xvfb there if nothing answers). Needs ``xdotool``.

Run from the repository root: ``.venv/bin/python bench/startup_bench.py [--runs 7]``.
No asserts: it prints figures. Target (issue 14): shown < 1.5 s, quit < 0.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACE_ENV = "QMLSTUDIO_TRACE_STARTUP"


def _display_answers(display: str) -> bool:
    if shutil.which("xdpyinfo") is None:
        return Path(f"/tmp/.X11-unix/X{display.lstrip(':').split('.')[0]}").exists()
    return subprocess.run(["xdpyinfo", "-display", display], capture_output=True).returncode == 0


def start_xvfb(display: str | None) -> tuple[str, subprocess.Popen | None]:
    """The display to use, and the Xvfb process this script started (None if it started none)."""
    if display is None:
        display = os.environ.get("DISPLAY")
        if display:
            return display, None
    if display and _display_answers(display):
        return display, None
    if shutil.which("Xvfb") is None:
        sys.exit("startup_bench: no X display and no Xvfb to start one (apt-get install xvfb xdotool)")
    args = ["Xvfb", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"]
    if display:
        proc = subprocess.Popen(["Xvfb", display, *args[1:]], stderr=subprocess.DEVNULL)
    else:
        read, write = os.pipe()
        proc = subprocess.Popen([*args, "-displayfd", str(write)], pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            display = ":" + pipe.readline().strip()
    for _ in range(100):
        if _display_answers(display):
            break
        time.sleep(0.05)
    return display, proc


def one_launch(python: str, display: str, project: str | None, timeout: float, settle: float,
               root: Path = ROOT, after_shown: float | None = None) -> dict[str, float]:
    """Starts the app, waits for its window, types Ctrl+Q, waits for the exit; returns the times."""
    env = dict(os.environ)
    env.update({
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        TRACE_ENV: "1",
        "QMLSTUDIO_CONFIG_DIR": tempfile.mkdtemp(prefix="qmlstudio-startup-"),
    })
    paths = [str(root), str(root / "plugins")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    command = [python, "-m", "qmlstudio", "gui"] + ([project] if project else [])
    err_path = Path(env["QMLSTUDIO_CONFIG_DIR"]) / "stderr.txt"
    with open(err_path, "w") as err:
        start = time.time()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=str(root))
        shown = window = None
        deadline = time.monotonic() + timeout
        while shown is None and time.monotonic() < deadline and proc.poll() is None:
            for line in err_path.read_text(errors="replace").splitlines():
                if line.startswith("qmlstudio-shown "):
                    _, stamp, wid = line.split()[:3]
                    shown, window = float(stamp), wid
            time.sleep(0.01)
        if shown is None:
            proc.kill()
            proc.wait()
            tail = err_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the window did not show within {timeout} s; stderr:\n{tail}")
        # Quit ``settle`` seconds after the deferred start-up work has finished (the app prints
        # when): a user looks at the window before quitting it.
        ready = None
        settle_until = time.monotonic() + (8.0 if after_shown is None else 0.0)
        while time.monotonic() < settle_until:
            text = err_path.read_text(errors="replace")
            if "qmlstudio-ready " in text:
                ready = float(text.split("qmlstudio-ready ", 1)[1].split()[0])
                break
            time.sleep(0.02)
        time.sleep(settle if after_shown is None else max(0.0, shown + after_shown - time.time()))
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, capture_output=True)
        quit_start = time.time()
        subprocess.run(["xdotool", "key", "--clearmodifiers", "ctrl+q"], env=env, capture_output=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("the app did not exit within the timeout after Ctrl+Q")
        end = time.time()
    result = {"shown": shown - start, "quit": end - quit_start}
    if ready is not None:
        result["ready"] = ready - start
    shutil.rmtree(env["QMLSTUDIO_CONFIG_DIR"], ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="launches (default 7)")
    parser.add_argument("--display", help="X display to use (default: $DISPLAY, else a new Xvfb)")
    parser.add_argument("--project", help="a project to open at each launch (default: a new project)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs the app")
    parser.add_argument("--settle", type=float, default=1.0,
                        help="seconds between the end of the start-up work and Ctrl+Q (default 1)")
    parser.add_argument("--quit-after-shown", type=float, metavar="S",
                        help="type Ctrl+Q S seconds after the window is shown, whatever the app is doing "
                             "(instead of --settle seconds after its start-up work)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout (e.g. the previous commit, exported) launched in turn with this one: "
                             "paired figures under the same load")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a window or an exit")
    args = parser.parse_args()
    if shutil.which("xdotool") is None:
        sys.exit("startup_bench: xdotool is needed to type Ctrl+Q (apt-get install xdotool)")
    display, xvfb = start_xvfb(args.display)
    try:
        load = os.getloadavg()
        print(f"QML Studio start-up and quit, {args.runs} launches on display {display}")
        print(f"python {platform.python_version()}, {os.cpu_count()} cores, load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; project: {args.project or 'new'}; "
              + (f"Ctrl+Q {args.quit_after_shown:g} s after the window shows" if args.quit_after_shown is not None
                 else f"Ctrl+Q {args.settle:g} s after the start-up work"))
        trees = [("this", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
        if args.baseline:
            print(f"baseline: {args.baseline} (launched right after this checkout each time)")
        header = "".join(f"  {name + ' shown':>14}  {name + ' ready':>14}  {name + ' quit':>13}" for name, _ in trees)
        print(f"{'launch':>6}{header}")
        rows: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}

        def cells(row: dict[str, float] | None) -> str:
            if row is None:
                return f"  {'-':>14}  {'-':>14}  {'-':>13}"
            ready = f"{row['ready']:14.3f}" if "ready" in row else f"{'-':>14}"
            return f"  {row['shown']:14.3f}  {ready}  {row['quit']:13.3f}"

        for number in range(1, args.runs + 1):
            line = f"{number:>6}"
            for name, root in trees:
                row = one_launch(args.python, display, args.project, args.timeout, args.settle, root,
                                 args.quit_after_shown)
                rows[name].append(row)
                line += cells(row)
            print(line, flush=True)
        line = f"{'median':>6}"
        for name, _ in trees:
            readies = [r["ready"] for r in rows[name] if "ready" in r]
            median = {"shown": statistics.median(r["shown"] for r in rows[name]),
                      "quit": statistics.median(r["quit"] for r in rows[name])}
            if readies:
                median["ready"] = statistics.median(readies)
            line += cells(median)
        print(line)
        print("targets: shown < 1.5 s, quit < 0.5 s")
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
