"""Server side of the desktop: start the supervisor on demand, report, stop.

One ``DesktopManager`` per Jupyter server, so one desktop per server. Everything that
runs in the desktop is a descendant of the supervisor process (see ``supervisor.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from .config import NapariDesktop
from .launch import (
    DesktopError,
    NapariLaunch,
    RuntimePaths,
    SupervisorSpec,
    make_runtime_dir,
    pid_alive,
    resolve_napari,
    runtime_parent,
    session_argv,
    session_programs,
)

PREFIX = "[napari-desktop]"
STOP_TIMEOUT = 4.0


def preflight(config: NapariDesktop) -> list[DesktopError]:
    """Problems that stop the desktop from starting, each with its fix."""
    problems = []
    if not shutil.which(config.vnc_server):
        problems.append(
            DesktopError(
                f"The VNC server {config.vnc_server!r} was not found on PATH",
                "install tigervnc-standalone-server (Debian/Ubuntu: sudo apt-get install "
                "tigervnc-standalone-server) or set c.NapariDesktop.vnc_server",
            )
        )
    kind, argv = session_argv(config.session, config.xstartup, Path.home())
    if kind == "xstartup" and not os.access(argv[0], os.X_OK):
        problems.append(
            DesktopError(
                f"c.NapariDesktop.xstartup = {config.xstartup!r} is not an executable file",
                f"create it and make it executable (chmod +x {config.xstartup}) or unset it",
            )
        )
    for program, package in session_programs(kind, argv):
        if not shutil.which(program):
            problems.append(
                DesktopError(
                    f"{program} (needed by the {kind!r} session) was not found on PATH",
                    f"install it: sudo apt-get install {package}"
                    + (", or set c.NapariDesktop.session = 'minimal'" if kind == "xfce" else ""),
                )
            )
    return problems


def socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of the supervisor's process group (if it was killed itself)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class DesktopManager:
    """Starts, watches and stops this server's desktop."""

    def __init__(self, config: NapariDesktop, log: Optional[logging.Logger] = None) -> None:
        self.config = config
        self.log = log or logging.getLogger(__name__)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.paths: Optional[RuntimePaths] = None
        self.state: dict[str, Any] = {}
        self.started_at = 0.0
        self._lock = asyncio.Lock()

    # -- queries ---------------------------------------------------------------------
    def napari_launch(self) -> NapariLaunch:
        c = self.config
        return resolve_napari(c.napari_command, c.napari_python, c.napari_args, c.napari_wrapper)

    @property
    def vnc_socket(self) -> Optional[Path]:
        return self.paths.vnc_socket if self.paths else None

    def read_state(self) -> dict[str, Any]:
        if not self.paths:
            return {}
        try:
            return dict(json.loads(self.paths.state.read_text()))
        except (OSError, ValueError):
            return {}

    def running(self) -> bool:
        """The supervisor lives, its state says ready and the VNC socket accepts."""
        if self.proc is None or self.proc.poll() is not None or self.paths is None:
            return False
        return self.read_state().get("phase") == "ready" and socket_accepts(self.paths.vnc_socket)

    def last_input(self) -> Optional[float]:
        """Epoch seconds of the last keyboard/pointer input on the desktop, if known."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        value = self.read_state().get("last_input")
        return float(value) if isinstance(value, (int, float)) else None

    def napari_running(self) -> bool:
        if not self.paths:
            return False
        try:
            pid = int(self.paths.napari_pid.read_text())
        except (OSError, ValueError):
            return False
        return pid_alive(pid)

    def status(self) -> dict[str, Any]:
        running = self.running()
        state = self.read_state() if running else {}
        launch = self.napari_launch()
        return {
            "running": running,
            "display": f":{state['display']}" if state.get("display") is not None else None,
            "session": state.get("session"),
            "uptime_s": round(time.time() - self.started_at, 1) if running else None,
            "napari": {
                "available": launch.available,
                "running": running and self.napari_running(),
                "message": launch.message or None,
            },
        }

    # -- start -----------------------------------------------------------------------
    async def ensure_running(self) -> None:
        """Start the desktop unless it runs; raise DesktopError with a fix if it cannot."""
        async with self._lock:
            if self.running():
                return
            await self._cleanup_dead()
            problems = preflight(self.config)
            if problems:
                raise problems[0]
            await self._start()

    async def _start(self) -> None:
        c = self.config
        paths = make_runtime_dir(runtime_parent(c.runtime_dir))
        kind, argv = session_argv(c.session, c.xstartup, Path.home())
        launch = self.napari_launch()
        if not launch.available:
            self.log.warning("%s %s", PREFIX, launch.message)
        spec = SupervisorSpec(
            root=str(paths.root),
            vnc_server=c.vnc_server,
            geometry=c.geometry,
            depth=c.depth,
            frame_rate=c.frame_rate,
            first_display=c.first_display,
            startup_timeout=c.startup_timeout,
            session_kind=kind,
            session_argv=argv,
            napari_argv=launch.argv,
            autostart_napari=c.autostart_napari,
            extra_env=dict(c.extra_env),
            parent_pid=os.getpid(),
        )
        fd = os.open(paths.spec, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(spec.dump())
        argv = [sys.executable, "-m", "jupyter_napari_desktop.supervisor", str(paths.spec)]
        self.log.info("%s starting the desktop (%s session): %s", PREFIX, kind, argv)
        # Started from the event loop's thread: PR_SET_PDEATHSIG follows the forking thread.
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(paths.log, "ab"),
            start_new_session=True,
            close_fds=True,
        )
        self.paths = paths
        self.started_at = time.time()
        deadline = time.monotonic() + c.startup_timeout + 5
        while time.monotonic() < deadline:
            state = self.read_state()
            if state.get("phase") == "ready":
                self.log.info(
                    "%s desktop ready on display :%s (supervisor pid %s)",
                    PREFIX,
                    state.get("display"),
                    self.proc.pid,
                )
                return
            if state.get("phase") == "failed" or self.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        await self._fail(state)

    async def _fail(self, state: dict[str, Any]) -> None:
        error = state.get("error") or {}
        detail = state.get("detail") or self._log_tail()
        self.log.error(
            "%s the desktop did not start: %s\n%s",
            PREFIX,
            error.get("message", "no ready signal"),
            detail,
        )
        await self.stop()
        raise DesktopError(
            error.get("message") or "The desktop did not start in time",
            error.get("fix") or "see the Jupyter server log for the desktop log",
            detail,
        )

    def _log_tail(self, lines: int = 20) -> str:
        if not self.paths:
            return ""
        try:
            text = self.paths.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    async def _cleanup_dead(self) -> None:
        """Forget a desktop whose supervisor has exited (Xvnc died, user logged out)."""
        if self.proc is not None or self.paths is not None:
            reason = self.read_state().get("reason") or "exited"
            self.log.info("%s previous desktop is gone (%s); starting a new one", PREFIX, reason)
            await self.stop()

    # -- napari ----------------------------------------------------------------------
    def start_napari(self) -> None:
        """Ask the supervisor to start napari unless it already runs."""
        if self.proc is not None and self.proc.poll() is None and not self.napari_running():
            os.kill(self.proc.pid, signal.SIGUSR1)

    # -- stop ------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop the desktop and everything in it; remove its private directory."""
        proc, paths = self.proc, self.paths
        self.proc, self.paths = None, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                self.log.warning("%s supervisor %s did not stop; killing it", PREFIX, proc.pid)
        if proc is not None:
            kill_group(proc)
        if paths is not None:
            shutil.rmtree(paths.root, ignore_errors=True)

    def stop_now(self) -> None:
        """Synchronous stop for interpreter exit (no event loop)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.log.warning("%s supervisor %s did not stop; killing it", PREFIX, proc.pid)
        if proc is not None:
            kill_group(proc)
        if self.paths is not None:
            shutil.rmtree(self.paths.root, ignore_errors=True)
        self.proc, self.paths = None, None
