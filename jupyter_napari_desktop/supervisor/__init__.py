"""Runs in the supervisor process (``python -m jupyter_napari_desktop.supervisor SPEC``): it
starts, watches and stops one desktop's Xvnc, session and napari.

Only the standard library, python-xlib and the hall's launch and procs: the supervisor must
start fast and outlive nothing (import-linter contracts in pyproject).
"""
