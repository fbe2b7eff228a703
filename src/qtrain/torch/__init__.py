"""PyTorch: a quantum layer whose backward is qtrain's batched, exact or sampled Jacobian.

Needs the ``torch`` extra (``pip install 'qtrain[torch]'``); importing this package without
it raises :class:`~qtrain.errors.ConfigError` saying so. Nothing else in qtrain imports it.

>>> from qtrain.torch import QuantumLayer, RunLogger
"""

from qtrain.extras import require

require("torch", extra="torch", purpose="qtrain.torch (the PyTorch quantum layer)")

from qtrain.torch.evaluation import BatchResult as BatchResult  # noqa: E402 - after the check
from qtrain.torch.layer import QuantumLayer as QuantumLayer  # noqa: E402
from qtrain.torch.tracking import RunLogger as RunLogger  # noqa: E402

__all__ = ["BatchResult", "QuantumLayer", "RunLogger"]
