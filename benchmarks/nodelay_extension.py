"""What-if, for the benchmark only: TCP_NODELAY on the desktop's websocket.

Tornado leaves Nagle's algorithm on for websockets unless the handler calls
``set_nodelay(True)``; jupyter-server-proxy's raw socket handler does not. Loaded as an
extra server extension (``jpserver_extensions``) next to jupyter_napari_desktop, this
turns it on for our websocket, to measure what that one-line change would gain.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "benchmarks.nodelay_extension"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_napari_desktop.handlers import DesktopSocketHandler

    original = DesktopSocketHandler.open

    async def open_without_nagle(self: Any, *args: Any, **kwargs: Any) -> None:
        await original(self, *args, **kwargs)
        self.set_nodelay(True)

    DesktopSocketHandler.open = open_without_nagle  # type: ignore[method-assign]
    serverapp.log.info("[napari-desktop benchmark] TCP_NODELAY on the desktop websocket")
