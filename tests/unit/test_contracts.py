"""What the import contracts (pyproject's [tool.importlinter], run by scripts/test.sh) cannot
say: the two sides of the napari helper's socket agree, and napari's Python sees nothing of
the package."""

from __future__ import annotations

from jupyter_napari_desktop.launch import NAPARI_HELPER
from jupyter_napari_desktop.napari_side import napari_helper
from jupyter_napari_desktop.server import napari_link


def test_server_and_helper_agree_on_layer_types():
    assert napari_link.LAYER_TYPES == napari_helper.LAYER_TYPES
    assert napari_link.DATA_TYPES == napari_helper.DATA_TYPES
    assert napari_link.MAX_REQUEST == napari_helper.MAX_REQUEST


def test_the_helper_runs_from_a_folder_with_nothing_else_of_the_package():
    """napari's Python runs the helper as a script: its folder becomes sys.path[0]."""
    assert NAPARI_HELPER.name == "napari_helper.py"
    assert NAPARI_HELPER.parent.name == "napari_side"
    modules = sorted(p.name for p in NAPARI_HELPER.parent.glob("*.py"))
    assert modules == ["__init__.py", "napari_helper.py", "session_keep.py"]
