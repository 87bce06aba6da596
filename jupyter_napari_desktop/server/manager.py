"""Server side of the desktop: start the supervisor on demand, report, stop.

One ``DesktopManager`` per Jupyter server, so one desktop per server. Everything that
runs in the desktop is a descendant of the supervisor process (see ``supervisor.py``).

The manager is the one owner of the desktop's state: start, stop, restart, the
stop-on-purpose rule and what was opened in napari change only here, under one asyncio
lock, so concurrent requests see one order of events. Handlers parse, call and answer.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from ..config import NapariDesktop
from ..launch import (
    DesktopError,
    RuntimePaths,
    SupervisorSpec,
    check_scale,
    dpi_of,
    runtime_name,
    runtime_parent,
    session_argv,
    session_programs,
)
from ..procs import (
    kill_group,
    log_tail,
    make_runtime_dir,
    resolve_render_node,
    socket_accepts,
    tree_pss_mb,
)
from .access import Access
from .errors import Refused
from .napari_link import NapariLink
from .paths import still_in_root

PREFIX = "[napari-desktop]"
STOP_TIMEOUT = 4.0
MEMORY_EVERY = 30.0  # seconds status reuses the desktop's PSS (a read costs ~20 ms of CPU)
STOPPED_MESSAGE = "The desktop was stopped (Stop desktop)"
SESSIONS_FOLDER = "napari-sessions"


def default_session_root(root_dir: Optional[Path], home: Path) -> Path:
    """Where napari's sessions are kept when ``session_dir`` is not set: ``napari-sessions``
    in the Jupyter root directory when that is the home or inside it (the file browser
    shows it, and it lives on the home's volume), else in the home."""
    home = home.resolve()
    if root_dir is not None:
        root = root_dir.expanduser().resolve()
        if root == home or home in root.parents:
            return root / SESSIONS_FOLDER
    return home / SESSIONS_FOLDER


def session_json(report: Any) -> Optional[dict[str, Any]]:
    """What the API tells of napari's kept session (an allow-list of the helper's report)."""
    if not isinstance(report, dict):
        return None
    restored = report.get("restored") if isinstance(report.get("restored"), dict) else None
    saved = report.get("last_save") if isinstance(report.get("last_save"), dict) else None
    return {
        "dir": report.get("dir"),
        "folder": report.get("folder"),
        "restoring": bool(report.get("restoring")),
        "restored": {
            key: restored.get(key)
            for key in ("from", "saved_at", "napari", "layers", "skipped", "seconds")
        }
        if restored
        else None,
        "last_save": {
            key: saved.get(key)
            for key in ("at", "layers", "written_bytes", "qt_s", "write_s", "not_kept")
        }
        if saved
        else None,
        "error": report.get("error"),
    }


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


async def connect_unix(path: str, timeout: float = 5.0) -> socket.socket:
    """A non-blocking socket connected to ``path``. While the listener's backlog is full (a
    busy Xvnc: EAGAIN) the connect is tried again until ``timeout``, instead of handing on a
    socket that never connected."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect(path)
            return sock
        except BlockingIOError as err:
            sock.close()
            if time.monotonic() > deadline:
                raise OSError(f"{path} did not accept within {timeout:g} s (backlog full)") from err
        except OSError:
            sock.close()
            raise
        await asyncio.sleep(0.01)


class DesktopManager:
    """Starts, watches and stops this server's desktop; the one owner of its state."""

    def __init__(self, config: NapariDesktop, log: Optional[logging.Logger] = None) -> None:
        self.config = config
        self.log = log or logging.getLogger(__name__)
        # Changed only with self._lock held (and by stop_now at interpreter exit).
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.paths: Optional[RuntimePaths] = None
        self.started_at = 0.0
        self.generation = 0  # desktops started so far: a page sees that a fresh one runs
        self.reason: Optional[str] = None  # why the last desktop ended or was replaced
        self.opened: list[Path] = []  # files opened through the API, reopened on restart
        self.stopped_on_purpose = False  # by Stop desktop: reconnecting pages do not restart it
        self.open_timeout = config.open_timeout  # seconds; tests shorten it
        self._lock = asyncio.Lock()
        self._reopen: Optional[asyncio.Task[None]] = None
        self._memory: Optional[tuple[int, float, float]] = None  # (pid, monotonic, MiB)
        self.runtime_name = runtime_name()
        self.napari = NapariLink(self)
        self.root_dir: Optional[Path] = None  # the Jupyter root directory (the app sets it)
        self.scale = 1.0  # the page's screen scale: kept for the next desktop too
        self.access = Access(config.owner)  # who watches, who may change it
        self.video_room: Optional[Any] = None  # video_room.Room of the view-only links
        # The video path's bridges of tabs with control (video.VideoBridge), for the status.
        self.video_bridges: set[Any] = set()

    # -- queries (no lock: they read one snapshot of proc and paths) -----------------
    @property
    def vnc_socket(self) -> Optional[Path]:
        paths = self.paths
        return paths.vnc_socket if paths else None

    @staticmethod
    def _read_state(paths: Optional[RuntimePaths]) -> dict[str, Any]:
        if not paths:
            return {}
        try:
            return dict(json.loads(paths.state.read_text()))
        except (OSError, ValueError):
            return {}

    def read_state(self) -> dict[str, Any]:
        return self._read_state(self.paths)

    def running(self) -> bool:
        """The supervisor lives, its state says ready and the VNC socket accepts."""
        proc, paths = self.proc, self.paths
        if proc is None or proc.poll() is not None or paths is None:
            return False
        return self._read_state(paths).get("phase") == "ready" and socket_accepts(paths.vnc_socket)

    def last_input(self) -> Optional[float]:
        """Epoch seconds of the last keyboard/pointer input on the desktop, if known."""
        proc, paths = self.proc, self.paths
        if proc is None or proc.poll() is not None:
            return None
        value = self._read_state(paths).get("last_input")
        return float(value) if isinstance(value, (int, float)) else None

    def _memory_mb(self, pid: int) -> float:
        """PSS of the desktop under supervisor ``pid``, read at most every MEMORY_EVERY s:
        JupyterLab's status bar asks every 10 s, and reading smaps of napari's large
        address space is the most expensive part of an idle desktop's status."""
        now = time.monotonic()
        cached = self._memory
        if cached is None or cached[0] != pid or now - cached[1] > MEMORY_EVERY:
            cached = self._memory = (pid, now, tree_pss_mb(pid))
        return cached[2]

    async def status(self) -> dict[str, Any]:
        """The JSON the API answers with (an explicit allow-list of fields)."""
        proc, paths = self.proc, self.paths
        running = self.running()
        state = self._read_state(paths) if running else {}
        launch = self.napari.launch()
        napari = await self.napari.state() if running else None
        reading = napari.get("reading") if napari else None
        return {
            "running": running,
            "display": f":{state['display']}" if state.get("display") is not None else None,
            "session": state.get("session"),
            "uptime_s": round(time.time() - self.started_at, 1) if running else None,
            "memory_mb": self._memory_mb(proc.pid) if running and proc else None,
            "generation": self.generation,
            "reason": (None if running else self._gone_reason()) or self.reason,
            "stopped_on_purpose": self.stopped_on_purpose,
            "screen": self._screen(state) if running else None,
            "napari": {
                "available": launch.available,
                "running": running and self.napari.running(),
                "message": launch.message or None,
                "version": napari.get("version") if napari else None,
                "layers": napari.get("layers", []) if napari else [],
                "dims": napari.get("dims") if napari else None,
                "scale": napari.get("scale") if napari else None,
                "reading": (
                    {"paths": list(reading.get("paths", [])), "for_s": reading.get("for_s")}
                    if isinstance(reading, dict)
                    else None
                ),
                "session": session_json(napari.get("session") if napari else None),
            },
            "video": self._video_status(),
        }

    def _video_status(self) -> dict[str, Any]:
        """The video path's streams now: each tab with control has its own encoder, the
        watchers share the room's; what each took of a CPU core lately (video.py's
        RECENT_SECONDS)."""
        streams = [
            {"room": False, "viewers": 1, **bridge.figures()}
            for bridge in list(self.video_bridges)
            if not bridge.closed
        ]
        room = self.video_room
        if room is not None and not room.closed and room.viewers:
            streams.append({"room": True, "viewers": len(room.viewers), **room.bridge.figures()})
        return {
            "streams": streams,
            "cpu_cores": round(sum(stream["cpu_cores"] for stream in streams), 3),
        }

    def _screen(self, state: dict[str, Any]) -> dict[str, Any]:
        scale = state.get("screen_scale", 1.0)
        scaling = state.get("screen_scaling", "")
        return {
            "scale": scale,
            "dpi": dpi_of(float(scale)) if isinstance(scale, (int, float)) else None,
            "scaling": scaling == "xsettings",
            "message": None if scaling in ("xsettings", "") else scaling,
        }

    # -- what the handlers call ------------------------------------------------------
    async def set_scale(self, value: object) -> dict[str, Any]:
        """The page's device pixels per CSS pixel: programs in the desktop draw at that
        scale (napari at 192 dpi for 2), now and in the next desktop. ValueError for a bad
        value. Answers what the desktop does (``scaling`` False: it cannot)."""
        scale = check_scale(value)
        self.scale = scale
        proc, paths = self.proc, self.paths
        if proc is not None and proc.poll() is None and paths is not None:
            tmp = paths.screen.with_suffix(".tmp")
            tmp.write_text(json.dumps({"scale": scale}))
            tmp.replace(paths.screen)
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGWINCH)
        return self._screen({**self.read_state(), "screen_scale": scale})

    async def start(self, app: str = "desktop", reconnect: bool = False) -> None:
        """Start the desktop (and napari for app="napari"). A page reconnecting by itself
        (``reconnect``) does not start a desktop that was stopped on purpose: Refused 409."""
        async with self._lock:
            if reconnect and self.stopped_on_purpose:
                raise Refused(409, STOPPED_MESSAGE, "click 'Try again' to start it again")
            self.stopped_on_purpose = False
            await self._ensure_running(napari=app == "napari")
            if app == "napari":
                self.napari.start()

    async def connect(self, may_start: bool = True) -> Path:
        """The VNC socket for a new websocket, starting a fresh desktop if Xvnc died; one who
        may only watch (not ``may_start``) joins a running desktop, never starts one."""
        async with self._lock:
            if not may_start and not self.running():
                owner = self.access.owner
                raise Refused(409, f"{owner}'s desktop is not running", f"ask {owner} to open it")
            if self.stopped_on_purpose:
                raise Refused(409, STOPPED_MESSAGE, "click 'Try again' to start it again")
            await self._ensure_running()
            assert self.paths is not None
            return self.paths.vnc_socket

    async def stop(self) -> None:
        """Stop on purpose (Stop desktop): open pages do not start it again by themselves."""
        async with self._lock:
            self.stopped_on_purpose = True
            await self._stop("stopped (Stop desktop)")

    async def restart(self) -> None:
        """Stop and start again in one step; then reopen what was opened through the API."""
        async with self._lock:
            self.stopped_on_purpose = False
            reopen = await asyncio.to_thread(self._to_reopen)
            await self._stop("restarted (Restart desktop)")
            await self._ensure_running()
            if not reopen and self.config.autostart_napari:
                self.napari.start()
        if reopen:
            # The restart itself is done; a reopen cut short (another stop, a busy napari)
            # is logged and shows in status as missing layers.
            await self._reopen_files(reopen)

    async def open(
        self, paths: list[Path], plugin: Optional[str], layer_type: Optional[str]
    ) -> dict[str, Any]:
        """Open files (already checked by paths.resolve_in_root) as layers in napari, starting
        the desktop and napari if needed (NapariLink.open says what is refused); what opens
        is opened again after a restart."""
        answer = await self.napari.open(paths, plugin, layer_type, self.open_timeout)
        if answer.get("ok"):
            self.opened.extend(p for p in paths if p not in self.opened)
        return answer

    async def ensure_running_with_napari(self) -> RuntimePaths:
        """The desktop running and napari asked to start (NapariLink waits for it)."""
        async with self._lock:
            self.stopped_on_purpose = False
            await self._ensure_running(napari=True)
            assert self.paths is not None
            self.napari.start()
            return self.paths

    def kernel_env(self) -> dict[str, str]:
        """Environment for kernels started now: the running desktop's display, so
        ``napari.Viewer()`` and ``%gui qt`` in a notebook show their windows there."""
        paths = self.paths
        display = self._read_state(paths).get("display")
        if not self.running() or paths is None or display is None:
            return {}
        return {
            "DISPLAY": f":{display}",
            "XAUTHORITY": str(paths.xauthority),
            "NAPARI_DESKTOP_RUNTIME_DIR": str(paths.root),
            "QT_QPA_PLATFORM": "xcb",
        }

    # -- start (lock held) -----------------------------------------------------------
    async def _ensure_running(self, napari: bool = False) -> None:
        """Start the desktop unless it runs; raise DesktopError with a fix if it cannot.
        ``napari``: napari is wanted now, so a fresh desktop starts it first (before the
        session, see supervisor.py) whatever ``autostart_napari`` says."""
        assert self._lock.locked()
        if self.running():
            return
        died = await self._cleanup_dead()
        if self.running():
            return
        problems = preflight(self.config)
        if problems:
            raise problems[0]
        await self._start(napari)
        reopen = await asyncio.to_thread(self._to_reopen)
        if died and reopen:
            # Xvnc or the session died: the fresh desktop gets back what the API opened.
            self._reopen = asyncio.ensure_future(self._reopen_files(reopen))

    def _to_reopen(self) -> list[Path]:
        """What the API opened that is still there and still inside the Jupyter root: a
        folder on its way replaced by a link to elsewhere since is not opened again (a
        thread's work: a folder's links are checked)."""
        root = self.root_dir or Path.cwd()
        kept = []
        for path in self.opened:
            if not os.path.lexists(path):
                continue
            if still_in_root(root, path):
                kept.append(path)
            else:
                self.log.warning(
                    "%s not reopened: %s now leads outside the Jupyter root", PREFIX, path
                )
        return kept

    async def _reopen_files(self, paths: list[Path]) -> None:
        """Open again what the API opened in the previous desktop; failures are logged.
        With c.NapariDesktop.restore, napari's kept session brings back what it had saved
        (with its settings): only the files it lacks (opened just before the end, before a
        save) are opened."""
        try:
            if self.config.restore:
                paths = await self._not_restored(paths)
                if not paths:
                    return
            answer = await self.open(paths, None, None)
        except DesktopError as err:
            self.log.warning("%s could not reopen %s: %s", PREFIX, paths, err.message)
            return
        if not answer.get("ok"):
            self.log.warning("%s reopening %s: %s", PREFIX, paths, answer.get("error"))

    async def _not_restored(self, paths: list[Path], timeout: float = 120.0) -> list[Path]:
        """Start napari, wait for it to restore its session; ``paths`` it did not bring back."""
        await self.napari.socket(start=True)
        deadline = time.monotonic() + timeout
        session: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = await self.napari.state()
            session = (state or {}).get("session") or {}
            if state is not None and not session.get("restoring"):
                break
            await asyncio.sleep(0.25)
        restored = session.get("restored") or {}
        sources = set(restored.get("sources") or [])
        return [p for p in paths if str(p) not in sources]

    async def _start(self, napari: bool = False) -> None:
        c = self.config
        paths = make_runtime_dir(runtime_parent(c.runtime_dir), self.runtime_name)
        kind, argv = session_argv(c.session, c.xstartup, Path.home())
        launch = self.napari.launch()
        if not launch.available:
            self.log.warning("%s %s", PREFIX, launch.message)
        gpu = resolve_render_node(c.render_node, c.vnc_server)
        self.log.info("%s OpenGL: %s (%s)", PREFIX, gpu.renderer, gpu.reason)
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
            autostart_napari=c.autostart_napari or napari,
            extra_env=dict(c.extra_env),
            parent_pid=os.getpid(),
            render_node=gpu.path,
            scale=self.scale,
        )
        fd = os.open(paths.spec, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(spec.dump())
        self._write_keep(paths)
        argv = [sys.executable, "-m", "jupyter_napari_desktop.supervisor", str(paths.spec)]
        self.log.info("%s starting the desktop (%s session): %s", PREFIX, kind, argv)
        # Started from the event loop's thread: PR_SET_PDEATHSIG follows the forking thread.
        with open(paths.log, "ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        self.proc, self.paths = proc, paths
        self.started_at = time.time()
        self.generation += 1
        deadline = time.monotonic() + c.startup_timeout + 5
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self._read_state(paths)
            if state.get("phase") == "ready":
                self.log.info(
                    "%s desktop ready on display :%s (supervisor pid %s)",
                    PREFIX,
                    state.get("display"),
                    proc.pid,
                )
                return
            if state.get("phase") == "failed" or proc.poll() is not None:
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
        await self._stop("did not start")
        raise DesktopError(
            error.get("message") or "The desktop did not start in time",
            error.get("fix") or "see the Jupyter server log for the desktop log",
            detail,
        )

    # -- napari's kept session (napari_side/session_keep.py does the keeping) ---------
    def session_root(self) -> Path:
        """The folder napari's sessions are kept in (c.NapariDesktop.session_dir)."""
        if self.config.session_dir:
            return Path(self.config.session_dir).expanduser()
        return default_session_root(self.root_dir, Path.home())

    def _write_keep(self, paths: RuntimePaths) -> None:
        """keep.json in the private directory: where and how napari keeps its session."""
        c = self.config
        options = {
            "dir": str(self.session_root()),
            "restore": c.restore,
            "keep": c.keep_sessions,
            "delay_s": c.save_delay,
        }
        fd = os.open(paths.root / "keep.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(options, handle)

    def saved_sessions(self) -> list[dict[str, Any]]:
        """The kept sessions, newest first: folder name, when saved, layer names, and the
        reason when its session.json cannot be read."""
        root = self.session_root()
        try:
            folders = sorted((p for p in root.iterdir() if p.is_dir()), reverse=True)
        except OSError:
            return []
        found = []
        for folder in folders:
            item: dict[str, Any] = {"name": folder.name, "path": str(folder)}
            try:
                state = json.loads((folder / "session.json").read_text())
            except (OSError, ValueError) as err:
                item["error"] = f"session.json cannot be read: {err}"
                found.append(item)
                continue
            layers = state.get("layers") if isinstance(state, dict) else None
            if not isinstance(layers, list):
                item["error"] = "session.json is not a napari-desktop session (no list of layers)"
            else:
                # What napari would restore by name (an entry it cannot read, it skips).
                item["saved_at"] = state.get("saved_at")
                item["layers"] = [
                    e["name"]
                    for e in layers
                    if isinstance(e, dict) and isinstance(e.get("name"), str)
                ]
            found.append(item)
        return found

    async def start_empty(self) -> dict[str, Any]:
        """napari's layers removed and a new session begun; earlier sessions stay on disk."""
        answer = await self.napari.ask({"cmd": "session", "action": "empty"}, 30.0)
        if not answer.get("ok"):
            raise Refused(409, f"napari could not start empty: {answer.get('error')}", "try again")
        return session_json(answer.get("session")) or {}

    async def open_session(self, which: str) -> dict[str, Any]:
        """napari shows a kept session instead of its layers now (they stay in their own
        session on disk): ``which`` is "latest" (the newest but napari's current one), a
        session's name under session_root(), or a session folder's absolute path."""
        if which == "latest":
            folder = which
        else:
            path = Path(which).expanduser() if "/" in which else self.session_root() / which
            named_out = "/" not in which and which.startswith(".")  # "..": not a session
            try:  # a name too long for the filesystem, a NUL byte: no such session either
                found = path.is_absolute() and (path / "session.json").is_file()
            except (OSError, ValueError):
                found = False
            if named_out or not found:
                raise Refused(
                    404,
                    f"no saved napari session at {path} (a folder with a session.json)",
                    "GET napari-desktop/api/session lists the kept sessions by name; "
                    'give one of them, "latest" or a session folder\'s absolute path',
                )
            folder = str(path)
        answer = await self.napari.ask(
            {"cmd": "session", "action": "open", "folder": folder},
            120.0,
            slow=(
                f"napari was still reading the session {which} after 120 s",
                "its layers appear when the reading ends; GET napari-desktop/api/session "
                "says when (restoring)",
            ),
        )
        if not answer.get("ok"):
            raise Refused(
                422,
                f"napari could not open the session {which}: {answer.get('error')}",
                "GET napari-desktop/api/session lists the sessions that can be read",
            )
        return session_json(answer.get("session")) or {}

    def _log_tail(self, lines: int = 20) -> str:
        return log_tail(self.paths.log, lines) if self.paths else ""

    def _gone_reason(self) -> Optional[str]:
        """Why the desktop this server holds is gone (Xvnc exited, the session ended), as
        soon as it is known, before the next connection replaces it; None while there is
        none, or it is starting."""
        proc, paths = self.proc, self.paths
        if proc is None and paths is None:
            return None
        state = self._read_state(paths)
        supervisor_gone = proc is None or proc.poll() is not None
        if not supervisor_gone and state.get("phase") != "ready":
            return None  # starting
        return state.get("reason") or (
            "the desktop's supervisor exited"
            if supervisor_gone
            else "the VNC server stopped answering"
        )

    async def _cleanup_dead(self) -> bool:
        """Forget a desktop whose supervisor has exited (Xvnc died, user logged out)."""
        if self.proc is None and self.paths is None:
            return False
        state = self.read_state()
        if self.proc is not None and self.proc.poll() is None and state.get("phase") == "ready":
            # A busy Xvnc may refuse one probe (full backlog): ask again before replacing it.
            for _ in range(8):
                await asyncio.sleep(0.25)
                if self.running():
                    return False
        reason = self._gone_reason() or "the VNC server stopped answering"
        self.log.info("%s previous desktop is gone (%s); starting a new one", PREFIX, reason)
        await self._stop(str(reason))
        return True

    # -- stop ------------------------------------------------------------------------
    async def _stop(self, reason: str) -> None:
        """Stop the desktop and everything in it; remove its private directory (lock held)."""
        assert self._lock.locked()
        proc, paths = self.proc, self.paths
        reopen = self._reopen
        if reopen is not None and not reopen.done() and reopen is not asyncio.current_task():
            reopen.cancel()
        self._reopen = None
        if proc is None and paths is None:
            return
        self.reason = reason
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if proc.poll() is None:
                self.log.warning("%s supervisor %s did not stop; killing it", PREFIX, proc.pid)
        self._clear(proc, paths)

    def _clear(
        self, proc: Optional[subprocess.Popen[bytes]], paths: Optional[RuntimePaths]
    ) -> None:
        """After the supervisor was asked to stop: whatever is left of its process group
        killed, the private directory removed, no desktop known."""
        if proc is not None:
            kill_group(proc)
        if paths is not None:
            shutil.rmtree(paths.root, ignore_errors=True)
        self.proc, self.paths = None, None

    async def shutdown(self) -> None:
        """The Jupyter server stops: end the desktop."""
        async with self._lock:
            await self._stop("the Jupyter server stopped")

    def stop_now(self) -> None:
        """Synchronous stop for interpreter exit (no event loop)."""
        proc, paths = self.proc, self.paths
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.log.warning("%s supervisor %s did not stop; killing it", PREFIX, proc.pid)
        self._clear(proc, paths)
