"""What a person does on JupyterLab's and the desktop's pages, for every layer that drives a
browser (browser, hub, images): open Lab, click a launcher card, wait for napari's picture."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np
from PIL import Image

from tests.support.pattern import QUADRANTS, png_colour_shares
from tests.support.rfb import RFBClient
from tests.support.waiting import run_async, wait_for


def open_lab(context, lab, wait_for_status_item: bool = True):
    """JupyterLab with the token, once the launcher (and our status bar item) is there.

    ``reset`` starts from an empty workspace, so a tab an earlier test left open (a
    notebook) does not hide the launcher: tests do not depend on their order."""
    page = context.new_page()
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    if wait_for_status_item:
        page.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=30_000)
    return page


# napari plays a noise stack as fast as it can (its own dims animation).
PLAYER = """
import signal
import numpy as np, napari
from qtpy.QtCore import QTimer
viewer = napari.Viewer(title="noise player")
viewer.add_image(STACK)
viewer.window._qt_window.showMaximized()
step = lambda: viewer.dims.set_current_step(0, (viewer.dims.current_step[0] + 1) % 30)
timer = QTimer()
timer.timeout.connect(step)
timer.start(33)
signal.signal(signal.SIGUSR1, lambda *_: timer.stop())  # pause_player()
napari.run()
"""
# napari stepping through planes of noise (what no lossy picture draws exactly), 30 a second.
NOISE_PLAYER = PLAYER.replace(
    "STACK", "np.random.default_rng(1).integers(0, 255, (30, 256, 256), dtype=np.uint8)"
)
# ... of a smooth pattern (an enlarged image: the lossless bands' gradient filter's case).
SMOOTH_PLAYER = PLAYER.replace(
    "STACK",
    "(127 + 120 * np.sin(np.mgrid[0:30, 0:256, 0:256][2] / 20 + np.arange(30)[:, None, None] / 3)"
    " * np.cos(np.arange(256)[None, :, None] / 25)).astype(np.uint8)",
)


def pause_player(player) -> None:
    """NOISE_PLAYER stops stepping and leaves its last noise plane on screen: the picture a
    lossy path cannot have drawn exactly (an empty screen after napari quit would be)."""
    os.kill(player.pid, signal.SIGUSR1)


def x_screen(lab) -> np.ndarray:
    """The X screen of ``lab``'s desktop (RGB), read losslessly: a Raw client on its socket."""

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

    return run_async(read(), 30)


# Counts, in a page with the video path, the pictures handed to WebCodecs' decoder
# (``__decodes``: noVNC's H264Context) and those it gave back decoded (``__frames``). An
# init script: noVNC makes its decoders when the first H.264 picture comes.
COUNT_DECODES = """
(() => {
  window.__decodes = 0;
  window.__frames = 0;
  if (typeof VideoDecoder === 'undefined') return;
  const Original = VideoDecoder;
  window.VideoDecoder = class extends Original {
    constructor(init) {
      super({ ...init, output: (frame) => { window.__frames += 1; init.output(frame); } });
    }
  };
  const decode = Original.prototype.decode;
  Original.prototype.decode = function (chunk) {
    window.__decodes += 1;
    return decode.call(this, chunk);
  };
})();
"""
# A decoder that takes pictures and never gives one back (how some browsers freeze).
BREAK_DECODER = "VideoDecoder.prototype.decode = function () { window.__decodes += 1; };"


def break_decoder_and_see_the_page_give_up(evaluate) -> None:
    """Break the page's H.264 decoder (``evaluate``: a Playwright page's or an engine's) and
    wait until the page gives up on it: within 3 s, without the user doing anything."""
    evaluate(BREAK_DECODER)
    broken = time.monotonic()
    wait_for(
        lambda: evaluate("window.napariDesktop.videoFailed || ''"),
        10,
        "the page to give up on the decoder",
    )
    assert time.monotonic() - broken < 3


def canvas_rgb(page) -> np.ndarray:
    """The desktop page's canvas (RGB), as drawn."""
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


