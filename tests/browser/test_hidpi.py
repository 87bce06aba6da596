"""A HiDPI laptop (devicePixelRatio 2, a MacBook): the page asks for a screen of device
pixels ("crisp", the default) and the desktop draws napari at the same scale
(supervisor/xsettings.py), so napari's interface has its ratio-1 size in CSS pixels and is
sharp. Measured on what a person sees: the width of napari's layer panel in the page's
screenshot, at ratio 1 and 2, and napari's own scale read through the API."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support.desktops import pattern_desktop
from tests.support.pages import (
    layer_panel_width,
    open_desktop,
    wait_for_pattern,
    wait_napari_fills,
    x_screen_size,
    xfce_sizes,
)
from tests.support.pattern import png_colour_shares
from tests.support.waiting import wait_for

CANVAS = "#jp-NapariDesktop-root canvas"
WINDOW = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    with pattern_desktop(tmp_path_factory.mktemp("hidpi"), {"session": "xfce"}) as server:
        yield server


def drawn_everywhere(page) -> bool:
    """No part of the canvas is left blank (white) after the screen grew: the new area
    came from the desktop."""
    white = png_colour_shares(page.locator(CANVAS).first.screenshot(), {"w": (255, 255, 255)})
    return white["w"] < 0.01


def screen_and_canvas(page) -> dict:
    return page.evaluate(
        """() => {
            const screen = document.querySelector('.jp-NapariDesktop-screen');
            const canvas = document.querySelector('#jp-NapariDesktop-root canvas');
            const box = canvas.getBoundingClientRect();
            return {
                css: [screen.clientWidth, screen.clientHeight],
                canvas: [canvas.width, canvas.height],
                shown: [Math.round(box.width), Math.round(box.height)],
                dpr: window.devicePixelRatio,
            };
        }"""
    )


def wait_screen(page, desktop, scale: float) -> dict:
    """Until the X screen and the canvas are the page's CSS size x ``scale``."""

    def matches():
        sizes = screen_and_canvas(page)
        want = [int(n * scale) for n in sizes["css"]]
        sizes["x"] = list(x_screen_size(desktop))
        return sizes if sizes["x"] == want and sizes["canvas"] == want else None

    try:
        return wait_for(matches, 30, f"a remote screen of CSS size x {scale}", 0.25)
    except AssertionError:
        sizes = (
            f"{screen_and_canvas(page)}, X screen {x_screen_size(desktop)}, "
            f"the page's resizes: {page.evaluate('() => window.napariDesktop.resize()')}"
        )
        raise AssertionError(f"no remote screen of CSS size x {scale}: {sizes}") from None


def napari_scale(desktop) -> float:
    code, status = desktop.request("GET", "napari-desktop/api/status")
    assert code == 200, status
    return status["napari"]["scale"]


def xfce_at(desktop, dpr: int) -> tuple[int, int]:
    """XFCE's panel height and napari's title bar height (X pixels) once the panel has about
    the height of the package's default panel (26, and its 1-pixel border) times ``dpr``."""
    want = 26 * dpr

    def sized():
        sizes = xfce_sizes(desktop)
        return sizes if want <= sizes[0] <= want + 2 and sizes[1] else None

    try:
        return wait_for(sized, 60, f"XFCE's panel {want} pixels high")
    except AssertionError:
        found = xfce_sizes(desktop)
        raise AssertionError(f"XFCE's panel and napari's title bar: {found}") from None


