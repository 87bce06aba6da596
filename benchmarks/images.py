"""Test images and how to recognise them on a screen (numpy here, JavaScript in the page)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from tests.support.pattern import QUADRANTS, colour_shares, write_pattern

__all__ = ["write_pattern"]
# A colour counts when |r-R|+|g-G|+|b-B| is below this (JPEG at quality 6 shifts colours).
TOLERANCE = 60
# The pattern is on screen when every quadrant colour covers this share of the pixels.
PATTERN_SHARE = 0.02
# The desktop is drawn when this share of the pixels is not (nearly) black.
DRAWN_SHARE = 0.5


def write_stack(path: Path, planes: int, size: int = 512, seed: int = 6) -> Path:
    """A microscopy-like stack: blurred 'cells' that fade in and out along the first axis."""
    rng = np.random.default_rng(seed)
    stack = np.zeros((planes, size, size), np.float32)
    radius = 20
    grid = np.arange(-radius, radius + 1, dtype=np.float32)
    for _ in range(120):
        sigma = rng.uniform(4, 9)
        patch = np.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / (2 * sigma**2))
        y, x = rng.integers(radius, size - radius, 2)
        centre, depth, peak = rng.uniform(0, planes), rng.uniform(4, 15), rng.uniform(80, 200)
        weights = peak * np.exp(-((np.arange(planes) - centre) ** 2) / (2 * depth**2))
        stack[:, y - radius : y + radius + 1, x - radius : x + radius + 1] += (
            weights[:, None, None] * patch[None]
        )
    stack += rng.normal(12, 5, stack.shape).astype(np.float32)
    np.save(path, np.clip(stack, 0, 255).astype(np.uint8))
    return path


def write_fluorescence(
    path: Path, planes: int, size: int = 512, seed: int = 7, labels: Optional[Path] = None
) -> Path:
    """A fluorescence-like stack: smooth 3D 'cells' (Gaussian in every axis), a dim
    background and a little noise (sigma 1.5 grey levels); ``labels``: their masks (cell
    ``k`` where it is brighter than 40), as napari labels of the same shape."""
    rng = np.random.default_rng(seed)
    stack = np.zeros((planes, size, size), np.float32)
    masks = np.zeros((planes, size, size), np.uint16)
    count = max(40, size * size // 4000)
    z = np.arange(planes, dtype=np.float32)
    for index in range(count):
        radius = int(rng.integers(12, 30))
        grid = np.arange(-radius, radius + 1, dtype=np.float32)
        sy, sx = rng.uniform(0.35, 0.6, 2) * radius
        patch = np.exp(-(grid[:, None] ** 2 / (2 * sy**2) + grid[None, :] ** 2 / (2 * sx**2)))
        y, x = rng.integers(radius, size - radius, 2)
        centre, depth = rng.uniform(0, planes), rng.uniform(0.08, 0.2) * planes
        cell = rng.uniform(90, 230) * np.exp(-((z - centre) ** 2) / (2 * depth**2))
        box = (slice(None), slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
        own = cell[:, None, None] * patch[None]
        stack[box] += own
        if labels is not None:
            masks[box][own > 40] = index + 1
    stack += 10 + rng.normal(0, 1.5, stack.shape).astype(np.float32)
    np.save(path, np.clip(stack, 0, 255).astype(np.uint8))
    if labels is not None:
        np.save(labels, masks)
    return path


def shows_pattern(rgb: np.ndarray, step: int = 4) -> bool:
    """napari's test pattern is on this RGB screen (every fourth pixel looked at)."""
    shares = colour_shares(rgb[::step, ::step], tolerance=TOLERANCE)
    return min(shares.values()) > PATTERN_SHARE


def drawn_share(rgb: np.ndarray, step: int = 4) -> float:
    return float((rgb[::step, ::step].astype(np.int16).sum(axis=2) > 48).mean())


# Installed in every page (Playwright init script): samples the largest canvas every 50 ms
# at 1/8 scale and stamps Date.now() when the desktop is first drawn and when the pattern
# first shows. The same thresholds as above.
PAGE_PROBE = """
(() => {
  const colours = COLOURS;
  const tolerance = TOLERANCE, patternShare = PATTERN_SHARE, drawnShare = DRAWN_SHARE;
  const probe = window.__benchProbe = {drawnAt: null, patternAt: null, width: 0, height: 0};
  const small = document.createElement('canvas');
  const tick = () => {
    let best = null;
    for (const c of document.querySelectorAll('canvas')) {
      if (c.width * c.height > (best ? best.width * best.height : 0)) best = c;
    }
    if (!best || best.width < 64 || best.height < 64) return;
    probe.width = best.width; probe.height = best.height;
    const w = Math.max(1, best.width >> 3), h = Math.max(1, best.height >> 3);
    small.width = w; small.height = h;
    const ctx = small.getContext('2d', {willReadFrequently: true});
    ctx.drawImage(best, 0, 0, w, h);
    const data = ctx.getImageData(0, 0, w, h).data;
    const hits = colours.map(() => 0);
    let drawn = 0;
    for (let i = 0; i < data.length; i += 4) {
      const r = data[i], g = data[i + 1], b = data[i + 2];
      if (r + g + b > 48) drawn++;
      for (let k = 0; k < colours.length; k++) {
        const c = colours[k];
        if (Math.abs(r - c[0]) + Math.abs(g - c[1]) + Math.abs(b - c[2]) < tolerance) hits[k]++;
      }
    }
    const n = data.length / 4, now = Date.now();
    if (probe.drawnAt === null && drawn / n > drawnShare) probe.drawnAt = now;
    if (probe.patternAt === null && Math.min(...hits) / n > patternShare) probe.patternAt = now;
  };
  setInterval(tick, 50);
})();
"""
for _name, _value in {
    "COLOURS": [list(c) for c in QUADRANTS.values()],
    "TOLERANCE": TOLERANCE,
    "PATTERN_SHARE": PATTERN_SHARE,
    "DRAWN_SHARE": DRAWN_SHARE,
}.items():
    PAGE_PROBE = PAGE_PROBE.replace(_name, str(_value), 1)
