"""H.264 for the video path (video.py): PyAV's libx264, one slice a picture, no delay.

PyAV (``pip install av``, the ``[video]`` extra) is optional: its wheels bundle FFmpeg
with libx264, which makes them GPL in effect, so the package does not require it.
``available()`` says whether it is here; nothing else in the package imports ``av``.

noVNC's decoder (core/decoders/h264.js) cuts the stream at every slice and hands each to
WebCodecs as a picture, so x264 runs in one thread (sliced threads would cut every picture
into slices) without look-ahead or B-frames (each picture comes out when it goes in), and
the first picture of a context is an IDR with SPS and PPS in front.
"""

from __future__ import annotations

import fractions
import zlib
from types import ModuleType
from typing import Any, Optional

import numpy as np

av: Optional[ModuleType]
try:
    import av
except ImportError:  # the [video] extra is not installed
    av = None

# Constant rate factor of x264 (0 lossless ... 51 worst; x264's own default 23).
DEFAULT_CRF = 20
# No key pictures but the first, no scene cuts, one slice a picture; adaptive quantization
# biased to dark areas (aq-mode 3): ultrafast leaves it off, and then at CRF 20 the small
# change between two planes of a dark fluorescence stack was quantized away: 1 of 39 plane
# steps reached the screen; with it 38 of 39 did, at about 15-23 KB a 1392x992 picture
# (measured on napari's own frames, docs/video.md). A smaller dead zone for P-pictures'
# coefficients (x264's default 21): on the pictures of the benchmark's 928x960 canvas, as
# the bridge got them from Xvnc, 57 of 65 steps stayed visible without it and 65 with it, at
# 21 KB a picture instead of 15 (CRF 19 instead: 65 at 27 KB).
X264_PARAMS = (
    "keyint=infinite:scenecut=0:sliced-threads=0:aq-mode=3:aq-strength=1.3:deadzone-inter=11"
)


# What encoding a picture may raise (PyAV's FFmpegError, zlib's error, a bad size).
ENCODE_ERRORS: tuple[type[Exception], ...] = (ValueError, RuntimeError, OSError, zlib.error) + (
    (av.FFmpegError,) if av is not None else ()
)


def available() -> Optional[str]:
    """None if H.264 can be encoded here, else why not (for the log and the docs)."""
    if av is None:
        return "PyAV is not installed: pip install av (in the Jupyter server's environment)"
    if "libx264" not in av.codecs_available:
        return "this PyAV has no libx264 encoder: install PyAV's wheel from PyPI"
    return None


class H264Encoder:
    """One H.264 stream of a ``width`` x ``height`` area (both even): ``encode`` takes its
    RGBX pixels, (height, width, 4) uint8, and gives the Annex B bytes of one picture."""

    def __init__(self, width: int, height: int, crf: int = DEFAULT_CRF) -> None:
        if av is None:
            raise RuntimeError(available())
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"H.264 needs an even size, not {width}x{height}")
        self.width, self.height = width, height
        codec: Any = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = width, height
        codec.pix_fmt = "yuv420p"
        codec.time_base = fractions.Fraction(1, 1000)
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "crf": str(crf),
            "threads": "1",
            "x264-params": X264_PARAMS,
        }
        self._codec = codec
        self._pts = 0

    def encode(self, rgbx: np.ndarray) -> bytes:
        assert av is not None
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgbx), format="rgba")
        frame = frame.reformat(format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))
