"""Barren-plateau diagnostics: variance scans, decay fits, the gradient-SNR monitor, plots.

``variance_scan`` estimates ``Var[∂C/∂θ_k]`` over random draws with bootstrap intervals,
fits its decay with the qubit count, flags barren plateaus and prices a target SNR in shots;
``GradientMonitor`` watches the gradient's SNR inside ``qt.fit``.

>>> import qtrain as qt
>>> scan = qt.diagnostics.variance_scan(
...     "hardware_efficient", qubits=[2, 3], depths=1, cost="local", samples=50,
...     resamples=200, seed=1)
>>> [(p.n_qubits, p.samples) for p in scan.points]
[(2, 50), (3, 50)]
"""

from qtrain.diagnostics.costs import COSTS as COSTS
from qtrain.diagnostics.costs import global_cost as global_cost
from qtrain.diagnostics.costs import local_cost as local_cost
from qtrain.diagnostics.families import FAMILIES as FAMILIES
from qtrain.diagnostics.families import Family as Family
from qtrain.diagnostics.inits import Custom as Custom
from qtrain.diagnostics.inits import IdentityBlocks as IdentityBlocks
from qtrain.diagnostics.inits import SmallAngle as SmallAngle
from qtrain.diagnostics.inits import Uniform as Uniform
from qtrain.diagnostics.monitor import GradientMonitor as GradientMonitor
from qtrain.diagnostics.monitor import PlateauWarning as PlateauWarning
from qtrain.diagnostics.plot import plot_scan as plot_scan
from qtrain.diagnostics.result import DecayFit as DecayFit
from qtrain.diagnostics.result import ScanPoint as ScanPoint
from qtrain.diagnostics.result import ScanResult as ScanResult
from qtrain.diagnostics.scan import variance_scan as variance_scan

__all__ = [
    "COSTS",
    "FAMILIES",
    "Custom",
    "DecayFit",
    "Family",
    "GradientMonitor",
    "IdentityBlocks",
    "PlateauWarning",
    "ScanPoint",
    "ScanResult",
    "SmallAngle",
    "Uniform",
    "global_cost",
    "local_cost",
    "plot_scan",
    "variance_scan",
]
