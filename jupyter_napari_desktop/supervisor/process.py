"""The one process that starts, watches and stops a desktop.

Run by the server as ``python -m jupyter_napari_desktop.supervisor SPEC.json`` in a new
session (its own process group). It starts Xvnc, the desktop session and napari as its
children and is their "child subreaper", so daemons that detach (dbus-daemon, XFCE
helpers) stay in its tree. It exits, taking every descendant with it, when:

- it gets SIGTERM/SIGINT/SIGHUP (the server stops the desktop),
- its parent (the Jupyter server) dies, even by SIGKILL (PR_SET_PDEATHSIG),
- Xvnc dies, or the session ends (the user logged out): the next connection starts a
  fresh desktop.

SIGUSR1 asks it to start napari if napari is not running; SIGWINCH to publish the page's
screen scale from ``screen.json`` (xsettings.py: napari and GTK follow it). Its state is written to
``state.json`` in the private directory; errors carry a message and a fix.

When napari starts with the desktop (``autostart_napari``, or the napari card), napari
starts first, as soon as Xvnc answers, and the session (window manager, XFCE) once napari
listens on its socket (its window is up, its files open) or after ``SESSION_DEFER_MAX``
seconds: on a small machine the session's start would otherwise take the CPU napari needs.
The window manager then adopts napari's window (and maximizes it, as napari asked).

Idle, it sleeps: it wakes for signals (a child ended, a stop, SIGUSR1), when the input
thread has seen new input (SIGUSR2) and every ``PARENT_CHECK`` seconds.
Only the standard library is used, and python-xlib (in a thread, imported there) to read
the X server's idle time: it must start fast and stay small.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Optional

from ..launch import (
    SESSION_DIR,
    DesktopError,
    RuntimePaths,
    SupervisorSpec,
    check_scale,
    desktop_entry,
    desktop_env,
    dpi_of,
    start_script,
    x_lock_path,
    x_socket_path,
    xvnc_argv,
)
from ..procs import (
    candidate_displays,
    descendants,
    describe,
    lock_pid,
    log_tail,
    pid_alive,
    rfb_greets,
    write_xauthority,
)
from .activity import InputWatcher
from .windows import maximize_when_managed
from .xfce_scale import XfceScaler, can_scale
from .xsettings import XSettingsManager, config_dirs, session_settings, start_manager

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
HANDLED = {
    signal.SIGCHLD,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
}
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
DESKTOP_MARKER = "X-NapariDesktop-Generated=true"
XVNC_ATTEMPTS = 12  # Xvnc starts tried; each on a display that is free at that moment
XVNC_SPREAD = 4  # after a collision, one of the lowest this many free displays at random
TERM_GRACE = 2.0
XVNC_EXIT_GRACE = 0.5  # seconds a session's end waits to see whether Xvnc died too
INPUT_POLL = 10.0  # seconds between reads of the X server's idle time
PARENT_CHECK = 30.0  # seconds between checks that the server lives (PDEATHSIG is the rule)
SESSION_DEFER_MAX = 15.0  # seconds the session waits for napari to come up, at most
SESSION_DEFER_POLL = 0.1  # seconds between looks for napari's socket meanwhile


def prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def unblock_signals() -> None:
    """Run in each child before exec: children must not inherit our blocked signals."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


