"""A laptop's trackpad and clipboard images on napari, in Chromium.

A trackpad sends many small wheel events (a few CSS pixels each) and a pinch sends them with
ctrlKey set. The RFB protocol carries only whole wheel clicks, so the page (noVNC) adds the
pixels up and sends a click per 50 of them: napari must zoom in proportion to the distance
scrolled, with nothing lost in between, and a pinch must zoom napari, not the page. What
napari did is read back through the API (``GET viewer``: the camera's zoom).

An image copied on the laptop and pasted on the page (or read with "Paste image") becomes a
layer: the RFB clipboard is text only, so it travels as an upload (paste-image.ts)."""

from __future__ import annotations

import base64
import io
import math
import re

import pytest
from PIL import Image

from tests.support.desktops import pattern_desktop
from tests.support.pages import desktop_canvas, open_desktop, wait_for_colours, wait_for_pattern
from tests.support.waiting import wait_for

WHEEL_STEP = 50  # CSS pixels per wheel click (noVNC's core/rfb.js WHEEL_STEP)


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    with pattern_desktop(tmp_path_factory.mktemp("laptop")) as server:
        yield server


@pytest.fixture
def page(browser, desktop):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = open_desktop(context, desktop)
    wait_for_pattern(tab, 90)
    box = desktop_canvas(tab).bounding_box()
    # Over napari's drawing area (right of its layer panel), where the wheel zooms.
    tab.mouse.move(box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.5)
    yield tab
    context.close()


def camera_zoom(desktop) -> float:
    code, viewer = desktop.request("GET", "napari-desktop/api/viewer")
    assert code == 200, viewer
    return float(viewer["camera"]["zoom"])


def settled_zoom(desktop, before: float) -> float:
    """napari's zoom once it moved away from ``before`` and stayed for two reads."""
    reads: list[float] = []

    def settled():
        reads.append(camera_zoom(desktop))
        return len(reads) > 2 and reads[-1] == reads[-2] != before and reads[-1]

    return wait_for(settled, 30, "napari's zoom to change and settle", 0.3)


def reset_view(desktop) -> float:
    code, viewer = desktop.request("PUT", "napari-desktop/api/viewer", {"reset_view": True})
    assert code == 200, viewer
    return float(viewer["camera"]["zoom"])


def test_trackpad_scrolling_zooms_in_proportion_and_loses_nothing(page, desktop):
    start = reset_view(desktop)
    page.mouse.wheel(0, WHEEL_STEP)  # one click, as from a mouse wheel
    one = settled_zoom(desktop, start)
    click = one / start
    assert click < 1, f"scrolling down should zoom out: {start} -> {one}"
    # A two-finger scroll: 80 events of 5 CSS pixels (400 pixels: 8 clicks).
    for _ in range(80):
        page.mouse.wheel(0, 5)
    after = settled_zoom(desktop, one)
    clicks = round(math.log(after / one) / math.log(click))
    assert clicks == 8, f"400 px in 5 px steps gave {clicks} clicks (zoom {one} -> {after})"
    # And back: the same distance up (9 clicks, the first one's too) returns to the start.
    for _ in range(90):
        page.mouse.wheel(0, -5)
    back = settled_zoom(desktop, after)
    assert abs(back / start - 1) < 0.02, (start, back)


def test_a_pinch_zooms_napari_not_the_page(page, desktop):
    start = reset_view(desktop)
    cdp = page.context.new_cdp_session(page)
    box = desktop_canvas(page).bounding_box()
    x, y = box["x"] + box["width"] * 0.65, box["y"] + box["height"] * 0.5
    for _ in range(60):  # a pinch out on a Mac trackpad: ctrlKey wheel events, small deltas
        cdp.send(
            "Input.dispatchMouseEvent",
            {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": -3, "modifiers": 2},
        )
    zoomed = settled_zoom(desktop, start)
    assert zoomed > start * 1.2, f"a pinch out should zoom napari in: {start} -> {zoomed}"
    page_zoom = page.evaluate("() => [window.visualViewport.scale, window.devicePixelRatio]")
    assert page_zoom == [1, 1], f"the page itself zoomed: {page_zoom}"


MAGENTA = (255, 0, 255)
WRITE_IMAGE = """async b64 => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const blob = new Blob([bytes], { type: 'image/png' });
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': blob })]);
}"""


def magenta_png() -> str:
    image = Image.new("RGB", (96, 64), MAGENTA)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def layer_names(desktop) -> list[str]:
    code, answer = desktop.request("GET", "napari-desktop/api/layers")
    assert code == 200, answer
    return [layer["name"] for layer in answer["layers"]]


def clipboard_layer(desktop, before: list[str]) -> str:
    def new_layer():
        added = [n for n in layer_names(desktop) if n not in before]
        return added[0] if added else None

    name = wait_for(new_layer, 60, "a layer from the clipboard's image")
    assert re.fullmatch(r"clipboard-\d{8}-\d{6}", name), name
    return name


@pytest.fixture
def clipboard_page(browser, desktop):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, permissions=["clipboard-read", "clipboard-write"]
    )
    tab = open_desktop(context, desktop)
    yield tab
    context.close()


def test_an_image_pasted_into_the_clipboard_panel_opens_in_napari(clipboard_page, desktop):
    page, before = clipboard_page, layer_names(desktop)
    page.evaluate(WRITE_IMAGE, magenta_png())
    page.click("text=Clipboard")
    page.focus("#jp-NapariDesktop-clipboardText")
    page.keyboard.press("Control+V")  # the browser's own paste, with the image in it
    name = clipboard_layer(desktop, before)
    wait_for_colours(desktop_canvas(page), [MAGENTA], 60, minimum=0.005)
    assert page.input_value("#jp-NapariDesktop-clipboardText") == ""  # not sent as text
    desktop.request("DELETE", f"napari-desktop/api/layers/{name}")


def test_the_paste_image_button_reads_the_clipboard(clipboard_page, desktop):
    page, before = clipboard_page, layer_names(desktop)
    page.evaluate(WRITE_IMAGE, magenta_png())
    page.click("text=Clipboard")
    page.click("#jp-NapariDesktop-pasteImage")
    name = clipboard_layer(desktop, before)
    uploaded = desktop.root / f"{name}.png"
    assert uploaded.exists() and Image.open(uploaded).getpixel((5, 5))[:3] == MAGENTA
    desktop.request("DELETE", f"napari-desktop/api/layers/{name}")


def test_without_permission_the_page_says_how_to_paste(browser, desktop):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = open_desktop(context, desktop)
        before = layer_names(desktop)
        page.click("text=Clipboard")
        page.click("#jp-NapariDesktop-pasteImage")
        notice = page.locator(".jp-NapariDesktop-notice")
        notice.wait_for(state="visible", timeout=30_000)
        assert "Paste it into the Clipboard panel" in notice.inner_text()
        assert layer_names(desktop) == before
    finally:
        context.close()
