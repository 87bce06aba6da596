"""The video path (c.NapariDesktop.video = "auto") in Firefox, the second engine with
WebCodecs: the page asks for H.264 where the browser's decoder takes baseline H.264
(Firefox decodes it with the system's FFmpeg, libavcodec), the pictures come back decoded,
the still picture is exact, and a decoder that stops answering sends the page back to the
Tight path by itself. In WebKitGTK here (no H.264 decoder for WebCodecs: GStreamer's libav
plugin is not installed) the page keeps to Tight, and its picture is exact too."""

from __future__ import annotations

import pytest

from jupyter_napari_desktop.server.video_codec import available
from tests.engines.conftest import running_engine
from tests.support.desktops import video_desktop_playing
from tests.support.pages import (
    COUNT_DECODES,
    break_decoder_and_see_the_page_give_up,
    canvas_rgb,
    exact_but_cursor,
    pause_player,
    x_screen,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    available() is not None,
    reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
)
H264 = "VideoDecoder.isConfigSupported({codec: 'avc1.42c01f', codedWidth: 640, codedHeight: 480})"


@pytest.fixture(scope="module", params=["firefox", "webkit"])
def browser(request, engine_artifacts):
    yield from running_engine(request.param, engine_artifacts)


@pytest.fixture
def playing(tmp_path, engine_artifacts, browser):
    log = engine_artifacts / f"{browser.name}-video-player.log"
    with video_desktop_playing(tmp_path, log) as (server, player):
        browser.init_script(COUNT_DECODES)
        browser.goto(f"{server.url}napari-desktop/?app=desktop&token={server.token}")
        browser.wait_for(
            "window.napariDesktop && window.napariDesktop.state === 'connected'", 90, "connected"
        )
        yield server, player


def decodes_h264(browser) -> bool:
    if not browser.evaluate("typeof VideoDecoder !== 'undefined'"):
        return False
    return bool(browser.evaluate(f"{H264}.then(r => r.supported)"))


def counts(browser) -> tuple[int, int]:
    return tuple(browser.evaluate("[window.__decodes, window.__frames]"))


def noise_share(rgb) -> float:
    """How much of the picture is noise (napari's noise stack drawn): pixels far from their
    right-hand neighbour (a white or black window has none)."""
    grey = rgb.astype(int).sum(axis=2)
    return float((abs(grey[:, 1:] - grey[:, :-1]) > 120).mean())


def exact(browser, server) -> bool:
    return exact_but_cursor(canvas_rgb(browser), x_screen(server))


def test_motion_is_decoded_h264_where_the_engine_can_and_the_still_picture_exact(
    browser, playing, engine_artifacts
):
    server, player = playing
    can = decodes_h264(browser)
    if browser.name == "firefox":
        assert can, "Firefox here should decode H.264 (scripts/setup.sh installs libavcodec)"
    assert browser.evaluate("window.napariDesktop.video") is can
    if can:
        start = counts(browser)
        wait_for(
            lambda: min(now - then for now, then in zip(counts(browser), start)) > 20,
            60,
            "20 H.264 pictures handed to the decoder and given back decoded",
        )
        assert not browser.evaluate("window.napariDesktop.videoFailed || ''")
    else:
        assert counts(browser) == (0, 0)
    wait_for(lambda: noise_share(canvas_rgb(browser)) > 0.1, 90, "napari's noise on the canvas")
    (engine_artifacts / f"{browser.name}-video-playing.png").write_bytes(browser.screenshot())
    pause_player(player)
    wait_for(lambda: exact(browser, server), 15, "an exact canvas once napari stopped")
    (engine_artifacts / f"{browser.name}-video-still.png").write_bytes(browser.screenshot())
    if can:
        assert "video path (H.264)" in server.log()


# Firefox only: WebKitGTK here never uses the video path (the test above checks that).
@pytest.mark.parametrize("browser", ["firefox"], indirect=True)
def test_a_decoder_that_stops_answering_falls_back_to_tight(browser, playing):
    server, player = playing
    assert decodes_h264(browser)
    wait_for(lambda: counts(browser)[1] > 5, 60, "H.264 pictures decoded")
    break_decoder_and_see_the_page_give_up(browser.evaluate)
    browser.wait_for("window.napariDesktop.state === 'connected'", 30, "connected again")
    assert browser.evaluate("window.napariDesktop.video") is False
    pause_player(player)
    wait_for(lambda: exact(browser, server), 20, "an exact canvas on the Tight path")


@pytest.mark.parametrize("browser", ["firefox"], indirect=True)
def test_a_view_links_page_joins_the_room_and_decodes_its_pictures(
    browser, playing, engine_artifacts
):
    """A view-only link's page in Firefox on the room's one encoder (video_room.py)."""
    server, player = playing
    code, made = server.request("POST", "napari-desktop/api/links", {"expires_in": 600})
    assert code == 201, made
    browser.goto(server.url[: -len(server.base_url)] + made["path"])
    browser.wait_for(
        "window.napariDesktop && window.napariDesktop.state === 'connected'", 90, "connected"
    )
    assert browser.evaluate("window.napariDesktop.video") is True
    start = counts(browser)
    wait_for(
        lambda: min(now - then for now, then in zip(counts(browser), start)) > 20,
        60,
        "20 of the room's H.264 pictures decoded",
    )
    assert "joined the video room" in server.log()
    pause_player(player)
    wait_for(lambda: exact(browser, server), 20, "an exact canvas once napari stopped")
    (engine_artifacts / "firefox-video-room-still.png").write_bytes(browser.screenshot())
