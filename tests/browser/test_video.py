"""The video path in Chromium on a real desktop (c.NapariDesktop.video = "auto"): napari
plays, the page asks for H.264 and decodes it with WebCodecs, and once napari stops the
canvas is the X screen pixel for pixel; a decoder that breaks sends the page back to the
Tight path by itself."""

from __future__ import annotations

import re
import time

import pytest

from jupyter_napari_desktop.server.video_codec import available
from tests.support.desktops import video_desktop_playing
from tests.support.pages import (
    COUNT_DECODES,
    SMOOTH_PLAYER,
    break_decoder_and_see_the_page_give_up,
    canvas_rgb,
    exact_but_cursor,
    pause_player,
    wait_state,
    x_screen,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    available() is not None,
    reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
)


@pytest.fixture
def playing(tmp_path, artifacts):
    """A desktop with the video path on, napari playing a noise stack on it."""
    with video_desktop_playing(tmp_path, artifacts / "video-player.log") as both:
        yield both


def open_page(context, server):
    page = context.new_page()
    page.add_init_script(COUNT_DECODES)
    page.goto(
        f"{server.url}napari-desktop/?app=desktop&token={server.token}",
        wait_until="domcontentloaded",
        timeout=90_000,
    )
    wait_state(page, "connected", 90)
    return page


def decodes(page) -> int:
    return page.evaluate("window.__decodes")


def levels_disabled(page) -> list[bool]:
    return [
        page.locator(f"#jp-NapariDesktop-{name}").is_disabled()
        for name in ("quality", "compression")
    ]


def test_motion_is_h264_and_the_still_picture_is_exact(context, playing, artifacts):
    server, player = playing
    page = open_page(context, server)
    assert page.evaluate("window.napariDesktop.video") is True
    start = decodes(page)
    wait_for(lambda: decodes(page) - start > 20, 60, "20 H.264 pictures decoded")
    page.screenshot(path=str(artifacts / "video-playing.png"))
    # Quality and compression act on Tight only: disabled, and the page says why.
    assert levels_disabled(page) == [True, True]
    assert "video_crf" in page.locator("label[for=jp-NapariDesktop-quality]").get_attribute("title")
    assert "H.264 by libx264" in server.log()
    # The Stats button's figures name the path instead of a quality that does not apply.
    page.locator("#jp-NapariDesktop-statsToggle").click()
    stats = page.locator("#jp-NapariDesktop-stats")
    wait_for(lambda: "frames/s" in stats.inner_text(), 10, "the stats overlay's figures")
    assert stats.inner_text().endswith("· H.264 video path"), stats.inner_text()
    page.screenshot(path=str(artifacts / "video-stats.png"))
    pause_player(player)
    stopped = time.monotonic()
    wait_for(lambda: exact_but_cursor(canvas_rgb(page), x_screen(server)), 10, "an exact canvas")
    exact_after = time.monotonic() - stopped
    page.screenshot(path=str(artifacts / "video-still.png"))
    assert "video path (H.264)" in server.log()
    # Exact within 1 s of napari's last picture (the bridge's refresh comes after 0.3 s;
    # stopping the player and reading the X screen take their own time).
    assert exact_after < 5, exact_after


def test_a_smooth_still_picture_comes_through_the_gradient_filter_exactly(
    context, tmp_path, artifacts
):
    """napari's enlarged image goes losslessly through Tight's gradient filter, which
    noVNC undoes: the canvas is the X screen, and the server filtered some bands."""
    log = artifacts / "video-smooth-player.log"
    with video_desktop_playing(tmp_path, log, SMOOTH_PLAYER) as (server, player):
        page = open_page(context, server)
        start = decodes(page)
        wait_for(lambda: decodes(page) - start > 10, 60, "10 H.264 pictures decoded")
        pause_player(player)
        wait_for(
            lambda: exact_but_cursor(canvas_rgb(page), x_screen(server)), 10, "an exact canvas"
        )
        page.screenshot(path=str(artifacts / "video-smooth-still.png"))
        page.close()  # the bridge's closing line counts its bytes
        filtered = wait_for(
            lambda: re.search(r"(\d+) KB of it through the gradient filter", server.log()),
            30,
            "the video connection's closing line",
        )
    assert int(filtered.group(1)) > 0, filtered.group(0)


def test_a_broken_decoder_falls_back_to_tight_by_itself(context, playing, artifacts):
    server, player = playing
    page = open_page(context, server)
    assert page.evaluate("window.napariDesktop.video") is True
    wait_for(lambda: decodes(page) > 5, 60, "H.264 pictures decoded")
    break_decoder_and_see_the_page_give_up(page.evaluate)
    wait_state(page, "connected", 30)
    assert page.evaluate("window.napariDesktop.video") is False
    assert levels_disabled(page) == [False, False]
    assert "Image quality" in page.locator("label[for=jp-NapariDesktop-quality]").get_attribute(
        "title"
    )
    page.locator("#jp-NapariDesktop-statsToggle").click()
    stats = page.locator("#jp-NapariDesktop-stats")
    wait_for(lambda: "· quality " in stats.inner_text(), 10, "the Tight path's quality in Stats")
    # The Tight path draws: the picture is exact again once napari stops.
    pause_player(player)
    wait_for(lambda: exact_but_cursor(canvas_rgb(page), x_screen(server)), 20, "an exact canvas")
    page.screenshot(path=str(artifacts / "video-fallback.png"))


def test_a_view_link_room_in_two_tabs_decodes_one_stream_and_falls_back_alone(
    context, playing, artifacts
):
    """Two tabs of a view-only link share the room's one encoder (video_room.py): both
    decode H.264 and get the exact still picture; a tab whose decoder breaks goes back to
    the Tight path by itself while the other goes on with video."""
    server, player = playing
    code, made = server.request("POST", "napari-desktop/api/links", {"expires_in": 600})
    assert code == 201, made
    tabs = []
    for _ in range(2):
        tab = context.new_page()
        tab.add_init_script(COUNT_DECODES)
        origin = server.url[: -len(server.base_url)]
        tab.goto(origin + made["path"], wait_until="domcontentloaded", timeout=90_000)
        wait_state(tab, "connected", 90)
        assert tab.evaluate("window.napariDesktop.video") is True
        assert levels_disabled(tab) == [True, True]
        tabs.append(tab)
    first, second = tabs
    starts = [decodes(tab) for tab in tabs]
    for tab, start in zip(tabs, starts):
        wait_for(lambda t=tab, s=start: decodes(t) - s > 20, 60, "20 H.264 pictures in a tab")
    second.screenshot(path=str(artifacts / "video-room-playing.png"))
    assert server.log().count("joined the video room") == 2
    break_decoder_and_see_the_page_give_up(second.evaluate)
    wait_state(second, "connected", 30)
    assert second.evaluate("window.napariDesktop.video") is False
    start = decodes(first)
    wait_for(lambda: decodes(first) - start > 10, 30, "the other tab still decoding")
    pause_player(player)
    for tab in tabs:
        wait_for(lambda t=tab: exact_but_cursor(canvas_rgb(t), x_screen(server)), 20, "exact")
    first.screenshot(path=str(artifacts / "video-room-still.png"))
