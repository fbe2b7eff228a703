"""``python -m qtrain`` runs the command line."""

from qtrain.cli import app

app()