class Supervisor:
    def __init__(self, spec: SupervisorSpec) -> None:
        self.spec = spec
        self.paths = RuntimePaths(Path(spec.root))
        self.log: IO[bytes] = open(self.paths.log, "ab", buffering=0)
        self.display: Optional[int] = None
        self.xvnc: Optional[subprocess.Popen[bytes]] = None
        self.session: Optional[subprocess.Popen[bytes]] = None
        self.napari_pid: Optional[int] = None
        self.env: dict[str, str] = {}
        self.home = Path(os.path.expanduser("~"))
        self.reason = ""
        self.state: dict[str, object] = {}
        self.input: Optional[InputWatcher] = None
        self.input_error = ""
        self.session_due: Optional[float] = None  # monotonic deadline of a deferred session
        self.xsettings: Optional[XSettingsManager] = None
        self.xfce: Optional[XfceScaler] = None  # XFCE's panel and frames at the scale

    # -- helpers ---------------------------------------------------------------------
    def note(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.log.write(f"[napari-desktop supervisor {stamp}] {text}\n".encode())

    def write_state(self, phase: str, **extra: object) -> None:
        self.state.update(phase=phase, supervisor_pid=os.getpid(), display=self.display)
        self.state.update(extra)
        tmp = self.paths.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state))
        tmp.replace(self.paths.state)

    def poll_input(self) -> None:
        """Record the time of the last keyboard/pointer input (for idle culling), as read by
        the input thread over its X connection (no process per poll)."""
        watcher = self.input
        if watcher is None or self.reason:
            return
        if watcher.error and watcher.error != self.input_error:
            self.input_error = watcher.error
            self.note(watcher.error)
        last = watcher.last_input
        if last is not None and abs(last - float(str(self.state.get("last_input", 0)))) > 1:
            self.write_state("ready", last_input=last)

    def spawn(self, argv: list[str], env: Optional[dict[str, str]] = None) -> subprocess.Popen:
        self.note("starting: " + " ".join(argv))
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            env=env,
            cwd=str(self.home) if self.home.is_dir() else "/",
            preexec_fn=unblock_signals,
        )

    def log_tail(self, lines: int = 15) -> str:
        return log_tail(self.paths.log, lines)

    # -- start -----------------------------------------------------------------------
    def vnc_ready(self) -> bool:
        return rfb_greets(self.paths.vnc_socket)

    def next_display(self, tried: list[int]) -> Optional[int]:
        """A display that is free now. Desktops starting at the same moment (a workshop's
        first click) see the same free numbers; one gets the lowest, the others look again
        and spread out over the next few instead of queueing for the same one."""
        free = [d for d in candidate_displays(self.spec.first_display) if d not in tried]
        if not free:
            return None
        return free[0] if not tried else secrets.choice(free[:XVNC_SPREAD])

    def start_xvnc(self) -> None:
        tried: list[int] = []
        for _ in range(XVNC_ATTEMPTS):
            display = self.next_display(tried)
            if display is None:
                break
            tried.append(display)
            write_xauthority(self.paths.xauthority, display, secrets.token_bytes(16))
            argv = xvnc_argv(
                self.spec.vnc_server,
                display,
                self.paths,
                self.spec.geometry,
                self.spec.depth,
                self.spec.frame_rate,
                self.spec.render_node,
            )
            try:
                proc = self.spawn(argv)
            except OSError as err:
                raise DesktopError(
                    f"Could not run the VNC server {self.spec.vnc_server!r}: {err}",
                    "install tigervnc-standalone-server (Debian/Ubuntu) or set "
                    "c.NapariDesktop.vnc_server",
                ) from err
            deadline = time.monotonic() + self.spec.startup_timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                if x_socket_path(display).exists() and self.vnc_ready():
                    self.xvnc, self.display = proc, display
                    os.chmod(self.paths.vnc_socket, 0o600)
                    return
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                raise DesktopError(
                    f"The VNC server did not accept connections within "
                    f"{self.spec.startup_timeout:g} s",
                    "the machine may be overloaded; raise c.NapariDesktop.startup_timeout",
                    self.log_tail(),
                )
            self.note(f"Xvnc on :{display} exited with {proc.returncode}; trying the next")
        raise DesktopError(
            f"The VNC server could not start (tried displays {tried})",
            "see the desktop log below; check that Xvnc runs: Xvnc -version",
            self.log_tail(),
        )

    def install_launchers(self) -> None:
        """The napari start script, the menu entry and (XFCE) the desktop icon."""
        argv = self.spec.napari_argv
        if not argv:
            return
        script = self.paths.start_napari
        script.write_text(start_script(argv, self.paths.log))
        script.chmod(0o700)
        entry = desktop_entry(script, SESSION_DIR / "napari.svg")
        apps = self.paths.xdg_data / "applications"
        apps.mkdir(parents=True, exist_ok=True)
        (apps / "napari-desktop-napari.desktop").write_text(entry)
        if self.spec.session_kind != "xfce":
            return
        desktop_dir = self.home / "Desktop"
        target = desktop_dir / "napari.desktop"
        try:
            desktop_dir.mkdir(exist_ok=True)
            if target.exists() and DESKTOP_MARKER not in target.read_text(errors="replace"):
                return  # the user's own launcher: leave it alone
            target.write_text(entry + DESKTOP_MARKER + "\n")
            target.chmod(0o755)
        except OSError as err:
            self.note(f"no napari icon on the desktop: {err}")

    def start_napari(self) -> None:
        if not self.spec.napari_argv or self.napari_running():
            return
        try:
            proc = self.spawn([str(self.paths.start_napari)], self.env)
        except OSError as err:
            self.note(f"napari did not start: {err}")
            return
        self.napari_pid = proc.pid
        self.paths.napari_pid.write_text(str(proc.pid))

    def napari_running(self) -> bool:
        """napari started by us, from the menu or the desktop icon (its helper writes the pid)."""
        try:
            pid = int(self.paths.napari_pid.read_text())
        except (OSError, ValueError):
            return False
        return pid_alive(pid)

    def start(self) -> None:
        self.start_xvnc()
        assert self.display is not None
        self.env = desktop_env(dict(os.environ), self.display, self.paths, self.spec.extra_env)
        self.start_xsettings()
        self.install_launchers()
        napari_first = bool(self.spec.autostart_napari and self.spec.napari_argv)
        if napari_first:
            self.start_napari()
            self.session_due = time.monotonic() + SESSION_DEFER_MAX
        else:
            self.start_session()
        self.write_state(
            "ready",
            xvnc_pid=self.xvnc.pid if self.xvnc else None,
            session_pid=self.session.pid if self.session else None,
            session=self.spec.session_kind,
            started=time.time(),
        )
        self.input = InputWatcher(
            f":{self.display}", str(self.paths.xauthority), INPUT_POLL, self.input_seen
        )
        self.input.start()

    def start_xsettings(self) -> None:
        """Own the display's XSETTINGS before napari and the session start (xsettings.py)."""
        base: dict[str, int | str] = {}
        if self.spec.session_kind == "xfce":
            base = session_settings(config_dirs(self.env, self.home))
        self.xsettings, problem = start_manager(
            f":{self.display}", str(self.paths.xauthority), self.spec.scale, base
        )
        if problem:
            self.note(problem)
        self.state.update(
            screen_scale=self.spec.scale if self.xsettings else 1.0,
            screen_scaling=problem or "xsettings",
        )

    def apply_screen(self) -> None:
        """The server wrote the page's scale into screen.json (SIGWINCH): publish it."""
        try:
            scale = check_scale(json.loads(self.paths.screen.read_text()).get("scale"))
        except (OSError, ValueError, AttributeError) as err:
            self.note(f"screen.json ignored: {err}")
            return
        if self.xsettings is None or self.xsettings.scale == scale:
            return
        try:
            self.xsettings.set_scale(scale)
        except Exception as err:  # noqa: BLE001 - python-xlib's errors; the desktop goes on
            self.note(f"screen scale {scale} not set: {type(err).__name__}: {err}")
            return
        self.note(f"screen scale {scale} ({dpi_of(scale)} dpi)")
        self.write_state("ready", screen_scale=scale)
        if self.xfce is not None:
            self.xfce.want(scale)

    def start_session(self) -> None:
        self.session_due = None
        self.session = self.spawn(self.spec.session_argv, self.env)
        self.scale_xfce()

    def scale_xfce(self) -> None:
        """XFCE's panel and window frames follow the screen's scale (xfce_scale.py), as its
        text and napari do through XSETTINGS."""
        if self.spec.session_kind != "xfce" or self.xsettings is None or self.session is None:
            return
        problem = can_scale(self.env)
        if problem:
            self.note(problem)
            return
        self.xfce = XfceScaler(self.session.pid, self.env, self.note, unblock_signals)
        self.xfce.want(self.xsettings.scale)

    def start_deferred_session(self) -> None:
        """Start the session napari went ahead of, once napari listens (or gave up)."""
        due = self.session_due
        if due is None or self.reason:
            return
        if self.paths.napari_socket.exists():
            self.note("napari listens: starting the session")
        elif self.napari_pid is None:
            self.note("napari is not running: starting the session")
        elif time.monotonic() > due:
            self.note(f"napari not up after {SESSION_DEFER_MAX:g} s: starting the session")
        else:
            return
        self.start_session()
        assert self.session is not None
        self.write_state("ready", session_pid=self.session.pid)
        if self.napari_pid is not None:
            threading.Thread(
                target=self.maximize_napari,
                args=(self.napari_pid,),
                name="napari-desktop-maximize",
                daemon=True,
            ).start()

    def maximize_napari(self, pid: int) -> None:
        """The window manager came after napari's window: ask it to maximize the window."""
        try:
            failed = maximize_when_managed(f":{self.display}", str(self.paths.xauthority), pid)
        except Exception as err:  # noqa: BLE001 - a window left unmaximized is no failure
            failed = f"{type(err).__name__}: {err}"
        if failed:
            self.note(f"napari's window stays as it is: {failed}")

    def input_seen(self) -> None:
        """Called by the input thread when the last input moved: wake the main loop."""
        os.kill(os.getpid(), signal.SIGUSR2)

    # -- watch -----------------------------------------------------------------------
    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            if self.xvnc and pid == self.xvnc.pid:
                self.xvnc.returncode = code
                self.reason = self.reason or f"Xvnc exited ({code})"
            elif self.session and pid == self.session.pid:
                self.session.returncode = code
                # A session ends when its X server dies, and may be reaped before Xvnc has
                # finished dying: give Xvnc a moment, so that its death is the reason named.
                if self.xvnc and self.xvnc.returncode is None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.xvnc.wait(XVNC_EXIT_GRACE)
                    if self.xvnc.returncode is not None:
                        self.reason = self.reason or f"Xvnc exited ({self.xvnc.returncode})"
                self.reason = self.reason or f"the desktop session ended ({code})"
            elif pid == self.napari_pid:
                self.note(f"napari exited ({code})")
                self.napari_pid = None
                self.paths.napari_pid.unlink(missing_ok=True)

    def watch(self) -> None:
        while not self.reason:
            wait = PARENT_CHECK if self.session_due is None else SESSION_DEFER_POLL
            info = signal.sigtimedwait(HANDLED, wait)
            self.start_deferred_session()
            if info is None:
                if os.getppid() != self.spec.parent_pid:
                    self.reason = "the Jupyter server is gone"
                self.poll_input()
                continue
            if info.si_signo == signal.SIGUSR2:
                self.poll_input()
                continue
            self.reap()
            if info.si_signo in STOP_SIGNALS:
                self.reason = f"asked to stop (signal {info.si_signo})"
            elif info.si_signo == signal.SIGUSR1 and not self.reason:
                self.start_napari()
            elif info.si_signo == signal.SIGWINCH and not self.reason:
                self.apply_screen()

    # -- stop ------------------------------------------------------------------------
    def kill_tree(self) -> int:
        me = os.getpid()
        victims = descendants(me)
        for sig, wait in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, 1.0)):
            for pid in victims:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.reap()
                victims = descendants(me)
                if not victims:
                    return 0
                time.sleep(0.05)
            if sig == signal.SIGTERM:
                self.note("still running after SIGTERM: " + ", ".join(map(describe, victims)))
        return len(victims)

    def clean_files(self) -> None:
        display = self.display
        if display is not None and lock_pid(display) == (self.xvnc.pid if self.xvnc else -1):
            for path in (x_lock_path(display), x_socket_path(display)):
                path.unlink(missing_ok=True)
        for path in (self.paths.vnc_socket, self.paths.napari_socket, self.paths.napari_pid):
            path.unlink(missing_ok=True)

    def stop(self) -> None:
        self.note(f"stopping: {self.reason}")
        self.write_state("stopping", reason=self.reason)  # the server need not wait for us
        if self.input is not None:
            self.input.stop()
        if self.xfce is not None:
            self.xfce.close()
        if self.xsettings is not None:
            self.xsettings.close()
        left = self.kill_tree()
        if left:
            self.note(f"{left} processes would not die")
        self.clean_files()
        self.write_state("stopped", reason=self.reason)
        if os.getppid() != self.spec.parent_pid:
            shutil.rmtree(self.paths.root, ignore_errors=True)

    def run(self) -> int:
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != self.spec.parent_pid:
            return 1
        try:
            self.start()
        except DesktopError as err:
            self.note(f"start failed: {err.message}\n{err.detail}")
            self.reason = err.message
            self.kill_tree()
            self.clean_files()
            self.write_state("failed", error=err.as_json(), detail=err.detail)
            return 2
        self.watch()
        self.stop()
        return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyter_napari_desktop.supervisor SPEC.json", file=sys.stderr)
        return 64
    spec = SupervisorSpec.load(Path(args[0]).read_text())
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
