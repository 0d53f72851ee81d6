"""The fake IBM devices of qiskit-ibm-runtime's ``fake_provider``: loading one and describing all.

Each fake device carries a real device's calibration snapshot (coupling map, basis gates,
gate errors and durations, T1/T2, readout errors), so Aer can simulate it offline.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import warnings
from pathlib import Path
from typing import Any

from qmlstudio.plugins import OptionError

#: operations of a target that are not gates a circuit is written in
_NOT_GATES = {"delay", "measure", "reset", "for_loop", "if_else", "switch_case", "while_loop", "id", "barrier"}


def _class_names(name: str) -> tuple[str, str]:
    """``fake_manila`` → ``FakeManilaV2``, ``FakeManila`` (newer devices have no V2 suffix)."""
    base = "Fake" + "".join(part.capitalize() for part in name.removeprefix("fake_").split("_"))
    return base + "V2", base


def fake_backend(name: str) -> Any:
    """A new instance of the fake device called ``name`` (``fake_manila``...)."""
    from qiskit_ibm_runtime import fake_provider

    with warnings.catch_warnings():
        # Some snapshots warn that their error rates are not typical of the device family.
        warnings.simplefilter("ignore", UserWarning)
        for class_name in _class_names(name):
            cls = getattr(fake_provider, class_name, None)
            if cls is not None:
                backend = cls()
                if backend.name == name:
                    return backend
        for backend in fake_provider.FakeProviderForBackendV2().backends():
            if backend.name == name:
                return backend
    raise OptionError(f"qiskit-ibm-runtime has no fake device {name!r} (aer-noise lists the devices it knows)")


def two_qubit_gates(backend: Any) -> list[str]:
    """The two-qubit gates of a backend's target (``cx``, ``ecr``...)."""
    target = backend.target
    return sorted(
        name
        for name in target.operation_names
        if name not in _NOT_GATES and getattr(target.operation_from_name(name), "num_qubits", 0) == 2
    )


def _snapshot_configuration(name: str) -> dict[str, Any] | None:
    """The device's ``conf_*.json`` from qiskit-ibm-runtime's package folder (None if absent).

    Reading it is 200 times faster than building the device (7 s for all of them).
    """
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "fake_provider" / "backends" / name.removeprefix("fake_")
    for path in sorted(folder.glob("conf_*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("n_qubits"), int) and isinstance(data.get("basis_gates"), list):
            return data
    return None


def _two_qubit(names: list[str]) -> list[str]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    library = get_standard_gate_name_mapping()
    return sorted(n for n in names if n in library and library[n].num_qubits == 2)


@functools.lru_cache(maxsize=1)
def _described() -> tuple[dict[str, Any], ...]:
    from qmls_aer import FAKE_DEVICES

    rows = []
    for name in FAKE_DEVICES:
        row: dict[str, Any] = {"name": name, "qubits": None, "basis_gates": [], "two_qubit_gates": [], "problem": None}
        conf = _snapshot_configuration(name)
        try:
            if conf is not None:
                qubits, gates = int(conf["n_qubits"]), [str(g) for g in conf["basis_gates"]]
            else:
                backend = fake_backend(name)
                qubits, gates = int(backend.num_qubits), list(backend.target.operation_names)
        except Exception as exc:  # noqa: BLE001 - one broken snapshot must not hide the others
            row["problem"] = str(exc)
            rows.append(row)
            continue
        gates = sorted({g for g in gates if g not in _NOT_GATES})
        row.update(qubits=qubits, basis_gates=gates, two_qubit_gates=_two_qubit(gates))
        rows.append(row)
    return tuple(rows)


def describe_devices() -> list[dict[str, Any]]:
    """For each of :data:`qmls_aer.FAKE_DEVICES`: name, qubits, basis and two-qubit gates.

    Each row's ``problem`` is None, or why that device could not be loaded.
    """
    return [dict(row) for row in _described()]


def device_label(row: dict[str, Any]) -> str:
    """``fake_manila — 5 qubits, cx rz sx x`` for a device list."""
    if row.get("problem"):
        return f"{row['name']} — unavailable: {row['problem']}"
    return f"{row['name']} — {row['qubits']} qubits, {' '.join(row['basis_gates'])}"
