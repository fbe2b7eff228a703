"""Noise as values: channels, readout errors, noise models and device calibrations.

Imports only ``qtrain.ir``, ``qtrain.errors`` and numpy (DESIGN.md §8, level ir); the
simulators that apply these values live in ``qtrain.sim``.
"""

from qtrain.noise.calibration import Calibration as Calibration
from qtrain.noise.calibration import GateCalibration as GateCalibration
from qtrain.noise.calibration import depolarizing_infidelity as depolarizing_infidelity
from qtrain.noise.calibration import depolarizing_parameter as depolarizing_parameter
from qtrain.noise.channels import Channel as Channel
from qtrain.noise.channels import amplitude_damping as amplitude_damping
from qtrain.noise.channels import bit_flip as bit_flip
from qtrain.noise.channels import depolarizing as depolarizing
from qtrain.noise.channels import kraus as kraus
from qtrain.noise.channels import pauli_channel as pauli_channel
from qtrain.noise.channels import phase_damping as phase_damping
from qtrain.noise.channels import phase_flip as phase_flip
from qtrain.noise.channels import tensor as tensor
from qtrain.noise.channels import thermal_relaxation as thermal_relaxation
from qtrain.noise.model import CircuitNoise as CircuitNoise
from qtrain.noise.model import NoiseModel as NoiseModel
from qtrain.noise.readout import ReadoutError as ReadoutError
from qtrain.noise.readout import pauli_readout_terms as pauli_readout_terms
from qtrain.noise.readout import readout_error as readout_error
from qtrain.noise.readout import z_word_readout_terms as z_word_readout_terms

__all__ = [
    "Calibration",
    "Channel",
    "CircuitNoise",
    "GateCalibration",
    "NoiseModel",
    "ReadoutError",
    "amplitude_damping",
    "bit_flip",
    "depolarizing",
    "depolarizing_infidelity",
    "depolarizing_parameter",
    "kraus",
    "pauli_channel",
    "pauli_readout_terms",
    "phase_damping",
    "phase_flip",
    "readout_error",
    "tensor",
    "thermal_relaxation",
    "z_word_readout_terms",
]
