"""Runs in the Jupyter server: the extension, its handlers and the desktop's lifecycle.

May import the hall (config, launch, procs) and tornado/jupyter_server; never the kernel
side, the supervisor, napari's side, napari or Qt (import-linter contracts in pyproject).
"""
