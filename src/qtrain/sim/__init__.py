"""Batched statevector simulation: kernels, compiled programs, measurement."""
