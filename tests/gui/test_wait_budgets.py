"""The GUI tests' waits are generous upper bounds (tests/gui/conftest.py, issue 23 defect 10):
a timeout written in a test is multiplied by TIMEOUT_SCALE, except for waits that do not raise."""

from __future__ import annotations

import time

import pytest
from pytestqt.exceptions import TimeoutError as QtTimeoutError

from tests.gui.conftest import TIMEOUT_SCALE


def test_a_wait_until_allows_the_scaled_timeout(qtbot) -> None:
    assert TIMEOUT_SCALE >= 1
    start = time.monotonic()
    with pytest.raises(QtTimeoutError):
        qtbot.waitUntil(lambda: False, timeout=20)
    assert time.monotonic() - start >= 0.02 * TIMEOUT_SCALE * 0.9


def test_a_wait_that_does_not_raise_keeps_its_timeout(qtbot) -> None:
    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        fired = Signal()

    source = Source()
    start = time.monotonic()
    with qtbot.waitSignal(source.fired, timeout=100, raising=False) as blocker:
        pass
    assert not blocker.signal_triggered
    assert time.monotonic() - start < 0.1 * TIMEOUT_SCALE * 0.9 or TIMEOUT_SCALE == 1


def test_a_wait_ends_as_soon_as_its_condition_holds(qtbot) -> None:
    start = time.monotonic()
    qtbot.waitUntil(lambda: time.monotonic() - start > 0.05, timeout=5000)
    assert time.monotonic() - start < 5.0
