"""Keyboards that are not US reach napari as the person typed: the key events a German
(QWERTZ) and a French (AZERTY) keyboard give Chromium on Linux, sent through CDP
(tests/support/keyboards.py), rename a layer character for character (accents, umlauts,
ß, €, AltGr characters, dead keys), and napari's shortcuts follow the letters on the keys:
on QWERTZ, Ctrl and the key labelled Y toggle napari's 3D view, the key labelled Z does
not. The name and the view are read back through the package's REST API."""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import pytest

from tests.support import keyboards
from tests.support.jupyter import JupyterServer
from tests.support.pages import (
    SCREEN_SIZE,
    SELECTED_LAYER_ROW,
    name_editor_open,
    selected_layer_row,
    wait_napari_settled,
    wait_state,
)
from tests.support.pattern import CHROMIUM, png_colour_shares, write_pattern
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

CANVAS = "#jp-NapariDesktop-root canvas"
GERMAN_PART, FRENCH_PART = "Zellkern_äöüß€@{}[]|~éè", "çà"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    tmp = tmp_path_factory.mktemp("keyboard")
    pattern = write_pattern(tmp / "pattern.png")
    server = JupyterServer(
        tmp, {"session": "minimal", "napari_args": [str(pattern)], "geometry": "1280x800"}
    )
    server.start(timeout=120)
    yield server
    server.stop_all()


@pytest.fixture
def tab(browser, desktop):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{desktop.url}napari-desktop/?app=napari&token={desktop.token}")
    wait_state(page, "connected", 90)
    wait_for(lambda: "pattern" in desktop.layer_names(), 90, "napari with the test pattern")
    wait_napari_settled(desktop, lambda: page.evaluate(SCREEN_SIZE))
    yield page
    context.close()


def send(page, events: list[dict]) -> None:
    cdp = page.context.new_cdp_session(page)
    for event in events:
        cdp.send("Input.dispatchKeyEvent", event)
    cdp.detach()


def click_canvas_pixel(page, x: int, y: int) -> None:
    """Click the desktop at pixel (x, y) of its canvas (ratio 1: pixels are CSS pixels)."""
    box = page.locator(CANVAS).first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    page.wait_for_timeout(30)
    page.mouse.up()


def test_german_and_french_typing_renames_a_layer(tab, desktop, artifacts):
    code, answer = desktop.request("PUT", "napari-desktop/api/viewer", {"selected": ["pattern"]})
    assert code == 200, answer
    canvas = tab.locator(CANVAS).first
    png = wait_for(
        lambda: (
            (png := canvas.screenshot())
            and png_colour_shares(png, {"row": SELECTED_LAYER_ROW})["row"] > 0.005
            and png
        ),
        10,
        "the selected layer's row drawn",
        0.25,
    )
    x, y = selected_layer_row(png)
    click_canvas_pixel(tab, x, y)  # the name, then F2 (Qt's key to edit an item)
    clicked = canvas.screenshot()
    tab.keyboard.press("F2")
    wait_for(
        lambda: name_editor_open(clicked, canvas.screenshot(), x, y),
        10,
        "napari's layer name editor open",
        0.2,
    )
    send(tab, keyboards.typing(GERMAN_PART, "de"))
    send(tab, keyboards.typing(FRENCH_PART, "fr"))
    tab.keyboard.press("Enter")
    wanted = GERMAN_PART + FRENCH_PART
    try:
        names = wait_for(
            lambda: (names := desktop.layer_names()) != ["pattern"] and names,
            20,
            "napari's layer renamed",
        )
        canvas.screenshot(path=str(artifacts / "keyboard-de-fr-renamed.png"))
        assert names == [wanted], f"typed {wanted!r} on de/fr keyboards, napari got {names}"
    finally:
        for name in desktop.layer_names():
            desktop.request(
                "PUT",
                f"napari-desktop/api/layers/{urllib.parse.quote(name, safe='')}",
                {"props": {"name": "pattern"}},
            )


def test_german_shortcuts_follow_the_letters_on_the_keys(tab, desktop):
    def ndisplay() -> int:
        return int(desktop.viewer()["dims"]["ndisplay"])

    assert ndisplay() == 2
    box = tab.locator(CANVAS).first.bounding_box()
    assert box is not None
    click_canvas_pixel(tab, int(box["width"] * 0.7), int(box["height"] * 0.5))
    # Ctrl + the key labelled Z on QWERTZ (where US keyboards have Y): undo, not 3D.
    send(tab, keyboards.shortcut("z", "de"))
    # Ctrl + the key labelled Y (where US keyboards have Z): napari's 2D/3D toggle.
    send(tab, keyboards.shortcut("y", "de"))
    wait_for(lambda: ndisplay() == 3, 20, "napari's 3D view after Ctrl+Y on QWERTZ")
    send(tab, keyboards.shortcut("y", "de"))
    wait_for(lambda: ndisplay() == 2, 20, "napari's 2D view after Ctrl+Y again")
    # The Ctrl+Z before did not toggle: had it done so, the view would be 2D after the first
    # Ctrl+Y. Once more on its own, now in 2D: it stays 2D.
    send(tab, keyboards.shortcut("z", "de"))
    with pytest.raises(AssertionError):
        wait_for(lambda: ndisplay() == 3, 3, "no 3D view after Ctrl+Z on QWERTZ")
