"""Runs in napari's own Python, which may not be the server's: ``napari_helper.py`` is started as a
script file, so its folder, not the package, is on napari's ``sys.path``. The only code that
imports napari or Qt, and it imports nothing of this package (import-linter contracts).
"""
