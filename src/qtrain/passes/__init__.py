"""Compiler passes: slot lowering, shift rules, the parameter-shift transform."""
