"""The desktop's XSETTINGS manager: the screen's scale for napari (Qt), GTK and XFCE.

On a HiDPI laptop the page asks Xvnc for a screen of device pixels (2560x1600 for a
1280x800 window at devicePixelRatio 2). Programs that draw at 96 dpi come out half
their size there. Qt 6 and GTK 3 take the screen's scale from the XSETTINGS of the X
server (the freedesktop.org XSettings spec: a manager owns the selection
``_XSETTINGS_S0`` and keeps the settings in a property of its window) and follow a change
while they run: Qt from ``Xft/DPI`` (napari's widgets, fonts and canvas), GTK its text
(the XFCE panel, window titles and dialogs).

The supervisor is that manager: it owns the selection before napari and the session
start, so XFCE's own xfsettingsd, which finds a manager there, leaves screen 0 alone (it
still does its other jobs). The other settings XFCE would publish (theme, icons, fonts)
come from the same xfconf files xfsettingsd reads, so the session looks as before.

python-xlib speaks the protocol; the connection stays open for as long as the desktop
runs (the selection ends with it), and nothing is read from it: a manager only answers
changes, which ``set_scale`` writes.
"""

from __future__ import annotations

import contextlib
import os
import struct
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Optional, Union

from ..launch import BASE_DPI

XFCE_XSETTINGS = Path("xfce4", "xfconf", "xfce-perchannel-xml", "xsettings.xml")
Value = Union[int, str]


def scale_settings(scale: float) -> dict[str, Value]:
    """The settings that make programs draw at ``scale``.

    Qt reads ``Xft/DPI`` (in 1/1024 dpi) and scales by it over 96, fractions included (1.5
    draws at 1.5). GTK sizes its text by it. GTK's whole-number window scale
    (``Gdk/WindowScalingFactor``) stays 1: xfwm4 then takes the screen for half its size and
    maximizes napari into a quarter of it (seen with XFCE 4.18 and 4.20)."""
    return {
        "Xft/DPI": round(BASE_DPI * scale * 1024),
        "Gdk/WindowScalingFactor": 1,
        "Gdk/UnscaledDPI": round(BASE_DPI * scale * 1024),
    }


def xfconf_settings(path: Path) -> dict[str, Value]:
    """The settings of an xfconf ``xsettings`` channel file (what xfsettingsd would publish):
    ``<property name="Net"><property name="ThemeName" type="string" value="Xfce"/>`` is
    ``Net/ThemeName = "Xfce"``. An unreadable file gives nothing."""
    try:
        # The user's own settings and the system's, read as that user (expat refuses
        # entity expansion bombs): nothing another user can write.
        root = ElementTree.parse(path).getroot()  # noqa: S314
    except (OSError, ElementTree.ParseError):
        return {}
    found: dict[str, Value] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.findall("property"):
            name = f"{prefix}{child.get('name', '')}"
            kind, value = child.get("type"), child.get("value")
            if kind == "empty":
                walk(child, name + "/")
            elif kind == "string" and value is not None:
                found[name] = value
            elif kind == "int" and value is not None:
                with contextlib.suppress(ValueError):
                    found[name] = int(value)
            elif kind == "bool" and value is not None:
                found[name] = 1 if value.lower() == "true" else 0

    walk(root, "")
    return found


def session_settings(config_dirs: list[Path]) -> dict[str, Value]:
    """XFCE's xsettings, lowest priority first (system dirs, then the user's ~/.config)."""
    merged: dict[str, Value] = {}
    for directory in reversed(config_dirs):
        merged.update(xfconf_settings(directory / XFCE_XSETTINGS))
    for key in ("Xft/DPI", "Gdk/WindowScalingFactor", "Gdk/UnscaledDPI"):
        merged.pop(key, None)  # ours
    return merged


def config_dirs(env: dict[str, str], home: Path) -> list[Path]:
    """Where xfconf looks, highest priority first: $XDG_CONFIG_HOME, then $XDG_CONFIG_DIRS."""
    user = env.get("XDG_CONFIG_HOME") or str(home / ".config")
    system = env.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    return [Path(user)] + [Path(p) for p in system.split(":") if p]


