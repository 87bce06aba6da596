"""The video path's RFB pieces (server/video_rfb.py, server/video.py's Plan), no server."""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Optional
from unittest.mock import patch

import numpy as np
import pytest
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError

from jupyter_napari_desktop.server.rfb_input import HANDSHAKE_BYTES, RfbInput
from jupyter_napari_desktop.server.video import (
    ALIGN,
    BAND_PIXELS,
    CLUSTER_GAP,
    CLUSTER_MAX_BOXES,
    CRF_MAX_RAISE,
    FAR_SECONDS,
    PING_SAMPLES,
    RECENT_SECONDS,
    STILL_MAX_SECONDS,
    STILL_SECONDS,
    STRIPE_MIN_ROWS,
    WINDOW,
    WINDOW_FAR,
    Box,
    Plan,
    Recent,
    RoundTrip,
    VideoBridge,
    clusters,
    crf_for,
    stripes,
    video_box,
)
from jupyter_napari_desktop.server.video_rfb import (
    CURSOR,
    EXT_DESKTOP_SIZE,
    GRADIENT_MIN_PIXELS,
    GRADIENT_RETRY,
    H264,
    PIXEL_FORMAT,
    TIGHT_GRADIENT,
    TIGHT_GRADIENT_STREAM,
    ClientMessages,
    Message,
    Pixels,
    Pseudo,
    RfbStreamError,
    TightEncoder,
    UpdateEnd,
    XvncReader,
    client_init_request,
    compact_length,
    gradient_residuals,
    h264_rect,
)
from tests.support.rfb import undo_gradient


def xvnc_greeting(width: int = 8, height: int = 4, name: bytes = b"desk") -> bytes:
    return (
        b"RFB 003.008\n"
        + bytes([1, 1])
        + b"\0\0\0\0"
        + struct.pack(">HH", width, height)
        + PIXEL_FORMAT
        + struct.pack(">I", len(name))
        + name
    )


def rect(x: int, y: int, w: int, h: int, encoding: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding) + payload


def test_the_handshake_is_answered_and_the_screen_kept():
    reader = XvncReader()
    reply, events = reader.feed(xvnc_greeting())
    assert reply == b"RFB 003.008\n" + b"\x01" + b"\x01"  # version, None, shared
    assert events == []
    assert reader.init is not None and reader.init.name == b"desk"
    assert reader.screen.shape == (4, 8, 4)


def test_raw_pixels_arrive_in_pieces_and_land_in_the_screen():
    reader = XvncReader()
    reader.feed(xvnc_greeting())
    pixels = bytes(range(2 * 3 * 4))
    message = b"\0\0" + struct.pack(">H", 1) + rect(5, 1, 3, 2, 0, pixels)
    events = []
    for i in range(len(message)):  # one byte at a time: nothing is lost or doubled
        events += reader.feed(message[i : i + 1])[1]
    assert events == [Pixels(5, 1, 3, 2), UpdateEnd()]
    assert reader.screen[1:3, 5:8].tobytes() == pixels
    assert not reader.screen[0].any()


@pytest.mark.parametrize("seed", range(5))
def test_raw_rectangles_land_as_their_bytes_come_in_any_pieces(seed):
    """Two Raw rectangles, a bell and a second update, cut at random places (mid-row,
    many rows, a header split): every pixel lands once, in order, and the events follow."""
    rng = np.random.default_rng(seed)
    reader = XvncReader()
    reader.feed(xvnc_greeting())  # 8x4
    first = rng.integers(0, 256, 3 * 7 * 4, np.uint8).tobytes()  # 7x3 at 1,1
    second = rng.integers(0, 256, 2 * 2 * 4, np.uint8).tobytes()  # 2x2 at 6,0
    third = rng.integers(0, 256, 8 * 4 * 4, np.uint8).tobytes()  # the whole screen
    message = (
        b"\0\0" + struct.pack(">H", 2) + rect(1, 1, 7, 3, 0, first) + rect(6, 0, 2, 2, 0, second)
    )
    first_end = len(message)
    message += b"\x02"  # a bell between the updates
    message += b"\0\0" + struct.pack(">H", 1) + rect(0, 0, 8, 4, 0, third)
    # Random cuts, and one after the first update (to look at the screen there).
    cuts = sorted({first_end, *rng.integers(1, len(message), 12).tolist()})
    events, screens = [], []
    for start, end in zip([0, *cuts], [*cuts, len(message)]):
        events += reader.feed(memoryview(bytearray(message[start:end])))[1]
        if end == first_end:
            screens.append(reader.screen.copy())
    assert events == [
        Pixels(1, 1, 7, 3),
        Pixels(6, 0, 2, 2),
        UpdateEnd(),
        Message(b"\x02"),
        Pixels(0, 0, 8, 4),
        UpdateEnd(),
    ]
    expected = np.zeros((4, 8, 4), np.uint8)
    expected[1:4, 1:8] = np.frombuffer(first, np.uint8).reshape(3, 7, 4)
    expected[0:2, 6:8] = np.frombuffer(second, np.uint8).reshape(2, 2, 4)
    assert (screens[0] == expected).all()
    assert reader.screen.tobytes() == third


