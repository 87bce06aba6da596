"""Checks of everything the desktop needs, each failure with the command that fixes it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .config import NapariDesktop
from .launch import (
    RENDER_NODE_XVNC,
    RenderNode,
    RuntimePaths,
    desktop_env,
    resolve_napari,
    session_argv,
    session_programs,
    xvnc_argv,
)
from .procs import (
    candidate_displays,
    resolve_render_node,
    rfb_greets,
    write_xauthority,
    xvnc_version,
)

APT = "sudo apt-get install -y"
QT_XCB_LIBS = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = True


def run(argv: list[str], env: Optional[dict[str, str]] = None, timeout: float = 60) -> tuple:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        return 127, "", str(err)
    return done.returncode, done.stdout, done.stderr


def check_program(name: str, program: str, package: str) -> Check:
    found = shutil.which(program)
    if found:
        return Check(name, True, found)
    return Check(name, False, f"{program} not found on PATH", f"{APT} {package}")


def check_xcb_libraries() -> Check:
    code, out, _ = run(["/sbin/ldconfig", "-p"])
    if code != 0:
        return Check("Qt xcb libraries", False, "could not list libraries (ldconfig -p)", "")
    missing = [pkg for lib, pkg in QT_XCB_LIBS.items() if lib not in out]
    if missing:
        return Check(
            "Qt xcb libraries",
            False,
            "missing: " + ", ".join(missing),
            f"{APT} {' '.join(missing)}",
        )
    return Check("Qt xcb libraries", True, f"{len(QT_XCB_LIBS)} libraries found")


class TemporaryDisplay:
    """A throwaway Xvnc on a private unix socket, for the OpenGL and Qt checks."""

    def __init__(self, config: NapariDesktop, render_node: Optional[str] = None) -> None:
        self.config = config
        self.render_node = render_node
        self.tmp = tempfile.TemporaryDirectory(prefix="napari-doctor-")
        os.chmod(self.tmp.name, 0o700)
        self.paths = RuntimePaths(Path(self.tmp.name))
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.display: Optional[int] = None

    def __enter__(self) -> TemporaryDisplay:
        display = candidate_displays(max(self.config.first_display, 50))[0]
        write_xauthority(self.paths.xauthority, display, os.urandom(16))
        argv = xvnc_argv(
            self.config.vnc_server, display, self.paths, "640x480", 24, 10, self.render_node
        )
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        # Ready when the VNC server greets on its socket (as the supervisor waits for it).
        while time.monotonic() < deadline and self.proc.poll() is None:
            if rfb_greets(self.paths.vnc_socket, timeout=0.5):
                self.display = display
                break
            time.sleep(0.05)
        return self

    def env(self) -> dict[str, str]:
        assert self.display is not None
        return desktop_env(dict(os.environ), self.display, self.paths, {})

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.tmp.cleanup()


def check_opengl(display: TemporaryDisplay) -> Check:
    if display.display is None:
        return Check("OpenGL", False, "could not start a test X server", "fix the VNC server first")
    if not shutil.which("glxinfo"):
        return Check("OpenGL", False, "glxinfo not found, cannot check", f"{APT} mesa-utils")
    code, out, err = run(["glxinfo", "-B"], env=display.env(), timeout=30)
    renderer = re.search(r"OpenGL renderer string: (.*)", out)
    gl_version = re.search(r"OpenGL version string: (.*)", out)
    if code != 0 or not renderer:
        return Check(
            "OpenGL",
            False,
            (err or out).strip()[-300:] or "glxinfo failed",
            f"{APT} libgl1-mesa-dri libglx-mesa0",
        )
    version = gl_version.group(1) if gl_version else "unknown version"
    return Check("OpenGL", True, f"{renderer.group(1)}, OpenGL {version}")


def check_render_node(config: NapariDesktop, gpu: RenderNode) -> Check:
    """Which renderer napari's OpenGL gets (c.NapariDesktop.render_node) and why; a set
    path that cannot work is a failure with the fix."""
    name = "Renderer"
    detail = f"napari's OpenGL: {gpu.renderer}; {gpu.reason}"
    if not gpu.path or config.render_node == "auto":
        return Check(name, True, detail, needed=False)
    version = xvnc_version(config.vnc_server)
    if version is None or version < RENDER_NODE_XVNC:
        shown = ".".join(map(str, version)) if version else "unknown"
        return Check(
            name,
            False,
            f"{detail}, but Xvnc's TigerVNC version is {shown}; -rendernode needs 1.14 or newer",
            "install TigerVNC 1.14+ (Debian 13) or set c.NapariDesktop.render_node = 'off'",
        )
    if not os.access(gpu.path, os.R_OK | os.W_OK):
        return Check(
            name,
            False,
            f"{detail}, but {gpu.path} is missing or not readable and writable by this user",
            "add the user to the device's group (ls -l /dev/dri), pass the device into the "
            "container (--device /dev/dri) or set c.NapariDesktop.render_node = 'auto'",
        )
    return Check(name, True, detail)


NAPARI_PROBE = (
    "import os, sys\n"
    "os.environ['QT_QPA_PLATFORM'] = 'xcb'\n"
    "import napari\n"
    "from qtpy.QtWidgets import QApplication\n"
    "app = QApplication(sys.argv)\n"
    "print('napari', napari.__version__, 'Qt', __import__('qtpy').QT_VERSION, sys.executable)\n"
)


NAPARI_IMPORT_PROBE = (
    "import sys, napari\n"
    "print('napari', napari.__version__, sys.executable, '(window not tested: no X server)')\n"
)


def check_napari(config: NapariDesktop, env: Optional[dict[str, str]]) -> Check:
    """napari imports and Qt opens a window on the test display (if there is one)."""
    launch = resolve_napari(
        config.napari_command, config.napari_python, config.napari_args, config.napari_wrapper
    )
    if not launch.available:
        return Check("napari", False, launch.message, "pip install 'napari[pyqt6]'")
    if not launch.python:
        return Check("napari", True, "custom command: " + " ".join(launch.argv or []))
    probe = NAPARI_PROBE if env is not None else NAPARI_IMPORT_PROBE
    code, out, err = run([launch.python, "-c", probe], env=env, timeout=120)
    if code == 0:
        return Check("napari", True, out.strip())
    tail = err.strip().splitlines()[-3:]
    fix = f"{launch.python} -m pip install 'napari[pyqt6]'"
    if "xcb" in err and env is not None:
        fix = (
            "install Qt's xcb libraries: " + f"{APT} " + " ".join(sorted(set(QT_XCB_LIBS.values())))
        )
    return Check("napari", False, " | ".join(tail), fix)


def check_video(config: NapariDesktop) -> Check:
    """The video path (c.NapariDesktop.video): off, or which H.264 encoder it gets and why.
    Never a problem that stops the desktop: without it pages use TigerVNC's Tight."""
    name = "video path (H.264)"
    if config.video == "off":
        return Check(name, True, "off (c.NapariDesktop.video)", needed=False)
    # PyAV (FFmpeg) only where the video path is on.
    from .server.video_codec import available, nvenc_problem

    missing = available("x264")
    if missing:
        return Check(name, False, missing, "pip install av", needed=False)
    nvenc = nvenc_problem()
    if config.video_encoder == "nvenc":
        if nvenc:
            return Check(
                name,
                False,
                f"video_encoder is 'nvenc': {nvenc}; pages get TigerVNC's Tight",
                "give the server an NVIDIA GPU and driver, or set "
                "c.NapariDesktop.video_encoder = 'auto'",
                needed=False,
            )
        return Check(name, True, "NVENC (NVIDIA GPU)", needed=False)
    if config.video_encoder == "x264" or nvenc:
        why = "video_encoder is 'x264'" if config.video_encoder == "x264" else nvenc
        return Check(name, True, f"libx264 on the CPU ({why})", needed=False)
    return Check(name, True, "NVENC (NVIDIA GPU), libx264 where it cannot open", needed=False)


def run_checks(config: NapariDesktop, progress: Callable[[Check], None]) -> list[Check]:
    checks = []

    def add(check: Check) -> None:
        checks.append(check)
        progress(check)

    add(check_program("VNC server", config.vnc_server, "tigervnc-standalone-server"))
    kind, argv = session_argv(config.session, config.xstartup, Path.home())
    for program, package in session_programs(kind, argv):
        add(check_program(f"{kind} session: {program}", program, package))
    if kind == "xfce":
        add(check_program("session bus (dbus)", "dbus-launch", "dbus-x11"))
    add(check_xcb_libraries())
    if checks[0].ok:
        gpu = resolve_render_node(config.render_node, config.vnc_server)
        add(check_render_node(config, gpu))
        with TemporaryDisplay(config, gpu.path) as display:
            add(check_opengl(display))
            add(check_napari(config, display.env() if display.display is not None else None))
    else:
        add(Check("OpenGL", False, "needs the VNC server", "install the VNC server first"))
        add(check_napari(config, None))
    add(check_video(config))
    return checks
