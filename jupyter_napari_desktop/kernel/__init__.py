"""Runs in a notebook's kernel: ``open_in_napari`` and ``desktop_viewer`` (re-exported by the
package). Only the standard library, numpy and the hall's launch (for names shared with the
server): a kernel may have nothing else (import-linter contracts in pyproject).
"""