def panel_width_at(browser, desktop, dpr: int, artifacts: Path) -> tuple[float, tuple]:
    """Open the page at ``dpr``; napari's layer panel width in CSS pixels once drawn, and
    XFCE's panel and title bar heights (xfce_at)."""
    context = browser.new_context(viewport=WINDOW, device_scale_factor=dpr)
    try:
        page = open_desktop(context, desktop)
        sizes = wait_screen(page, desktop, dpr)
        assert sizes["shown"] == sizes["css"], sizes  # shown at the window's size
        wait_for(lambda: napari_scale(desktop) == dpr, 30, f"napari at scale {dpr}")
        xfce = xfce_at(desktop, dpr)
        wait_napari_fills(desktop, 30, "napari's window to follow")
        wait_for(lambda: drawn_everywhere(page), 30, "the whole canvas drawn", 0.25)
        wait_for_pattern(page, 60)
        page.screenshot(path=str(artifacts / f"hidpi-page-ratio-{dpr}.png"))
        canvas = page.locator(CANVAS).first
        png = canvas.screenshot()
        (artifacts / f"hidpi-ratio-{dpr}.png").write_bytes(png)
        # Drawn in device pixels: the screenshot has dpr x the CSS size.
        assert Image.open(io.BytesIO(png)).size == tuple(int(n * dpr) for n in sizes["css"])
        width = wait_for(
            lambda: layer_panel_width(canvas.screenshot(), dpr),
            30,
            "napari's drawing area beside its layer panel",
        )
        return width, xfce
    finally:
        context.close()


def test_napari_keeps_its_size_and_is_sharp_at_ratio_2(browser, desktop, artifacts):
    """napari, and XFCE's panel and window frames (xfce_scale.py), keep their CSS size."""
    found = {dpr: panel_width_at(browser, desktop, dpr, artifacts) for dpr in (1, 2)}
    widths = {dpr: width for dpr, (width, _) in found.items()}
    bars = {dpr: xfce for dpr, (_, xfce) in found.items()}
    print(f"napari's layer panel: {widths[1]:.0f} CSS px at ratio 1, {widths[2]:.0f} at 2")
    print(f"XFCE's panel, napari's title bar: {bars[1]} X pixels at ratio 1, {bars[2]} at 2")
    assert widths[1] > 150, widths  # a real panel, not a stray black pixel run
    assert abs(widths[2] - widths[1]) <= 0.1 * widths[1], widths
    # xfwm4's Default theme at ratio 1, Default-xhdpi (twice the size) at 2.
    assert 1.8 * bars[1][1] <= bars[2][1] <= 2.2 * bars[1][1], bars


def test_light_and_crisp_switch_without_losing_a_layer(browser, desktop, artifacts):
    def layers():
        code, answer = desktop.request("GET", "napari-desktop/api/layers")
        return answer if code == 200 and answer["layers"] else None

    before = wait_for(layers, 90, "napari's test pattern as a layer")
    context = browser.new_context(viewport={"width": 1000, "height": 700}, device_scale_factor=2)
    try:
        page = open_desktop(context, desktop)
        crisp = wait_screen(page, desktop, 2)
        assert crisp["dpr"] == 2
        assert page.evaluate("() => window.napariDesktop.remoteScale") == 2
        wait_for(lambda: napari_scale(desktop) == 2, 30, "napari at scale 2")
        page.select_option("#jp-NapariDesktop-hidpi", "light")
        light = wait_screen(page, desktop, 1)
        assert light["shown"] == light["css"], light
        wait_for(lambda: napari_scale(desktop) == 1, 30, "napari at scale 1")
        wait_napari_fills(desktop, 30, "napari's window to follow")
        wait_for(lambda: drawn_everywhere(page), 30, "the whole canvas drawn", 0.25)
        wait_for_pattern(page, 60)
        page.screenshot(path=str(artifacts / "hidpi-light.png"))
        page.select_option("#jp-NapariDesktop-hidpi", "crisp")
        wait_screen(page, desktop, 2)
        wait_for(lambda: napari_scale(desktop) == 2, 30, "napari at scale 2 again")
        wait_napari_fills(desktop, 30, "napari's window to follow")
        wait_for(lambda: drawn_everywhere(page), 30, "the whole canvas drawn", 0.25)
        wait_for_pattern(page, 60)
        page.screenshot(path=str(artifacts / "hidpi-crisp.png"))
    finally:
        context.close()
    code, after = desktop.request("GET", "napari-desktop/api/layers")
    assert code == 200 and after["layers"] == before["layers"], after
    # At ratio 1 the screen is the CSS size and napari draws at 96 dpi, as before.
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        plain = wait_screen(open_desktop(context, desktop), desktop, 1)
        assert plain["dpr"] == 1 and plain["shown"] == plain["css"], plain
        wait_for(lambda: napari_scale(desktop) == 1, 30, "napari at scale 1")
    finally:
        context.close()
