"""Immutable intermediate representation: parameters, gates, circuits, observables, ansätze."""
