"""Gradient methods: each plans tasks plus a way to assemble their results into a gradient."""