def wait_state(frame, state: str, timeout: float) -> None:
    """Wait until the desktop page (tab or iframe) reports ``state``."""
    frame.wait_for_function(
        "s => window.napariDesktop && window.napariDesktop.state === s",
        arg=state,
        timeout=timeout * 1000,
        polling=250,
    )


def open_desktop(context, desktop, token: Optional[str] = None, timeout: float = 90):
    """A new tab of ``context`` on the desktop's napari page (the server's token, or
    ``token``), once connected."""
    tab = context.new_page()
    tab.goto(f"{desktop.url}napari-desktop/?app=napari&token={token or desktop.token}")
    wait_state(tab, "connected", timeout)
    return tab


def desktop_x_env(lab, display: str) -> dict[str, str]:
    """DISPLAY and XAUTHORITY of the running desktop (from its Xvnc's command line)."""
    env = lab.x_env()
    assert env["DISPLAY"] == display, (env["DISPLAY"], display)
    return env


def click_card(context, page, title_part: str):
    """Click the launcher card whose tooltip contains ``title_part``; return the new tab."""
    card = page.locator(f".jp-LauncherCard[title*='{title_part}']").first
    with context.expect_page(timeout=30_000) as new_tab:
        card.click()
    tab = new_tab.value
    tab.wait_for_load_state()
    return tab


def lab_tab_frame(page, timeout: float = 60):
    """The desktop page inside JupyterLab's napari tab: an iframe whose document is the page's
    HTML as srcdoc (so its URL is about:srcdoc), the same Frame across reloads."""
    handle = page.wait_for_selector("#jp-NapariDesktop-panel iframe", timeout=timeout * 1000)
    frame = handle.content_frame()
    assert frame is not None, "the napari tab has no iframe document"
    return frame


def desktop_canvas(page_or_frame):
    """The VNC canvas of the desktop page (a tab, or a frame locator of the Lab tab)."""
    return page_or_frame.locator("#jp-NapariDesktop-root canvas").first


def wait_for_colours(
    canvas,
    colours: Optional[Sequence[tuple[int, int, int]]] = None,
    timeout: float = 90,
    minimum: float = 0.02,
) -> bytes:
    """Screenshots of ``canvas`` until every colour (default: napari's test pattern's four)
    covers ``minimum`` of it; the last screenshot."""
    named = {str(rgb): rgb for rgb in colours} if colours else QUADRANTS
    deadline = time.monotonic() + timeout
    shares: dict[str, float] = {}
    while time.monotonic() < deadline:
        png = canvas.screenshot()
        shares = png_colour_shares(png, named)
        if min(shares.values()) > minimum:
            return png
        time.sleep(0.25)
    raise AssertionError(f"colours never covered the desktop's canvas: shares {shares}")


def wait_for_pattern(tab, timeout: float) -> bytes:
    """Screenshots of the desktop page's canvas until napari's test image shows."""
    return wait_for_colours(desktop_canvas(tab), None, timeout)


def context_menu_open(page, name: str) -> None:
    """Right-click ``name`` in the file browser and choose Open in napari."""
    page.locator(".jp-DirListing-item", has_text=name).first.click(button="right")
    page.locator(".lm-Menu-item:visible", has_text="Open in napari").click()


def drop_expression(name: str, data: bytes) -> str:
    """JavaScript that does what a file manager's drop does: a drop event with the file
    in its DataTransfer, on the desktop's canvas (any engine's ``evaluate``)."""
    args = json.dumps([name, base64.b64encode(data).decode("ascii")])
    return (
        """(([name, b64]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: 'image/tiff' }));
            const target = document.querySelector('#jp-NapariDesktop-root canvas')
                ?? document.body;
            for (const type of ['dragenter', 'dragover', 'drop']) {
                target.dispatchEvent(new DragEvent(type, {
                    dataTransfer: transfer, bubbles: true, cancelable: true
                }));
            }
            return true;
        })("""
        + args
        + ")"
    )


