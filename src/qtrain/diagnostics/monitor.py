"""The live gradient monitor: has the gradient's signal sunk under its shot noise?

Each step the monitor sees the gradient estimate ``ĝ`` and its standard errors ``σ`` and
records the component SNRs ``|ĝ_k|/σ_k`` and the norm's SNR ``‖ĝ‖/√Σσ_k²`` (at a true zero
gradient ``E‖ĝ‖² = Σσ_k²``, so a norm SNR near 1 is noise). It *fires* when the mean norm
SNR over the last ``window`` steps is below ``threshold``, and then acts on its policy:

* ``warn``: records a warning (once per crossing; it re-arms when the SNR recovers);
* ``stop``: ends the run (``stopped_by="plateau"``);
* ``raise_shots``: multiplies the shots of the next steps by ``factor`` (up to
  ``max_factor`` in total; the training loop never lets that break ``Budget.max_shots``);
* ``layerwise``: Skolik et al., Quantum Mach. Intell. 3, 5 (2021): only the first
  ``start_layers`` parameter groups train, the others are frozen; each firing unfreezes the
  next ``grow`` groups (the trained ones stay active).

After ``raise_shots`` and ``layerwise`` act, the window starts again. The class is pure: the
state is a JSON dict (checkpointed with the run, so a resumed run decides exactly as an
uninterrupted one) and ``observe`` returns the new state and the step's record. With exact
gradients there is no noise to compare with: the monitor records that and never fires.

>>> m = GradientMonitor(policy="stop", window=2)
>>> state = m.init(2)
>>> state, record = m.observe(state, np.array([0.01, 0.0]), np.array([0.1, 0.1]))
>>> state, record = m.observe(state, np.array([0.0, 0.02]), np.array([0.1, 0.1]))
>>> record["action"], round(record["snr_window"], 3)
('stop', 0.106)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError

__all__ = ["POLICIES", "GradientMonitor", "PlateauWarning"]

POLICIES = ("warn", "stop", "raise_shots", "layerwise")
MonitorState = dict[str, Any]


class PlateauWarning(UserWarning):
    """The gradient's signal-to-noise ratio stayed below the monitor's threshold."""


def _positive(value: object, name: str, *, integer: bool = False, minimum: float = 0.0) -> None:
    what = "an int" if integer else "a number"
    message = f"monitor {name} must be {what} > {minimum:g}, got {value!r}"
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ConfigError(message)
    if not isinstance(value, numbers.Real) or not minimum < float(value) < math.inf:
        raise ConfigError(message)


@dataclass(frozen=True)
class GradientMonitor:
    """Watch the gradient's SNR and act (see the module docstring).

    Attributes:
        policy: ``warn``, ``stop``, ``raise_shots`` or ``layerwise``.
        threshold: norm SNR below which the gradient counts as noise.
        window: steps averaged before deciding.
        factor: ``raise_shots``: shot multiplier per firing (> 1).
        max_factor: ``raise_shots``: the largest total multiplier.
        layers: ``layerwise``: the parameter groups in training order — a count (that many
            equal contiguous groups of θ) or lists of parameter indices.
        start_layers: ``layerwise``: groups active from the start.
        grow: ``layerwise``: groups unfrozen per firing.
    """

    policy: str = "warn"
    threshold: float = 1.0
    window: int = 5
    factor: float = 2.0
    max_factor: float = 64.0
    layers: int | Sequence[Sequence[int]] | None = None
    start_layers: int = 1
    grow: int = 1
    _groups: tuple[tuple[int, ...], ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(
                f"unknown monitor policy {self.policy!r}; choose one of {', '.join(POLICIES)}"
            )
        _positive(self.threshold, "threshold")
        _positive(self.window, "window", integer=True)
        _positive(self.factor, "factor", minimum=1.0)
        _positive(self.max_factor, "max_factor", minimum=1.0 - 1e-12)
        _positive(self.start_layers, "start_layers", integer=True)
        _positive(self.grow, "grow", integer=True)
        if self.policy == "layerwise" and self.layers is None:
            raise ConfigError("monitor policy 'layerwise' needs layers (a count or index lists)")

    def config(self) -> dict[str, Any]:
        """JSON-ready settings (part of a run's configuration hash)."""
        layers = self.layers
        if layers is not None and not isinstance(layers, int):
            layers = [list(map(int, group)) for group in layers]
        return {
            "policy": self.policy,
            "threshold": self.threshold,
            "window": self.window,
            "factor": self.factor,
            "max_factor": self.max_factor,
            "layers": layers,
            "start_layers": self.start_layers,
            "grow": self.grow,
        }

    def groups(self, n_params: int) -> tuple[tuple[int, ...], ...]:
        """The layerwise parameter groups for ``n_params`` parameters (``()`` otherwise).

        Raises:
            ConfigError: a count that does not divide ``n_params``, or index lists that are
                not a partition of ``range(n_params)``.
        """
        if self.layers is None:
            return ()
        if isinstance(self.layers, int):
            _positive(self.layers, "layers", integer=True)
            if n_params % self.layers:
                raise ConfigError(
                    f"monitor layers={self.layers} does not divide the "
                    f"{n_params} parameters into equal groups"
                )
            size = n_params // self.layers
            return tuple(tuple(range(i * size, (i + 1) * size)) for i in range(self.layers))
        groups = tuple(tuple(int(k) for k in group) for group in self.layers)
        flat = sorted(k for group in groups for k in group)
        if flat != list(range(n_params)) or not all(groups):
            raise ConfigError(
                f"monitor layers must partition the parameters 0..{n_params - 1} "
                f"into non-empty groups, got {self.config()['layers']}"
            )
        return groups

    def init(self, n_params: int) -> MonitorState:
        """The state before the first step (checks ``layers`` against ``n_params``)."""
        groups = self.groups(n_params)
        active = min(self.start_layers, len(groups)) if groups else 0
        return {"snr": [], "factor": 1.0, "active_layers": active, "alarm": False, "fired": 0}

    def active(self, state: MonitorState, n_params: int) -> NDArray[np.bool_] | None:
        """``(P,)`` which parameters train (``layerwise``), else ``None`` (all)."""
        if self.policy != "layerwise":
            return None
        mask = np.zeros(n_params, dtype=bool)
        for group in self.groups(n_params)[: state["active_layers"]]:
            mask[list(group)] = True
        return mask

    def observe(
        self, state: MonitorState, gradient: NDArray[np.float64], stderr: NDArray[np.float64] | None
    ) -> tuple[MonitorState, dict[str, Any]]:
        """The state after one step's gradient ``(P,)`` ± ``stderr (P,)``, and its record."""
        new = {**state, "snr": list(state["snr"])}
        mask = self.active(state, gradient.size)
        keep = np.ones(gradient.size, dtype=bool) if mask is None else mask
        record: dict[str, Any] = {
            "policy": self.policy,
            "action": None,
            "shot_factor": new["factor"],
        }
        if self.policy == "layerwise":
            record["active_layers"] = new["active_layers"]
        if stderr is None:
            return new, {**record, "snr": None, "exact": True}
        g, s = gradient[keep], stderr[keep]
        noise = float(np.sqrt(np.sum(s**2)))
        snr = float(np.linalg.norm(g)) / noise if noise > 0 else math.inf
        ratios = np.abs(g) / np.where(s > 0, s, np.nan)
        record["snr"] = snr if math.isfinite(snr) else None
        finite = ratios[np.isfinite(ratios)]
        record["component_snr_median"] = float(np.median(finite)) if finite.size else None
        record["below"] = float(np.mean(finite < self.threshold)) if finite.size else None
        new["snr"] = (new["snr"] + [min(snr, 1e300)])[-self.window :]
        full = len(new["snr"]) == self.window
        mean = float(np.mean(new["snr"])) if full else None
        record["snr_window"] = mean
        if mean is None or mean >= self.threshold:
            new["alarm"] = False
            return new, record
        return self._fire(new, record, gradient.size)

    def _fire(
        self, state: MonitorState, record: dict[str, Any], n_params: int
    ) -> tuple[MonitorState, dict[str, Any]]:
        action: str | None = None
        if self.policy == "stop":
            action = "stop"
        elif self.policy == "raise_shots" and state["factor"] * self.factor <= self.max_factor:
            state["factor"] = state["factor"] * self.factor
            action, state["snr"] = "raise_shots", []
        elif self.policy == "layerwise" and state["active_layers"] < len(self.groups(n_params)):
            state["active_layers"] = min(
                state["active_layers"] + self.grow, len(self.groups(n_params))
            )
            action, state["snr"] = "unfreeze", []
        elif not state["alarm"]:  # warn, or a policy with nothing left to do: warn once
            action = "warn"
        state["alarm"] = True
        if action is not None:
            state["fired"] += 1
        return state, {
            **record,
            "action": action,
            "shot_factor": state["factor"],
            **({"active_layers": state["active_layers"]} if self.policy == "layerwise" else {}),
        }
