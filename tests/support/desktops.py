"""A Jupyter server of ours with a desktop and napari showing the test pattern, for the
browser tests: started, napari asked for, stopped by pid at the end."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest

from .jupyter import JupyterServer
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