def drop(page, name: str, data: bytes) -> None:
    """Drop the file ``name`` with ``data`` on the desktop page (Playwright)."""
    page.evaluate(drop_expression(name, data))


def uploads(page) -> list[dict]:
    """The desktop page's uploads so far, as its handle reports them."""
    return page.evaluate("() => window.napariDesktop.uploads")


def wait_uploads(page, count: int, timeout: float = 120) -> list[dict]:
    """The page's uploads, once ``count`` of them have ended (uploaded or not)."""
    page.wait_for_function(
        "n => window.napariDesktop.uploads.length >= n",
        arg=count,
        timeout=timeout * 1000,
        polling=100,
    )
    return uploads(page)


def x_screen_size(lab) -> tuple[int, int]:
    """The desktop's X screen size, as xwininfo reads it on its display."""
    out = subprocess.run(
        ["xwininfo", "-root"], env=lab.x_env(), capture_output=True, text=True, check=True
    ).stdout
    width = re.search(r"Width: (\d+)", out)
    height = re.search(r"Height: (\d+)", out)
    assert width and height, out
    return int(width.group(1)), int(height.group(1))


# napari's main window in `xwininfo -root -tree`: its WM_CLASS is napari_helper.py's. Qt
# also makes a 1x1 window named "napari" (no class), which `xwininfo -name napari` finds
# instead where it is higher in the stacking order.
NAPARI_WINDOW = re.compile(
    r'^\s*(0x[0-9a-f]+) "napari": \("napari_helper.py" "napari"\)\s+(\d+)x(\d+)'
)


def napari_window(env: dict[str, str]) -> tuple[int, int, int] | None:
    """(id, width, height) of napari's main window on the X server of ``env``, or None."""
    done = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True, timeout=10
    )
    for line in done.stdout.splitlines():
        found = NAPARI_WINDOW.match(line)
        if found:
            return int(found[1], 16), int(found[2]), int(found[3])
    return None


def napari_fills_the_screen(desktop) -> bool:
    """napari's (maximized) window follows the X screen's new size: it fills the screen
    and is not bigger than it (after a scale change a window manager kept napari at the
    old screen's size, napari_helper.size_hints_again)."""
    window = napari_window(desktop.x_env())
    if window is None:
        return False
    screen = x_screen_size(desktop)
    _, width, height = window
    return 0.9 * screen[0] <= width <= screen[0] and 0.8 * screen[1] <= height <= screen[1]


def napari_window_report(desktop) -> str:
    """What a failed wait for napari's window shows: the X screen, napari's top-level
    windows with their geometry and window-manager state, and the supervisor's notes."""
    env = desktop.x_env()

    def run(*argv: str) -> str:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=10)
        return done.stdout + done.stderr

    tree = [line.strip() for line in run("xwininfo", "-root", "-tree").splitlines()]
    windows = [line for line in tree if '"napari' in line]
    window = napari_window(env)
    state = (
        run("xprop", "-id", hex(window[0]), "_NET_WM_STATE", "WM_STATE", "_NET_FRAME_EXTENTS")
        if window
        else "no main window"
    )
    notes = [
        line
        for line in desktop.desktop_log(20000).splitlines()
        if "supervisor" in line or "[napari-desktop]" in line
    ]
    return (
        f"X screen {x_screen_size(desktop)}; napari's windows: {windows}; "
        f"its state: {state.strip()}; desktop notes: {notes[-15:]}"
    )


def wait_napari_fills(desktop, timeout: float, what: str = "napari to fill the screen") -> None:
    """Until napari_fills_the_screen; at the deadline an AssertionError that says what
    napari's window was (napari_window_report)."""
    try:
        wait_for(lambda: napari_fills_the_screen(desktop), timeout, what, 0.25)
    except AssertionError as error:
        raise AssertionError(f"{error}: {napari_window_report(desktop)}") from None


