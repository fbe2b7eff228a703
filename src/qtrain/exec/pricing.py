"""Money: what a step's tasks cost under a user's pricing table.

Providers bill in three shapes, and a :class:`Price` has one rate for each: **per task**
(Amazon Braket: a fee for every quantum task created — one circuit run with its shots),
**per shot** (Braket again) and **per second** of execution (IBM Quantum: QPU time a job
used). A :class:`PricingTable` holds a currency, an optional default price and prices by
backend name; it is read from YAML (:meth:`PricingTable.load`, examples in
``examples/pricing/``). No price is built in: the numbers are the user's.

What a *task* is, and what a step is charged: ``exec.billing``.

Money is exact: rates are :class:`~decimal.Decimal` (a YAML ``0.1`` is read as the decimal
``0.1``, never as the binary float near it), every charge is rounded once, half-even, to a
micro-unit (``1e-6`` of the currency), and totals add decimals. Records and JSON carry a
charge as the float nearest that decimal; :func:`add_money` adds two such floats as
decimals, so a run's total is the exact sum of its steps (below 10⁹ currency units, where
a float's shortest ``repr`` is the micro-unit decimal). Cents appear only on display
(:func:`money_text`).

>>> table = PricingTable.from_mapping(
...     {"currency": "USD", "default": {"per_task": "0.30", "per_shot": "0.00035"}})
>>> table.price("local-statevector").charge(tasks=3, shots=3000, seconds=0.0)
Decimal('1.950000')
>>> add_money(0.1, 0.2)
0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from qtrain.errors import ConfigError

__all__ = ["MICRO", "Price", "PricingTable", "add_money", "money_text", "to_decimal"]

MICRO = Decimal("0.000001")
"""The unit every charge is rounded to (a millionth of the currency)."""

_RATES = ("per_task", "per_shot", "per_second")


def to_decimal(value: float | Decimal | None) -> Decimal:
    """A money float (or ``None``: nothing) as the exact micro-unit decimal it stands for."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(float(value))).quantize(MICRO, rounding=ROUND_HALF_EVEN)


def add_money(a: float | None, b: float | Decimal | None) -> float:
    """``a + b`` added as decimals (module docstring): the float nearest the exact sum."""
    return float(to_decimal(a) + to_decimal(b))


def money_text(amount: float | Decimal | None, currency: str) -> str:
    """``'1.95 USD'``: rounded to the cent (half-even) for display only; ``'-'`` for none."""
    if amount is None:
        return "-"
    cents = to_decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{cents:,} {currency}"


def _rate(value: object, where: str) -> Decimal:
    """A non-negative finite rate from YAML (int, float or numeric string)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ConfigError(f"pricing: {where} must be a number >= 0, got {value!r}")
    try:
        rate = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise ConfigError(f"pricing: {where} must be a number >= 0, got {value!r}") from None
    if not rate.is_finite() or rate < 0:
        raise ConfigError(f"pricing: {where} must be a finite number >= 0, got {value!r}")
    return rate


@dataclass(frozen=True)
class Price:
    """Rates of one backend, in the table's currency.

    Attributes:
        per_task: per task created (one backend task or provider job; module docstring).
        per_shot: per shot.
        per_second: per second of execution (provider-reported, or estimated).
    """

    per_task: Decimal = Decimal(0)
    per_shot: Decimal = Decimal(0)
    per_second: Decimal = Decimal(0)

    @staticmethod
    def from_mapping(data: object, where: str) -> Price:
        """``{per_task, per_shot, per_second}`` (each optional, at least one); ``where`` names it.

        Raises:
            ConfigError: not a mapping, an unknown key, or a rate that is not a number >= 0.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"pricing: {where} must be a mapping of rates, got {data!r}")
        unknown = sorted(set(map(str, data)) - set(_RATES))
        if unknown:
            raise ConfigError(
                f"pricing: {where}.{unknown[0]} is not a rate (expected {', '.join(_RATES)})"
            )
        if not data:
            raise ConfigError(f"pricing: {where} names no rate (expected {', '.join(_RATES)})")
        return Price(**{key: _rate(value, f"{where}.{key}") for key, value in data.items()})

    def amount(self, *, tasks: int, shots: int, seconds: float) -> Decimal:
        """What ``tasks`` tasks, ``shots`` shots and ``seconds`` s cost, unrounded."""
        timed = Decimal(repr(float(seconds))) if seconds > 0 else Decimal(0)
        return self.per_task * tasks + self.per_shot * shots + self.per_second * timed

    def charge(self, *, tasks: int, shots: int, seconds: float) -> Decimal:
        """:meth:`amount` rounded (half-even) to :data:`MICRO`: what the ledger charges."""
        raw = self.amount(tasks=tasks, shots=shots, seconds=seconds)
        return raw.quantize(MICRO, rounding=ROUND_HALF_EVEN)

    def describe(self) -> dict[str, str]:
        """JSON-ready rates (decimal strings: exact)."""
        return {key: str(getattr(self, key)) for key in _RATES}


