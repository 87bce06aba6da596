"""What a person does in napari's tab, in Firefox ESR and in WebKit (each test runs once per
engine): the napari card draws the test pattern, typed text renames a layer character for
character, the wheel zooms napari, a dropped file opens as a layer, the remote screen
follows the window, and the clipboard goes both ways as far as the engine allows.

What is asserted is what a person sees (canvas pixels, the page's text) or napari's state
read back through the package's REST API; screenshots go to artifacts/engines/."""

from __future__ import annotations

import re
import subprocess
import urllib.parse

import pytest

from tests.support.pages import (
    SELECTED_LAYER_ROW as ROW,
)
from tests.support.pages import (
    drop_expression,
    name_editor_open,
    selected_layer_row,
    wait_napari_fills,
    x_screen_size,
)
from tests.support.pattern import png_colour_shares, write_tiff
from tests.support.procs import stop_tree
from tests.support.waiting import wait_for

CANVAS = "#jp-NapariDesktop-root canvas"
CLIPBOARD_TOGGLE = "[aria-controls='jp-NapariDesktop-clipboard']"
# Typed into a layer name: German and French letters, the AltGr characters of both
# layouts, and what dead keys make on them.
TYPED = "Zellkern_äöüß€@{}[]|~éèçà"


def canvas_point(tab, x: float, y: float) -> tuple[float, float]:
    """A point of the canvas's pixels as viewport coordinates (CSS pixels)."""
    box = tab.box(CANVAS)
    size = tab.evaluate(
        "(() => { const c = document.querySelector('#jp-NapariDesktop-root canvas');"
        " return [c.width, c.height]; })()"
    )
    return box["x"] + x * box["width"] / size[0], box["y"] + y * box["height"] / size[1]


def rename_layer(tab, lab, name: str, text: str, artifacts) -> None:
    """Click the layer's name in napari's layer list, F2, type, Enter."""
    before = lab.layer_names()
    code, answer = lab.request("PUT", "napari-desktop/api/viewer", {"selected": [name]})
    assert code == 200, answer
    png = wait_for(
        lambda: (
            (png := tab.screenshot(CANVAS))
            and png_colour_shares(png, {"row": ROW})["row"] > 0.005
            and png
        ),
        10,
        "the selected layer's row drawn",
        0.25,
    )
    (artifacts / f"{tab.name}-before-rename.png").write_bytes(png)
    x, y = selected_layer_row(png)
    # A click on the name, then F2 (Qt's key to edit an item): a double-click through VNC
    # opens the editor only now and then once the window manager runs.
    tab.click_at(*canvas_point(tab, x, y))
    clicked = tab.screenshot(CANVAS)
    tab.press("F2")
    try:
        wait_for(lambda: name_editor_open(clicked, tab.screenshot(CANVAS), x, y), 10, "", 0.2)
    except AssertionError:
        (artifacts / f"{tab.name}-no-editor.png").write_bytes(tab.screenshot(CANVAS))
        raise AssertionError("a click on the layer's name and F2 opened no name editor") from None
    tab.type(text)
    (artifacts / f"{tab.name}-typed.png").write_bytes(tab.screenshot(CANVAS))
    tab.press("Enter")
    wait_for(lambda: lab.layer_names() != before, 20, f"napari's layer renamed (was {before})")


def restore_name(lab, name: str, original: str = "pattern") -> None:
    code, answer = lab.request(
        "PUT",
        f"napari-desktop/api/layers/{urllib.parse.quote(name, safe='')}",
        {"props": {"name": original}},
    )
    assert code == 200, answer


def test_the_napari_card_draws_the_test_pattern(napari_tab, engine_artifacts):
    def drawn():
        png = napari_tab.screenshot(CANVAS)
        return png if min(png_colour_shares(png).values()) > 0.02 else None

    png = wait_for(drawn, 90, "napari's test pattern on the canvas", 0.5)
    (engine_artifacts / f"{napari_tab.name}-napari-card.png").write_bytes(png)


def test_typed_text_renames_a_layer_character_for_character(napari_tab, lab, engine_artifacts):
    rename_layer(napari_tab, lab, "pattern", TYPED, engine_artifacts)
    names = lab.layer_names()
    (engine_artifacts / f"{napari_tab.name}-renamed.png").write_bytes(napari_tab.screenshot())
    try:
        assert names == [TYPED], f"typed {TYPED!r}, napari named the layer {names}"
    finally:
        restore_name(lab, names[0])


def test_the_wheel_zooms_napari(napari_tab, lab):
    lab.request("PUT", "napari-desktop/api/viewer", {"reset_view": True})
    before = lab.viewer()["camera"]["zoom"]
    box = napari_tab.box(CANVAS)
    # Over napari's canvas: the right half of the screen (the layer dock is on the left).
    x, y = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5
    for _ in range(3):
        napari_tab.wheel(x, y, -200)
    zoom = wait_for(
        lambda: (z := lab.viewer()["camera"]["zoom"]) > before * 1.05 and z,
        20,
        f"napari's camera to zoom in from {before}",
    )
    print(f"{napari_tab.name}: wheel up, zoom {before:.3f} -> {zoom:.3f}")
    lab.request("PUT", "napari-desktop/api/viewer", {"reset_view": True})


