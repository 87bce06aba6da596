"""The video path through the real websocket to a real Xvnc with a real napari: H.264 while
napari plays (each rectangle decodes), the exact picture once it stops, and the usual
pass-through for a page that does not ask (c.NapariDesktop.video = "auto")."""

from __future__ import annotations

import asyncio
import re
import sys
import urllib.parse

import numpy as np
import pytest

from jupyter_napari_desktop.server.video_codec import available
from jupyter_napari_desktop.server.video_rfb import H264_RESET_CONTEXT
from tests.integration.conftest import needs_xvnc
from tests.support import procs
from tests.support.desktops import pattern_desktop
from tests.support.jupyter import run_cli
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
            playing = await asyncio.to_thread(desktop.request, "GET", "napari-desktop/api/status")
            typed = await asyncio.to_thread(run_cli, desktop, "status")
            pause_player(player)
            assert await client.quiet(1.5, 30), "updates went on after napari stopped"
            return client.h264, client.picture(), client.error, playing, typed
        finally:
            await client.close()

    try:
        rects, picture, error, (code, playing), typed = run(play_then_stop())
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
    # The status said what the tab's encoding took while napari played (CPU per user) ...
    assert code == 200, playing
    (stream,) = playing["video"]["streams"]
    assert stream["room"] is False and stream["viewers"] == 1, stream
    assert stream["encoder"] == "libx264" and stream["pictures_per_s"] > 1, stream
    assert 0 < stream["cpu_cores"] < 2 and playing["video"]["cpu_cores"] == stream["cpu_cores"]
    # (jupyter-napari-desktop status, as an administrator types it, says the same.)
    assert typed.returncode == 0, typed.stderr
    assert "video path (H.264): 1 stream(s)" in typed.stdout, typed.stdout
    assert re.search(r"a tab: libx264, [0-9.]+ core, [0-9.]+ pictures/s", typed.stdout)
    cpu_s = re.search(r"s encoding \(([0-9.]+) s of CPU\)", closed.string)
    assert cpu_s and float(cpu_s.group(1)) > 0, closed.string[-3000:]
    # ... and no stream once the tab has gone.
    code, after = desktop.request("GET", "napari-desktop/api/status")
    assert code == 200 and after["video"] == {"streams": [], "cpu_cores": 0}, after["video"]


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


def view_link(server) -> str:
    """A new view-only link's websocket URL on the video path (its token in the query)."""
    code, made = server.request("POST", "napari-desktop/api/links", {"expires_in": 600})
    assert code == 201, made
    token = urllib.parse.parse_qs(urllib.parse.urlparse(made["path"]).query)["token"][0]
    return server.ws_url.replace("napari-desktop/websockify", "napari-desktop/watch/websockify") + (
        f"?token={token}&video=h264"
    )


def test_a_view_link_room_shares_one_encoder_and_each_viewer_decodes(desktop, artifacts):
    """Viewers of a link on the video path: the second joins while napari plays and its
    first H.264 picture starts a context (an IDR it can decode); both get the exact still
    picture; their input reaches nothing; a third that stops reading does not hold them
    back; one room, closed when all leave."""
    url = view_link(desktop)
    player = procs.start_logged(
        [sys.executable, "-c", NOISE_PLAYER],
        artifacts / "video-room-player.log",
        env=desktop.x_env(),
    )

    async def two_viewers():
        first = await RFBClient.connect_websocket(url, "none", video=True)
        # A laptop that stops reading: it must not hold the others back.
        stalled = await RFBClient.connect_websocket(url, "none", video=True)
        if stalled._reader is not None:
            stalled._reader.cancel()
        second = None
        try:
            for _ in range(1200):  # napari's window appears, then plays
                if len(first.h264) > 20:
                    break
                await asyncio.sleep(0.1)
            second = await RFBClient.connect_websocket(url, "none", video=True)
            for _ in range(600):
                if len(second.h264) > 20:
                    break
                await asyncio.sleep(0.1)
            await second.key(0x61)
            await second.pointer(40, 40, 1)
            watching = await asyncio.to_thread(desktop.request, "GET", "napari-desktop/api/status")
            pause_player(player)
            assert await first.quiet(1.5, 30), "updates went on after napari stopped"
            assert await second.quiet(1.5, 30)
            return [(c.h264, c.picture(), c.error) for c in (first, second)], watching
        finally:
            await first.close()
            await stalled.close()
            if second is not None:
                await second.close()

    try:
        ((rects1, picture1, error1), (rects2, picture2, error2)), watching = run(two_viewers())
        screen = x_screen(desktop)
    finally:
        procs.stop_tree(player.pid, 5)
    assert error1 is None and error2 is None, (error1, error2)
    assert len(rects1) > 20 and len(rects2) > 20, (len(rects1), len(rects2))
    # The joiner's first picture of each context it gets is an IDR with SPS and PPS.
    assert rects2[0].flags & H264_RESET_CONTEXT and nal_types(rects2[0].data)[:2] == [7, 8]
    for rects in (rects1, rects2):
        assert len(decoded_sizes(rects)) == len(rects)  # every picture decodes
    # The same pictures: one encoder for both (the joiner's are the first's last ones).
    assert [r.data for r in rects2] == [r.data for r in rects1[-len(rects2) :]]
    assert exact_but_cursor(picture1, screen) and exact_but_cursor(picture2, screen)
    log = wait_for(
        lambda: re.search(
            r"room closed \(nobody watches\): (\d+) viewers",
            desktop.log(),
        ),
        30,
        "the room's closing line",
    )
    # (Whether the stalled one was skipped depends on the kernel's socket buffers here:
    # tests/unit/test_video_room.py shows the skipping and its catching up.)
    assert log.group(1) == "3", log.group(0)
    assert desktop.log().count("joined the video room") == 3
    # The status showed one stream for the three viewers: the room's one encoder.
    code, status = watching
    assert code == 200, status
    (stream,) = status["video"]["streams"]
    assert stream["room"] is True and stream["viewers"] == 3, stream
    assert stream["encoder"] == "libx264" and stream["cpu_cores"] > 0, stream
    assert re.search(r"dropped from a link's viewer: \{'key': 2, 'pointer': 1\}", desktop.log())
