"""Test support for qtrain and its users.

A dense reference simulator, assertion helpers, step records for tracker tests and Hypothesis
strategies for random circuits and observables (``pip install 'qtrain[testing]'``).

Nothing in the library imports this package (an import-linter contract checks it).
"""

from qtrain.testing.assertions import assert_matches_reference as assert_matches_reference
from qtrain.testing.records import make_record as make_record
from qtrain.testing.reference import MAX_REFERENCE_QUBITS as MAX_REFERENCE_QUBITS
from qtrain.testing.reference import reference_expval as reference_expval
from qtrain.testing.reference import reference_matrix as reference_matrix
from qtrain.testing.reference import reference_observable_matrix as reference_observable_matrix
from qtrain.testing.reference import reference_op_matrix as reference_op_matrix
from qtrain.testing.reference import reference_state as reference_state

__all__ = [
    "MAX_REFERENCE_QUBITS",
    "assert_matches_reference",
    "make_record",
    "reference_expval",
    "reference_matrix",
    "reference_observable_matrix",
    "reference_op_matrix",
    "reference_state",
]
