"""JupyterLab and napari together: Open in napari from the file browser, napari from a notebook.

Everything runs for real: JupyterLab and the server extension, Xvnc, XFCE, napari, a
Python kernel. What is asserted is what a person sees: the layer in napari's canvas on
the desktop page, the notification and dialog texts, the window on the X server.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.pages import (
    context_menu_open,
    desktop_canvas,
    desktop_x_env,
    lab_tab_frame,
    open_lab,
    wait_for_colours,
    wait_state,
)
from tests.support.pattern import write_tiff
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

# Colours none of the other test images use (the lab fixture's napari shows QUADRANTS).
MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)
ORANGE, PURPLE = (255, 128, 0), (128, 0, 255)
PINK = (255, 128, 192)


def layer_names(lab) -> list[str]:
    code, status = lab.request("GET", "napari-desktop/api/status")
    assert code == 200, status
    return [layer["name"] for layer in (status.get("napari") or {}).get("layers", [])]


def put_settings(lab, values: dict) -> None:
    """Set this extension's JupyterLab settings through the real settings API."""
    request = urllib.request.Request(
        f"{lab.url}lab/api/settings/jupyter-napari-desktop:settings",
        method="PUT",
        data=json.dumps({"raw": json.dumps(values)}).encode(),
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 204, response.status


def test_open_in_napari_from_the_file_browser(context, lab, artifacts):
    name = "napari test ü.tif"  # a space and a non-ASCII letter travel as they are
    write_tiff(lab.root / name, MAGENTA, CYAN)
    page = open_lab(context, lab)
    clicked = time.monotonic()
    with context.expect_page(timeout=30_000) as new_tab:
        context_menu_open(page, name)
    tab = new_tab.value  # the desktop comes to the front: a new browser tab by default
    tab.wait_for_load_state()
    assert "napari-desktop/?app=napari" in tab.url

    wait_for(lambda: "napari test ü" in layer_names(lab), 150, "the layer in napari's status")
    # The success notification shows for 5 s once the server has answered.
    toast = page.locator(".Toastify__toast", has_text="Opened napari test ü.tif in napari")
    toast.wait_for(timeout=30_000)
    assert 'as layer "napari test ü"' in toast.inner_text()

    wait_state(tab, "connected", 60)
    png = wait_for_colours(desktop_canvas(tab), [MAGENTA, CYAN], 90, 0.05)
    elapsed = time.monotonic() - clicked
    (artifacts / "open-in-napari.png").write_bytes(png)
    tab.screenshot(path=str(artifacts / "open-in-napari-desktop-tab.png"))
    print(f"Open in napari -> layer drawn in the desktop: {elapsed:.1f} s")
    status_item = page.locator(".jp-NapariDesktop-statusItem")
    page.wait_for_function(
        "() => /running, napari: \\d+ layers?/.test("
        "document.querySelector('.jp-NapariDesktop-statusItem').textContent)",
        timeout=30_000,
    )
    assert "napari test ü" in (status_item.get_attribute("title") or "")
    page.screenshot(path=str(artifacts / "open-in-napari-lab.png"))


def test_open_in_napari_explains_what_napari_cannot_read(context, lab, artifacts):
    (lab.root / "not an image.tif").write_bytes(b"these bytes are no TIFF")
    page = open_lab(context, lab)
    context_menu_open(page, "not an image.tif")
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=150_000)
    text = dialog.inner_text()
    page.screenshot(path=str(artifacts / "open-in-napari-error.png"))
    assert "Could not open not an image.tif in napari" in text
    assert "napari cannot read it" in text  # napari's own reason follows (HTTP 422)
    assert "Fix:" in text
    dialog.locator("button", has_text="Close").click()
    assert "not an image" not in layer_names(lab)


def test_open_in_napari_in_a_jupyterlab_tab(context, lab, artifacts):
    name = "second image.tif"
    write_tiff(lab.root / name, ORANGE, PURPLE)
    put_settings(lab, {"openIn": "lab-tab"})
    try:
        page = open_lab(context, lab)
        popups: list[str] = []
        page.on("popup", lambda popup: popups.append(popup.url))
        context_menu_open(page, name)
        panel = page.locator("#jp-NapariDesktop-panel")
        panel.wait_for(timeout=30_000)
        assert page.locator(".lm-TabBar-tab.lm-mod-current", has_text="napari").count() == 1
        wait_for(lambda: "second image" in layer_names(lab), 150, "the layer in napari's status")
        frame = lab_tab_frame(page)
        wait_state(frame, "connected", 60)
        canvas = page.frame_locator("#jp-NapariDesktop-panel iframe").locator(
            "#jp-NapariDesktop-root canvas"
        )
        png = wait_for_colours(canvas.first, [ORANGE, PURPLE], 90, 0.05)
        (artifacts / "open-in-napari-lab-tab-canvas.png").write_bytes(png)
        page.screenshot(path=str(artifacts / "open-in-napari-lab-tab.png"))
        assert popups == [], f"no browser tab should open in lab-tab mode: {popups}"
    finally:
        put_settings(lab, {})


