"""napari's kept session after JupyterHub's idle culler: a real hub, a real Unix user, the
real jupyterhub-idle-culler (the example's service and role) and a real napari.

The user's napari gets a labels layer from a "notebook" (desktop_viewer's DesktopViewer with
the user's hub token, through the hub's proxy), a brush stroke painted on it with real
pointer events over the desktop's websocket through the hub (RFB into Xvnc), and saves its
session in the user's home. Then nobody touches the server, the culler stops it, the hub
starts it again, and napari comes back with the labels equal to the last save on disk.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import time
from typing import Any

import numpy as np
import pytest

from jupyter_napari_desktop.kernel.notebook import call
from jupyter_napari_desktop.kernel.viewer import DesktopViewer
from jupyter_napari_desktop.napari_side.session_keep import load_session
from tests.support.hub import (
    HubProcess,
    UnixUser,
    hub_base,
    hub_marks,
    hub_venvs,
    sweep_stale_users,
    websocket_url,
)
from tests.support.rfb import RFBClient
from tests.support.waiting import run_async, wait_for

pytestmark = [
    *hub_marks(600),
    pytest.mark.skipif(
        importlib.util.find_spec("jupyterhub_idle_culler") is None,
        reason="jupyterhub-idle-culler is not installed (pip install jupyterhub-idle-culler)",
    ),
]

CULL_TIMEOUT = 20  # s without input or API calls: the server is idle
CULL_EVERY = 5
SHAPE = (5, 512, 512)
WIDTH, HEIGHT = 1024, 768


@pytest.fixture(scope="module")
def hub():
    """One user, the hub 6 with the example config, the user's venv with napari."""
    sweep_stale_users()
    hub_python, user_python, _ = hub_venvs("6")
    base, homes = hub_base("napari-hub-keep-")
    user = UnixUser.create(f"ndkeep{secrets.token_hex(2)}", homes)
    server = None
    problems: list[str] = []
    try:
        server = HubProcess(
            base / "hub",
            [user.name],
            user_python,
            hub_python=hub_python,
            napari_desktop={
                "session": "minimal",
                "autostart_napari": False,
                "save_delay": 0.5,
                "geometry": f"{WIDTH}x{HEIGHT}",
            },
        )
        server.start()
        server.unix_users.append(user)
        yield server
    finally:
        if server is not None:
            problems.extend(server.stop_and_check())
        problems.extend(user.remove())
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, "cleanup: " + "; ".join(problems)


def open_napari(hub: HubProcess, user: UnixUser, token: str) -> DesktopViewer:
    """The user's server spawned through the hub, its napari started, as a notebook's
    desktop_viewer() would (the same calls, with the user's hub token)."""
    hub.spawn(user.name)
    hub.wait_ready(user.name, timeout=180)
    info = {"url": f"{hub.url}/user/{user.name}/", "token": token}
    call(info, "start", {"app": "napari", "wait": True}, 180)
    return DesktopViewer(info, timeout=180)


def kept(viewer: DesktopViewer) -> dict[str, Any]:
    return dict(viewer._call("GET", "session")["napari"] or {})


async def paint(hub: HubProcess, user: UnixUser, token: str) -> None:
    """A brush stroke across the middle of the screen, as a person's pointer through the
    hub's proxy and the desktop's websocket."""
    client = await RFBClient.connect_websocket(
        websocket_url(hub, user.name), token, raw=True, follow=False
    )
    try:
        assert (client.width, client.height) == (WIDTH, HEIGHT)
        await client.drag([(WIDTH // 2 - 120 + 20 * i, HEIGHT // 2) for i in range(13)])
        await client.round_trip()
    finally:
        await client.close()


def test_the_idle_culler_stops_the_server_and_napari_brings_the_labels_back(hub):
    user = hub.unix_users[0]
    token = hub.user_token(user.name)
    sessions = user.home / "napari-sessions"
    started = time.monotonic()

    viewer = open_napari(hub, user, token)
    viewer.add_labels(np.zeros(SHAPE, np.uint32), name="mask")
    viewer.layers["mask"].update(mode="paint", selected_label=5, brush_size=30)
    viewer.reset_view()
    viewer.dims.current_step = (2, 0, 0)
    moment = time.time()
    run_async(paint(hub, user, token))

    def saved() -> Any:
        last = kept(viewer).get("last_save") or {}
        return last if last.get("at", 0) > moment else None

    wait_for(saved, 60, "napari to save the painted labels", 0.5)
    painted = viewer.get("mask")
    assert (painted[2] == 5).sum() > 1000, "the stroke painted label 5 on slice 2"
    assert not painted[[0, 1, 3, 4]].any(), "only the slice shown was painted"
    folder = kept(viewer)["folder"]
    # The last save on disk, in the user's home, as root reads it.
    on_disk = load_session(sessions / folder)
    assert np.array_equal(on_disk["mask"]["data"], painted)

    # Nobody touches the server now: the real culler stops it, and napari with it.
    culler = hub.start_culler(CULL_TIMEOUT, CULL_EVERY)
    idle_since = time.time()
    try:
        wait_for(lambda: hub.server(user.name) is None, 180, f"the culler to stop {user.name}")
    finally:
        culler.terminate()
        culler.wait(10)
    culled_after = time.time() - idle_since
    log = (hub.workdir / "idle-culler.log").read_text(errors="replace")
    assert f"Culling server {user.name}" in log, log[-3000:]
    wait_for(lambda: not user.processes(), 30, f"{user.name}'s processes to end with the server")

    # Started again through the hub: napari restores the session, equal to the last save.
    viewer = open_napari(hub, user, token)

    def restored_now() -> Any:
        now = kept(viewer)
        return now.get("restored") if not now.get("restoring") else None

    restored: dict[str, Any] = wait_for(restored_now, 120, "napari to restore its session")
    assert restored["from"] == folder and restored["layers"] == ["mask"], restored
    assert restored["skipped"] == [], restored
    assert list(viewer.layers) == ["mask"]
    back = viewer.get("mask")
    assert np.array_equal(back, on_disk["mask"]["data"]), "the labels equal the last save"
    assert viewer.dims.current_step[0] == 2
    print(
        f"culled {culled_after:.0f} s after the last request (timeout {CULL_TIMEOUT} s); "
        f"whole test {time.monotonic() - started:.0f} s"
    )
