"""Canary for the PySide6 6.12.0 ``Signal.emit()`` reference-count bug.

PySide6 6.12.0 on Python 3.11 drops a reference to ``True`` on every ``Signal.emit()``
from Python; after a few hundred emits the count reaches zero and the interpreter aborts.
pyproject.toml pins ``PySide6-Essentials<6.12``. If that pin is ever relaxed, these tests
fail with a message instead of the whole GUI suite dying mid-run.

The emits run in a child process, so that a PySide6 with the bug aborts the child (and
fails the test) rather than pytest itself. On Python 3.12+ ``True``, ``False`` and
``None`` are immortal and their reference counts never change, so the count check passes
trivially there; the abort check still applies.

Checked against PySide6-Essentials 6.12.0 on Python 3.11.7: the child aborts with "Fatal
Python error: bool_dealloc: deallocating True or False" (SIGABRT), and with 100 loops
instead of 500 ``getrefcount(True)`` falls by 300, one per emit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import PySide6

PIN_HINT = (
    "PySide6 6.12.0 drops a reference to True on every Signal.emit() and aborts the app after a few "
    "hundred emits; keep 'PySide6-Essentials>=6.8,<6.12' in pyproject.toml (and reinstall with "
    "'make test') until a fixed release is verified with this canary."
)

EMITS = 500

_EMITTER = textwrap.dedent(
    f"""
    import json, sys
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    app = QCoreApplication([])

    class Emitter(QObject):
        flag = Signal(bool)
        number = Signal(int)
        anything = Signal(object)

    received = [0]

    def slot(value):
        received[0] += 1   # keeps no reference to the value

    emitter = Emitter()
    emitter.flag.connect(slot)
    emitter.number.connect(slot)
    emitter.anything.connect(slot)

    def counts():
        return {{"True": sys.getrefcount(True), "False": sys.getrefcount(False), "None": sys.getrefcount(None)}}

    # A first emit may create caches (signatures, converters) that keep references for good.
    for _ in range(5):
        emitter.flag.emit(True)
        emitter.flag.emit(False)
        emitter.number.emit(1)
        emitter.anything.emit(None)
    before = counts()
    for i in range({EMITS}):
        emitter.flag.emit(i % 2 == 0)
        emitter.number.emit(i)
        emitter.anything.emit(None)
    after = counts()
    print(json.dumps({{"before": before, "after": after, "received": received[0]}}))
    """
)


def test_pyside6_is_below_the_broken_release() -> None:
    major, minor = (int(part) for part in PySide6.__version__.split(".")[:2])
    assert (major, minor) < (6, 12), f"PySide6 {PySide6.__version__} is installed. {PIN_HINT}"


def test_emits_from_python_keep_reference_counts_of_true_false_none() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EMITTER],
        capture_output=True,
        text=True,
        timeout=120,
    )
    how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
    assert done.returncode == 0, (
        f"emitting signals from Python ended the interpreter ({how}).\n{PIN_HINT}\n"
        f"stderr:\n{done.stderr[-2000:]}"
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["received"] == 3 * EMITS + 20
    # The loop creates no lasting references to these singletons, so any change is the bug:
    # it removes one reference per emit, hundreds in all. No tolerance is needed.
    for name in ("True", "False", "None"):
        before, after = result["before"][name], result["after"][name]
        assert after == before, (
            f"sys.getrefcount({name}) went from {before} to {after} over {3 * EMITS} emits. {PIN_HINT}"
        )
