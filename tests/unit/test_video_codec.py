"""H.264 of the video path (server/video_codec.py): what noVNC's decoder needs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from jupyter_napari_desktop import doctor
from jupyter_napari_desktop.config import NapariDesktop
from jupyter_napari_desktop.server import video_codec
from jupyter_napari_desktop.server.handlers import video_offered
from jupyter_napari_desktop.server.video_codec import H264Encoder, available, nvenc_problem

pytestmark = pytest.mark.skipif(
    available() is not None,
    reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
)


def nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]


NO_NVENC = nvenc_problem()


@pytest.fixture
def fresh_nvenc_state(monkeypatch):
    """NVENC not tried yet in this process."""
    monkeypatch.setattr(video_codec, "_nvenc", video_codec._NvencState())


@pytest.mark.parametrize(
    "kind",
    ["x264", pytest.param("nvenc", marks=pytest.mark.skipif(bool(NO_NVENC), reason=str(NO_NVENC)))],
)
def test_one_slice_a_picture_an_idr_with_sps_pps_first_and_no_delay(kind):
    encoder = H264Encoder(320, 240, encoder=kind)
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


@pytest.mark.skipif(not NO_NVENC, reason="NVENC opens here: nothing to fall back from")
def test_auto_encodes_with_x264_where_nvenc_does_not_open(fresh_nvenc_state):
    """No NVIDIA driver here: 'auto' tries NVENC once, says why not, and x264 encodes; the
    next stream does not try again (for 5 minutes); 'x264' never tries."""
    picture = np.zeros((48, 64, 4), np.uint8)
    plain = H264Encoder(64, 48, encoder="x264")
    assert plain.encode(picture) and plain.codec_name == "libx264"
    assert not video_codec._nvenc.tried
    first = H264Encoder(64, 48)
    assert first.encode(picture) and first.codec_name == "libx264"
    problem = video_codec.last_nvenc_problem()
    assert problem and "NVENC did not open" in problem and "NVIDIA" in problem, problem
    failed_at = video_codec._nvenc.failed_at
    second = H264Encoder(64, 48)
    assert second.encode(picture) and second.codec_name == "libx264"
    assert video_codec._nvenc.failed_at == failed_at, "NVENC tried again at once"


@pytest.mark.skipif(not NO_NVENC, reason="NVENC opens here")
def test_nvenc_only_says_why_it_cannot_and_the_page_gets_tight(fresh_nvenc_state):
    with pytest.raises(RuntimeError, match=r"NVENC did not open.*NVIDIA GPU"):
        H264Encoder(64, 48, encoder="nvenc").encode(np.zeros((48, 64, 4), np.uint8))
    assert not video_offered(NapariDesktop(video="auto", video_encoder="nvenc"))
    assert video_offered(NapariDesktop(video="auto", video_encoder="auto"))
    assert not video_offered(NapariDesktop(video="off"))
    check = doctor.check_video(NapariDesktop(video="auto", video_encoder="nvenc"))
    assert not check.ok and not check.needed, check
    assert "video_encoder = 'auto'" in check.fix and "NVENC did not open" in check.detail
    check = doctor.check_video(NapariDesktop(video="auto"))
    assert check.ok and check.detail.startswith("libx264 on the CPU (NVENC did not open")
    assert doctor.check_video(NapariDesktop(video="off")).detail.startswith("off")


def test_an_unknown_encoder_is_refused():
    with pytest.raises(ValueError, match="auto, x264, nvenc"):
        H264Encoder(64, 48, encoder="vaapi")


def test_every_nvenc_option_is_one_pyavs_ffmpeg_takes():
    """NVENC cannot open without an NVIDIA GPU, so its options are never applied here: each
    name and value is set on a real h264_nvenc context of PyAV's own FFmpeg instead (a name
    FFmpeg does not know would be ignored where the GPU is; a bad value would fail there)."""
    import ctypes
    import glob
    import os

    import av

    libs = os.path.join(os.path.dirname(av.__file__), os.pardir, "av.libs")
    found = {
        name: glob.glob(os.path.join(libs, f"lib{name}-*.so*")) for name in ("avutil", "avcodec")
    }
    if not all(found.values()):
        pytest.skip(f"PyAV's FFmpeg libraries are not in {libs} (not a PyPI wheel)")
    avutil = ctypes.CDLL(found["avutil"][0], mode=ctypes.RTLD_GLOBAL)
    avcodec = ctypes.CDLL(found["avcodec"][0], mode=ctypes.RTLD_GLOBAL)
    avcodec.avcodec_find_encoder_by_name.restype = ctypes.c_void_p
    avcodec.avcodec_alloc_context3.restype = ctypes.c_void_p
    avcodec.avcodec_alloc_context3.argtypes = [ctypes.c_void_p]
    avcodec.avcodec_free_context.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    avutil.av_opt_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    codec = avcodec.avcodec_find_encoder_by_name(video_codec.NVENC.encode())
    assert codec, f"PyAV's FFmpeg has no {video_codec.NVENC}"
    context = ctypes.c_void_p(avcodec.avcodec_alloc_context3(codec))
    search_children = 1  # AV_OPT_SEARCH_CHILDREN: the codec's own options too
    try:
        options = {**video_codec.NVENC_OPTIONS, "qp": "20", "g": str(video_codec.NVENC_GOP)}
        refused = {
            name: value
            for name, value in options.items()
            if avutil.av_opt_set(context, name.encode(), value.encode(), search_children) < 0
        }
        assert not refused, f"h264_nvenc does not take {refused}"
        # The check itself can fail: a made-up name and a bad value are refused.
        assert avutil.av_opt_set(context, b"no-such-option", b"1", search_children) < 0
        assert avutil.av_opt_set(context, b"tune", b"no-such-tune", search_children) < 0
    finally:
        avcodec.avcodec_free_context(ctypes.byref(context))
