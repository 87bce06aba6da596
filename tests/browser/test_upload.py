"""Files dropped on the desktop page go into the Jupyter root and open in napari; the page
is crisp on a HiDPI screen.

One real server, desktop and napari for the module; each test has its own browser
context (one page at a time, so two pages never fight over the remote screen's size).
What is asserted is what a person sees or gets: the progress row, the question before an
overwrite, the files in the root (byte for byte), napari's canvas on the page, the size of
the X screen.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.support.jupyter import JupyterServer
from tests.support.pages import (
    drop,
    napari_fills_the_screen,
    wait_state,
    wait_uploads,
    x_screen_size,
)
from tests.support.pattern import CHROMIUM, png_colour_shares, write_pattern
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser

CHUNK = 8 * 1024 * 1024  # labextension/desktop/upload.ts CHUNK_SIZE
CANVAS = "#jp-NapariDesktop-root canvas"


@pytest.fixture(scope="module")
def desktop(tmp_path_factory):
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    server = JupyterServer(
        tmp_path_factory.mktemp("upload"),
        {"session": "minimal", "geometry": "1280x800", "upload_dir": "dropped"},
    )
    server.start(timeout=120)
    code, status = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
    assert code == 200, status
    yield server
    server.stop_all()


@pytest.fixture
def page(browser, desktop):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    tab = open_desktop(context, desktop)
    yield tab
    context.close()


def open_desktop(context, desktop):
    tab = context.new_page()
    tab.goto(f"{desktop.url}napari-desktop/?app=napari&token={desktop.token}")
    wait_state(tab, "connected", 90)
    return tab


def choose(page, path: Path) -> None:
    """The bar's Upload button's file chooser."""
    with page.expect_file_chooser() as chooser:
        page.locator("#jp-NapariDesktop-upload").click()
    chooser.value.set_files(str(path))


def root_files(desktop) -> dict[str, int]:
    return {
        str(p.relative_to(desktop.root)): p.stat().st_size
        for p in desktop.root.rglob("*")
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


def layer_names(desktop) -> list[str]:
    code, status = desktop.request("GET", "napari-desktop/api/status")
    assert code == 200, status
    return [layer["name"] for layer in (status.get("napari") or {}).get("layers", [])]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def test_a_dropped_tiff_is_uploaded_and_drawn_in_napari(page, desktop, artifacts, tmp_path):
    tiff = write_pattern(tmp_path / "pattern.tif")
    drop(page, "my pattern ü.tif", tiff.read_bytes())
    row = page.locator(".jp-NapariDesktop-upload", has_text="my pattern ü.tif")
    row.wait_for(timeout=10_000)
    assert row.locator("progress").count() == 1
    [result] = wait_uploads(page, 1)
    assert result["status"] == "uploaded", result
    assert result["path"] == "dropped/my pattern ü.tif"
    uploaded = desktop.root / "dropped" / "my pattern ü.tif"
    assert uploaded.read_bytes() == tiff.read_bytes()
    assert not [name for name in root_files(desktop) if name.endswith(".uploading")]
    assert "my pattern ü" in layer_names(desktop)
    assert re.search(r"Uploaded to dropped/my pattern ü.tif, opened in napari", row.inner_text())

    canvas = page.locator(CANVAS).first
    deadline = time.monotonic() + 60
    while True:
        png = canvas.screenshot()
        shares = png_colour_shares(png)
        if min(shares.values()) > 0.03 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    (artifacts / "upload-dropped-pattern.png").write_bytes(png)
    page.screenshot(path=str(artifacts / "upload-dropped-page.png"))
    assert min(shares.values()) > 0.03, f"the pattern is not on the canvas: {shares}"


def test_a_drop_that_would_overwrite_asks_first(page, desktop, artifacts, tmp_path):
    folder = desktop.root / "dropped"
    folder.mkdir(exist_ok=True)
    (folder / "same.tif").write_bytes(b"the old file")
    new = write_pattern(tmp_path / "new.tif").read_bytes()
    question = page.locator("#jp-NapariDesktop-conflict")

    drop(page, "same.tif", new)
    question.wait_for(timeout=10_000)
    assert "dropped/same.tif already exists" in question.inner_text()
    page.screenshot(path=str(artifacts / "upload-conflict.png"))
    question.locator("button", has_text="Cancel").click()
    assert wait_uploads(page, 1)[0]["status"] == "cancelled"
    assert (folder / "same.tif").read_bytes() == b"the old file"

    drop(page, "same.tif", new)
    question.locator("button", has_text="Keep both").click()
    result = wait_uploads(page, 2)[1]
    assert result["status"] == "uploaded" and result["path"] == "dropped/same (1).tif", result
    assert (folder / "same.tif").read_bytes() == b"the old file"
    assert (folder / "same (1).tif").read_bytes() == new

    drop(page, "same.tif", new)
    question.locator("button", has_text="Replace").click()
    result = wait_uploads(page, 3)[2]
    assert result["status"] == "uploaded" and result["path"] == "dropped/same.tif", result
    assert (folder / "same.tif").read_bytes() == new


def test_a_chunked_upload_arrives_byte_identical(page, desktop, artifacts, tmp_path):
    """200 MB in 8 MiB chunks; napari cannot read it, which the page says, keeping the file."""
    big = tmp_path / "random data.bin"
    with big.open("wb") as f:
        for _ in range(200):
            f.write(os.urandom(1_000_000))
    choose(page, big)
    [result] = wait_uploads(page, 1, timeout=300)
    uploaded = desktop.root / "dropped" / "random data.bin"
    assert uploaded.stat().st_size == big.stat().st_size > 20 * CHUNK
    assert sha256(uploaded) == sha256(big)
    assert result["status"] == "failed", result
    assert "was uploaded, but napari did not open it" in result["message"], result
    row = page.locator(".jp-NapariDesktop-upload", has_text="random data.bin")
    assert "napari did not open it" in row.inner_text()
    rate = 200 / result["seconds"]
    page.screenshot(path=str(artifacts / "upload-200mb.png"))
    print(f"upload of 200 MB over loopback: {result['seconds']:.1f} s, {rate:.0f} MB/s")


SESSIONS: dict = {}


def throttle(page, **conditions) -> None:
    """Chromium's network emulation (DevTools protocol) for this page (one session per page:
    the conditions of one session do not reach requests another one watches)."""
    cdp = SESSIONS.get(page)
    if cdp is None:
        cdp = SESSIONS[page] = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
    values = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", {**values, **conditions})


def sent_bytes(row) -> bool:
    """The row says some bytes arrived ("8.4 MB of 60 MB"), not "0 B of ..."."""
    text = row.locator(".jp-NapariDesktop-uploadText").inner_text()
    return " of " in text and not text.startswith("0 B")


def test_a_cancelled_upload_leaves_no_partial_file(page, desktop, artifacts, tmp_path):
    big = tmp_path / "cancel me.bin"
    big.write_bytes(os.urandom(60_000_000))
    throttle(page, uploadThroughput=4_000_000)  # bytes/s: the upload takes ~20 s
    choose(page, big)
    row = page.locator(".jp-NapariDesktop-upload", has_text="cancel me.bin")
    wait_for(lambda: sent_bytes(row), 60, "the first chunk to arrive")
    partial = [name for name in root_files(desktop) if name.endswith(".uploading")]
    assert partial, root_files(desktop)  # the partial file exists, under a temporary name
    page.screenshot(path=str(artifacts / "upload-progress.png"))
    row.locator("button", has_text="Cancel").click()
    [result] = wait_uploads(page, 1, timeout=60)
    assert result["status"] == "cancelled", result
    assert "Cancelled; nothing was written" in row.inner_text()
    left = root_files(desktop)
    assert not [n for n in left if n.endswith(".uploading") or "cancel me" in n], left
    # The contents manager sends deleted files to the trash: the partial one, emptied.
    trash = desktop.home / ".local" / "share" / "Trash" / "files"
    sizes = {p.name: p.stat().st_size for p in trash.glob("cancel me*")}
    assert sizes and all(size == 0 for size in sizes.values()), sizes


def test_an_upload_survives_a_brief_disconnect(page, desktop, tmp_path):
    big = tmp_path / "patient.bin"
    big.write_bytes(os.urandom(40_000_000))
    throttle(page, uploadThroughput=8_000_000)
    choose(page, big)
    row = page.locator(".jp-NapariDesktop-upload", has_text="patient.bin")
    wait_for(lambda: sent_bytes(row), 60, "the first chunk to arrive")
    throttle(page, offline=True)  # while a chunk is on its way
    row.locator(".jp-NapariDesktop-uploadText", has_text="Connection lost; trying again").wait_for(
        timeout=30_000
    )
    time.sleep(1)  # away for a while longer, the next try fails too
    throttle(page)
    [result] = wait_uploads(page, 1, timeout=120)
    assert "was uploaded" in result.get("message", ""), result  # napari cannot read .bin
    uploaded = desktop.root / "dropped" / "patient.bin"
    assert sha256(uploaded) == sha256(big)


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
        sizes = f"{screen_and_canvas(page)}, X screen {x_screen_size(desktop)}"
        raise AssertionError(f"no remote screen of CSS size x {scale}: {sizes}") from None


def test_a_hidpi_page_gets_a_screen_of_device_pixels(browser, desktop, artifacts):
    context = browser.new_context(viewport={"width": 1000, "height": 700}, device_scale_factor=2)
    try:
        page = open_desktop(context, desktop)
        crisp = wait_screen(page, desktop, 2)
        assert crisp["dpr"] == 2
        assert crisp["shown"] == crisp["css"], crisp  # shown at the window's size
        assert page.evaluate("() => window.napariDesktop.remoteScale") == 2
        wait_for(lambda: napari_fills_the_screen(desktop), 30, "napari's window to follow")
        wait_for(lambda: drawn_everywhere(page), 30, "the whole canvas drawn", 0.25)
        page.screenshot(path=str(artifacts / "upload-hidpi-crisp.png"))
        page.select_option("#jp-NapariDesktop-hidpi", "light")
        light = wait_screen(page, desktop, 1)
        assert light["shown"] == light["css"], light
        wait_for(lambda: napari_fills_the_screen(desktop), 30, "napari's window to follow")
        wait_for(lambda: drawn_everywhere(page), 30, "the whole canvas drawn", 0.25)
        page.screenshot(path=str(artifacts / "upload-hidpi-light.png"))
        page.select_option("#jp-NapariDesktop-hidpi", "crisp")
        wait_screen(page, desktop, 2)
        print(f"HiDPI: crisp {crisp}, light {light}")
    finally:
        context.close()
    # At ratio 1 the screen is the CSS size, as before.
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        plain = wait_screen(open_desktop(context, desktop), desktop, 1)
        assert plain["dpr"] == 1 and plain["shown"] == plain["css"], plain
    finally:
        context.close()
