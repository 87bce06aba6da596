"""Beside jupyter-remote-desktop-proxy (shipped by many Jupyter images): no clash."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest
import websockets

from tests.integration.conftest import needs_xvnc
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.waiting import run_async

pytestmark = [pytest.mark.integration, needs_xvnc]


def reference_installed() -> bool:
    try:
        importlib.metadata.version("jupyter-remote-desktop-proxy")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture
def lab(tmp_path):
    if not reference_installed():
        pytest.fail(
            "jupyter-remote-desktop-proxy must be installed (test extra): pip install -e '.[test]'"
        )
    server = JupyterServer(tmp_path, {"session": "minimal", "autostart_napari": False})
    yield server.start()
    server.stop()
    ours = [
        pid
        for pid in procs.living(procs.processes_with_env("HOME", str(server.home)))
        if "napari" in cmdline(pid)
    ]
    # jupyter-remote-desktop-proxy's session outlives the server.
    procs.kill_all(procs.processes_with_env("HOME", str(server.home)))
    assert not ours, "none of our processes outlive the server"


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


async def greeting(server: JupyterServer, path: str) -> bytes:
    url = f"ws://127.0.0.1:{server.port}{server.base_url}{path}"
    headers = {"Authorization": f"token {server.token}"}
    async with websockets.connect(url, additional_headers=headers, open_timeout=60) as ws:
        return await asyncio.wait_for(ws.recv(), 60)


def test_both_extensions_load_and_both_desktops_run(lab):
    log = lab.log()
    assert "jupyter_napari_desktop | extension was successfully loaded" in log
    assert "jupyter_remote_desktop_proxy | extension was successfully loaded" in log
    code, info = lab.request("GET", "napari-desktop/api/info")
    assert code == 200 and info["coexisting"] == ["jupyter-remote-desktop-proxy"]
    code, servers = lab.request("GET", "server-proxy/servers-info")
    names = [s["name"] for s in servers["server_processes"]]
    assert "desktop-websockify" in names and not any("napari" in n for n in names), names

    ours = run_async(greeting(lab, "napari-desktop/websockify"))
    theirs = run_async(greeting(lab, "desktop-websockify/"))
    assert ours == b"RFB 003.008\n"
    assert theirs.startswith(b"RFB 003.")
    code, status = lab.request("GET", "napari-desktop/api/status")
    assert status["running"] is True
    assert run_async(greeting(lab, "napari-desktop/websockify")) == b"RFB 003.008\n"
