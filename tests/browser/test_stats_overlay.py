"""The desktop page's stats overlay and its adaptive quality, in Chromium on a real desktop:
the overlay shows figures that move while napari plays, and once the picture stops the
canvas is the X screen pixel for pixel (read losslessly through the VNC socket)."""

from __future__ import annotations

import re
import sys
import time

from tests.support import procs
from tests.support.pages import NOISE_PLAYER, canvas_rgb, exact_but_cursor, wait_state, x_screen
from tests.support.waiting import wait_for

FIGURES = re.compile(r"([\d.]+) frames/s · ([\d.]+) Mbit/s · RTT (\S+)(?: ms)? · quality (.+)")


def figures(page) -> tuple[float, float, str, str]:
    text = page.locator("#jp-NapariDesktop-stats").inner_text()
    found = FIGURES.fullmatch(text.strip())
    assert found, text
    return float(found[1]), float(found[2]), found[3], found[4]


def test_stats_overlay_follows_napari_and_the_still_picture_is_exact(context, lab, artifacts):
    code, status = lab.request("POST", "napari-desktop/api/start", {"app": "desktop"})
    assert code == 200, status
    # Only the player's napari on screen (a covered window sends no updates).
    for pid in lab.desktop_pids():
        if any(w.endswith(("napari_helper.py", "/napari")) for w in procs.cmdline(pid)[1:3]):
            procs.stop_tree(pid, 5)
    player = procs.start_logged(
        [sys.executable, "-c", NOISE_PLAYER], artifacts / "stats-player.log", env=lab.x_env()
    )
    try:
        page = context.new_page()
        page.goto(
            f"{lab.url}napari-desktop/?app=desktop&token={lab.token}",
            wait_until="domcontentloaded",
            timeout=90_000,
        )
        wait_state(page, "connected", 90)
        panel = page.locator("#jp-NapariDesktop-stats")
        assert panel.is_hidden()
        page.locator("#jp-NapariDesktop-statsToggle").click()
        panel.wait_for(state="visible", timeout=5_000)

        # napari playing: frames and bandwidth, the lossy level in use.
        def playing() -> bool:
            fps, mbit, _, quality = figures(page)
            return fps > 2 and mbit > 0.1 and quality == "2"

        wait_for(playing, 120, "napari's frames in the overlay, at quality 2")
        time.sleep(1.5)  # still playing later: napari's frames, not its window appearing
        wait_for(playing, 30, "napari's frames in the overlay again")
        page.screenshot(path=str(artifacts / "stats-overlay-playing.png"))
        wait_for(lambda: figures(page)[2] != "-", 10, "a round-trip time")
        page.screenshot(path=str(artifacts / "stats-overlay-playing.png"))

        # napari gone: the figures fall, the page asks for the exact picture.
        procs.stop_tree(player.pid, 5)
        wait_for(lambda: figures(page)[0] == 0, 10, "frames/s to fall to 0")
        wait_for(lambda: figures(page)[3] == "lossless (still)", 5, "the lossless still mode")
        wait_for(lambda: exact_but_cursor(canvas_rgb(page), x_screen(lab)), 10, "an exact canvas")
        page.screenshot(path=str(artifacts / "stats-overlay-still.png"))

        # The shortcut hides it again, and the desktop does not get the key.
        page.locator("#jp-NapariDesktop-root canvas").first.click()
        page.keyboard.press("Control+Alt+Shift+S")
        panel.wait_for(state="hidden", timeout=5_000)
    finally:
        procs.stop_tree(player.pid, 5)
