"""supervisor/windows.py's maximize_when_managed on a real X server and window manager: a
window mapped before any window manager runs (as napari's, which starts ahead of the
session) is maximized once the window manager comes, however long the session took to
start; without one, it says so.

Every X client here is a process of its own: python-xlib keeps the extensions' event codes
of the first server it met in one table for all (a later Display on Xvnc, whose codes
differ, then fails in other tests of this process)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from jupyter_napari_desktop.launch import session_argv
from tests.support import procs
from tests.support.xvfb import Xvfb

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None, reason="needs Xvfb: run scripts/setup.sh --test"
)

# A top-level window of this process (_NET_WM_PID), mapped; its id on stdout; it stays
# until stdin closes.
WINDOW = """
import os, sys
from Xlib import X, Xatom, display
dpy = display.Display()
screen = dpy.screen()
window = screen.root.create_window(0, 0, 400, 300, 0, screen.root_depth, X.InputOutput)
window.change_property(dpy.intern_atom("_NET_WM_PID"), Xatom.CARDINAL, 32, [os.getpid()])
window.set_wm_name("napari")
window.map()
dpy.sync()
print(hex(window.id), flush=True)
sys.stdin.read()
"""

MAXIMIZE = """
import sys
from jupyter_napari_desktop.supervisor.windows import maximize_when_managed
display, xauthority, pid, timeout, wm_timeout = sys.argv[1:]
print(repr(maximize_when_managed(display, xauthority, int(pid), float(timeout),
                                 wm_timeout=float(wm_timeout))))
"""


@pytest.fixture
def x_env(tmp_path):
    xauthority = tmp_path / "Xauthority"
    xauthority.touch()
    server = Xvfb(tmp_path / "xvfb.log", "1024x768x24")
    yield {**os.environ, "DISPLAY": server.display, "XAUTHORITY": str(xauthority)}
    server.stop()


@pytest.fixture
def window(x_env):
    """(pid, window id) of a mapped, unmanaged window."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WINDOW],
        env=x_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    # Its first lines may be python-xlib's (the empty Xauthority: "no xauthority details").
    lines: list[str] = []
    while len(lines) < 5 and not (lines and lines[-1].startswith("0x")):
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    assert lines and lines[-1].startswith("0x"), f"the window's process printed no id: {lines}"
    window_id = lines[-1]
    yield proc.pid, window_id
    proc.stdin.close()
    procs.stop_tree(proc.pid, 5)


def maximize(x_env, pid: int, timeout: float, wm_timeout: float) -> subprocess.Popen:
    argv = [x_env["DISPLAY"], x_env["XAUTHORITY"], str(pid), str(timeout), str(wm_timeout)]
    return subprocess.Popen(
        [sys.executable, "-c", MAXIMIZE, *argv],
        env=x_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def last_line(out: str) -> str:
    """What the process printed last (python-xlib may warn first: an empty Xauthority)."""
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


def maximized(x_env, window_id: str) -> bool:
    state = subprocess.run(
        ["xprop", "-id", window_id, "_NET_WM_STATE"],
        env=x_env,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return "_NET_WM_STATE_MAXIMIZED_HORZ" in state and "_NET_WM_STATE_MAXIMIZED_VERT" in state


def test_a_window_manager_that_comes_late_still_maximizes_the_window(x_env, window, tmp_path):
    """The window manager starts after the maximize's own timeout: the wait for it is
    separate (a session that took long on a busy machine left napari unmaximized)."""
    pid, window_id = window
    waiter = maximize(x_env, pid, timeout=3, wm_timeout=60)
    time.sleep(5)  # longer than timeout: the window manager comes late
    _, argv = session_argv("minimal", "", tmp_path)
    with (tmp_path / "wm.log").open("ab") as log:
        wm = subprocess.Popen(argv, env=x_env, stdout=log, stderr=log)
    try:
        out, _ = waiter.communicate(timeout=60)
        assert last_line(out) == "None", (out, (tmp_path / "wm.log").read_text(errors="replace"))
        assert maximized(x_env, window_id)
    finally:
        procs.stop_tree(waiter.pid, 3)
        procs.stop_tree(wm.pid, 5)


def test_without_a_window_manager_it_says_none_came(x_env, window):
    pid, _ = window
    started = time.monotonic()
    out, _ = maximize(x_env, pid, timeout=30, wm_timeout=2).communicate(timeout=30)
    assert last_line(out) == repr("no window manager came within 2 s"), out
    assert time.monotonic() - started < 15
