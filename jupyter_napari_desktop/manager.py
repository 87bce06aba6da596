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
    runtime_name,
    runtime_parent,
    session_argv,
    session_programs,
)
from .napari_client import NapariUnavailable, ask

PREFIX = "[napari-desktop]"
STOP_TIMEOUT = 4.0
NAPARI_START_TIMEOUT = 120.0
STATE_TIMEOUT = 2.0


def tree_pss_mb(root: int) -> float:
    """Proportional memory (PSS, MiB) of a process and all its descendants."""
    from .supervisor import descendants

    total_kb = 0
    for pid in [root, *descendants(root)]:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return round(total_kb / 1024, 1)


def preflight(config: NapariDesktop) -> list[DesktopError]:
    """Problems that stop the desktop from starting, each with its fix."""
    problems = []
    if not shutil.which(config.vnc_server):
        problems.append(
            DesktopError(
                f"The VNC server {config.vnc_server!r} "
                + (
                    "is not an executable file"
                    if "/" in config.vnc_server
                    else "was not found on PATH"
                ),
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
        self._napari_lock = asyncio.Lock()
        self.runtime_name = runtime_name()
        self.opened: list[Path] = []  # files opened through the API, reopened on restart
        self.stopped_on_purpose = False  # by Stop desktop: reconnecting pages do not restart it

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

    async def napari_state(self) -> Optional[dict[str, Any]]:
        """Layers, dims and version from the running napari, or None."""
        if not self.paths or not self.napari_running():
            return None
        try:
            answer = await ask(self.paths.napari_socket, {"cmd": "state"}, STATE_TIMEOUT)
        except NapariUnavailable:
            return None
        return answer if answer.get("ok") else None

    async def status(self) -> dict[str, Any]:
        """The JSON the API answers with (an explicit allow-list of fields)."""
        running = self.running()
        state = self.read_state() if running else {}
        launch = self.napari_launch()
        napari = await self.napari_state() if running else None
        return {
            "running": running,
            "display": f":{state['display']}" if state.get("display") is not None else None,
            "session": state.get("session"),
            "uptime_s": round(time.time() - self.started_at, 1) if running else None,
            "memory_mb": tree_pss_mb(self.proc.pid) if running and self.proc else None,
            "napari": {
                "available": launch.available,
                "running": running and self.napari_running(),
                "message": launch.message or None,
                "version": napari.get("version") if napari else None,
                "layers": napari.get("layers", []) if napari else [],
                "dims": napari.get("dims") if napari else None,
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
        paths = make_runtime_dir(runtime_parent(c.runtime_dir), self.runtime_name)
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

    def kernel_env(self) -> dict[str, str]:
        """Environment for kernels started now: the running desktop's display, so
        ``napari.Viewer()`` and ``%gui qt`` in a notebook show their windows there."""
        if not self.running() or self.paths is None:
            return {}
        return {
            "DISPLAY": f":{self.read_state()['display']}",
            "XAUTHORITY": str(self.paths.xauthority),
            "NAPARI_DESKTOP_RUNTIME_DIR": str(self.paths.root),
            "QT_QPA_PLATFORM": "xcb",
        }

    # -- napari ----------------------------------------------------------------------
    def start_napari(self) -> None:
        """Ask the supervisor to start napari unless it already runs."""
        if self.proc is not None and self.proc.poll() is None and not self.napari_running():
            os.kill(self.proc.pid, signal.SIGUSR1)

    async def ensure_napari(self, timeout: float = NAPARI_START_TIMEOUT) -> Path:
        """Start the desktop and napari if needed; return napari's socket once it answers."""
        await self.ensure_running()
        launch = self.napari_launch()
        if not launch.available:
            raise DesktopError("napari is not available in this desktop", launch.message)
        async with self._napari_lock:
            assert self.paths is not None
            socket_path = self.paths.napari_socket
            self.start_napari()
            deadline = time.monotonic() + timeout
            reason = f"napari did not start within {timeout:g} s"
            while time.monotonic() < deadline:
                try:
                    await ask(socket_path, {"cmd": "state"}, STATE_TIMEOUT)
                    return socket_path
                except NapariUnavailable:
                    pass
                if not self.running():
                    reason = "the desktop stopped while napari was starting"
                    break
                if not self.napari_running() and time.monotonic() > deadline - timeout + 5:
                    reason = "napari exited while starting"  # after 5 s to write its pid
                    break
                await asyncio.sleep(0.25)
        raise DesktopError(
            reason,
            "run 'jupyter napari-desktop doctor' to check napari and Qt; see the server log",
            self._log_tail(),
        )

    async def open_in_napari(
        self, paths: list[Path], plugin: Optional[str], layer_type: Optional[str]
    ) -> dict[str, Any]:
        """Open files (already checked to be inside the root) as layers in napari."""
        socket_path = await self.ensure_napari()
        request = {
            "cmd": "open",
            "paths": [str(p) for p in paths],
            "plugin": plugin,
            "layer_type": layer_type,
        }
        try:
            answer = await ask(socket_path, request, NAPARI_START_TIMEOUT)
        except NapariUnavailable as err:
            raise DesktopError(str(err), "try again; see the server log") from err
        if answer.get("ok"):
            self.opened.extend(p for p in paths if p not in self.opened)
        return answer

    async def restart(self) -> None:
        """Stop and start again; reopen what was opened through the API."""
        reopen = list(self.opened)
        await self.stop()
        await self.ensure_running()
        if reopen:
            existing = [p for p in reopen if p.exists()]
            if existing:
                await self.open_in_napari(existing, None, None)
        elif self.config.autostart_napari:
            self.start_napari()

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
