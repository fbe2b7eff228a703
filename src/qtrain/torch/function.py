"""The custom ``torch.autograd.Function`` behind :class:`~qtrain.torch.QuantumLayer`.

Forward evaluates the whole batch in one executor call and, when autograd will need it,
the Jacobians of the same call (:mod:`qtrain.torch.evaluation`); they are saved for backward,
which is then a contraction with no quantum work:

    ∂L/∂w_i   = Σ_b Σ_o g[b, o] · J[b, o, weight_params[i]]
    ∂L/∂x_b,j =     Σ_o g[b, o] · J[b, o, input_params[j]]

for the upstream gradient ``g = ∂L/∂y (B, O)``. Computing the Jacobian in forward (rather than
lazily in backward) costs the same rows when backward runs, keeps one executor call (one job
on a remote backend, one store transaction) per training step, and lets the value and its
gradient come from the same call; a forward under ``torch.no_grad()`` (or on inputs and
weights that need no gradient) runs the ``B`` unshifted rows only. The backward pass is
``once_differentiable``: second derivatives are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from qtrain.torch.encoding import Encoding
from qtrain.torch.evaluation import BatchEvaluator, BatchResult

__all__ = ["Call", "QuantumFunction"]


@dataclass(eq=False)
class Call:
    """One forward call: what to evaluate, and where its result is left.

    Attributes:
        evaluator: the batched evaluator.
        encoding: the input/weight split.
        inputs: differentiate by the inputs.
        weights: differentiate by the weights.
        seed: the call's sampling seed (``None`` when exact).
        result: set by forward: the :class:`BatchResult`.
    """

    evaluator: BatchEvaluator
    encoding: Encoding
    inputs: bool
    weights: bool
    seed: int | None
    result: BatchResult | None = None


class QuantumFunction(torch.autograd.Function):
    """``y (B, O) = ⟨H_o⟩(θ_b)`` with ``θ_b`` from inputs ``x (B, n_in)`` and weights ``w``."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, call: Call) -> torch.Tensor:
        """Values ``(B, O)`` in ``x``'s dtype; Jacobians saved when ``call`` asks for them."""
        rows = x.detach().to(torch.float64).numpy()
        point = weight.detach().to(torch.float64).numpy()
        theta = call.encoding.theta(rows, point)
        columns = call.encoding.columns(inputs=call.inputs, weights=call.weights)
        result = call.evaluator.evaluate(theta, columns, call.seed)
        call.result = result
        n_w = call.encoding.n_weights if call.weights else 0
        jac = np.zeros((*result.values.shape, 0)) if result.jacobian is None else result.jacobian
        ctx.save_for_backward(
            torch.from_numpy(np.ascontiguousarray(jac[..., :n_w])),
            torch.from_numpy(np.ascontiguousarray(jac[..., n_w:])),
        )
        ctx.dtypes = (x.dtype, weight.dtype)
        return torch.from_numpy(result.values.copy()).to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """``(∂L/∂x (B, n_in), ∂L/∂w (n_w,), None)`` from ``∂L/∂y (B, O)``."""
        jac_w, jac_x = ctx.saved_tensors
        upstream = grad_out.to(torch.float64)
        x_dtype, w_dtype = ctx.dtypes
        grad_x = grad_w = None
        if ctx.needs_input_grad[0] and jac_x.shape[-1]:
            grad_x = torch.einsum("bo,boj->bj", upstream, jac_x).to(x_dtype)
        if ctx.needs_input_grad[1] and jac_w.shape[-1]:
            grad_w = torch.einsum("bo,boi->i", upstream, jac_w).to(w_dtype)
        return grad_x, grad_w, None
