"""The desktop page says what napari brought back of its kept session, and "Start empty"
empties napari and begins a new session (the restored one stays on disk)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_napari_desktop.napari_side import session_keep
from tests.support.jupyter import JupyterServer
from tests.support.pages import wait_state
from tests.support.paths import ROOT
from tests.support.pattern import CHROMIUM
from tests.support.waiting import wait_for

pytestmark = pytest.mark.browser


def keep_a_session(home: Path) -> Path:
    """A session as napari would have saved it an hour ago: two labels layers, one cut."""
    root = home / "napari-sessions"
    folder = root / session_keep.session_name(time.time() - 3600, 1)
    folder.mkdir(parents=True)
    session_keep.write_array(folder / "L1a-1.npy", np.full((4, 64, 64), 3, np.uint8))
    session_keep.write_array(folder / "L2a-1.npy", np.zeros((4, 64, 64), np.uint8))
    (folder / "L2a-1.npy").write_bytes((folder / "L2a-1.npy").read_bytes()[:90])
    layers = [
        {"name": "nuclei", "type": "labels", "files": {"data": "L1a-1.npy"}, "props": {}},
        {"name": "cut", "type": "labels", "files": {"data": "L2a-1.npy"}, "props": {}},
    ]
    session_keep.write_state(
        folder, {"format": 1, "saved_at": time.time() - 3600, "layers": layers}
    )
    return folder


def test_the_page_names_what_was_restored_and_starts_empty(browser, tmp_path):
    if not shutil.which("Xvnc") or not Path(CHROMIUM).exists():
        pytest.skip("needs Xvnc and chromium: run scripts/setup.sh --test")
    folder = keep_a_session(tmp_path / "home")
    server = JupyterServer(tmp_path, {"session": "minimal", "geometry": "1024x700"})
    server.start(timeout=120)
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    try:
        tab = context.new_page()
        tab.goto(f"{server.url}napari-desktop/?app=napari&token={server.token}")
        wait_state(tab, "connected", 90)
        bar = tab.locator(".jp-NapariDesktop-session")
        bar.wait_for(state="visible", timeout=120_000)
        text = bar.inner_text()
        assert "napari restored 1 layer" in text and "nuclei" in text, text
        assert "(60 min ago)" in text, text
        assert "Not restored: cut" in text, text
        artifacts = ROOT / "artifacts"
        artifacts.mkdir(exist_ok=True)
        tab.screenshot(path=str(artifacts / "session-restored.png"))

        # Dismissed, the line stays away on the next page loads (it came back on every
        # load, long after the restore, still offering "Start empty").
        bar.get_by_role("button", name="Dismiss").click()
        assert bar.is_hidden()
        with tab.expect_response(lambda r: r.url.endswith("napari-desktop/api/session")):
            tab.reload()
        wait_state(tab, "connected", 90)
        time.sleep(1)  # the answer shown, if it were
        assert bar.is_hidden(), bar.inner_text()
        # Another browser (no memory of the dismissal) is told.
        tab.evaluate("() => window.localStorage.clear()")
        tab.reload()
        bar.wait_for(state="visible", timeout=60_000)

        bar.get_by_role("button", name="Start empty").click()
        wait_for(lambda: "started empty" in bar.inner_text(), 30, "the page to say napari is empty")
        status = server.request("GET", "napari-desktop/api/status")[1]
        assert status["napari"]["layers"] == []
        assert folder.exists(), "the restored session stays on disk"
    finally:
        context.close()
        server.stop_all()
