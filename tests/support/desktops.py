"""A Jupyter server of ours with a desktop and napari showing the test pattern, for the
browser tests: started, napari asked for, stopped by pid at the end."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest

from . import procs
from .jupyter import JupyterServer
from .pages import NOISE_PLAYER
from .pattern import CHROMIUM, write_pattern


@contextmanager
def pattern_desktop(
    tmp: Path,
    options: Optional[dict[str, Any]] = None,
    extra_config: Optional[dict[str, Any]] = None,
    pattern: bool = True,
    start: bool = True,
) -> Iterator[JupyterServer]:
    """The server in ``tmp`` (1280x800, minimal session unless ``options`` say otherwise),
    napari started (``start``; with the server's own token) with the test pattern
    (``pattern``) as a layer."""
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    settings: dict[str, Any] = {"session": "minimal", "geometry": "1280x800"}
    if pattern:
        settings["napari_args"] = [str(write_pattern(tmp / "pattern.png"))]
    server = JupyterServer(tmp, {**settings, **(options or {})}, extra_config=extra_config)
    server.start(timeout=120)
    try:
        if start:
            code, status = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
            assert code == 200, status
        yield server
    finally:
        server.stop_all()


@contextmanager
def video_desktop_playing(
    tmp: Path, player_log: Path, program: str = NOISE_PLAYER
) -> Iterator[tuple[JupyterServer, Any]]:
    """A desktop with the video path on (c.NapariDesktop.video = "auto") and a napari playing
    a stack on it (the test's own, not the server's; ``program``: pages.NOISE_PLAYER or
    SMOOTH_PLAYER): (server, player process)."""
    with pattern_desktop(
        tmp, {"video": "auto", "autostart_napari": False}, pattern=False, start=False
    ) as server:
        code, status = server.request("POST", "napari-desktop/api/start", {"app": "desktop"})
        assert code == 200, status
        player = procs.start_logged([sys.executable, "-c", program], player_log, env=server.x_env())
        try:
            yield server, player
        finally:
            procs.stop_tree(player.pid, 5)
