"""Whether the Aer backends can run on a GPU here, and why not.

qiskit-aer runs on NVIDIA GPUs only in its GPU build (the ``qiskit-aer-gpu`` package) and
only where a GPU is found. ``AerSimulator().available_devices()`` lists ``"GPU"`` when both
hold; otherwise the reason distinguishes the two cases, so the GUI can show the ``GPU``
choice disabled with it and ``create`` can refuse ``device=GPU`` with it.
"""

from __future__ import annotations

import functools
import importlib.metadata

from qmlstudio.plugins import OptionError

DEVICES = ("CPU", "GPU")
GPU_DISTRIBUTIONS = ("qiskit-aer-gpu", "qiskit-aer-gpu-cu11")


def _gpu_build_installed() -> bool:
    for name in GPU_DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
            return True
        except importlib.metadata.PackageNotFoundError:
            continue
    return False


@functools.lru_cache(maxsize=1)
def gpu_unavailable_reason() -> str | None:
    """``None`` when Aer can simulate on a GPU here, else why not (computed once)."""
    try:
        from qiskit_aer import AerSimulator

        devices = tuple(AerSimulator().available_devices())
    except Exception as exc:  # a broken install must not break the form
        return f"qiskit-aer could not list its devices: {exc}"
    if "GPU" in devices:
        return None
    if not _gpu_build_installed():
        return "qiskit-aer was built without GPU support (install qiskit-aer-gpu on a machine with an NVIDIA GPU)"
    return "no GPU found: qiskit-aer-gpu is installed but no usable NVIDIA GPU and CUDA driver were found"


def device_options() -> tuple[tuple[str, ...], dict[str, str | None]]:
    """``(choices, reasons)``: every device, and for each ``None`` or why it is disabled."""
    return DEVICES, {"CPU": None, "GPU": gpu_unavailable_reason()}


def check_device(device: str) -> str:
    """``device`` when it can be used here, else :class:`OptionError` with the reason."""
    if device not in DEVICES:
        raise OptionError(f"option 'device': expected one of {', '.join(DEVICES)}, got {device!r}")
    if device == "GPU":
        reason = gpu_unavailable_reason()
        if reason:
            raise OptionError(f"option 'device': GPU cannot be used here: {reason}")
    return device
