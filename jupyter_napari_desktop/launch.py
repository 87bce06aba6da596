"""Pure functions that turn the configuration into paths, argv and environments.

Nothing here starts a process or touches a file; everything can be unit-tested without a
display. What touches the running system (processes, sockets, X locks, the private
directory) is in ``procs.py``. The supervisor, the manager and the doctor use both.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import secrets
import shlex
import shutil
import struct
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

PACKAGE_DIR = Path(__file__).resolve().parent
SESSION_DIR = PACKAGE_DIR / "session"
# Started as a script file: its folder, not the package, is on napari's sys.path.
NAPARI_HELPER = PACKAGE_DIR / "napari_side" / "napari_helper.py"
# Set by the server extension in its kernels' environment: which server started them
# (kernel/notebook.py finds the server's runtime file by it).
SERVER_PID_ENV = "JUPYTER_NAPARI_DESKTOP_SERVER_PID"
X_SOCKET_DIR = Path("/tmp/.X11-unix")
X_LOCK_TEMPLATE = "/tmp/.X{}-lock"
DISPLAY_SEARCH = 200
BASE_DPI = 96  # what X programs draw at when nobody says otherwise
MIN_SCALE = 1.0
MAX_SCALE = 4.0  # as the page's MAX_RATIO (labextension/desktop/hidpi.ts)
# TigerVNC 1.14 brought DRI3 and Xvnc's -rendernode (GPU OpenGL for the desktop's programs).
RENDER_NODE_XVNC = (1, 14)
XVNC_VERSION_RE = re.compile(r"TigerVNC (\d+)\.(\d+)")

# Secrets of the Jupyter server that programs inside the desktop have no use for.
ENV_STRIP = (
    "JUPYTERHUB_API_TOKEN",
    "JPY_API_TOKEN",
    "JUPYTER_TOKEN",
    "DBUS_SESSION_BUS_ADDRESS",
    "SESSION_MANAGER",
    "WAYLAND_DISPLAY",
    "XDG_SESSION_ID",
    "XDG_SESSION_TYPE",
    "XDG_SESSION_CLASS",
    "DISPLAY",
    "XAUTHORITY",
)

HIDDEN_AUTOSTART = (
    "light-locker",
    "xfce4-screensaver",
    "xscreensaver",
    "xfce4-power-manager",
    "blueman",
    "nm-applet",
    "pulseaudio",
    "print-applet",
    "update-notifier",
    "xiccd",
    "at-spi-dbus-bus",
    "geoclue-demo-agent",
)


class DesktopError(Exception):
    """A start failure with a short message for the user and the fix."""

    def __init__(self, message: str, fix: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.detail = detail

    def as_json(self) -> dict[str, str]:
        return {"message": self.message, "fix": self.fix}


@dataclass
class RuntimePaths:
    """Files of one desktop, all inside one private (0700) directory."""

    root: Path

    @property
    def vnc_socket(self) -> Path:
        return self.root / "vnc.sock"

    @property
    def xauthority(self) -> Path:
        return self.root / "Xauthority"

    @property
    def log(self) -> Path:
        return self.root / "desktop.log"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def napari_pid(self) -> Path:
        return self.root / "napari.pid"

    @property
    def napari_socket(self) -> Path:
        return self.root / "napari.sock"

    @property
    def start_napari(self) -> Path:
        return self.root / "start-napari"

    @property
    def xdg_data(self) -> Path:
        return self.root / "share"

    @property
    def screen(self) -> Path:
        """The page's screen scale for the supervisor (JSON, written by the server)."""
        return self.root / "screen.json"


def check_scale(value: object) -> float:
    """The scale as a float in [1, 4] rounded to 1/100, or ValueError saying what is wanted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"the screen scale must be a number from 1 to 4, not {value!r}")
    if not MIN_SCALE <= value <= MAX_SCALE:
        raise ValueError(
            f"the screen scale must be from 1 to 4 (device pixels per CSS pixel), not {value}"
        )
    return round(float(value), 2)


def dpi_of(scale: float) -> int:
    """The screen's dots per inch at ``scale`` (96 at 1, 192 at 2)."""
    return round(BASE_DPI * scale)


def runtime_parent(configured: str) -> Path:
    """Where private desktop directories are made: config, $XDG_RUNTIME_DIR, or /tmp."""
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK | os.X_OK):
        return Path(xdg)
    return Path(tempfile.gettempdir())


def runtime_name() -> str:
    """An unguessable directory name, chosen once per server so paths stay the same
    across desktop restarts (kernels keep a valid XAUTHORITY)."""
    return f"napari-desktop-{secrets.token_hex(8)}"


def xauthority_entry(display: int, cookie: bytes, host: Optional[str] = None) -> bytes:
    """One Xauthority record for display ``display``: FamilyWild (any host), or FamilyLocal
    for ``host`` (python-xlib only looks a cookie up by hostname)."""

    def counted(data: bytes) -> bytes:
        return struct.pack(">H", len(data)) + data

    family_wild, family_local = 0xFFFF, 0x0100
    return (
        struct.pack(">H", family_wild if host is None else family_local)
        + counted(b"" if host is None else host.encode())
        + counted(str(display).encode())
        + counted(b"MIT-MAGIC-COOKIE-1")
        + counted(cookie)
    )


