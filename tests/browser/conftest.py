"""JupyterLab in a real process, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.jupyter import JupyterServer
from tests.support.pattern import CHROMIUM, write_pattern
from tests.support.playwright import jp_asyncio_loop, jp_server_cleanup  # noqa: F401


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    tmp = tmp_path_factory.mktemp("lab")
    pattern = write_pattern(tmp / "pattern.png")
    server = JupyterServer(
        tmp,
        {"session": "xfce", "napari_args": [str(pattern)], "geometry": "1280x800"},
        app="lab",
    )
    server.start(timeout=120)
    yield server
    server.stop()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()
