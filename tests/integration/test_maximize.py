"""supervisor/windows.py's maximize_when_managed on a real X server and window manager: a
window mapped before any window manager runs (as napari's, which starts ahead of the
session) is maximized once the window manager comes, however long the session took to
start; without one, it says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from jupyter_napari_desktop.launch import session_argv
from jupyter_napari_desktop.supervisor.windows import maximize_when_managed
from tests.support import procs
from tests.support.xvfb import Xvfb

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="needs Xvfb: run scripts/setup.sh --test"
)


@pytest.fixture
def x_server(tmp_path, monkeypatch):
    xauthority = tmp_path / "Xauthority"
    xauthority.touch()
    # maximize_when_managed sets XAUTHORITY for python-xlib (in the supervisor, its own
    # process): restored after the test.
    monkeypatch.setenv("XAUTHORITY", str(xauthority))
    server = Xvfb(tmp_path / "xvfb.log", "1024x768x24")
    yield server.display, xauthority
    server.stop()


def map_window(display: str, pid: int):
    """An unmanaged top-level window of process ``pid`` (_NET_WM_PID), mapped."""
    from Xlib import X, Xatom
    from Xlib import display as xdisplay

    dpy = xdisplay.Display(display)
    screen = dpy.screen()
    window = screen.root.create_window(0, 0, 400, 300, 0, screen.root_depth, X.InputOutput)
    window.change_property(dpy.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [pid])
    window.set_wm_name("napari")
    window.map()
    dpy.sync()
    return dpy, window


def maximized(dpy, window) -> bool:
    state = window.get_full_property(dpy.intern_atom("_NET_WM_STATE"), 0)
    atoms = set(state.value) if state is not None else set()
    return {
        dpy.intern_atom("_NET_WM_STATE_MAXIMIZED_HORZ"),
        dpy.intern_atom("_NET_WM_STATE_MAXIMIZED_VERT"),
    } <= atoms


def test_a_window_manager_that_comes_late_still_maximizes_the_window(x_server, tmp_path):
    """The window manager starts after the maximize's own timeout: the wait for it is
    separate (a session that took long on a busy machine left napari unmaximized)."""
    display, xauthority = x_server
    dpy, window = map_window(display, os.getpid())
    result: list = []
    waiter = threading.Thread(
        target=lambda: result.append(
            maximize_when_managed(display, str(xauthority), os.getpid(), timeout=3)
        )
    )
    waiter.start()
    time.sleep(5)  # longer than timeout: the window manager comes late
    _, argv = session_argv("minimal", "", tmp_path)
    with (tmp_path / "wm.log").open("ab") as log:
        wm = subprocess.Popen(
            argv,
            env={**os.environ, "DISPLAY": display, "XAUTHORITY": str(xauthority)},
            stdout=log,
            stderr=log,
        )
    try:
        waiter.join(60)
        assert not waiter.is_alive(), "maximize_when_managed did not return within 60 s"
        assert result == [None], (result, (tmp_path / "wm.log").read_text(errors="replace"))
        assert maximized(dpy, window)
    finally:
        procs.stop_tree(wm.pid, 5)
        dpy.close()


def test_without_a_window_manager_it_says_none_came(x_server):
    display, xauthority = x_server
    dpy, _ = map_window(display, os.getpid())
    try:
        started = time.monotonic()
        why = maximize_when_managed(display, str(xauthority), os.getpid(), wm_timeout=2)
        assert why == "no window manager came within 2 s"
        assert time.monotonic() - started < 10
    finally:
        dpy.close()