def x_lock_path(display: int) -> Path:
    return Path(X_LOCK_TEMPLATE.format(display))


def x_socket_path(display: int) -> Path:
    return X_SOCKET_DIR / f"X{display}"


def xvnc_argv(
    vnc_server: str,
    display: int,
    paths: RuntimePaths,
    geometry: str,
    depth: int,
    frame_rate: int,
    render_node: Optional[str] = None,
) -> list[str]:
    """Command line of TigerVNC's Xvnc: unix socket only, no TCP, no blacklist; with a
    ``render_node`` (see ``choose_render_node``) its OpenGL runs on that GPU."""
    gpu = ["-rendernode", render_node] if render_node else []
    return [
        vnc_server,
        f":{display}",
        "-rfbport",
        "-1",
        "-rfbunixpath",
        str(paths.vnc_socket),
        "-rfbunixmode",
        "0600",
        "-nolisten",
        "tcp",
        "-SecurityTypes",
        "None",
        "-auth",
        str(paths.xauthority),
        "-geometry",
        geometry,
        "-depth",
        str(depth),
        "-FrameRate",
        str(frame_rate),
        "-UseBlacklist=0",
        "-AlwaysShared",
        "-DisconnectClients=0",
        "-AcceptSetDesktopSize",
        "-desktop",
        "napari-desktop",
        "-s",
        "0",
        *gpu,
    ]


def parse_xvnc_version(text: str) -> Optional[tuple[int, int]]:
    """(major, minor) from the banner of ``Xvnc -help`` ("Xvnc TigerVNC 1.15.0 - built
    ..."); None if it names no TigerVNC version."""
    found = XVNC_VERSION_RE.search(text)
    return (int(found.group(1)), int(found.group(2))) if found else None


@dataclass(frozen=True)
class RenderNode:
    """Which renderer the desktop's OpenGL gets: ``path`` for Xvnc's -rendernode (None: Mesa
    llvmpipe on the CPU), and why, in words for the doctor and the log."""

    path: Optional[str]
    reason: str

    @property
    def renderer(self) -> str:
        if self.path:
            return f"the GPU of {self.path} (DRI3, Xvnc -rendernode)"
        return "Mesa llvmpipe on the CPU"


def choose_render_node(
    setting: str,
    version: Optional[tuple[int, int]],
    nodes: list[str],
    usable: Callable[[str], bool],
) -> RenderNode:
    """c.NapariDesktop.render_node turned into Xvnc's -rendernode. ``version`` is Xvnc's,
    ``nodes`` the /dev/dri/renderD* devices in order, ``usable`` says whether this user may
    read and write one. 'auto' takes the first node only with Xvnc 1.14+ and access to it;
    a path is passed on as given (the doctor says when it cannot work)."""
    if setting == "off":
        return RenderNode(None, "c.NapariDesktop.render_node is 'off'")
    if setting != "auto":
        return RenderNode(setting, "set by c.NapariDesktop.render_node")
    if version is None:
        return RenderNode(None, "auto: Xvnc did not say its TigerVNC version (Xvnc -help)")
    shown = ".".join(map(str, version))
    if version < RENDER_NODE_XVNC:
        return RenderNode(None, f"auto: Xvnc is TigerVNC {shown}; -rendernode needs 1.14 or newer")
    if not nodes:
        return RenderNode(
            None, "auto: no /dev/dri/renderD* device (in a container: --device /dev/dri)"
        )
    if not usable(nodes[0]):
        return RenderNode(
            None,
            f"auto: {nodes[0]} is not readable and writable by this user (add the user to "
            "the device's group, e.g. render or video)",
        )
    return RenderNode(nodes[0], f"auto: the first render node, TigerVNC {shown}")


def user_xstartup(home: Path) -> Optional[Path]:
    """The user's own ~/.vnc/xstartup, if it exists and is executable."""
    candidate = home / ".vnc" / "xstartup"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    return None


def session_argv(session: str, xstartup: str, home: Path) -> tuple[str, list[str]]:
    """(kind, argv) of the session: configured script, ~/.vnc/xstartup, xfce or minimal."""
    if xstartup:
        return "xstartup", [str(Path(xstartup).expanduser())]
    own = user_xstartup(home)
    if own is not None:
        return "user-xstartup", [str(own)]
    if session == "minimal":
        # openbox: about 9 MiB; xfwm4 alone loads GTK and xfconf (about 50 MiB) - the fallback.
        if shutil.which("openbox"):
            return "minimal", ["openbox", "--sm-disable"]
        return "minimal", ["xfwm4", "--compositor=off", "--sm-client-disable"]
    return "xfce", ["dbus-launch", "--exit-with-session", "xfce4-session"]


def session_programs(kind: str, argv: list[str]) -> list[tuple[str, str]]:
    """(program, Debian package) pairs the session needs on PATH."""
    if kind == "xfce":
        return [
            ("dbus-launch", "dbus-x11"),
            ("xfce4-session", "xfce4"),
            ("xfwm4", "xfwm4"),
            ("xfce4-panel", "xfce4-panel"),
        ]
    if kind == "minimal":
        return [(argv[0], argv[0])]
    return []


