"""Clear messages for what goes wrong with IBM Quantum: the token, the network, the quota.

qiskit-ibm-runtime raises many exception types (its own, ``requests``', IBM Cloud's SDK),
often wrapped in one another. :func:`explain` walks the chain and turns it into one
:class:`IbmError` whose ``kind`` is ``auth``, ``network``, ``quota``, ``account``,
``backend``, ``cancelled`` or ``other`` and whose message says what to do. The API token is
never part of a message: any text that contains it is scrubbed.
"""

from __future__ import annotations

import re
from typing import Iterator

from qmlstudio.plugins import QMLStudioError

KINDS = ("auth", "network", "quota", "account", "backend", "cancelled", "other")


class IbmError(QMLStudioError):
    """An IBM Quantum failure, with ``kind`` telling the GUI which advice to show."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind if kind in KINDS else "other"


class IbmJobCancelled(IbmError):
    """The user stopped the run and its IBM Quantum job was cancelled."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "cancelled")


_NETWORK_TEXT = re.compile(
    r"max retries exceeded|failed to establish a new connection|name or service not known|"
    r"temporary failure in name resolution|nameresolutionerror|connection (refused|reset|aborted)|"
    r"connectionerror|timed? ?out|network is unreachable|proxyerror|ssl",
    re.IGNORECASE,
)
_AUTH_TEXT = re.compile(
    r"unauthori[sz]ed|not authori[sz]ed|invalid (api )?(token|key)|api key could not be found|"
    r"valid api token|authenticat|login failed|\b401\b",
    re.IGNORECASE,
)
_QUOTA_TEXT = re.compile(
    r"quota|usage limit|exceeds? (the |your )?(instance|plan|monthly|usage)|limit (has been )?reached|"
    r"insufficient (credit|time|usage)|no remaining|rate limit|too many requests|\b429\b",
    re.IGNORECASE,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_instance(exc: BaseException, module: str, names: tuple[str, ...]) -> bool:
    """``isinstance`` by class name and module prefix, without importing the module."""
    for cls in type(exc).__mro__:
        if cls.__name__ in names and cls.__module__.startswith(module):
            return True
    return False


def _status_code(exc: BaseException) -> int | None:
    for name in ("status_code", "code"):
        value = getattr(exc, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def scrub(text: str, *secrets: str | None) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _detail(exc: BaseException, secrets: tuple[str | None, ...]) -> str:
    text = " ".join(str(exc).split())
    text = scrub(text, *secrets)
    return text if len(text) <= 240 else text[:237] + "…"


def classify(exc: BaseException) -> str:
    """The kind of an IBM Quantum failure (see :data:`KINDS`)."""
    chain = list(_chain(exc))
    if any(isinstance(e, IbmError) for e in chain):
        return next(e for e in chain if isinstance(e, IbmError)).kind  # type: ignore[union-attr]
    text = " ".join(str(e) for e in chain)
    codes = {c for c in (_status_code(e) for e in chain) if c is not None}
    if any(_is_instance(e, "qiskit_ibm_runtime", ("AccountNotFoundError",)) for e in chain):
        return "account"
    if any(
        _is_instance(e, "requests", ("ConnectionError", "Timeout", "ProxyError", "SSLError"))
        or _is_instance(e, "urllib3", ("NewConnectionError", "MaxRetryError", "NameResolutionError"))
        or isinstance(e, (ConnectionError, TimeoutError))
        for e in chain
    ) or (_NETWORK_TEXT.search(text) and not codes - {-1}):
        return "network"
    if 429 in codes or _QUOTA_TEXT.search(text):
        return "quota"
    if (
        any(_is_instance(e, "qiskit_ibm_runtime", ("IBMNotAuthorizedError", "InvalidAccountError")) for e in chain)
        or codes & {401, 403}
        or _AUTH_TEXT.search(text)
    ):
        return "auth"
    if any(_is_instance(e, "qiskit", ("QiskitBackendNotFoundError",)) for e in chain):
        return "backend"
    return "other"


_ADVICE = {
    "auth": "IBM Quantum did not accept the API token: check it (and the instance) in IBM Quantum "
    "account…, or create a new token on quantum.cloud.ibm.com",
    "network": "cannot reach IBM Quantum: check the internet connection (and any proxy), then try again",
    "quota": "the IBM Quantum quota of this instance is used up: wait until it renews, choose another "
    "instance, or run on aer-noise meanwhile",
    "account": "no IBM Quantum account: enter an API token in IBM Quantum account… (or set "
    "QISKIT_IBM_TOKEN, or save an account with qiskit-ibm-runtime)",
    "backend": "IBM Quantum has no such backend for this account",
    "cancelled": "the IBM Quantum job was cancelled",
    "other": "IBM Quantum failed",
}


def explain(exc: BaseException, doing: str = "", *, token: str | None = None) -> IbmError:
    """One :class:`IbmError` for ``exc``: its kind, advice, and the cause (token scrubbed)."""
    if isinstance(exc, IbmError):
        return exc
    kind = classify(exc)
    detail = _detail(exc, (token,))
    where = f" while {doing}" if doing else ""
    return IbmError(f"{_ADVICE[kind]}{where} ({type(exc).__name__}: {detail})", kind)
