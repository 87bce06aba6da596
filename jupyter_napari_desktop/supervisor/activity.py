"""User input on the desktop, read from the X server (MIT-SCREEN-SAVER idle time).

Screen updates stream to an open tab all the time, so bytes on the websocket say nothing
about whether a person is there. The X server's idle time counts only keyboard and pointer
input, so an untouched desktop with a ticking clock still becomes idle and can be culled.

Used by the supervisor, which has the desktop's DISPLAY and XAUTHORITY. It asks over one X
connection that stays open (python-xlib speaks the protocol itself: no process per poll,
and a dead X server is an exception, not the end of the process), from a daemon thread, so a
stuck X server never holds up the supervisor.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any, Callable, Optional


class InputClock:
    """Seconds since the last keyboard or pointer input on one X display."""

    def __init__(self, display: str, xauthority: Optional[str] = None) -> None:
        from Xlib import display as xdisplay

        if xauthority:
            os.environ["XAUTHORITY"] = xauthority  # python-xlib reads the cookie from here
        self.dpy: Any = xdisplay.Display(display)
        if not self.dpy.has_extension("MIT-SCREEN-SAVER"):
            self.dpy.close()
            raise OSError(f"the X server of {display} has no MIT-SCREEN-SAVER extension")
        self.root = self.dpy.screen().root

    def idle_seconds(self) -> float:
        return float(self.root.screensaver_query_info().idle) / 1000.0

    def last_input(self) -> float:
        return time.time() - self.idle_seconds()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection to a dead X server
            self.dpy.close()


class InputWatcher(threading.Thread):
    """Reads the idle time every ``interval`` seconds; ``last_input`` holds the latest
    (epoch seconds) or None, and ``on_change`` (if given) is called from this thread when
    it moved by more than a second (the first reading too), so that the reader need not
    poll. Ends quietly when the X server goes away."""

    def __init__(
        self,
        display: str,
        xauthority: str,
        interval: float,
        on_change: Optional[Callable[[], None]] = None,
    ) -> None:
        super().__init__(name="napari-desktop-input", daemon=True)
        self.display = display
        self.xauthority = xauthority
        self.interval = interval
        self.on_change = on_change
        self.last_input: Optional[float] = None
        self.error = ""
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            clock = InputClock(self.display, self.xauthority)
        except Exception as err:  # noqa: BLE001 - reported through .error, read by the supervisor
            self.error = f"cannot read the X idle time of {self.display}: {err}"
            return
        try:
            while not self.stopping.is_set():
                last, self.last_input = self.last_input, clock.last_input()
                if self.on_change is not None and (last is None or self.last_input - last > 1):
                    self.on_change()
                self.stopping.wait(self.interval)
        except Exception as err:  # noqa: BLE001 - the X server went away
            self.error = f"X idle time of {self.display}: {err}"
        finally:
            clock.close()

    def stop(self) -> None:
        self.stopping.set()
