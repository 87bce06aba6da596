"""jupyter-napari-desktop: a browser desktop with napari for any Jupyter server.

Only discovery hooks and the version live here; importing this package must stay cheap
(the desktop supervisor runs as ``python -m jupyter_napari_desktop.supervisor``).
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "desktop_viewer", "open_in_napari"]


def open_in_napari(*paths: Any, **options: Any) -> list[str]:
    """Open files as layers in the desktop's napari, from a notebook (see kernel/notebook.py)."""
    from .kernel.notebook import open_in_napari as _open

    return _open(*paths, **options)


def desktop_viewer(**options: Any) -> Any:
    """A handle on the desktop's napari from a notebook (see kernel/viewer.py): layers, data,
    screenshots, dims and camera. Needs numpy in the kernel."""
    from .kernel.viewer import desktop_viewer as _viewer

    return _viewer(**options)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import NapariDesktopApp

    return [{"module": "jupyter_napari_desktop.server.app", "app": NapariDesktopApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-napari-desktop"}]
