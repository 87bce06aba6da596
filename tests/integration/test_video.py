"""The video path through the real websocket to a real Xvnc with a real napari: H.264 while
napari plays (each rectangle decodes), the exact picture once it stops, and the usual
pass-through for a page that does not ask (c.NapariDesktop.video = "auto")."""

from __future__ import annotations

import asyncio
import re
import sys

import numpy as np
import pytest

from jupyter_napari_desktop.server.video_codec import available
from jupyter_napari_desktop.server.video_rfb import H264_RESET_CONTEXT
from tests.integration.conftest import needs_xvnc
from tests.support import procs
from tests.support.desktops import pattern_desktop
from tests.support.pages import NOISE_PLAYER, exact_but_cursor, pause_player, x_screen
from tests.support.rfb import RFBClient
from tests.support.waiting import run_async, wait_for

pytestmark = [
    pytest.mark.integration,
    needs_xvnc,
    pytest.mark.skipif(
        available() is not None,
        reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
    ),
]


def nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]


def decoded_sizes(rects) -> list[tuple[int, int]]:
    """Each H.264 rectangle through FFmpeg's decoder, one decoder a context (as noVNC)."""
    import av

    decoders: dict[tuple[int, int, int, int], object] = {}
    sizes = []
    for rect in rects:
        if rect.flags & H264_RESET_CONTEXT or rect.box not in decoders:
            decoders[rect.box] = av.CodecContext.create("h264", "r")
        frames = decoders[rect.box].decode(av.Packet(rect.data))  # type: ignore[attr-defined]
        sizes += [(f.width, f.height) for f in frames]
    return sizes


def run(coroutine):
    """The coroutine in its own event loop (the fixtures here are synchronous)."""
    return run_async(coroutine)


@pytest.fixture
def desktop(tmp_path):
    """A desktop with the video path on (napari is the test's own player)."""
    with pattern_desktop(
        tmp_path, {"video": "auto", "autostart_napari": False}, pattern=False, start=False
    ) as server:
        code, status = server.request("POST", "napari-desktop/api/start", {"app": "desktop"})
        assert code == 200, status
        yield server


async def watch(server, video: bool, seconds: float) -> RFBClient:
    url = server.ws_url + ("?video=h264" if video else "")
    client = await RFBClient.connect_websocket(url, server.token, video=video)
    await asyncio.sleep(seconds)
    return client


def test_napari_playing_is_h264_and_the_still_picture_exact(desktop, artifacts):
    player = procs.start_logged(
        [sys.executable, "-c", NOISE_PLAYER],
        artifacts / "video-int-player.log",
        env=desktop.x_env(),
    )

    async def play_then_stop():
        client = await watch(desktop, True, 0)
        try:
            for _ in range(1200):  # napari's window appears, then plays
                if len(client.h264) > 30:
                    break
                await asyncio.sleep(0.1)
            pause_player(player)
            assert await client.quiet(1.5, 30), "updates went on after napari stopped"
            return client.h264, client.picture(), client.error
        finally:
            await client.close()

    try:
        rects, picture, error = run(play_then_stop())
        screen = x_screen(desktop)  # napari's last noise plane, still on screen
    finally:
        procs.stop_tree(player.pid, 5)
    assert error is None, error
    player_log = (artifacts / "video-int-player.log").read_text(errors="replace")[-2000:]
    assert len(rects) > 30, f"{len(rects)} H.264 rectangles while napari played: {player_log}"
    first = rects[0]
    assert first.flags & H264_RESET_CONTEXT and nal_types(first.data)[:2] == [7, 8]
    for rect in rects:
        slices = [t for t in nal_types(rect.data) if t in (1, 5)]
        assert len(slices) == 1, f"{len(slices)} slices in one picture"
    sizes = decoded_sizes(rects)
    assert len(sizes) == len(rects)  # no picture held back by the decoder
    assert all(w >= r.box[2] and h >= r.box[3] for (w, h), r in zip(sizes, rects))
    assert exact_but_cursor(picture, screen), "the still picture is not exact"
    # The bridge pinged the page's websocket and took the answers (its window, video.py).
    closed = wait_for(
        lambda: re.search(r"round trip to the browser: median ([0-9.]+) ms", desktop.log()),
        30,
        "the video connection's closing line with its round trip",
    )
    assert 0 < float(closed.group(1)) < 1000, closed.group(0)


def test_a_page_that_does_not_ask_gets_the_usual_stream(desktop):
    async def both():
        plain = await watch(desktop, False, 3)
        try:
            return plain.greeting, len(plain.stats.updates), plain.h264
        finally:
            await plain.close()

    greeting, updates, h264 = run(both())
    assert greeting.startswith(b"RFB 003.") and updates > 0 and h264 == []
    assert "video path" not in desktop.log()


def test_with_video_off_the_query_changes_nothing(tmp_path):
    with pattern_desktop(
        tmp_path, {"video": "off", "autostart_napari": False}, pattern=False, start=False
    ) as server:
        code, status = server.request("POST", "napari-desktop/api/start", {"app": "desktop"})
        assert code == 200, status

        async def asked():
            client = await watch(server, True, 3)
            try:
                return client.h264, client.picture(), client.error
            finally:
                await client.close()

        h264, picture, error = run(asked())
    # Xvnc itself answered: no H.264 (TigerVNC has no encoder), its Tight picture.
    assert error is None and h264 == [] and "video path" not in server.log()
    assert isinstance(picture, np.ndarray)