def desktop_env(
    base: dict[str, str],
    display: int,
    paths: RuntimePaths,
    extra: dict[str, str],
) -> dict[str, str]:
    """Environment for the session and napari inside the desktop."""
    env = {key: value for key, value in base.items() if key not in ENV_STRIP}
    data_dirs = base.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    config_dirs = base.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    env.update(
        {
            "DISPLAY": f":{display}",
            "XAUTHORITY": str(paths.xauthority),
            "QT_QPA_PLATFORM": "xcb",
            "XDG_SESSION_TYPE": "x11",
            "XDG_CURRENT_DESKTOP": env.get("XDG_CURRENT_DESKTOP", "XFCE"),
            "XDG_CONFIG_DIRS": f"{SESSION_DIR / 'xdg-config'}:{config_dirs}",
            "XDG_DATA_DIRS": f"{paths.xdg_data}:{data_dirs}",
            "XFCE_PANEL_MIGRATE_DEFAULT": "1",
            "NAPARI_DESKTOP_RUNTIME_DIR": str(paths.root),
            "NO_AT_BRIDGE": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class NapariLaunch:
    """How napari starts, or why it cannot."""

    argv: Optional[list[str]]
    message: str = ""
    python: str = ""

    @property
    def available(self) -> bool:
        return self.argv is not None


INSTALL_NAPARI = (
    "install napari into the server's environment with: pip install 'napari[pyqt6]', "
    "or set c.NapariDesktop.napari_python to the Python of an environment that has it"
)


def shebang_python(script: Path) -> Optional[str]:
    """The interpreter named in a script's first line (for a pip-installed `napari`)."""
    try:
        with script.open("rb") as handle:
            first = handle.readline(512).decode("utf-8", "replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    words = shlex.split(first[2:])
    if not words:
        return None
    if Path(words[0]).name == "env" and len(words) > 1:
        found = shutil.which(words[-1])
        return found
    return words[0] if "python" in Path(words[0]).name else None


def resolve_napari(
    napari_command: list[str],
    napari_python: str,
    napari_args: list[str],
    wrapper: list[str],
) -> NapariLaunch:
    """Pick the command that starts napari (see NapariDesktop.napari_* options)."""
    prefix = wrapper if wrapper and shutil.which(wrapper[0]) else []
    if napari_command:
        if not shutil.which(napari_command[0]):
            return NapariLaunch(
                None,
                f"napari command {napari_command[0]!r} (c.NapariDesktop.napari_command) "
                "was not found; fix the option or install napari",
            )
        return NapariLaunch([*prefix, *napari_command, *napari_args])
    python = napari_python
    if python:
        python = str(Path(python).expanduser())
        if not os.access(python, os.X_OK):
            return NapariLaunch(
                None,
                f"c.NapariDesktop.napari_python = {napari_python!r} is not an executable "
                "file; point it at the python of the environment that has napari",
            )
    elif importlib.util.find_spec("napari") is not None:
        python = sys.executable
    else:
        script = shutil.which("napari")
        found = shebang_python(Path(script)) if script else None
        if not found:
            return NapariLaunch(None, "napari is not installed: " + INSTALL_NAPARI)
        python = found
    return NapariLaunch([*prefix, python, str(NAPARI_HELPER), *napari_args], python=python)


def desktop_entry(start_script: Path, icon: Path) -> str:
    """A freedesktop .desktop entry that starts napari in this desktop."""
    return (
        "[Desktop Entry]\n"
        "Version=1.0\n"
        "Type=Application\n"
        "Name=napari\n"
        "GenericName=Image viewer\n"
        "Comment=Multi-dimensional image viewer for Python\n"
        f"Exec={start_script}\n"
        f"Icon={icon}\n"
        "Terminal=false\n"
        "Categories=Graphics;Science;Education;\n"
    )


def start_script(napari_argv: list[str], log: Path) -> str:
    """Shell script that starts napari; paths are quoted with shlex."""
    return (
        "#!/bin/sh\n"
        "# Written by jupyter-napari-desktop: starts napari in this desktop.\n"
        f"exec {shlex.join(napari_argv)} >>{shlex.quote(str(log))} 2>&1\n"
    )


@dataclass
class SupervisorSpec:
    """Everything the supervisor process needs; written as JSON into the private dir."""

    root: str
    vnc_server: str
    geometry: str
    depth: int
    frame_rate: int
    first_display: int
    startup_timeout: float
    session_kind: str
    session_argv: list[str]
    napari_argv: Optional[list[str]]
    autostart_napari: bool
    extra_env: dict[str, str] = field(default_factory=dict)
    parent_pid: int = 0
    render_node: Optional[str] = None
    scale: float = 1.0  # device pixels per CSS pixel of the page (XSETTINGS, xsettings.py)

    def dump(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def load(cls, text: str) -> SupervisorSpec:
        return cls(**json.loads(text))
