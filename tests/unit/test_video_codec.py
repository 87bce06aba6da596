"""H.264 of the video path (server/video_codec.py): what noVNC's decoder needs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jupyter_napari_desktop.server.video_codec import H264Encoder, available

pytestmark = pytest.mark.skipif(
    available() is not None,
    reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
)


def nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]


def test_one_slice_a_picture_an_idr_with_sps_pps_first_and_no_delay():
    encoder = H264Encoder(320, 240)
    rng = np.random.default_rng(0)
    first = encoder.encode(np.zeros((240, 320, 4), np.uint8))
    assert nal_types(first)[:2] == [7, 8]  # SPS, PPS
    assert [t for t in nal_types(first) if t in (1, 5)] == [5]  # one IDR slice
    for _ in range(3):
        picture = encoder.encode(rng.integers(0, 256, (240, 320, 4), np.uint8))
        assert [t for t in nal_types(picture) if t in (1, 5)] == [1]  # one P slice, at once


def test_the_picture_decodes_close_to_what_went_in():
    import av

    encoder = H264Encoder(64, 48, crf=18)
    picture = np.zeros((48, 64, 4), np.uint8)
    picture[:, 32:, 0] = 200  # red on the right
    data = encoder.encode(picture)
    decoder = av.CodecContext.create("h264", "r")
    frames = decoder.decode(av.Packet(data)) + decoder.decode(None)
    rgb = frames[0].to_ndarray(format="rgb24")
    assert abs(int(rgb[24, 48, 0]) - 200) < 12 and rgb[24, 8, 0] < 12


def test_an_odd_size_is_refused():
    with pytest.raises(ValueError, match="even"):
        H264Encoder(33, 20)
