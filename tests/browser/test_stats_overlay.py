"""The desktop page's stats overlay and its adaptive quality, in Chromium on a real desktop:
the overlay shows figures that move while napari plays, and once the picture stops the
canvas is the X screen pixel for pixel (read losslessly through the VNC socket)."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tests.support import procs
from tests.support.pages import wait_state
from tests.support.rfb import RFBClient
from tests.support.waiting import wait_for

# napari plays a noise stack as fast as it can (its own dims animation).
PLAYER = """
import numpy as np, napari
from qtpy.QtCore import QTimer
viewer = napari.Viewer(title="stats overlay test")
viewer.add_image(np.random.default_rng(1).integers(0, 255, (30, 256, 256), dtype=np.uint8))
viewer.window._qt_window.showMaximized()
step = lambda: viewer.dims.set_current_step(0, (viewer.dims.current_step[0] + 1) % 30)
timer = QTimer()
timer.timeout.connect(step)
timer.start(33)
napari.run()
"""
FIGURES = re.compile(r"([\d.]+) frames/s · ([\d.]+) Mbit/s · RTT (\S+)(?: ms)? · quality (.+)")


def figures(page) -> tuple[float, float, str, str]:
    text = page.locator("#jp-NapariDesktop-stats").inner_text()
    found = FIGURES.fullmatch(text.strip())
    assert found, text
    return float(found[1]), float(found[2]), found[3], found[4]


def x_screen(lab) -> np.ndarray:
    async def read() -> np.ndarray:
        socket_path = lab.vnc_socket()
        assert socket_path
        client = await RFBClient.connect_unix(socket_path, raw=True)
        try:
            full = client.width * client.height
            for _ in range(200):
                if sum(u.area for u in client.stats.updates) >= full:
                    break
                await asyncio.sleep(0.02)
            assert client.fb is not None
            return client.fb[:, :, :3].copy()
        finally:
            await client.close()

    # Playwright's sync API runs an event loop in this thread: read in another one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(read())).result(timeout=30)


def canvas_rgb(page) -> np.ndarray:
    from PIL import Image

    url = page.evaluate(
        "document.querySelector('#jp-NapariDesktop-root canvas').toDataURL('image/png')"
    )
    raw = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


def exact_but_cursor(canvas: np.ndarray, screen: np.ndarray) -> bool:
    """The canvas is the X screen, pixel for pixel, but for one cursor-sized spot (the Raw
    client's copy has the X cursor drawn in; noVNC draws its own cursor outside the canvas)."""
    assert canvas.shape == screen.shape, (canvas.shape, screen.shape)
    ys, xs = np.nonzero(np.any(canvas != screen, axis=2))
    return len(ys) == 0 or (ys.max() - ys.min() < 40 and xs.max() - xs.min() < 40)


def test_stats_overlay_follows_napari_and_the_still_picture_is_exact(context, lab, artifacts):
    code, status = lab.request("POST", "napari-desktop/api/start", {"app": "desktop"})
    assert code == 200, status
    # Only the player's napari on screen (a covered window sends no updates).
    for pid in lab.desktop_pids():
        if any(w.endswith(("napari_helper.py", "/napari")) for w in procs.cmdline(pid)[1:3]):
            procs.stop_tree(pid, 5)
    player = procs.start_logged(
        [sys.executable, "-c", PLAYER], artifacts / "stats-player.log", env=lab.x_env()
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
