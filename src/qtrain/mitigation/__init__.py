"""Error mitigation with honest error bars: readout-error mitigation and zero-noise extrapolation.

``Mitigated(backend, readout=..., zne=...)`` is a backend (``mitigation.mitigated``);
``ReadoutMitigation`` and ``ZNE`` are its options; ``mitigation.extrapolation`` holds the
estimators and ``passes.folding`` the noise scaling. Layer: above ``backends``, below
``exec`` (DESIGN.md §8).
"""
