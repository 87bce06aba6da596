"""A real `jupyter server` process: stopping it (gently or not) leaves nothing behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from jupyter_napari_desktop.launch import x_lock_path, x_socket_path
from tests.integration.conftest import needs_xvnc
from tests.support.jupyter import JupyterServer
from tests.support.procs import descendants, living
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc]


@pytest.fixture
def server(tmp_path):
    proc = JupyterServer(tmp_path, {"session": "xfce", "autostart_napari": True})
    yield proc.start()
    proc.stop(signal.SIGKILL)


def start_desktop(server: JupyterServer) -> dict:
    code, status = server.request("POST", "napari-desktop/api/start", {"app": "napari"})
    assert code == 200, status
    assert status["running"] is True
    return status


def desktop_tree(server: JupyterServer) -> set[int]:
    return set(descendants(server.proc.pid))


def runtime_dirs() -> set[Path]:
    return set(Path("/tmp").glob("napari-desktop-*"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_stopping_the_server_ends_the_whole_desktop_within_5s(server, sig):
    before_dirs = runtime_dirs()
    status = start_desktop(server)
    display = int(status["display"].lstrip(":"))
    # Let XFCE and napari start their helpers (dbus-daemon, panel plugins, ...).
    wait_for(lambda: len(desktop_tree(server)) >= 8, 60, "the XFCE session to start")
    time.sleep(1)
    tree = desktop_tree(server)
    new_dirs = runtime_dirs() - before_dirs
    assert len(new_dirs) == 1
    started = time.monotonic()
    server.proc.send_signal(sig)
    wait_for(lambda: not living(tree), 5, f"all {len(tree)} desktop processes to end")
    elapsed = time.monotonic() - started
    assert server.proc.wait(10) is not None
    assert not any(d.exists() for d in new_dirs), "the private socket directory is removed"
    assert not x_lock_path(display).exists() and not x_socket_path(display).exists()
    print(f"{len(tree)} desktop processes ended {elapsed:.2f} s after {sig.name}")


def test_server_killed_hard_the_desktop_still_goes(server):
    """SIGKILL of the server alone: the supervisor notices its parent died."""
    start_desktop(server)
    tree = desktop_tree(server)
    server.proc.kill()
    wait_for(lambda: not living(tree), 10, "the orphaned desktop to clean itself up")


def test_everything_killed_next_start_reuses_the_display(server, tmp_path):
    status = start_desktop(server)
    display = int(status["display"].lstrip(":"))
    tree = desktop_tree(server) | {server.proc.pid}
    for pid in tree:  # like the OOM killer or `kill -9` of the whole container
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not living(tree), 10, "every process to be killed")
    assert x_lock_path(display).exists(), "a hard kill leaves the X lock of a dead server"
    again = JupyterServer(tmp_path / "again", {"session": "minimal", "autostart_napari": False})
    try:
        again.start()
        code, status = again.request("POST", "napari-desktop/api/start", {"app": "desktop"})
        assert code == 200, status
        assert status["display"] == f":{display}", "the stale lock was cleaned and reused"
    finally:
        again.stop()