def test_pseudo_rectangles_and_messages_pass_on_and_a_resize_keeps_the_picture():
    reader = XvncReader()
    reader.feed(xvnc_greeting())
    reader.screen[:] = 7
    cursor = rect(0, 0, 2, 2, CURSOR, bytes(2 * 2 * 4 + 2))
    screens = struct.pack(">B3x", 1) + struct.pack(">IHHHHI", 0, 0, 0, 10, 6, 0)
    resize = rect(0, 0, 10, 6, EXT_DESKTOP_SIZE, screens)
    clipboard = struct.pack(">B3xI", 3, 2) + b"hi"
    update = b"\0\0" + struct.pack(">H", 0xFFFF) + cursor + resize + rect(0, 0, 0, 0, -224)
    _, events = reader.feed(update + clipboard + b"\x02")
    assert events == [
        Pseudo(cursor),
        Pseudo(resize, resized=True),
        UpdateEnd(),
        Message(clipboard),
        Message(b"\x02"),
    ]
    assert reader.screen.shape == (6, 10, 4)
    assert (reader.screen[:4, :8] == 7).all() and not reader.screen[4:].any()


def test_an_encoding_that_was_not_asked_for_ends_the_connection():
    reader = XvncReader()
    reader.feed(xvnc_greeting())
    with pytest.raises(RfbStreamError, match="encoding 16"):
        reader.feed(b"\0\0\0\1" + rect(0, 0, 1, 1, 16))


def test_xvnc_is_asked_for_raw_and_only_the_pseudo_encodings_the_bridge_reads():
    message = client_init_request([H264, 7, -23, CURSOR, -312, -313, EXT_DESKTOP_SIZE])
    (count,) = struct.unpack_from(">H", message, 22)
    encodings = struct.unpack_from(f">{count}i", message, 24)
    assert encodings == (0, -224, CURSOR, EXT_DESKTOP_SIZE)


def inflate_tight(rects: list[bytes], streams: Optional[dict] = None) -> list[bytes]:
    """Each rectangle's pixels (3 bytes a pixel), as noVNC's Tight decoder reads them: one
    inflater per zlib stream (``streams`` keeps them across calls), the gradient undone."""
    streams = {} if streams is None else streams
    out = []
    for data in rects:
        control = data[12]
        if control == 0x80:
            out.append(data[13:16])
            continue
        for reset in range(4):  # the low bits: start these streams afresh (as noVNC)
            if control >> reset & 1:
                streams[reset] = zlib.decompressobj()
        control &= 0xF0
        assert control in (0, TIGHT_GRADIENT_STREAM), "stream 0 as is, or 1 with a filter"
        at = 13
        if control == TIGHT_GRADIENT_STREAM:
            assert data[at] == TIGHT_GRADIENT
            at += 1
        length = 0
        for shift in (0, 7, 14):
            byte = data[at]
            at += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
        assert len(data) == at + length
        stream = streams.setdefault(control >> 4 & 3, zlib.decompressobj())
        pixels = stream.decompress(data[at:])
        if control == TIGHT_GRADIENT_STREAM:
            w, h = struct.unpack_from(">HH", data, 4)
            residuals = np.frombuffer(pixels, np.uint8).reshape(h, w, 3)
            pixels = undo_gradient(residuals).tobytes()
        out.append(pixels)
    return out


