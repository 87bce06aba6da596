"""User input on the desktop, read from the X server (MIT-SCREEN-SAVER idle time).

Screen updates stream to an open tab all the time, so bytes on the websocket say nothing
about whether a person is there. The X server's idle time counts only keyboard and pointer
input, so an untouched desktop with a ticking clock still becomes idle and can be culled.
Used by the supervisor, which has the desktop's DISPLAY and XAUTHORITY.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from typing import Optional


class XScreenSaverInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


class InputClock:
    """Wall-clock time of the last keyboard or pointer input on one X display."""

    def __init__(self, display: str) -> None:
        self.xlib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.xss = ctypes.CDLL(ctypes.util.find_library("Xss") or "libXss.so.1")
        self.xlib.XOpenDisplay.restype = ctypes.c_void_p
        self.xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.xlib.XDefaultRootWindow.restype = ctypes.c_ulong
        self.xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.xlib.XFree.argtypes = [ctypes.c_void_p]
        self.xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(XScreenSaverInfo)
        self.xss.XScreenSaverQueryInfo.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(XScreenSaverInfo),
        ]
        self.dpy = self.xlib.XOpenDisplay(display.encode())
        if not self.dpy:
            raise OSError(f"cannot open X display {display}")
        self.root = self.xlib.XDefaultRootWindow(self.dpy)
        self.info = self.xss.XScreenSaverAllocInfo()

    def idle_seconds(self) -> Optional[float]:
        if not self.xss.XScreenSaverQueryInfo(self.dpy, self.root, self.info):
            return None
        return float(self.info.contents.idle) / 1000.0

    def last_input(self) -> Optional[float]:
        idle = self.idle_seconds()
        return None if idle is None else time.time() - idle

    def close(self) -> None:
        if self.dpy:
            self.xlib.XFree(self.info)
            self.xlib.XCloseDisplay(self.dpy)
            self.dpy = None


def main() -> int:
    """Print the seconds since the last input on $DISPLAY (run in a short-lived process:
    Xlib exits the whole process when the X server goes away mid-call)."""
    import os

    clock = InputClock(os.environ.get("DISPLAY", ""))
    idle = clock.idle_seconds()
    clock.close()
    if idle is None:
        return 1
    print(f"{idle:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