def xfce_sizes(desktop) -> tuple[int, int]:
    """(the XFCE panel's height, napari's title bar's height) in the desktop's X pixels, as
    xwininfo and xprop read them; 0 for what is not there (yet)."""
    env = desktop.x_env()
    panel = subprocess.run(
        ["xwininfo", "-name", "xfce4-panel"], env=env, capture_output=True, text=True
    ).stdout
    height = re.search(r"Height: (\d+)", panel)
    window = napari_window(env)
    frame = (
        subprocess.run(
            ["xprop", "-id", hex(window[0]), "_NET_FRAME_EXTENTS"],
            env=env,
            capture_output=True,
            text=True,
        ).stdout
        if window
        else ""
    )
    extents = re.search(r"= (\d+), (\d+), (\d+), (\d+)", frame)
    return (int(height.group(1)) if height else 0, int(extents.group(3)) if extents else 0)


# [width, height] of the desktop page's screen element (CSS pixels), for any engine.
SCREEN_SIZE = (
    "(() => { const s = document.querySelector('.jp-NapariDesktop-screen');"
    " return [s.clientWidth, s.clientHeight]; })()"
)


def wait_napari_settled(lab, screen_size, timeout: float = 60) -> None:
    """Until the X screen is the page's screen size (``screen_size()``: [width, height] of
    the page's screen element) and napari's window fills it: where napari's widgets are
    is then fixed (the window manager maximizes napari up to 15 s after it starts)."""

    def settled() -> bool:
        return list(x_screen_size(lab)) == list(screen_size()) and napari_fills_the_screen(lab)

    try:
        wait_for(settled, timeout, "napari's window filling a screen of the page's size", 0.25)
    except AssertionError as error:
        sizes = f"page's screen {list(screen_size())}"
        raise AssertionError(f"{error}: {sizes}; {napari_window_report(lab)}") from None


# napari's dark theme draws the selected row of its layer list in this blue (a little
# lighter under the pointer).
SELECTED_LAYER_ROW = (71, 96, 197)


def _selection_blue(png: bytes):
    """Per pixel of napari's left dock (the left third of a desktop screenshot): whether it
    is the selected row's blue, hovered or not."""
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    dock = rgb[:, : rgb.shape[1] // 3]
    return (dock[..., 2] > 170) & (dock[..., 2] - dock[..., 0] > 90) & (dock[..., 1] < 130)


def selected_layer_row(png: bytes) -> tuple[int, int]:
    """Where napari's layer list shows the selected layer's name in a screenshot of the
    desktop (pixels of the screenshot): the middle of the widest run of the selection's
    blue in napari's left dock (the tool buttons in that blue are narrower)."""
    import numpy as np

    blue = _selection_blue(png)
    widths = blue.sum(axis=1)
    y = int(widths.argmax())
    assert widths[y] > 100, f"no selected layer row in napari's layer list (widest {widths[y]} px)"
    xs = np.flatnonzero(blue[y])
    return int((xs[0] + xs[-1]) // 2), y


def name_editor_open(before: bytes, after: bytes, x: int, y: int) -> bool:
    """Whether the name at (``x``, ``y``) of napari's layer list changed from ``before`` to
    ``after`` (both taken with the pointer in the same place): its editor opened over it."""
    import io

    import numpy as np
    from PIL import Image

    boxes = []
    for png in (before, after):
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        boxes.append(rgb[max(0, y - 6) : y + 6, max(0, x - 60) : x + 60])
    return int((np.abs(boxes[0] - boxes[1]).sum(axis=2) > 60).sum()) > 50


def layer_panel_width(png: bytes, dpr: float) -> Optional[float]:
    """CSS pixels from the canvas's left edge to napari's drawing area, read on a row through
    the layer list: napari's panels are dark grey, its drawing area black (0, 0, 0) until
    the test image. The first run of black at least 20 CSS pixels long starts the canvas."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    y = int(height * 0.62)
    run_needed = int(20 * dpr)
    run = 0
    for x in range(width):
        if image.getpixel((x, y)) == (0, 0, 0):
            run += 1
            if run >= run_needed:
                return (x - run + 1) / dpr
        else:
            run = 0
    return None
