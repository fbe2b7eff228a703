"""``QuantumLayer``: a parameterized circuit as a ``torch.nn.Module``.

>>> import torch
>>> import qtrain as qt
>>> from qtrain.torch import QuantumLayer
>>> c = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1).rx(1, qt.P(2))
>>> layer = QuantumLayer(c, [qt.Z(0), qt.Z(1)], input_params=[0, 1], weight_params=[2])
>>> x = torch.zeros(5, 2, requires_grad=True)
>>> y = layer(x)
>>> tuple(y.shape), y.dtype
((5, 2), torch.float32)
>>> y.sum().backward()
>>> tuple(layer.weight.grad.shape), tuple(x.grad.shape)
((1,), (5, 2))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from qtrain.backends.protocol import Backend, child_seed
from qtrain.errors import CircuitError, ConfigError
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.store import ResultStore
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits, check_shots
from qtrain.torch.encoding import Encoding
from qtrain.torch.evaluation import BatchEvaluator, BatchResult
from qtrain.torch.function import Call, QuantumFunction

__all__ = ["QuantumLayer"]


def _policy(shots: int | ShotPolicy | None) -> ShotPolicy | None:
    if shots is None or isinstance(shots, ShotPolicy):
        return shots
    checked = check_shots(shots)
    return None if checked is None else ShotPolicy.fixed(checked)


def _checked_tensor(value: torch.Tensor, name: str) -> None:
    """Raise ``ConfigError`` for a tensor the simulator cannot take: device, dtype, NaN."""
    if value.device.type != "cpu":
        raise ConfigError(
            f"{name} is on device {value.device}; qtrain's backends take CPU tensors "
            f"(move it with .cpu(), or keep the layer on the CPU)"
        )
    if not value.is_floating_point():
        raise ConfigError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    finite = torch.isfinite(value.detach())
    if not bool(finite.all()):
        where = [tuple(int(i) for i in p) for p in torch.nonzero(~finite)[:3]]
        raise ConfigError(f"{name} holds NaN or infinite values (at index {where})")


class QuantumLayer(nn.Module):
    """A circuit's expectation values as a differentiable layer ``(B, n_in) → (B, O)``.

    The circuit's parameters ``P(k)`` are split into inputs (one column of ``x`` each) and
    trainable weights (``self.weight``, a ``Parameter`` of shape ``(n_w,)``); re-upload an
    input by using its index in several gates, scale it in the gate (``ry(0, 2 * P(3))``).
    The forward pass is one batched executor call for the whole batch; backward contracts
    the Jacobians that call computed (:mod:`qtrain.torch.function`) — by parameter shift
    (Schuld et al. 2019; Wierichs et al. 2022), the adjoint method, or any method of
    ``qt.jacobian``.

    Args:
        circuit: the circuit, ``P`` parameters.
        observables: ``O`` observables (or one): the output columns.
        input_params: the circuit index of each input column, ``n_in`` of them.
        weight_params: the circuit index of each weight, ``n_w`` of them. Every parameter
            index is exactly one of input or weight.
        input_gradients: compute ``∂y/∂x`` when ``x`` requires grad (a trainable layer
            before this one). ``False`` skips the input columns (fewer rows) and refuses
            inputs that require grad, since their gradient would silently be zero.
        method: ``"best"`` (adjoint when exact on the ideal local simulator, else parameter
            shift), ``"param-shift"``, ``"adjoint"``, ``"finite-diff"`` or ``"spsa"``.
        shots: ``None`` (exact), shots per row and measurement group, or a
            :class:`~qtrain.ShotPolicy` (``.total(n)`` is a budget per sample's gradient).
        seed: sampling seed. Forward call ``k`` (counted in the ``calls`` buffer, which is
            saved in the state dict) samples with ``child_seed(seed, k)``: successive calls
            differ, a re-run of the script — or a resume from a state dict — repeats them.
            ``None`` draws fresh entropy every call.
        backend: where tasks run (default ``LocalSimulator()``); or give ``executor=``
            (retries, a durable store, Dask) or ``store=`` for the default executor.
        executor: an :class:`~qtrain.Executor`.
        store: a :class:`~qtrain.ResultStore` for the default executor.
        weights: initial weights ``(n_w,)``; default uniform in ``[0, 2π)`` from torch's
            global generator (``torch.manual_seed`` makes it reproducible, as for
            ``nn.Linear``).
        dtype: the weights' dtype (default ``torch.get_default_dtype()``); ``layer.double()``
            turns them to float64.
        **options: method options (``finite-diff``: ``step``, ``scheme``; ``spsa``: ...).

    Attributes:
        weight: ``Parameter (n_w,)``.
        last_result: the last forward's :class:`~qtrain.torch.evaluation.BatchResult`
            (values, standard errors, Jacobians, shots, method, seed), or ``None``.
        shots_spent: shots of every forward in this process; ``rows_spent`` their rows.

    Raises:
        ConfigError: a bad parameter split (unknown, repeated, both, or missing index), a
            bad ``weights`` shape or an unsupported shot policy.
        QtrainError: bad observables, shots, seed or method, before anything runs.
    """

    weight: nn.Parameter
    calls: torch.Tensor

    def __init__(
        self,
        circuit: Circuit,
        observables: Observable | Sequence[Observable],
        *,
        input_params: Iterable[int],
        weight_params: Iterable[int],
        input_gradients: bool = True,
        method: str = "best",
        shots: int | ShotPolicy | None = None,
        seed: int | None = None,
        backend: Backend | None = None,
        executor: Executor | None = None,
        store: ResultStore | None = None,
        weights: Any = None,
        dtype: torch.dtype | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        if not isinstance(circuit, Circuit):
            raise CircuitError(f"expected a qtrain Circuit, got {type(circuit).__name__}")
        listed = [observables] if isinstance(observables, Observable) else list(observables)
        self.circuit = circuit
        self.observables = tuple(check_observable_fits(circuit, obs) for obs in listed)
        self.encoding = Encoding.split(
            circuit, input_params=input_params, weight_params=weight_params
        )
        self.input_gradients = bool(input_gradients)
        self.seed = None if seed is None else resolve_seed(seed)
        policy = _policy(shots)
        self.evaluator = BatchEvaluator(
            circuit,
            self.observables,
            method=method,
            policy=policy,
            executor=resolve_executor(backend, executor, store),
            options=dict(options),
        )
        self.weight = nn.Parameter(self._initial(weights, dtype))
        self.register_buffer("calls", torch.zeros((), dtype=torch.int64))
        self.last_result: BatchResult | None = None
        self.shots_spent = 0  # running totals of this process (what RunLogger reports)
        self.rows_spent = 0

    def _initial(self, weights: Any, dtype: torch.dtype | None) -> torch.Tensor:
        n_w = self.encoding.n_weights
        chosen = dtype if dtype is not None else torch.get_default_dtype()
        if weights is None:
            return torch.empty(n_w, dtype=chosen).uniform_(0.0, 2 * math.pi)
        start = torch.as_tensor(np.asarray(weights, dtype=np.float64), dtype=chosen)
        if start.shape != (n_w,):
            raise ConfigError(
                f"weights must have shape ({n_w},) (one per weight_params), got "
                f"{tuple(start.shape)}"
            )
        _checked_tensor(start, "weights")
        return start.clone()

    @property
    def method(self) -> str:
        """The gradient method that runs (``"best"`` resolved)."""
        return self.evaluator.method

    @property
    def last_stderr(self) -> torch.Tensor | None:
        """``(B, O)`` standard errors of the last forward's values; ``None`` when exact."""
        result = self.last_result
        if result is None or result.stderr is None:
            return None
        return torch.from_numpy(result.stderr.copy())

    def extra_repr(self) -> str:
        """The shapes and the method, for ``print(model)``."""
        return (
            f"n_inputs={self.encoding.n_inputs}, n_weights={self.encoding.n_weights}, "
            f"n_outputs={len(self.observables)}, method={self.method!r}"
        )

    def _batch(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as ``(B, n_in)``, checked."""
        if not isinstance(x, torch.Tensor):
            raise ConfigError(f"QuantumLayer takes a torch.Tensor, got {type(x).__name__}")
        _checked_tensor(x, "the input")
        n_in = self.encoding.n_inputs
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ConfigError(
                f"the input must have shape (batch, {n_in}) (one column per input_params), "
                f"got {tuple(x.shape)}"
            )
        return x

    def _call_seed(self) -> int | None:
        """This call's sampling seed, and the call counter moved on."""
        if self.evaluator.policy is None:
            return None
        index = int(self.calls)
        self.calls.add_(1)
        return resolve_seed(None) if self.seed is None else child_seed(self.seed, index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Expectation values ``(B, O)`` (or ``(O,)`` for an input of shape ``(n_in,)``).

        Raises:
            ConfigError: an input of the wrong shape, not floating point, on a non-CPU
                device, holding NaN or inf, or requiring grad with ``input_gradients=False``;
                weights on a non-CPU device or non-finite.
        """
        single = isinstance(x, torch.Tensor) and x.ndim == 1
        batch = self._batch(x[None] if single else x)
        _checked_tensor(self.weight, "the layer's weight")
        grad = torch.is_grad_enabled()
        inputs = grad and batch.requires_grad
        if inputs and not self.input_gradients:
            raise ConfigError(
                "the input requires grad but the layer was built with input_gradients=False "
                "(its gradient would silently be zero): pass input_gradients=True, or "
                "x.detach() the input"
            )
        call = Call(
            self.evaluator,
            self.encoding,
            inputs=inputs,
            weights=grad and self.weight.requires_grad,
            seed=self._call_seed(),
        )
        # torch declares Function.apply without types
        out = QuantumFunction.apply(batch, self.weight, call)  # type: ignore[no-untyped-call]
        self.last_result = call.result
        if call.result is not None:
            self.shots_spent += call.result.shots
            self.rows_spent += call.result.rows
        assert isinstance(out, torch.Tensor)
        return out[0] if single else out