def _pad(length: int) -> int:
    return (4 - length % 4) % 4


def encode(settings: dict[str, Value], serial: int, changed: dict[str, int]) -> bytes:
    """The ``_XSETTINGS_SETTINGS`` property (little-endian): a header, then per setting its
    type, name, the serial it last changed in, and its value (INT32 or a string)."""
    out = bytearray(struct.pack("<B3xII", 0, serial, len(settings)))
    for name, value in sorted(settings.items()):
        raw = name.encode()
        kind = 1 if isinstance(value, str) else 0
        out += struct.pack("<BxH", kind, len(raw)) + raw + b"\0" * _pad(len(raw))
        out += struct.pack("<I", changed.get(name, 0))
        if isinstance(value, str):
            data = value.encode()
            out += struct.pack("<I", len(data)) + data + b"\0" * _pad(len(data))
        else:
            out += struct.pack("<i", value)
    return bytes(out)


class XSettingsManager:
    """Owns ``_XSETTINGS_S0`` on one display and publishes ``base`` plus the scale."""

    def __init__(self, display: str, xauthority: str, base: dict[str, Value]) -> None:
        from Xlib import X
        from Xlib import display as xdisplay
        from Xlib.protocol import event

        os.environ["XAUTHORITY"] = xauthority
        self.dpy: Any = xdisplay.Display(display)
        screen = self.dpy.screen()
        self.selection = self.dpy.intern_atom("_XSETTINGS_S0")
        self.prop = self.dpy.intern_atom("_XSETTINGS_SETTINGS")
        owner = self.dpy.get_selection_owner(self.selection)
        if owner != X.NONE:
            self.dpy.close()
            raise OSError(f"another XSETTINGS manager owns {display} (window {owner.id:#x})")
        self.window = screen.root.create_window(-1, -1, 1, 1, 0, X.CopyFromParent)
        self.window.set_selection_owner(self.selection, X.CurrentTime)
        if self.dpy.get_selection_owner(self.selection) != self.window:
            self.dpy.close()
            raise OSError(f"could not own the XSETTINGS selection of {display}")
        self.base = dict(base)
        self.settings: dict[str, Value] = {}
        self.changed: dict[str, int] = {}
        self.serial = 0
        self.scale = 0.0
        # Tell clients that already run (the spec's MANAGER message on the root window).
        manager = self.dpy.intern_atom("MANAGER")
        message = event.ClientMessage(
            window=screen.root,
            client_type=manager,
            data=(32, [X.CurrentTime, self.selection, self.window.id, 0, 0]),
        )
        screen.root.send_event(message, event_mask=X.StructureNotifyMask)
        self.dpy.flush()

    def set_scale(self, scale: float) -> None:
        """Publish the settings for ``scale``; programs that run follow at once."""
        settings = {**self.base, **scale_settings(scale)}
        if settings == self.settings:
            return
        self.serial += 1
        for name, value in settings.items():
            if self.settings.get(name) != value:
                self.changed[name] = self.serial
        self.settings, self.scale = settings, scale
        data = encode(settings, self.serial, self.changed)
        self.window.change_property(self.prop, self.prop, 8, data)  # type = name (spec)
        self.dpy.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the connection to a dead X server
            self.dpy.close()


def start_manager(
    display: str, xauthority: str, scale: float, base: dict[str, Value]
) -> tuple[Optional[XSettingsManager], str]:
    """A manager publishing ``scale``, or None and why not (a desktop without it still runs,
    at 96 dpi)."""
    try:
        manager = XSettingsManager(display, xauthority, base)
        manager.set_scale(scale)
    except Exception as err:  # noqa: BLE001 - python-xlib raises its own error types
        return None, f"no screen scaling (XSETTINGS): {type(err).__name__}: {err}"
    return manager, ""
