"""H.264 for the video path (video.py): PyAV's libx264 (or NVENC on an NVIDIA GPU), one
slice a picture, no delay.

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
import threading
import time
import zlib
from dataclasses import dataclass, field
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


# Which encoder makes the H.264 (c.NapariDesktop.video_encoder): "auto" NVENC where it
# opens (an NVIDIA GPU and driver), else libx264; "x264" always the CPU; "nvenc" only NVENC.
ENCODER_CHOICES = ("auto", "x264", "nvenc")
NVENC = "h264_nvenc"
# NVENC's fastest preset tuned for ultra low latency, no B-pictures or look-ahead, pictures
# out as they go in, one slice each, baseline profile (as x264's), a constant QP of video_crf
# (no rate control to wait on), and no key pictures but the first (the page resets a
# context when it needs a new one).
NVENC_OPTIONS = {
    "preset": "p1",
    "tune": "ull",
    "zerolatency": "1",
    "delay": "0",
    "rc-lookahead": "0",
    "bf": "0",
    "profile": "baseline",
    "rc": "constqp",
    "slices": "1",
}
NVENC_GOP = 1 << 30
# After NVENC failed to open (no driver, or the GPU's limit of encoding sessions), contexts
# use libx264 for this long before NVENC is tried again.
NVENC_RETRY_SECONDS = 300.0


@dataclass
class _NvencState:
    """What the last try to open NVENC found (shared by every encoder of this process)."""

    tried: bool = False
    problem: Optional[str] = None  # why the last try failed; None: it opened
    failed_at: Optional[float] = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_nvenc = _NvencState()


def available(encoder: str = "auto") -> Optional[str]:
    """None if H.264 can be encoded here with ``encoder`` (video_encoder), else why not (for
    the log, the doctor and the docs)."""
    if av is None:
        return "PyAV is not installed: pip install av (in the Jupyter server's environment)"
    if encoder == "nvenc":
        return nvenc_problem()
    if "libx264" not in av.codecs_available:
        return "this PyAV has no libx264 encoder: install PyAV's wheel from PyPI"
    return None


def nvenc_problem() -> Optional[str]:
    """None if NVENC opens here (tried on a small picture the first time, then what the
    encoders found last), else why not."""
    if av is None:
        return available()
    if NVENC not in av.codecs_available:
        return f"this PyAV has no {NVENC} encoder: install PyAV's wheel from PyPI"
    with _nvenc.lock:
        if not _nvenc.tried:
            try:
                _open(NVENC, 256, 256, DEFAULT_CRF)
            except ENCODE_ERRORS as err:
                _nvenc_result(err)
            else:
                _nvenc_result(None)
        return _nvenc.problem


def last_nvenc_problem() -> Optional[str]:
    """Why NVENC did not open the last time it was tried (None: it did, or no try yet)."""
    return _nvenc.problem


def _nvenc_worth_trying() -> bool:
    assert av is not None
    return NVENC in av.codecs_available and (
        _nvenc.failed_at is None or time.monotonic() - _nvenc.failed_at >= NVENC_RETRY_SECONDS
    )


def _nvenc_result(err: Optional[Exception]) -> None:
    _nvenc.tried = True
    if err is None:
        _nvenc.problem, _nvenc.failed_at = None, None
        return
    reason = getattr(err, "strerror", None) or err
    _nvenc.problem = (
        f"NVENC did not open ({reason}): it needs an NVIDIA GPU with a video encoder (not "
        "A100, H100 or H200: they have none) and its driver (in a container, the NVIDIA "
        "Container Toolkit: --gpus all, with the video capability)"
    )
    _nvenc.failed_at = time.monotonic()


def _open(name: str, width: int, height: int, crf: int) -> Any:
    """An open H.264 encoder ``name`` (libx264 or h264_nvenc) for ``width`` x ``height``."""
    assert av is not None
    codec: Any = av.CodecContext.create(name, "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, 1000)
    if name == NVENC:
        codec.gop_size = NVENC_GOP
        codec.options = {**NVENC_OPTIONS, "qp": str(crf)}
    else:
        codec.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "crf": str(crf),
            "threads": "1",
            "x264-params": X264_PARAMS,
        }
    codec.open()
    return codec


class H264Encoder:
    """One H.264 stream of a ``width`` x ``height`` area (both even): ``encode`` takes its
    RGBX pixels, (height, width, 4) uint8, and gives the Annex B bytes of one picture.
    The encoder opens with the first picture (on the thread that encodes: NVENC's first
    open takes a while); ``codec_name`` then says which one it is."""

    def __init__(
        self, width: int, height: int, crf: int = DEFAULT_CRF, encoder: str = "auto"
    ) -> None:
        if av is None:
            raise RuntimeError(available())
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError(f"H.264 needs an even size, not {width}x{height}")
        if encoder not in ENCODER_CHOICES:
            choices = ", ".join(ENCODER_CHOICES)
            raise ValueError(f"video_encoder is one of {choices}, not {encoder!r}")
        self.width, self.height, self.crf, self.encoder = width, height, crf, encoder
        self.codec_name = ""
        self._codec: Any = None
        self._pts = 0

    def _open_codec(self) -> Any:
        if self.encoder == "nvenc" or (self.encoder == "auto" and _nvenc_worth_trying()):
            try:
                codec = self._named(NVENC)
            except ENCODE_ERRORS as err:
                _nvenc_result(err)
                if self.encoder == "nvenc":
                    raise RuntimeError(_nvenc.problem) from err
            else:
                _nvenc_result(None)
                return codec
        return self._named("libx264")

    def _named(self, name: str) -> Any:
        codec = _open(name, self.width, self.height, self.crf)
        self.codec_name = name
        return codec

    def encode(self, rgbx: np.ndarray) -> bytes:
        assert av is not None
        if self._codec is None:
            self._codec = self._open_codec()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgbx), format="rgba")
        frame = frame.reformat(format="yuv420p")
        frame.pts = self._pts
        self._pts += 1
        return b"".join(bytes(packet) for packet in self._codec.encode(frame))
