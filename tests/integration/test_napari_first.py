"""napari first: the napari card starts napari before the session, and the window manager
that comes after maximizes napari's window and gives it the keyboard focus."""

from __future__ import annotations

import json
import os
import re
import subprocess

import psutil
import pytest

from tests.integration.conftest import needs_xvnc
from tests.support.pages import napari_window
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(200)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")


def active_window(env: dict[str, str]) -> int | None:
    done = subprocess.run(
        ["xprop", "-root", "_NET_ACTIVE_WINDOW"], env=env, capture_output=True, text=True
    )
    found = re.search(r"window id # (0x[0-9a-f]+)", done.stdout)
    return int(found[1], 16) if found else None


async def test_the_napari_card_starts_napari_before_the_session(jp_fetch, manager):
    response = await jp_fetch(
        "napari-desktop", "api", "start", method="POST", body=json.dumps({"app": "napari"})
    )
    assert json.loads(response.body)["running"] is True
    paths = manager.paths
    wait_for(paths.napari_socket.exists, 90, "napari to listen on its socket")
    state = wait_for(
        lambda: (s := manager.read_state()).get("session_pid") and s, 30, "the session to start"
    )
    session = psutil.Process(state["session_pid"])
    napari = psutil.Process(int(paths.napari_pid.read_text()))
    assert session.name() == "openbox" and napari.is_running()
    # The session waited for napari: the supervisor started it once napari listened.
    log = paths.log.read_text(errors="replace")
    started_napari = log.index(f"starting: {paths.start_napari}")
    listens = log.index("napari listens: starting the session")
    assert started_napari < listens < log.index("starting: openbox"), log[-2000:]

    env = {**os.environ, **manager.kernel_env()}
    width = int(manager.config.geometry.split("x")[0])

    seen: list[object] = []

    def maximized_and_focused() -> bool:
        window, active = napari_window(env), active_window(env)
        seen[:] = [window, active]
        return bool(window) and window[1] == width and active == window[0]

    try:
        wait_for(maximized_and_focused, 30, "napari's window maximized and focused", 0.5)
    except AssertionError as err:
        raise AssertionError(
            f"{err}: napari's window (id, width, height) {seen[0]}, active window {seen[1]}, "
            f"screen width {width}\n{paths.log.read_text(errors='replace')[-1500:]}"
        ) from err
