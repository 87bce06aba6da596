"""XFCE's own sizes at the page's screen scale: the panel, window frames, desktop icons.

XSETTINGS (xsettings.py) scales what GTK and Qt draw, text and napari, but parts of an XFCE
desktop take their size from xfconf instead: the panel's height and icon size (the
``xfce4-panel`` channel; 26 and 16 pixels in the package's default panel), the desktop's
icons (``xfce4-desktop``, 48 pixels) and xfwm4's theme, whose title bars and buttons are
pictures of one size (Debian's xfwm4 has ``Default`` for 96 dpi and ``Default-hdpi`` /
``Default-xhdpi`` at 1.5 and 2 times). At devicePixelRatio 2 the panel stayed 26 device
pixels, 13 on the laptop's screen with its clock cut, and the title bars' buttons half
their size.

The supervisor sets them with ``xfconf-query`` on the session's D-Bus (``dbus-launch``
execs into ``xfce4-session``, so the bus address is in that process's environment), from a
thread: xfconf-query waits on the bus, and the panel puts its settings into xfconf only once
it has started, so the first try waits for it. Only what is still the package's changes:
the theme while it is one of xfwm4's Default family, a size while it is what this module
set last (kept in the xfconf channel ``jupyter-napari-desktop``, saved with the user's
settings) or, before that, the package's default. A theme or a size the user chose stays.
Like any xfconf setting they outlive the session: the next desktop starts with the last
scale's sizes and sets its own as soon as its panel is up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

OWN_CHANNEL = "jupyter-napari-desktop"
# xfwm4's themes for 96 dpi, 1.5 and 2 times (the xfwm4 package), by the smallest scale each
# is for: a scale between two takes the smaller (1.75 the 1.5 theme: title bars a little
# small rather than cut).
THEMES = ((1.0, "Default"), (1.5, "Default-hdpi"), (2.0, "Default-xhdpi"))
PANEL = "/panels/panel-1"  # the package's default panel (session/xdg-config/xfce4/panel)
PANEL_SIZE, PANEL_ICONS = 26, 16  # its height and icon size at scale 1
DESKTOP_ICONS = 48  # xfdesktop's icon size while none is set
QUERY_TIMEOUT = 10.0
# How long to wait for the session's bus and its panel's settings, trying every RETRY s.
WAIT_SECONDS, RETRY = 90.0, 1.0
# How long after the panel's first settings the package's panel-1 may take to have them all.
PANEL_GRACE = 10.0


@dataclass(frozen=True)
class Setting:
    """One xfconf property the page's scale sizes."""

    channel: str
    prop: str
    kind: str  # xfconf-query's type (-t) of the property
    at: Callable[[float], str]  # its value at a scale
    default: str  # the package's value at scale 1
    family: tuple[str, ...] = ()  # values that are the package's whoever set them
    unset_is_default: bool = False  # the program draws ``default`` while it is not set

    @property
    def record(self) -> str:
        """Where the value this module set last is kept (OWN_CHANNEL)."""
        return f"/{self.channel}{self.prop}"


