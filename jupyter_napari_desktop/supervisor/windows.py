"""napari's window, once a window manager has adopted it (python-xlib, no processes).

napari starts before the session when it starts with the desktop (``supervisor.py``): it
maps its window on a bare X server, where nobody acts on its wish to be maximized, and the
window manager that starts afterwards adopts the window at its default size. This asks the
window manager for what napari asked of it: the EWMH request to maximize (a
``_NET_WM_STATE`` client message to the root window), for each window of napari's process
(``_NET_WM_PID``), once the window manager is up (``_NET_SUPPORTING_WM_CHECK``), and gives
the window the keyboard focus (``_NET_ACTIVE_WINDOW``), as a window mapped after the window
manager would have had.

Used by the supervisor from a daemon thread; it gives up quietly after its timeout.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any, Optional

NET_WM_STATE_ADD = 1
SOURCE_APPLICATION = 1
SOURCE_PAGER = 2  # a request "from the user": no focus-stealing prevention


def top_windows(dpy: Any, root: Any) -> list[Any]:
    """Children of the root and their children (a window manager's frames hold clients)."""
    found = []
    for child in root.query_tree().children:
        found.append(child)
        with contextlib.suppress(Exception):  # a window that went away meanwhile
            found.extend(child.query_tree().children)
    return found


def maximize_when_managed(
    display: str,
    xauthority: str,
    pid: int,
    timeout: float = 30.0,
    poll: float = 0.2,
    wm_timeout: float = 300.0,
) -> Optional[str]:
    """Ask the window manager to maximize the viewable windows of process ``pid`` once it
    runs (waiting up to ``wm_timeout`` for it: a session starts slowly on a busy machine),
    and to focus the last; wait until it did or ``timeout`` after the window manager came.
    None when done, else why not."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.protocol import event

    os.environ["XAUTHORITY"] = xauthority  # python-xlib reads the cookie from here
    dpy: Any = xdisplay.Display(display)
    try:
        root = dpy.screen().root
        wm_check = dpy.intern_atom("_NET_SUPPORTING_WM_CHECK")
        wm_pid = dpy.intern_atom("_NET_WM_PID")
        wm_state = dpy.intern_atom("_NET_WM_STATE")
        horz = dpy.intern_atom("_NET_WM_STATE_MAXIMIZED_HORZ")
        vert = dpy.intern_atom("_NET_WM_STATE_MAXIMIZED_VERT")
        active = dpy.intern_atom("_NET_ACTIVE_WINDOW")
        mask = X.SubstructureRedirectMask | X.SubstructureNotifyMask
        deadline = time.monotonic() + wm_timeout
        managed = False
        while time.monotonic() < deadline:
            if root.get_full_property(wm_check, X.AnyPropertyType) is not None:
                if not managed:
                    managed = True
                    deadline = time.monotonic() + timeout
                windows = []
                for window in top_windows(dpy, root):
                    with contextlib.suppress(Exception):
                        owner = window.get_full_property(wm_pid, X.AnyPropertyType)
                        if owner is None or owner.value[0] != pid:
                            continue
                        if window.get_attributes().map_state != X.IsViewable:
                            continue
                        windows.append(window)
                done = 0
                for window in windows:
                    state = window.get_full_property(wm_state, X.AnyPropertyType)
                    if state is not None and horz in state.value and vert in state.value:
                        done += 1
                        continue
                    message = event.ClientMessage(
                        window=window,
                        client_type=wm_state,
                        data=(32, [NET_WM_STATE_ADD, horz, vert, SOURCE_APPLICATION, 0]),
                    )
                    root.send_event(message, event_mask=mask)
                dpy.flush()
                if windows and done == len(windows):
                    focused = root.get_full_property(active, X.AnyPropertyType)
                    if focused is not None and focused.value[0] == windows[-1].id:
                        return None
                    # Asked again until it holds: a window manager still starting up may
                    # drop the request.
                    focus = event.ClientMessage(
                        window=windows[-1],
                        client_type=active,
                        data=(32, [SOURCE_PAGER, X.CurrentTime, 0, 0, 0]),
                    )
                    root.send_event(focus, event_mask=mask)
                    dpy.flush()
            time.sleep(poll)
        if not managed:
            return f"no window manager came within {wm_timeout:g} s"
        return f"napari's window was not maximized and focused within {timeout:g} s"
    finally:
        with contextlib.suppress(Exception):
            dpy.close()