def test_a_dropped_file_opens_as_a_layer(napari_tab, lab, tmp_path):
    name = f"dropped in {napari_tab.name}.tif"
    data = write_tiff(tmp_path / name, (255, 0, 255), (0, 255, 255)).read_bytes()
    napari_tab.evaluate(drop_expression(name, data))
    napari_tab.wait_for(
        "window.napariDesktop.uploads.length >= 1", 120, "the dropped file's upload to end"
    )
    [result] = napari_tab.evaluate("window.napariDesktop.uploads")
    assert result["status"] == "uploaded", result
    assert (lab.root / name).read_bytes() == data
    layer = name.removesuffix(".tif")
    wait_for(lambda: layer in lab.layer_names(), 120, f"{layer!r} in napari's layers")
    code, answer = lab.request(
        "DELETE", f"napari-desktop/api/layers/{urllib.parse.quote(layer, safe='')}"
    )
    assert code == 200, answer


def test_the_remote_screen_follows_the_window(napari_tab, lab, engine_artifacts):
    def sizes() -> dict:
        css = napari_tab.evaluate(
            "(() => { const s = document.querySelector('.jp-NapariDesktop-screen');"
            " return [window.innerWidth, window.innerHeight, s.clientWidth, s.clientHeight];"
            " })()"
        )
        return {"window": css[:2], "screen": css[2:], "x": list(x_screen_size(lab))}

    for width, height in ((1000, 700), (1280, 800)):
        napari_tab.resize(width, height)
        try:
            now = wait_for(
                lambda w=width: (
                    (now := sizes())["window"][0] == w and now["x"] == now["screen"] and now
                ),
                30,
                f"the X screen to follow a {width}x{height} window",
                0.25,
            )
        except AssertionError as error:
            resize = napari_tab.evaluate("window.napariDesktop.resize()")
            xvnc = [
                line
                for line in lab.desktop_log(20000).splitlines()
                if re.search(r"resize|layout|fail", line, re.IGNORECASE)
            ]
            raise AssertionError(
                f"{error}: {sizes()}, the page's resizes: {resize}, the desktop log: {xvnc[-10:]}"
            ) from None
        print(f"{napari_tab.name}: {now}")
    # The window manager maximizes napari again a moment after the X screen changed.
    wait_napari_fills(lab, 30, "napari's window to follow")
    (engine_artifacts / f"{napari_tab.name}-resized.png").write_bytes(napari_tab.screenshot())


@pytest.fixture
def x_clipboard(lab):
    """Put text on the desktop's X clipboard (xclip owns it until stopped), and read it."""
    owners: list[subprocess.Popen] = []

    class Clipboard:
        def put(self, text: str) -> None:
            owner = subprocess.Popen(
                ["xclip", "-selection", "clipboard", "-quiet", "-loops", "0"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=lab.x_env(),
            )
            assert owner.stdin is not None
            owner.stdin.write(text.encode())
            owner.stdin.close()
            owners.append(owner)

        def get(self) -> str:
            done = subprocess.run(
                ["xclip", "-selection", "clipboard", "-o"],
                env=lab.x_env(),
                capture_output=True,
                timeout=10,
            )
            return done.stdout.decode(errors="replace") if done.returncode == 0 else ""

    yield Clipboard()
    for owner in owners:
        stop_tree(owner.pid, 3)


def test_the_clipboard_goes_both_ways(napari_tab, lab, x_clipboard, engine_artifacts):
    text_area = "#jp-NapariDesktop-clipboardText"
    # Copied in the desktop: shown in the page's clipboard panel.
    copied = f"copied in the desktop for {napari_tab.name} ü€"
    x_clipboard.put(copied)
    napari_tab.wait_for(
        f"document.querySelector('{text_area}').value === {copied!r}",
        20,
        "the desktop's clipboard in the page's panel",
    )
    # Typed into the panel: on the desktop's clipboard.
    napari_tab.click(CLIPBOARD_TOGGLE)
    napari_tab.evaluate(f"document.querySelector('{text_area}').value = ''")
    typed = f"typed in {napari_tab.name}"
    napari_tab.click(text_area)
    napari_tab.type(typed)
    wait_for(lambda: x_clipboard.get() == typed, 20, "the panel's text on the X clipboard")
    # Where the page may not read the browser's clipboard, it says so in the panel.
    note = napari_tab.evaluate(
        "(() => { const n = document.querySelector('.jp-NapariDesktop-clipboardNote');"
        " return n && !n.hidden ? n.textContent : ''; })()"
    )
    (engine_artifacts / f"{napari_tab.name}-clipboard.png").write_bytes(napari_tab.screenshot())
    assert "paste" in note.lower(), f"no note on reading the clipboard: {note!r}"
    print(f"{napari_tab.name}: clipboard note {note!r}")
    napari_tab.click(CLIPBOARD_TOGGLE)
