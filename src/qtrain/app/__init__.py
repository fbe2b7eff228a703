"""The config-driven application: a validated YAML config becomes a run.

The pydantic schema (:mod:`qtrain.app.config`), the runner that builds and trains a run,
resumes it, takes its first gradient or prices it (:mod:`qtrain.app.runner`), and the
barren-plateau scan's config (:mod:`qtrain.app.plateau`). The CLI reaches the libraries
only through here.
"""