def smooth_picture(h: int, w: int, seed: int) -> np.ndarray:
    """An enlarged, smooth image (napari's canvas showing cells), RGBX."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 16 + 2, w // 16 + 2, 4)).astype(float)
    ys, xs = np.linspace(0, h / 16, h), np.linspace(0, w / 16, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = small[y0][:, x0] * (1 - fx) + small[y0][:, x0 + 1] * fx
    bottom = small[y0 + 1][:, x0] * (1 - fx) + small[y0 + 1][:, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.uint8)


def test_tight_is_lossless_in_bands_and_a_solid_area_is_a_fill():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (700, 600, 4), np.uint8)
    encoder = TightEncoder()
    rects = encoder.rects(pixels, 10, 20)
    assert len(rects) > 1  # 700 rows of 1800 bytes do not fit one band
    rows = [struct.unpack_from(">HHHH", r) for r in rects]
    assert rows[0][:2] == (10, 20) and sum(r[3] for r in rows) == 700
    decoded = b"".join(inflate_tight(rects))
    assert decoded == np.ascontiguousarray(pixels[:, :, :3]).tobytes()
    solid = np.full((50, 40, 4), (1, 2, 3, 0), np.uint8)
    (fill,) = encoder.rects(solid, 0, 0)
    assert fill[12:] == b"\x80\x01\x02\x03"


def test_a_smooth_band_goes_through_the_gradient_filter_and_two_tones_as_they_are():
    rng = np.random.default_rng(2)
    smooth = smooth_picture(200, 400, 3)
    # Two tones at random (a dithered UI, text): the filter's residuals take more symbols.
    tones = np.array([[30, 30, 30, 0], [200, 200, 200, 0]], np.uint8)
    noise = tones[rng.integers(0, 2, (200, 400))]
    encoder, streams = TightEncoder(), {}
    sent = []
    with patch("jupyter_napari_desktop.server.video_rfb.GRADIENT_RETRY", 1):  # both each time
        for picture in (smooth, noise, smooth_picture(200, 400, 4), noise[::-1], smooth):
            (rect,) = encoder.rects(picture, 0, 0)
            (decoded,) = inflate_tight([rect], streams)  # the browser's inflaters go on
            assert decoded == np.ascontiguousarray(picture[:, :, :3]).tobytes()
            sent.append((rect[12], len(rect)))
    assert [control for control, _ in sent] == [TIGHT_GRADIENT_STREAM, 0] * 2 + [
        TIGHT_GRADIENT_STREAM
    ]
    assert sent[0][1] < 0.5 * len(smooth[:, :, :3].tobytes())
    (small,) = encoder.rects(smooth[:8, :8], 0, 0)  # below GRADIENT_MIN_PIXELS: not tried
    assert small[12] == 0 and 64 < GRADIENT_MIN_PIXELS

    # By default the way that won goes on, and both are tried again one band in GRADIENT_RETRY.
    encoder, streams = TightEncoder(), {}
    pictures = [smooth_picture(200, 400, k) for k in range(3)]
    pictures += [noise[k:] for k in range(GRADIENT_RETRY + 1)]
    controls = []
    for picture in pictures:
        (rect,) = encoder.rects(picture, 0, 0)
        (decoded,) = inflate_tight([rect], streams)
        assert decoded == np.ascontiguousarray(picture[:, :, :3]).tobytes()
        controls.append(rect[12])
    assert controls == [TIGHT_GRADIENT_STREAM] * GRADIENT_RETRY + [0] * 4


def test_with_reset_each_stream_starts_afresh_so_any_browser_decodes_an_update():
    """video_room.py: one encoder an update, its bytes for browsers that got different
    things before (their inflaters are in any state)."""
    rng = np.random.default_rng(5)
    tones = np.array([[30, 30, 30, 0], [200, 200, 200, 0]], np.uint8)
    noise = tones[rng.integers(0, 2, (200, 400))]  # smaller as it is than filtered
    pictures = [smooth_picture(200, 400, 6), noise, smooth_picture(200, 400, 7), noise[::-1]]
    behind = {0: used_inflater(), 1: used_inflater()}  # streams that went on elsewhere
    fresh: dict = {}
    with patch("jupyter_napari_desktop.server.video_rfb.GRADIENT_RETRY", 1):  # both each time
        encoder = TightEncoder(reset=True)
        rects = [rect for picture in pictures for rect in encoder.rects(picture, 0, 0)]
    controls = [rect[12] for rect in rects]
    # Each stream's first rectangle resets it, later ones go on with it.
    assert controls == [TIGHT_GRADIENT_STREAM | 2, 1, TIGHT_GRADIENT_STREAM, 0], controls
    for streams in (behind, fresh):
        decoded = inflate_tight(rects, streams)
        assert decoded == [np.ascontiguousarray(p[:, :, :3]).tobytes() for p in pictures]
    # Without reset an inflater in another state cannot read them.
    plain = TightEncoder().rects(noise, 0, 0)
    with pytest.raises(zlib.error):
        inflate_tight(plain, {0: used_inflater()})


def used_inflater():
    """An inflater in the middle of a stream of other bytes."""
    deflater, inflater = zlib.compressobj(1), zlib.decompressobj()
    inflater.decompress(deflater.compress(b"something else") + deflater.flush(zlib.Z_SYNC_FLUSH))
    return inflater


@pytest.mark.parametrize("seed", range(4))
def test_the_gradient_filter_is_undone_exactly_also_where_the_prediction_is_clamped(seed):
    rng = np.random.default_rng(seed)
    # Blocks of extreme values: left + upper - upper-left leaves 0-255 at their corners.
    blocks = rng.choice([0, 1, 254, 255], (12, 20, 3)).astype(np.uint8)
    picture = np.repeat(np.repeat(blocks, 5, axis=0), 7, axis=1)
    picture[::3, ::4] = rng.integers(0, 256, picture[::3, ::4].shape, np.uint8)
    values = picture.astype(int)
    unclamped = values[:-1, 1:] + values[1:, :-1] - values[:-1, :-1]
    assert (unclamped < 0).any() and (unclamped > 255).any()  # the clamp is exercised
    assert (undo_gradient(gradient_residuals(picture)) == picture).all()


def test_compact_length_holds_22_bits():
    assert compact_length(0x7F) == b"\x7f"
    assert compact_length(0x80) == b"\x80\x01"
    assert compact_length(0x3FFFFF) == b"\xff\xff\xff"
    with pytest.raises(ValueError):
        compact_length(1 << 22)


def test_an_h264_rectangle_carries_length_and_flags():
    data = h264_rect(16, 32, 64, 48, b"\0\0\0\1\x65", 1)
    assert struct.unpack(">HHHHiII", data[:20]) == (16, 32, 64, 48, H264, 5, 1)


def test_the_browsers_messages_split_between_the_bridge_and_xvnc():
    reader = RfbInput(control=True)
    client = ClientMessages()
    stream = (
        b"RFB 003.008\n\x01\x00"
        + b"\0\0\0\0"
        + PIXEL_FORMAT
        + struct.pack(">BxHii", 2, 2, H264, 7)
        + struct.pack(">BBHHHH", 3, 0, 0, 0, 640, 480)
        + struct.pack(">BBxxI", 4, 1, 0x61)
    )
    kept = []
    for kind, message in reader.messages(stream):
        if kind == HANDSHAKE_BYTES:
            continue
        if not client.take(message):
            kept.append(message)
    assert client.encodings == [H264, 7]
    assert client.requests == 1 and client.full == [(0, 0, 640, 480)]
    assert kept == [struct.pack(">BBxxI", 4, 1, 0x61)]  # the key goes to Xvnc


def test_a_viewers_input_never_reaches_the_bridge():
    reader = RfbInput(control=False)
    messages = reader.messages(b"x" * 14 + struct.pack(">BBxxI", 4, 1, 0x61))
    assert [kind for kind, _ in messages] == [HANDSHAKE_BYTES]
    assert reader.dropped == {"key": 1}


def test_the_video_area_is_aligned_even_and_on_the_screen():
    assert video_box(Box(17, 5, 100, 50), 1920, 1080) == Box(16, 0, 112, 64)
    assert video_box(Box(1900, 1070, 15, 9), 1915, 1079) == Box(1888, 1056, 26, 22)
    assert video_box(Box(0, 0, 4, 4), 8, 8) is None


@pytest.mark.parametrize(
    "area, count",
    [
        (Box(16, 32, 1392, 992), 2),
        (Box(0, 0, 1920, 1080), 4),
        (Box(0, 48, 640, 1030), 3),  # at the screen's foot: an odd number of rows is kept even
        (Box(0, 0, 640, 200), 4),  # too low for more than one
        (Box(0, 0, 320, 160), 1),
    ],
)
def test_the_video_area_in_stripes_covers_it_once_aligned(area, count):
    parts = stripes(area, count)
    assert len(parts) == max(1, min(count, area.h // STRIPE_MIN_ROWS))
    assert parts[0].y == area.y and parts[-1].y + parts[-1].h == area.y + area.h
    for above, below in zip(parts, parts[1:]):
        assert above.y + above.h == below.y and above.h % ALIGN == 0
    assert all(p.x == area.x and p.w == area.w and p.h % 2 == 0 for p in parts)
    assert all(p.h >= STRIPE_MIN_ROWS or len(parts) == 1 for p in parts)


def test_motion_goes_as_video_and_the_still_picture_comes_back_exact():
    plan = Plan(video=True)
    big = Box(100, 100, 800, 600)
    area, exact = plan.decide([big], 0.0, 1920, 1080)
    assert area == video_box(big, 1920, 1080) and exact == [] and plan.new_context
    plan.new_context = False
    # A small change outside the moving area is exact at once; the area moves on.
    small = Box(0, 0, 20, 10)
    area2, exact = plan.decide([Box(120, 120, 50, 50), small], 0.1, 1920, 1080)
    assert area2 == area and exact == [small] and not plan.new_context
    # Nothing changed: not yet still ...
    assert plan.decide([], 0.1 + STILL_SECONDS / 2, 1920, 1080) == (None, [])
    # ... then the moving area once more, exact, one band an update; the context stays for
    # the next motion.
    assert area is not None and plan.refresh_due(0.1) == pytest.approx(STILL_SECONDS)
    sent = []
    for step in range(100):
        _, exact = plan.decide([], 0.1 + STILL_SECONDS + step * 0.01, 1920, 1080)
        if not exact:
            break
        sent += exact
    assert len(sent) > 1 and all(b.w * b.h <= BAND_PIXELS + area.w * ALIGN for b in sent)
    assert sum(b.h for b in sent) == area.h and all(b.x == area.x for b in sent)
    assert plan.refresh_due(5.0) is None
    assert plan.decide([big], 6.0, 1920, 1080)[0] == area and not plan.new_context


def test_motion_during_the_exact_refresh_stops_it_until_the_next_stop():
    plan = Plan(video=True)
    area, _ = plan.decide([Box(0, 0, 800, 600)], 0.0, 1920, 1080)
    assert plan.decide([], STILL_SECONDS, 1920, 1080)[1]  # the first band
    # A small change meanwhile (a caret) goes exact, and the refresh goes on ...
    caret = Box(10, 10, 2, 16)
    _, exact = plan.decide([caret], 0.4, 1920, 1080)
    assert exact[0] == caret and len(exact) == 2 and plan.refresh
    assert plan.lossy is None
    # ... a large one moves the area again: the refresh waits for the next stop, longer
    # after two motions this far apart.
    assert plan.decide([Box(10, 10, 500, 500)], 0.5, 1920, 1080) == (area, [])
    assert plan.refresh == [] and plan.refresh_due(0.5) == pytest.approx(STILL_MAX_SECONDS)


def test_a_slow_motion_is_not_taken_for_a_stop():
    plan = Plan(video=True)
    box = Box(0, 0, 800, 600)
    # Pictures 0.4 s apart (napari at 2.5 a second): after the second one, no exact picture
    # between them ...
    for step in range(5):
        area, exact = plan.decide([box], step * 0.4, 1920, 1080)
        assert area is not None and exact == []
        if step:
            assert plan.decide([], step * 0.4 + 0.35, 1920, 1080) == (None, [])
    # ... 0.6 s after the last one, it comes.
    assert plan.refresh_due(1.6) == pytest.approx(0.6)
    assert plan.decide([], 2.4, 1920, 1080)[1]
    # A motion long after (a key) waits the shortest time again.
    plan.decide([box], 9.0, 1920, 1080)
    assert plan.refresh_due(9.0) == pytest.approx(STILL_SECONDS)


def test_boxes_close_together_are_one_group_and_far_apart_are_not():
    a, b = Box(0, 0, 100, 100), Box(100 + CLUSTER_GAP, 0, 50, 50)
    far = Box(100 + CLUSTER_GAP + 1, 500, 10, 10)
    # b joins a; a box that bridges two groups joins them all.
    assert sorted(clusters([a, far, b]), key=lambda g: g.y) == [Box(0, 0, 182, 100), far]
    bridge = Box(50, 90, 200, 420)
    assert clusters([a, far, b, bridge]) == [Box(0, 0, 250, 510)]
    assert clusters([]) == []
    # Very many boxes (a screen of text scrolling): one group, without the quadratic test.
    many = [Box(x * 300, y * 300, 4, 4) for x in range(9) for y in range(9)]
    assert len(many) > CLUSTER_MAX_BOXES and clusters(many) == [Box(0, 0, 2404, 2404)]


def test_the_video_area_is_the_moving_thing_not_everything_that_changed():
    # napari's canvas (in two boxes, as Xvnc sends it), its slider just below, and the
    # layer list's thumbnail far to the left.
    canvas = [Box(480, 40, 1392, 500), Box(480, 540, 1392, 492)]
    slider = Box(480, 1040, 1392, 24)
    thumbnail = Box(40, 120, 32, 32)
    plan = Plan(video=True)
    area, exact = plan.decide([*canvas, slider, thumbnail], 0.0, 1920, 1080)
    assert area == video_box(Box(480, 40, 1392, 1024), 1920, 1080)
    assert exact == [thumbnail]


def test_an_area_grown_by_a_one_off_redraw_shrinks_to_what_keeps_moving():
    plan = Plan(video=True)
    window = Box(0, 0, 1920, 1080)
    canvas = Box(480, 32, 1392, 992)
    assert plan.decide([window], 0.0, 1920, 1080)[0] == window
    # The whole window changed once, then its canvas kept moving: the context stays over
    # the first stop (the window was part of that motion) ...
    plan.decide([canvas], 0.1, 1920, 1080)
    plan.decide([], 0.1 + STILL_SECONDS, 1920, 1080)
    assert plan.area == window
    plan.new_context = False
    # ... the next motion is the canvas alone: after it stops, that context goes ...
    assert plan.decide([canvas], 2.0, 1920, 1080) == (window, [])
    plan.decide([], 2.5, 1920, 1080)
    assert plan.area is None
    # ... and the motion after it starts a context of the canvas.
    area, _ = plan.decide([canvas], 4.0, 1920, 1080)
    assert area == video_box(canvas, 1920, 1080) and plan.new_context


def test_a_small_change_to_a_still_exact_area_stays_exact():
    plan = Plan(video=True)
    area, _ = plan.decide([Box(0, 0, 800, 600)], 0.0, 1920, 1080)
    while plan.decide([], 1.0, 1920, 1080)[1]:
        pass  # the whole exact picture sent
    caret = Box(100, 100, 2, 16)
    assert plan.decide([caret], 2.0, 1920, 1080) == (None, [caret])
    assert plan.lossy is None and plan.refresh_due(2.0) is None
    assert plan.area == area  # the context stays for the next motion


def test_a_growing_motion_starts_a_new_context_and_without_video_all_is_exact():
    plan = Plan(video=True)
    first = plan.decide([Box(0, 0, 300, 300)], 0.0, 1920, 1080)[0]
    area, _ = plan.decide([Box(1000, 500, 300, 300)], 0.1, 1920, 1080)
    assert area is not None and first is not None and area.contains(first)
    assert plan.new_context
    tight = Plan(video=False)
    assert tight.decide([Box(0, 0, 900, 900)], 0.0, 1920, 1080) == (
        None,
        [Box(0, 0, 900, 900)],
    )


def test_the_window_follows_the_networks_round_trip_not_one_ping():
    trip = RoundTrip()
    assert trip.median() is None and trip.window() == WINDOW  # nothing measured yet
    now = 100.0
    for _ in range(PING_SAMPLES):  # loopback: a millisecond
        trip.pong(trip.ping(now), now + 0.001)
        now += 1
    assert trip.window() == WINDOW == 1
    trip.pong(trip.ping(now), now + 0.5)  # one late answer (a big update before it)
    assert trip.window() == WINDOW
    for _ in range(PING_SAMPLES // 2 + 1):  # a 40 ms link
        now += 1
        trip.pong(trip.ping(now), now + 2 * FAR_SECONDS)
    assert trip.window() == WINDOW_FAR == 2
    assert trip.median() == pytest.approx(2 * FAR_SECONDS)


def test_pongs_that_are_not_the_bridges_own_are_ignored_and_old_pings_forgotten():
    trip = RoundTrip()
    trip.pong(b"", 5.0)  # tornado's keepalive ping's answer
    trip.pong(b"napari-desktop 7", 5.0)  # never sent
    assert trip.median() is None
    unanswered = [trip.ping(float(k)) for k in range(3 * PING_SAMPLES)]
    trip.pong(unanswered[0], 100.0)  # forgotten: no 100 s sample
    assert trip.median() is None
    trip.pong(unanswered[-1], 3 * PING_SAMPLES - 1 + 0.002)
    assert trip.median() == pytest.approx(0.002)


@pytest.mark.parametrize("error", [StreamClosedError, WebSocketClosedError])
def test_a_ping_to_a_socket_that_just_closed_ends_the_pinging_quietly(error):
    class Handler:
        pinged: list[bytes] = []

        def ping(self, data: bytes) -> None:
            self.pinged.append(data)
            if len(self.pinged) == 2:
                raise error()

    handler = Handler()
    bridge = VideoBridge(handler, RfbInput(control=True), 20)
    try:
        with patch("jupyter_napari_desktop.server.video.PING_SECONDS", 0.01):
            asyncio.run(asyncio.wait_for(bridge._ping(), 5))  # returns, raises nothing
    finally:
        bridge.executor.shutdown()
        bridge.stripe_pool.shutdown()
    assert handler.pinged == [b"napari-desktop 1", b"napari-desktop 2"]


def test_a_larger_moving_area_gets_a_coarser_quantizer_up_to_six_more():
    canvas_1080p = Box(0, 0, 928, 960)  # napari's canvas on a 1920x1080 screen
    assert crf_for(canvas_1080p, 20) == 20
    assert crf_for(Box(0, 0, 640, 480), 20) == 20  # smaller: never finer than asked
    assert crf_for(Box(0, 0, 1312, 1360), 20) == 23  # twice the pixels
    assert crf_for(Box(0, 0, 1856, 1920), 20) == 26  # the canvas at 3840x2160
    assert crf_for(Box(0, 0, 3840, 2160), 20) == 20 + CRF_MAX_RAISE
    assert crf_for(Box(0, 0, 3840, 2160), 50) == 51


def test_recent_rates_cover_the_last_seconds_and_fall_to_nothing_when_idle():
    """The status API's CPU share and pictures a second of a video stream (Recent)."""
    recent = Recent(100.0)
    assert recent.rates(100.0, (0.0, 0.0)) == (0.0, 0.0)
    cpu = pictures = 0.0
    for k in range(1, 201):  # 20 s of 10 pictures a second, each 20 ms of CPU
        cpu, pictures = cpu + 0.02, pictures + 1
        recent.note(100.0 + k / 10, (cpu, pictures))
    rates = recent.rates(120.0, (cpu, pictures))
    assert rates == pytest.approx((0.2, 10.0))
    # Young: over the seconds it has been there, not the whole window.
    young = Recent(0.0)
    young.note(1.0, (0.5, 5))
    assert young.rates(2.0, (0.5, 5)) == pytest.approx((0.25, 2.5))
    # Nothing since: the window slides past the last pictures to nothing.
    assert recent.rates(120.0 + RECENT_SECONDS / 2, (cpu, pictures))[1] == pytest.approx(5.0)
    assert recent.rates(120.0 + RECENT_SECONDS + 1, (cpu, pictures)) == (0.0, 0.0)
    assert len(recent._notes) == 1  # old notes are forgotten (the totals at the start kept)
