"""JupyterLab in a real process, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import JupyterProcess

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# The known test pattern napari must draw: four quadrants of pure colours.
QUADRANTS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


def write_pattern(path: Path) -> Path:
    import imageio.v3 as iio

    image = np.zeros((256, 256, 3), np.uint8)
    image[:128, :128] = QUADRANTS["red"]
    image[:128, 128:] = QUADRANTS["green"]
    image[128:, :128] = QUADRANTS["blue"]
    image[128:, 128:] = QUADRANTS["yellow"]
    iio.imwrite(path, image)
    return path


def colour_shares(png: bytes) -> dict[str, float]:
    """Share of the screenshot's pixels that are (nearly) each quadrant colour."""
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    total = pixels.shape[0] * pixels.shape[1]
    return {
        name: float((np.abs(pixels - rgb).sum(axis=2) < 30).sum()) / total
        for name, rgb in QUADRANTS.items()
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    tmp = tmp_path_factory.mktemp("lab")
    pattern = write_pattern(tmp / "pattern.png")
    server = JupyterProcess(
        tmp,
        {"session": "xfce", "napari_args": [str(pattern)], "geometry": "1280x800"},
        app="lab",
        extra_config={"LabApp": {"news_url": None}},
    )
    server.start(timeout=120)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()


# pytest-jupyter's autouse asyncio loop fights Playwright's own loop: not needed here.
@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield
