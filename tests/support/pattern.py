"""napari's known test image (four quadrants of pure colours), how much of a screenshot
shows each colour, and the Chromium both browser tests and benchmarks drive."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

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


Colours = dict[str, tuple[int, int, int]]


def colour_shares(
    pixels: np.ndarray, colours: Colours = QUADRANTS, tolerance: int = 30
) -> dict[str, float]:
    """Share of the RGB ``pixels`` that are each of ``colours`` (|dr|+|dg|+|db| below
    ``tolerance``)."""
    rgb = pixels[..., :3].astype(int)
    return {
        name: float((np.abs(rgb - colour).sum(axis=2) < tolerance).mean())
        for name, colour in colours.items()
    }


def png_colour_shares(png: bytes, colours: Colours = QUADRANTS) -> dict[str, float]:
    """``colour_shares`` of a PNG screenshot."""
    import io

    from PIL import Image

    return colour_shares(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), colours)


def wait_for_canvas_colours(canvas: Any, colours: Colours, timeout: float) -> bytes:
    """Screenshots of a Playwright ``canvas`` locator until each of ``colours`` covers more
    than 2% of it; the PNG that showed them all. At the deadline an AssertionError names
    the shares last seen."""
    deadline = time.monotonic() + timeout
    shares: dict[str, float] = {}
    while time.monotonic() < deadline:
        png = canvas.screenshot()
        shares = png_colour_shares(png, colours)
        if min(shares.values()) > 0.02:
            return png
        time.sleep(0.25)
    raise AssertionError(f"colours {list(colours)} never all showed in the canvas: {shares}")