def test_toolbar_button_and_the_context_menu_setting(context, lab, artifacts):
    name = "third image.tif"
    write_tiff(lab.root / name, PURPLE, MAGENTA)
    page = open_lab(context, lab)
    button = page.locator(
        ".jp-FileBrowser-toolbar [data-command='napari-desktop:open-in-napari'] button"
    )
    button.wait_for(timeout=30_000)
    page.locator(".jp-DirListing-content").click(position={"x": 100, "y": 300})
    expect(button).to_be_disabled(timeout=10_000)  # nothing is selected: the button is off
    item = page.locator(".jp-DirListing-item", has_text=name).first
    item.wait_for(timeout=30_000)
    item.click()
    expect(button).to_be_enabled(timeout=10_000)
    with context.expect_page(timeout=30_000):
        button.click()
    wait_for(lambda: "third image" in layer_names(lab), 150, "the layer in napari's status")
    page.screenshot(path=str(artifacts / "open-in-napari-toolbar.png"))

    put_settings(lab, {"contextMenu": False})
    try:
        page.reload()
        page.wait_for_selector(".jp-DirListing-item", timeout=90_000)
        page.locator(".jp-DirListing-item", has_text=name).first.click(button="right")
        menu = page.locator(".lm-Menu:visible").first
        menu.wait_for(timeout=10_000)
        labels = menu.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert "Open" in labels and "Open in napari" not in labels, labels
        page.keyboard.press("Escape")
    finally:
        put_settings(lab, {})


NOTEBOOK_CELL = """%gui qt
import numpy as np
import napari
image = np.zeros((64, 64, 3), np.uint8)
image[...] = (255, 128, 192)
viewer = napari.Viewer(title="napari from a notebook")
viewer.add_image(image, rgb=True, name="from the notebook")
"""


def x_tree(env: dict[str, str]) -> str:
    done = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True)
    return done.stdout


def test_notebook_viewer_appears_in_the_desktop(context, lab, artifacts):
    # Kernels started while the desktop runs get its DISPLAY: start it first.
    code, status = lab.request("POST", "napari-desktop/api/start", {"app": "napari"})
    assert code == 200, status
    env = desktop_x_env(lab, status["display"])

    page = open_lab(context, lab)
    page.locator(".jp-LauncherCard[data-category='Notebook']:visible").first.click()
    editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.wait_for(timeout=60_000)
    editor.click()
    page.keyboard.insert_text(NOTEBOOK_CELL)
    run_first_cell(page)
    try:
        tree = wait_for(
            lambda: (lambda t: t if "napari from a notebook" in t else "")(x_tree(env)),
            120,
            "a window titled 'napari from a notebook' on the desktop's X server",
        )
    except AssertionError:
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        page.screenshot(path=str(artifacts / "notebook-viewer-failed.png"))
        raise AssertionError(f"no napari window; cell output: {outputs}") from None
    assert re.search(r'"napari from a notebook"', tree), tree[:2000]
    page.screenshot(path=str(artifacts / "notebook-viewer-lab.png"))

    desktop = context.new_page()
    desktop.goto(f"{lab.url}napari-desktop/?app=desktop")
    wait_state(desktop, "connected", 60)
    png = wait_for_colours(desktop_canvas(desktop), [PINK], 60, 0.05)
    (artifacts / "notebook-viewer.png").write_bytes(png)

    # Leave the desktop's own napari in front for whatever runs next.
    page.bring_to_front()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text("viewer.close()")
    run_first_cell(page)
    wait_for(
        lambda: "napari from a notebook" not in x_tree(env), 30, "the notebook's viewer to close"
    )


def run_first_cell(page, timeout: float = 90) -> None:
    """Run the notebook's first cell (Ctrl+Enter) until its prompt shows it ran or runs.

    A run requested while the new notebook's kernel is still connecting can be
    dropped by JupyterLab, so ask again until the prompt changes.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prompt = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
        page.keyboard.press("Control+Enter")
        try:
            page.wait_for_function(
                "([el, before]) => el.textContent.trim() !== before.trim()",
                arg=[prompt.element_handle(), before],
                timeout=10_000,
            )
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the notebook never ran its cell (prompt {prompt.inner_text()!r})")


DROP_FILE = """([selector, name, b64]) => {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name));
    const target = document.querySelector(selector);
    for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, {
            dataTransfer: transfer, bubbles: true, cancelable: true
        }));
    }
}"""


def test_files_dropped_on_the_napari_tab_are_uploaded(context, lab, artifacts, tmp_path):
    """The JupyterLab tab is the desktop page in an iframe: a drop on the page uploads, and
    so does a drop on the tab's toolbar (outside the iframe), handed to the page."""
    import base64

    on_page = write_tiff(tmp_path / "a.tif", MAGENTA, ORANGE).read_bytes()
    on_toolbar = write_tiff(tmp_path / "b.tif", CYAN, PURPLE).read_bytes()
    put_settings(lab, {"openIn": "lab-tab"})
    try:
        page = open_lab(context, lab)
        page.locator(".jp-LauncherCard[title*='napari']").first.click()
        page.locator("#jp-NapariDesktop-panel").wait_for(timeout=30_000)
        frame = lab_tab_frame(page)
        wait_state(frame, "connected", 90)
        frame.evaluate(
            DROP_FILE,
            [
                "#jp-NapariDesktop-root",
                "dropped on the page.tif",
                base64.b64encode(on_page).decode(),
            ],
        )
        page.evaluate(
            DROP_FILE,
            [
                "#jp-NapariDesktop-panel .jp-Toolbar",
                "dropped on the toolbar.tif",
                base64.b64encode(on_toolbar).decode(),
            ],
        )
        frame.wait_for_function(
            "() => window.napariDesktop.uploads.length >= 2", timeout=120_000, polling=250
        )
        results = frame.evaluate("() => window.napariDesktop.uploads")
        page.screenshot(path=str(artifacts / "upload-lab-tab.png"))
        assert [r["status"] for r in results] == ["uploaded", "uploaded"], results
        assert (lab.root / "dropped on the page.tif").read_bytes() == on_page
        assert (lab.root / "dropped on the toolbar.tif").read_bytes() == on_toolbar
        wait_for(
            lambda: {"dropped on the page", "dropped on the toolbar"} <= set(layer_names(lab)),
            60,
            "both uploads as layers in napari",
        )
    finally:
        put_settings(lab, {})
