"""Backends run tasks: the embedded simulator now, fault injection and devices later."""
