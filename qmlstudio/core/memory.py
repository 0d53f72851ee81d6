"""Whether a simulation fits in this machine's memory, asked before anything is allocated.

A statevector of ``n`` qubits has ``2**n`` amplitudes; the engine simulates a batch of
samples at once (:meth:`~qmlstudio.core.statevector.StatevectorProgram.memory_bytes` says
how many bytes that takes). :func:`check_simulation` compares that with the memory the
machine has available now and raises :class:`SimulationTooLarge`, with the numbers, when
it does not fit, so that the CLI prints one clear line and the GUI offers a fix instead of
numpy failing deep inside (``ValueError: Maximum allowed size exceeded``) or the machine
swapping.
"""

from __future__ import annotations

import os
from pathlib import Path

from qmlstudio.core.errors import QMLStudioError

__all__ = ["SimulationTooLarge", "available_memory", "check_simulation", "format_bytes"]


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (None when the system does not say).

    Linux's ``MemAvailable`` (free memory plus the caches it can drop), else the free
    physical pages (``os.sysconf``).
    """
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(count: int | float) -> str:
    """``1536`` → ``"1.5 KiB"``; sizes past exbibytes keep growing in EiB with an exponent."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    if value < 1024:
        return f"{value:.3g} EiB"
    return f"{value:,.0f} EiB" if value < 1e9 else f"{value:.2e} EiB"


class SimulationTooLarge(QMLStudioError):
    """The states of a simulation need more memory than the machine has available.

    ``num_qubits``, ``batch`` (samples simulated at once), ``needed`` and ``available``
    (bytes) say by how much; the message says it in words.
    """

    def __init__(self, num_qubits: int, batch: int, needed: int, available: int, hint: str = "") -> None:
        self.num_qubits = int(num_qubits)
        self.batch = int(batch)
        self.needed = int(needed)
        self.available = int(available)
        self.hint = hint
        super().__init__(self.describe() + (f"; {hint}" if hint else ""))

    @property
    def amplitudes(self) -> int:
        return 2**self.num_qubits

    def describe(self) -> str:
        """The numbers in one sentence, without the hint."""
        return (
            f"{self.num_qubits} qubits need 2^{self.num_qubits} = {self.amplitudes:,} amplitudes per sample "
            f"({format_bytes(16 * self.amplitudes)} at 16 bytes each); a step on {self.batch:,} "
            f"sample{'s' if self.batch != 1 else ''} needs {format_bytes(self.needed)}, but this machine "
            f"has {format_bytes(self.available)} available"
        )

    def with_hint(self, hint: str) -> "SimulationTooLarge":
        """The same numbers with ``hint`` (what to do about it) added to the message."""
        return SimulationTooLarge(self.num_qubits, self.batch, self.needed, self.available, hint)


def check_simulation(
    num_qubits: int,
    batch: int,
    *,
    num_observables: int = 1,
    num_gates: int = 0,
    available: int | None = None,
) -> int:
    """The bytes a statevector simulation of ``batch`` samples needs; raises
    :class:`SimulationTooLarge` when that exceeds ``available`` (default: what the machine
    has available now, :func:`available_memory`)."""
    from qmlstudio.core.statevector import StatevectorProgram

    needed = StatevectorProgram.memory_bytes(num_qubits, batch, num_observables, num_gates)
    if available is None:
        available = available_memory()
    if available is not None and needed > available:
        raise SimulationTooLarge(num_qubits, batch, needed, available)
    return needed
