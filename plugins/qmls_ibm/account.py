"""The IBM Quantum account: where the API token lives, connecting, and listing backends.

The token is stored in the operating system's keyring (the ``keyring`` package: macOS
Keychain, Windows Credential Locker, Secret Service / KWallet on Linux) under service
``qmlstudio`` and user ``ibm-quantum``. Where no usable keyring exists (none installed, a
headless Linux box, only a plain-text file keyring) the token is kept in this process's
memory for the session, and :func:`keyring_status` says why. It is never written to the
project file, the settings, the logs or qiskit's own account file, and never put in a
message (see :func:`qmls_ibm.errors.scrub`).

Nothing here imports qiskit-ibm-runtime or keyring until it is needed.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from qmls_ibm.errors import IbmError, explain

log = logging.getLogger(__name__)

KEYRING_SERVICE = "qmlstudio"
KEYRING_USER = "ibm-quantum"
CHANNELS = ("ibm_quantum_platform", "ibm_cloud", "local")
CHANNEL_TITLES = {
    "ibm_quantum_platform": "IBM Quantum Platform",
    "ibm_cloud": "IBM Cloud",
    "local": "Local testing (fake devices, offline)",
}

_lock = threading.Lock()
_session_token: str | None = None  # the token in use, in this process's memory only
_session_where = "session"  # where it is also kept: "keyring" or only "session"


@dataclass(frozen=True)
class KeyringStatus:
    """Whether tokens can be kept in a system keyring, which one, and a sentence for the user."""

    available: bool
    backend: str
    reason: str


def keyring_status() -> KeyringStatus:
    """Whether a usable system keyring exists (its name), or why not."""
    try:
        import keyring
    except ImportError:
        return KeyringStatus(
            False, "", "the keyring package is not installed (pip install keyring): the token is kept "
            "for this session only"
        )
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring set-up is reported, not raised
        return KeyringStatus(False, "", f"the system keyring could not be opened ({type(exc).__name__}): "
                             "the token is kept for this session only")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if _unusable(backend):
        return KeyringStatus(
            False, name, "no system keyring is available here (keyring found no backend such as GNOME "
            "Keyring, KWallet, macOS Keychain or Windows Credential Locker): the token is kept for "
            "this session only"
        )
    if "plaintext" in name.lower() or "keyrings.alt" in name.lower():
        return KeyringStatus(
            False, name, "the only keyring is a plain-text file (keyrings.alt), which is not safe for "
            "tokens: the token is kept for this session only"
        )
    title = getattr(backend, "name", "") or type(backend).__name__
    return KeyringStatus(True, name, f"the token can be kept in the system keyring ({title})")


def _unusable(backend: Any) -> bool:
    module = type(backend).__module__
    if module.startswith("keyring.backends.fail") or module.startswith("keyring.backends.null"):
        return True
    if module.startswith("keyring.backends.chainer"):
        return not list(getattr(backend, "backends", []))
    try:
        return float(getattr(backend, "priority", 1)) <= 0
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class TokenSaved:
    """Where :func:`store_token` put the token: ``keyring`` or ``session``, and what to tell the user."""

    where: str
    message: str


def store_token(token: str, remember: bool = True) -> TokenSaved:
    """Keeps ``token`` for this session and, when asked and possible, in the system keyring.

    With ``remember=False`` a token stored earlier is removed from the keyring, so that
    unticking "Remember" is honoured.
    """
    global _session_token, _session_where
    token = (token or "").strip()
    if not token:
        raise IbmError("the API token is empty", "auth")
    with _lock:
        _session_token, _session_where = token, "session"
    if not remember:
        _delete_stored()
        return TokenSaved("session", "The token is kept for this session only.")
    status = keyring_status()
    if not status.available:
        return TokenSaved("session", f"Not saved: {status.reason}.")
    import keyring

    try:
        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, token)
    except Exception as exc:  # noqa: BLE001 - a locked or refusing keyring
        log.warning("could not store the IBM Quantum token in the keyring: %s", type(exc).__name__)
        return TokenSaved(
            "session", f"The system keyring refused the token ({type(exc).__name__}); it is kept for this "
            "session only."
        )
    with _lock:
        _session_where = "keyring"
    log.info("IBM Quantum token stored in the system keyring")
    return TokenSaved("keyring", "The token is saved in the system keyring.")


def load_token() -> tuple[str | None, str]:
    """The token and where it is kept: ``keyring``, ``session`` (memory only) or ``none``."""
    with _lock:
        if _session_token:
            return _session_token, _session_where
    if keyring_status().available:
        import keyring

        try:
            stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not read the IBM Quantum token from the keyring: %s", type(exc).__name__)
            stored = None
        if stored:
            return stored, "keyring"
    return None, "none"


def _delete_stored() -> None:
    if not keyring_status().available:
        return
    import keyring

    try:
        keyring.delete_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception:  # noqa: BLE001 - nothing stored, or the keyring refuses: nothing to undo
        pass


def forget_token() -> None:
    """Removes the token from this session and from the system keyring."""
    global _session_token, _session_where
    with _lock:
        _session_token, _session_where = None, "session"
    _delete_stored()
    log.info("IBM Quantum token forgotten")


# ---------------------------------------------------------------------------
# Connecting
# ---------------------------------------------------------------------------
def connect(channel: str = "ibm_quantum_platform", instance: str = "", token: str | None = None) -> Any:
    """A ``QiskitRuntimeService`` (or the local testing service for ``channel="local"``).

    The token is ``token``, else the stored one (:func:`load_token`), else whatever
    qiskit-ibm-runtime finds itself (``QISKIT_IBM_TOKEN``, a saved qiskit account).
    Failures become an :class:`~qmls_ibm.errors.IbmError` saying what to do.
    """
    if channel not in CHANNELS:
        raise IbmError(f"unknown IBM Quantum channel {channel!r} (use one of {', '.join(CHANNELS)})", "account")
    if channel == "local":
        from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

        return QiskitRuntimeLocalService()
    from qiskit_ibm_runtime import QiskitRuntimeService

    if token is None:
        token = load_token()[0]
    kwargs: dict[str, Any] = {"channel": channel}
    if token:
        kwargs["token"] = token
    if instance:
        kwargs["instance"] = instance
    try:
        service = QiskitRuntimeService(**kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure gets a clear message
        raise explain(exc, "connecting to IBM Quantum", token=token) from None
    log.info("connected to IBM Quantum (channel %s%s)", channel, f", instance {instance}" if instance else "")
    return service


@dataclass(frozen=True)
class BackendInfo:
    """One backend of the account, as the account dialog lists it."""

    name: str
    qubits: int | None
    operational: bool
    status: str
    pending_jobs: int | None
    simulator: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backend_info(backend: Any) -> BackendInfo:
    """Name, qubits, status and queue length of a backend (asks IBM Quantum for the status)."""
    name = backend.name if isinstance(getattr(backend, "name", None), str) else str(backend.name())
    qubits = getattr(backend, "num_qubits", None)
    try:
        status = backend.status()
        operational = bool(getattr(status, "operational", True))
        message = str(getattr(status, "status_msg", "") or ("active" if operational else "offline"))
        pending = getattr(status, "pending_jobs", None)
    except Exception as exc:  # noqa: BLE001 - one backend's status must not hide the others
        operational, message, pending = False, f"status unknown ({type(exc).__name__})", None
    simulator = False
    configuration = getattr(backend, "configuration", None)
    if callable(configuration):
        try:
            simulator = bool(getattr(configuration(), "simulator", False))
        except Exception:  # noqa: BLE001
            simulator = False
    return BackendInfo(name, None if qubits is None else int(qubits), operational, message,
                       None if pending is None else int(pending), simulator)


def list_backends(service: Any) -> list[BackendInfo]:
    """The account's backends with their status and queue length, shortest queue first."""
    if getattr(service, "is_local", False):
        rows = _local_devices()
        if rows is not None:
            return rows
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # fake snapshots' "not typical" notes
            backends = list(service.backends())
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, "listing the backends") from None
    rows = [backend_info(b) for b in backends]
    return sorted(rows, key=lambda r: (not r.operational, r.pending_jobs if r.pending_jobs is not None else 1 << 30, r.name))


def _local_devices() -> list[BackendInfo] | None:
    """The fake devices of the local testing mode, from their snapshots (loading all 68 takes seconds)."""
    try:
        from qmls_aer.devices import describe_devices
    except ImportError:
        return None
    return sorted(
        (BackendInfo(row["name"], row["qubits"], True, "active (local testing)", 0, True)
         for row in describe_devices() if not row.get("problem")),
        key=lambda r: r.name,
    )


def check_account(channel: str = "ibm_quantum_platform", instance: str = "", token: str | None = None) -> list[BackendInfo]:
    """Connects and lists the backends (the account dialog's Test connection)."""
    return list_backends(connect(channel, instance, token))
