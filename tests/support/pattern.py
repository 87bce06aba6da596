"""napari's known test image (four quadrants of pure colours), how much of a screenshot
shows each colour, and the Chromium both browser tests and benchmarks drive."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def write_tiff(path: Path, left: tuple[int, int, int], right: tuple[int, int, int]) -> Path:
    """An RGB TIFF, ``left`` colour on the left half and ``right`` on the right."""
    import tifffile

    image = np.zeros((256, 256, 3), np.uint8)
    image[:, :128] = left
    image[:, 128:] = right
    tifffile.imwrite(path, image, photometric="rgb")
    return path
