"""A Retina laptop in Firefox and in Safari's engine (devicePixelRatio 2): the page asks
for a screen of device pixels and tells the desktop its scale, and napari draws at scale 2
(supervisor/xsettings.py), so it keeps its size and is sharp (tests/browser/test_hidpi.py
measures napari's layer panel on the picture in Chromium). Switching the page's Screen
setting to "light" gives CSS pixels and napari at scale 1, live. Firefox gets the ratio from
its layout.css.devPixelsPerPx setting, WebKitGTK from GDK_SCALE=2."""

from __future__ import annotations

import pytest

from tests.engines.conftest import running_engine
from tests.support.pages import wait_napari_fills, x_screen_size
from tests.support.pattern import png_colour_shares
from tests.support.waiting import wait_for

CANVAS = "#jp-NapariDesktop-root canvas"
SCREEN = (
    "(() => { const s = document.querySelector('.jp-NapariDesktop-screen');"
    " return [s.clientWidth, s.clientHeight]; })()"
)


@pytest.fixture(scope="module", params=["firefox", "webkit"])
def retina(request, engine_artifacts):
    yield from running_engine(request.param, engine_artifacts, scale=2)


def napari_scale(lab) -> float:
    code, status = lab.request("GET", "napari-desktop/api/status")
    assert code == 200, status
    return status["napari"]["scale"]


def drawn_at(engine, lab, scale: int) -> None:
    """The X screen is the page's CSS size x ``scale`` and napari draws at ``scale``."""
    css = engine.evaluate(SCREEN)
    want = (int(css[0] * scale), int(css[1] * scale))
    wait_for(lambda: x_screen_size(lab) == want, 30, f"an X screen of {want}", 0.25)
    wait_for(lambda: napari_scale(lab) == scale, 30, f"napari at scale {scale}", 0.25)


def test_napari_draws_at_the_retina_screens_scale(retina, lab, engine_artifacts):
    retina.goto(f"{lab.url}napari-desktop/?app=napari&token={lab.token}")
    retina.wait_for(
        "window.napariDesktop && window.napariDesktop.state === 'connected'", 90, "connected"
    )
    assert retina.evaluate("window.devicePixelRatio") == 2
    drawn_at(retina, lab, 2)
    assert retina.evaluate("window.napariDesktop.remoteScale") == 2
    # As a person sees it: napari fills the ratio-2 screen and its canvas shows the pattern
    # (the window manager maximizes napari some seconds after it starts).
    wait_napari_fills(lab, 60)

    def drawn():
        png = retina.screenshot(CANVAS)
        return png if min(png_colour_shares(png).values()) > 0.02 else None

    wait_for(drawn, 60, "napari's test pattern on the canvas at ratio 2", 0.5)
    (engine_artifacts / f"{retina.name}-hidpi-crisp.png").write_bytes(retina.screenshot())
    retina.evaluate(
        "(() => { const s = document.querySelector('#jp-NapariDesktop-hidpi');"
        " s.value = 'light'; s.dispatchEvent(new Event('change')); return true; })()"
    )
    drawn_at(retina, lab, 1)