@dataclass(frozen=True)
class PricingTable:
    """Prices by backend, a default, and the currency.

    Attributes:
        currency: what the rates are in (``USD``, ``EUR``, ``credits``: a label).
        backends: price by backend name (``local-statevector``, ``qiskit:ibm_fez``); a
            wrapper's name (``faulty(local-statevector)``) falls back to its inner backend's.
        default: the price of a backend the table does not name (``None``: such a backend
            is refused).
        source: where the table came from (a path, or ``inline``), for the summary.
    """

    currency: str
    backends: Mapping[str, Price] = field(default_factory=dict)
    default: Price | None = None
    source: str = "inline"

    @staticmethod
    def from_mapping(data: object, *, source: str = "inline") -> PricingTable:
        """A table from ``{currency, default?, backends?}`` (what the YAML file holds).

        Raises:
            ConfigError: a missing currency, an unknown key, no price at all, or a bad rate;
                the message names the key.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"pricing ({source}) must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(map(str, data)) - {"currency", "default", "backends"})
        if unknown:
            raise ConfigError(
                f"pricing ({source}): unknown key {unknown[0]!r} (expected currency, default, "
                "backends)"
            )
        currency = data.get("currency")
        if not isinstance(currency, str) or not currency.strip():
            raise ConfigError(f"pricing ({source}): currency must be a name, got {currency!r}")
        default = None
        if data.get("default") is not None:
            default = Price.from_mapping(data["default"], "default")
        entries = data.get("backends") or {}
        if not isinstance(entries, Mapping):
            raise ConfigError(f"pricing ({source}): backends must be a mapping, got {entries!r}")
        backends = {str(k): Price.from_mapping(v, f"backends.{k}") for k, v in entries.items()}
        if default is None and not backends:
            raise ConfigError(f"pricing ({source}): give a default price or backends prices")
        return PricingTable(currency.strip(), backends, default, source)

    @staticmethod
    def load(path: str | Path) -> PricingTable:
        """The table in a YAML file.

        Raises:
            ConfigError: the file cannot be read or parsed, or its table is invalid.
        """
        import yaml  # noqa: PLC0415 - only when a table is read

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"pricing: cannot read {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"pricing: {path} is not valid YAML: {error}") from None
        return PricingTable.from_mapping(data, source=str(path))

    def price(self, backend: object) -> Price:
        """The price of ``backend`` (an object with ``name``, or a name).

        Raises:
            ConfigError: the table names neither the backend (nor a backend it wraps) and has
                no default.
        """
        names = _names(backend)
        for name in names:
            if name in self.backends:
                return self.backends[name]
        if self.default is None:
            raise ConfigError(
                f"pricing ({self.source}) has no price for backend {names[0]!r} and no default "
                f"(it prices {', '.join(sorted(self.backends))})"
            )
        return self.default

    def describe(self) -> dict[str, Any]:
        """JSON-ready: the currency, the source and every rate."""
        return {
            "currency": self.currency,
            "source": self.source,
            "default": None if self.default is None else self.default.describe(),
            "backends": {name: price.describe() for name, price in self.backends.items()},
        }


def _names(backend: object) -> list[str]:
    """The names a backend is priced by: its own, then each wrapped backend's."""
    names: list[str] = []
    level: object = backend
    while level is not None and len(names) < 16:
        name = level if isinstance(level, str) else getattr(level, "name", None)
        if isinstance(name, str):
            names.append(name)
            if ":" in name:  # "qiskit:ibm_fez" is priced as "ibm_fez" too
                names.append(name.split(":", 1)[1])
        level = None if isinstance(level, str) else getattr(level, "inner", None)
    return names or [type(backend).__name__]
