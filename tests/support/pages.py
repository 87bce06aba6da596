"""What a person does on JupyterLab's and the desktop's pages, for every layer that drives a
browser (browser, hub, images): open Lab, click a launcher card, wait for napari's picture."""

from __future__ import annotations

import base64
import re
import subprocess
import time
from collections.abc import Sequence
from typing import Optional

from tests.support.pattern import QUADRANTS, png_colour_shares


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


def drop(page, name: str, data: bytes) -> None:
    """What a file manager's drop does: a drop event with the file in its DataTransfer."""
    page.evaluate(
        """([name, b64]) => {
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
        }""",
        [name, base64.b64encode(data).decode("ascii")],
    )


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


def x_screen_size(desktop) -> tuple[int, int]:
    """The X screen's size in pixels, as xwininfo reads it on the desktop's display."""
    out = subprocess.run(
        ["xwininfo", "-root"], env=desktop.x_env(), capture_output=True, text=True, check=True
    ).stdout
    width = re.search(r"Width: (\d+)", out)
    height = re.search(r"Height: (\d+)", out)
    assert width and height, out
    return int(width.group(1)), int(height.group(1))