def theme_installed(name: str) -> bool:
    """Whether xfwm4 finds theme ``name`` (its folders: ~/.themes, then the data dirs')."""
    data = [os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share"))]
    data += os.environ.get("XDG_DATA_DIRS", "/usr/local/share:/usr/share").split(":")
    folders = [Path.home() / ".themes"] + [Path(d, "themes") for d in data if d]
    return any((folder / name / "xfwm4").is_dir() for folder in folders)


def theme_at(scale: float) -> str:
    """The largest of xfwm4's Default themes for ``scale`` that is installed."""
    fitting = [name for least, name in THEMES if scale >= least - 0.01]
    return next((name for name in reversed(fitting) if theme_installed(name)), THEMES[0][1])


def pixels(base: int) -> Callable[[float], str]:
    return lambda scale: str(round(base * scale))


SETTINGS = (
    Setting(
        "xfwm4",
        "/general/theme",
        "string",
        theme_at,
        "Default",
        family=tuple(name for _, name in THEMES),
        unset_is_default=True,
    ),
    Setting("xfce4-panel", f"{PANEL}/size", "uint", pixels(PANEL_SIZE), str(PANEL_SIZE)),
    Setting("xfce4-panel", f"{PANEL}/icon-size", "uint", pixels(PANEL_ICONS), str(PANEL_ICONS)),
    Setting(
        "xfce4-desktop",
        "/desktop-icons/icon-size",
        "uint",
        pixels(DESKTOP_ICONS),
        str(DESKTOP_ICONS),
        unset_is_default=True,
    ),
)


def wanted(
    setting: Setting, scale: float, current: Optional[str], last: Optional[str]
) -> Optional[str]:
    """The value to write for ``scale``, or None to leave the property as it is: it is right,
    or it is the user's (not the family's, not what was set ``last``, nor the default)."""
    target = setting.at(scale)
    if current is None or current == target:
        return None
    ours = current in setting.family or current == (setting.default if last is None else last)
    return target if ours else None


def bus_address(pid: int) -> Optional[str]:
    """The session bus of process ``pid`` (xfce4-session, which dbus-launch became), or None
    while it is not there yet."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        name, _, value = entry.partition(b"=")
        if name == b"DBUS_SESSION_BUS_ADDRESS" and value:
            return value.decode(errors="replace")
    return None


class XfconfQuery:
    """xfconf-query on one session's bus. Exit codes are not used: the supervisor reaps
    every child of its own (waitpid(-1)), so a property is there when its value is printed."""

    def __init__(self, env: dict[str, str], preexec: Optional[Callable[[], None]] = None) -> None:
        self.env, self.preexec = env, preexec

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["xfconf-query", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=QUERY_TIMEOUT,
            preexec_fn=self.preexec,
        )
        return done.stdout.strip()

    def get(self, channel: str, prop: str) -> Optional[str]:
        return self.run("-c", channel, "-p", prop) or None

    def set(self, channel: str, prop: str, kind: str, value: str) -> None:
        self.run("-c", channel, "-p", prop, "-n", "-t", kind, "-s", value)


def apply(query: XfconfQuery, scale: float) -> tuple[Optional[list[str]], int]:
    """Set what ``scale`` wants: (what changed, how many properties were not there), or
    (None, 0) while the panel has not put its settings into xfconf (it does when it first
    starts, a property at a time: one query a try until then)."""
    if query.get("xfce4-panel", "/panels") is None:
        return None, 0
    changed, missing = [], 0
    for setting in SETTINGS:
        current = query.get(setting.channel, setting.prop)
        if current is None and setting.unset_is_default:
            current = setting.default
        missing += current is None
        if current is None or current == setting.at(scale):
            continue  # nothing to write: no need to read what was set last
        value = wanted(setting, scale, current, query.get(OWN_CHANNEL, setting.record))
        if value is not None:
            query.set(setting.channel, setting.prop, setting.kind, value)
            query.set(OWN_CHANNEL, setting.record, setting.kind, value)
            changed.append(f"{setting.channel} {setting.prop} {current} -> {value}")
    return changed, missing


class XfceScaler:
    """Keeps an XFCE session's panel and frames at the latest scale asked for (``want``),
    in a thread of its own; ``note`` gets a line for the desktop's log."""

    def __init__(
        self,
        session_pid: int,
        env: dict[str, str],
        note: Callable[[str], None],
        preexec: Optional[Callable[[], None]] = None,
    ) -> None:
        self.session_pid, self.env, self.note, self.preexec = session_pid, env, note, preexec
        self.wake = threading.Condition()
        self.scale: Optional[float] = None
        self.applied: Optional[float] = None
        self.stopped = False
        self.thread = threading.Thread(target=self._run, name="napari-desktop-xfce", daemon=True)
        self.thread.start()

    def want(self, scale: float) -> None:
        with self.wake:
            self.scale = scale
            self.wake.notify()

    def close(self) -> None:
        with self.wake:
            self.stopped = True
            self.wake.notify()

    def _next(self) -> Optional[float]:
        with self.wake:
            while not self.stopped and (self.scale is None or self.scale == self.applied):
                self.wake.wait()
            return None if self.stopped else self.scale

    def _run(self) -> None:
        while (scale := self._next()) is not None:
            try:
                done = self._apply(scale)
            except (OSError, subprocess.SubprocessError) as err:
                self.note(f"XFCE's panel and window frames not scaled: {err}")
                done = True
            if not done:
                self.note(
                    f"XFCE's panel and window frames not scaled to {scale}: no panel "
                    f"settings in xfconf after {WAIT_SECONDS:g} s"
                )
            self.applied = scale  # tried: the next scale asked for tries again

    def _apply(self, scale: float) -> bool:
        """Try until the session's bus and panel are there (or a new scale or stop comes)."""
        deadline = time.monotonic() + WAIT_SECONDS
        panels_seen: Optional[float] = None
        while time.monotonic() < deadline:
            with self.wake:
                if self.stopped or self.scale != scale:
                    return True  # superseded: the loop takes the new one
            address = bus_address(self.session_pid)
            if address:
                query = XfconfQuery({**self.env, "DBUS_SESSION_BUS_ADDRESS": address}, self.preexec)
                changed, missing = apply(query, scale)
                if changed:
                    self.note(f"XFCE at scale {scale}: " + "; ".join(changed))
                if changed is not None:
                    panels_seen = panels_seen or time.monotonic()
                    # A panel of the user's own has no panel-1: its sizes are theirs.
                    if not missing or time.monotonic() - panels_seen > PANEL_GRACE:
                        return True
            with self.wake:
                self.wake.wait(RETRY)
        return False


def can_scale(env: dict[str, str]) -> Optional[str]:
    """None if xfconf-query is on the session's PATH, else why XFCE's panel and frames keep
    their 96-dpi size."""
    if shutil.which("xfconf-query", path=env.get("PATH")):
        return None
    return "xfconf-query not found (Debian: xfconf): XFCE's panel and frames keep their size"
