"""Qiskit devices by name, and the IBM Quantum credentials a real device needs.

A run config names its Qiskit backend by one string (``backend: {name: qiskit, device:
...}``); :func:`resolve_device` turns it into a ``BackendV2``:

* ``"aer"``: ``AerSimulator(method=...)``, exact and sampled tasks;
* ``"fake_<name>"``: the fake IBM device of ``qiskit_ibm_runtime.fake_provider`` whose
  class name, snake-cased without its ``V2``, is the name (``FakeManilaV2`` is
  ``fake_manila``), simulated locally with its noise; the list is read from the provider;
* ``"ibm_<name>"``: that device of IBM Quantum, through ``QiskitRuntimeService`` built from
  :func:`load_credentials` (this needs the network).

Credentials never live in a config file. :func:`load_credentials` reads them from the
environment (``QISKIT_IBM_TOKEN``, with ``QISKIT_IBM_CHANNEL``, ``QISKIT_IBM_INSTANCE`` and
``QISKIT_IBM_URL`` when set) or from the account Qiskit saved with
``QiskitRuntimeService.save_account(...)``, through qiskit-ibm-runtime's own account manager
(``qiskit_ibm_runtime.accounts``), reading the local file only: its default is
``~/.qiskit/qiskit-ibm.json`` (the runtime's ``_DEFAULT_ACCOUNT_CONFIG_JSON_FILE``, read when
called, so a test may point it elsewhere), or ``account_file=``. A :class:`Credentials`
value never shows its token (``repr`` and ``str`` mask it).

Every qiskit import is made when a function needs it, so importing this module costs
nothing and a missing ``qiskit`` extra is one ``ConfigError`` naming it.

>>> Credentials("0123456789abcdef0123456789", instance="crn:v1:x")  # doctest: +ELLIPSIS
Credentials(channel='ibm_quantum_platform', instance='crn:v1:x', url=None, token='****6789', ...)
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from qtrain.errors import ConfigError, CredentialsError
from qtrain.extras import require

__all__ = [
    "CHANNELS",
    "CREDENTIAL_ENV",
    "DEVICE_FORMS",
    "TOKEN_ENV",
    "Credentials",
    "check_device",
    "device_kind",
    "fake_devices",
    "load_credentials",
    "resolve_device",
    "saved_account_file",
]

TOKEN_ENV = "QISKIT_IBM_TOKEN"
CREDENTIAL_ENV = (TOKEN_ENV, "QISKIT_IBM_CHANNEL", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_URL")
CHANNELS = ("ibm_quantum_platform", "ibm_cloud")
DEVICE_FORMS = (
    "'aer' (Qiskit Aer's simulator), 'fake_<name>' (a fake IBM device of "
    "qiskit_ibm_runtime.fake_provider, e.g. fake_manila) or 'ibm_<name>' (an IBM Quantum "
    "device; needs credentials)"
)
SAVE_HINT = (
    f"set {TOKEN_ENV} (and QISKIT_IBM_INSTANCE) in the environment, or save an account once "
    'with: python -c "from qiskit_ibm_runtime import QiskitRuntimeService; '
    "QiskitRuntimeService.save_account(token='<API key>', instance='<CRN>')\"; "
    "credentials never go in a run config"
)


def _runtime(module: str) -> ModuleType:
    return require(module, extra="qiskit", purpose="Qiskit devices (backend: {name: qiskit})")


def device_kind(name: str) -> str:
    """``"aer"``, ``"fake"``, ``"ibm"`` or ``""`` (not a device name), by the name's form.

    >>> device_kind("fake_manila"), device_kind("ibm_torino"), device_kind("manila")
    ('fake', 'ibm', '')
    """
    if name == "aer":
        return "aer"
    for prefix in ("fake", "ibm"):
        if name.startswith(f"{prefix}_") and len(name) > len(prefix) + 1:
            return prefix
    return ""


def _snake(class_name: str) -> str:
    """``FakeManilaV2`` → ``fake_manila``.

    >>> _snake("FakeManilaV2"), _snake("FakeFractionalBackend")
    ('fake_manila', 'fake_fractional_backend')
    """
    stem = class_name.removesuffix("V2")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


@functools.cache
def fake_devices() -> dict[str, type]:
    """Every fake device class of ``qiskit_ibm_runtime.fake_provider`` by its snake name.

    Read from the provider itself (its ``FakeBackendV2`` subclasses), so a new runtime's
    devices are known without a table here; a ``...V2`` class wins a name it shares.
    """
    provider = _runtime("qiskit_ibm_runtime.fake_provider")
    base = _runtime("qiskit_ibm_runtime.fake_provider.fake_backend").FakeBackendV2
    found: dict[str, type] = {}
    for attribute in sorted(dir(provider)):
        value = getattr(provider, attribute)
        if isinstance(value, type) and issubclass(value, base) and value is not base:
            name = _snake(attribute)
            if name not in found or attribute.endswith("V2"):
                found[name] = value
    return dict(sorted(found.items()))


def _unknown(name: str) -> ConfigError:
    known = ["aer", *fake_devices()]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(f"unknown device {name!r}: expected {DEVICE_FORMS}{hint}")


def check_device(name: str) -> str:
    """Check a device name without building the device; its kind (see :func:`device_kind`).

    An ``ibm_<name>`` needs credentials (read locally; the name itself can be checked only
    by IBM Quantum, when the run starts).

    Raises:
        ConfigError: an unknown name, naming the accepted forms and the close matches.
        CredentialsError: ``ibm_<name>`` without credentials.
    """
    kind = device_kind(name)
    if kind == "ibm":
        load_credentials()
    elif kind == "" or (kind == "fake" and name not in fake_devices()):
        raise _unknown(name)
    return kind


def resolve_device(
    name: str, *, method: str = "statevector", credentials: Credentials | None = None
) -> Any:
    """The ``BackendV2`` a device name stands for (see the module's docstring).

    Args:
        name: ``"aer"``, ``"fake_<name>"`` or ``"ibm_<name>"``.
        method: Aer's simulation method (``"aer"`` only).
        credentials: for ``ibm_<name>``; default :func:`load_credentials`.

    ``ibm_<name>`` connects to IBM Quantum (``QiskitRuntimeService(...).backend(name)``):
    it needs the network, so beyond the credential check it is not tested here.

    Raises:
        ConfigError: an unknown name (with close matches), a method Aer lacks, a method
            for a device, an IBM device the service does not offer.
        CredentialsError: no credentials, or IBM Quantum refused them.
    """
    kind = check_device(name) if credentials is None else device_kind(name)
    if kind != "aer" and method != "statevector":
        raise ConfigError(f"method {method!r} is Aer's simulation method: only for device 'aer'")
    if kind == "aer":
        simulator = _runtime("qiskit_aer").AerSimulator
        methods = simulator().available_methods()
        if method not in methods:
            raise ConfigError(f"Aer has no method {method!r}; choose one of {', '.join(methods)}")
        return simulator(method=method)
    if kind == "fake":
        return fake_devices()[name]()
    if kind != "ibm":
        raise _unknown(name)
    return _ibm_device(name, credentials or load_credentials())


def _ibm_device(name: str, credentials: Credentials) -> Any:  # pragma: no cover - network
    runtime = _runtime("qiskit_ibm_runtime")
    errors = _runtime("qiskit_ibm_runtime.exceptions")
    from qiskit.providers.exceptions import QiskitBackendNotFoundError  # noqa: PLC0415 - extra

    try:
        service = runtime.QiskitRuntimeService(**credentials.service_kwargs())
        return service.backend(name)
    except (errors.IBMNotAuthorizedError, errors.IBMAccountError) as exc:
        raise CredentialsError(
            f"IBM Quantum refused the credentials from {credentials.source} "
            f"({type(exc).__name__}); check them: {SAVE_HINT}"
        ) from None
    except (errors.IBMError, QiskitBackendNotFoundError) as exc:
        raise ConfigError(f"IBM Quantum has no device {name!r} for this account: {exc}") from None


@dataclass(frozen=True, repr=False)
class Credentials:
    """IBM Quantum credentials; ``repr`` and ``str`` never show the token.

    Attributes:
        token: the API key (masked in every text form).
        channel: ``"ibm_quantum_platform"`` or ``"ibm_cloud"``.
        instance: the service instance (CRN or name), when given.
        url: the authentication URL, when not the default.
        source: where they were read (an environment variable or the saved-account file).
    """

    token: str
    channel: str = "ibm_quantum_platform"
    instance: str | None = None
    url: str | None = None
    source: str = "arguments"

    def masked_token(self) -> str:
        """``'****'`` and, for a long token, its last four characters.

        >>> Credentials("short").masked_token(), Credentials("x" * 20 + "WXYZ").masked_token()
        ('****', '****WXYZ')
        """
        return "****" + (self.token[-4:] if len(self.token) >= 20 else "")

    def __repr__(self) -> str:
        return (
            f"Credentials(channel={self.channel!r}, instance={self.instance!r}, "
            f"url={self.url!r}, token={self.masked_token()!r}, source={self.source!r})"
        )

    __str__ = __repr__

    def service_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``QiskitRuntimeService`` (the token included: keep private)."""
        kwargs: dict[str, Any] = {"channel": self.channel, "token": self.token}
        if self.instance is not None:
            kwargs["instance"] = self.instance
        if self.url is not None:
            kwargs["url"] = self.url
        return kwargs


def saved_account_file() -> str:
    """The saved-account file qiskit-ibm-runtime reads (``~/.qiskit/qiskit-ibm.json``)."""
    management = _runtime("qiskit_ibm_runtime.accounts.management")
    return os.path.expanduser(str(management._DEFAULT_ACCOUNT_CONFIG_JSON_FILE))


def _channel(value: str | None, where: str) -> str:
    channel = value or CHANNELS[0]
    if channel not in CHANNELS:
        raise CredentialsError(f"{where} is {channel!r}; expected one of {', '.join(CHANNELS)}")
    return channel


def _from_environment() -> Credentials | None:
    token = os.environ.get(TOKEN_ENV)
    if not token:
        return None
    return Credentials(
        token=token,
        channel=_channel(os.environ.get("QISKIT_IBM_CHANNEL"), "QISKIT_IBM_CHANNEL"),
        instance=os.environ.get("QISKIT_IBM_INSTANCE") or None,
        url=os.environ.get("QISKIT_IBM_URL") or None,
        source=f"the environment ({TOKEN_ENV})",
    )


def _from_file(path: str, name: str | None) -> Credentials | None:
    """The saved account in ``path`` (``None``: no such file). Never creates the file.

    qiskit-ibm-runtime's reader creates a missing file, so its existence is checked first.
    """
    if not os.path.isfile(path):
        return None
    accounts = _runtime("qiskit_ibm_runtime.accounts")
    try:
        account = accounts.AccountManager.get(filename=path, name=name)
    except accounts.AccountNotFoundError:
        which = f"named {name!r}" if name else "for any channel"
        raise CredentialsError(f"{path} holds no saved account {which}; {SAVE_HINT}") from None
    except json.JSONDecodeError as exc:
        raise CredentialsError(f"{path} is not valid JSON ({exc.msg}); {SAVE_HINT}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged or foreign file
        raise CredentialsError(
            f"cannot read a saved account from {path} ({type(exc).__name__}); {SAVE_HINT}"
        ) from None
    token = getattr(account, "token", None)
    if not isinstance(token, str) or not token:
        raise CredentialsError(f"the saved account in {path} has no token; {SAVE_HINT}")
    return Credentials(
        token=token,
        channel=_channel(getattr(account, "channel", None), f"the channel saved in {path}"),
        instance=getattr(account, "instance", None) or None,
        url=getattr(account, "url", None) or None,
        source=f"the saved account in {path}" + (f" ({name!r})" if name else ""),
    )


def load_credentials(
    *, account_file: str | os.PathLike[str] | None = None, name: str | None = None
) -> Credentials:
    """IBM Quantum credentials from the environment, else from Qiskit's saved account.

    Reads local files and variables only (no network). ``QISKIT_IBM_TOKEN`` wins when set;
    otherwise the saved account (``name``, or the default one) in ``account_file``
    (default: :func:`saved_account_file`).

    Raises:
        CredentialsError: none found, or unreadable — saying where it looked and how to save
            an account, never any token's value.
    """
    found = _from_environment()
    if found is not None:
        return found
    path = os.path.expanduser(os.fspath(account_file or saved_account_file()))
    found = _from_file(path, name)
    if found is None:
        raise CredentialsError(
            f"no IBM Quantum credentials: {TOKEN_ENV} is not set (QISKIT_IBM_CHANNEL, "
            f"QISKIT_IBM_INSTANCE and QISKIT_IBM_URL are read beside it) and there is no "
            f"saved account ({path} does not exist); {SAVE_HINT}"
        )
    return found
