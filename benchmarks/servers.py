"""The things being measured: Jupyter servers (ours and the reference tool) and bare Xvnc."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from . import procs

ROOT = Path(__file__).resolve().parents[1]
XVNC_NAMES = ("Xvnc", "Xtigervnc")  # Debian: Xvnc links to Xtigervnc


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class JupyterServer:
    """``jupyter lab`` (or ``server``) of one Python environment, on 127.0.0.1, own HOME.

    ``kind`` is "ours" (this checkout's extension, c.NapariDesktop ``options``) or
    "reference" (jupyter-remote-desktop-proxy in its own virtual environment).
    """

    def __init__(
        self,
        tmp: Path,
        python: Path,
        kind: str,
        options: Optional[dict] = None,
        app: str = "lab",
        extensions: tuple[str, ...] = (),
    ) -> None:
        self.tmp, self.kind, self.app = tmp, kind, app
        self.python = python.absolute()  # not resolve(): a venv python is a symlink
        self.home, self.root, self.config_dir = tmp / "home", tmp / "root", tmp / "config"
        for folder in (self.home, self.root, self.config_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        config: dict = {
            "ServerApp": {
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "root_dir": str(self.root),
                "allow_root": True,
            },
            "IdentityProvider": {"token": self.token},
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            },
        }
        if kind == "ours":
            config["ServerApp"]["jpserver_extensions"] = {
                "jupyter_napari_desktop": True,
                **{name: True for name in extensions},
            }
            config["NapariDesktop"] = {"first_display": 50, **(options or {})}
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        self.log_path = tmp / "jupyter.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def ws_url(self) -> str:
        path = "napari-desktop/websockify" if self.kind == "ours" else "desktop-websockify/"
        return f"ws://127.0.0.1:{self.port}/{path}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("XDG_RUNTIME_DIR", "DISPLAY", "XAUTHORITY", "VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(name, None)
        env.update(
            {
                "HOME": str(self.home),
                "JUPYTER_CONFIG_DIR": str(self.config_dir),
                "JUPYTER_DATA_DIR": str(self.tmp / "data"),
                "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
                "PATH": f"{self.python.parent}:{env.get('PATH', '')}",
            }
        )
        if self.kind == "ours":
            env["PYTHONPATH"] = str(ROOT)
        return env

    def start(self, timeout: float = 120) -> JupyterServer:
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(self.python), "-m", "jupyter", self.app, "--no-browser"],
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.root,
        )
        procs.wait_for(self.answers, timeout, f"jupyter {self.app} (log {self.log_path})", 0.1)
        return self

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"jupyter exited early; log:\n{self.log()}")
        try:
            self.request("GET", "api/status", timeout=5)
        except OSError:
            return False
        return True

    def request(self, method: str, path: str, body: object = None, timeout: float = 120):
        """(status, JSON) of an authenticated request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    # -- the desktop this server runs ------------------------------------------------
    def desktop_pids(self) -> list[int]:
        """Every process of the desktop: below the server, or escaped but with our HOME."""
        assert self.proc is not None
        below = set(procs.descendants(self.proc.pid))
        home = str(self.home)
        for entry in os.listdir("/proc"):
            if entry.isdigit() and procs.environ(int(entry)).get("HOME") == home:
                below.add(int(entry))
        below.discard(self.proc.pid)
        below.discard(os.getpid())
        return sorted(pid for pid in below if procs.alive(pid))

    def xvnc(self) -> Optional[int]:
        found = [pid for pid in self.desktop_pids() if procs.comm(pid) in XVNC_NAMES]
        return found[0] if found else None

    def vnc_socket(self) -> Optional[str]:
        pid = self.xvnc()
        return procs.option_value(procs.cmdline(pid), "-rfbunixpath") if pid else None

    def x_env(self) -> dict[str, str]:
        """Environment to start a program in this desktop (DISPLAY, XAUTHORITY, HOME)."""
        pid = self.xvnc()
        if pid is None:
            raise RuntimeError("the desktop is not running")
        argv = procs.cmdline(pid)
        display = next(word for word in argv if word.startswith(":"))
        xauth = procs.option_value(argv, "-auth") or str(self.home / ".Xauthority")
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY")
        }
        env.update(
            {
                "DISPLAY": display,
                "XAUTHORITY": xauth,
                "HOME": str(self.home),
                "QT_QPA_PLATFORM": "xcb",
            }
        )
        return env

    def stop(self) -> None:
        """Stop the server and everything it started (by pid)."""
        if self.proc is None:
            return
        pids = self.desktop_pids() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                procs.stop_tree(self.proc.pid, 2)
                self.proc.wait()
        left = [pid for pid in pids if procs.alive(pid)]
        left += [pid for pid in self.desktop_pids_after_exit() if pid not in left]
        for pid in left:
            procs.stop_tree(pid, 3)

    def desktop_pids_after_exit(self) -> list[int]:
        home = str(self.home)
        return [
            int(entry)
            for entry in os.listdir("/proc")
            if entry.isdigit()
            and int(entry) != os.getpid()
            and procs.environ(int(entry)).get("HOME") == home
            and procs.alive(int(entry))
        ]


class BareXvnc:
    """Xvnc alone (no session, no window manager), for napari's own start time."""

    def __init__(self, tmp: Path, geometry: str, frame_rate: int = 30) -> None:
        self.tmp = tmp
        self.display = procs.free_display()
        self.socket = tmp / "bare-vnc.sock"
        self.geometry, self.frame_rate = geometry, frame_rate
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 20) -> BareXvnc:
        self.proc = subprocess.Popen(
            [
                "Xvnc",
                f":{self.display}",
                "-rfbport",
                "-1",
                "-rfbunixpath",
                str(self.socket),
                "-nolisten",
                "tcp",
                "-SecurityTypes",
                "None",
                "-geometry",
                self.geometry,
                "-depth",
                "24",
                "-FrameRate",
                str(self.frame_rate),
                "-AcceptSetDesktopSize",
                "-s",
                "0",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.tmp / "bare-xvnc.log").open("ab"),
        )
        procs.wait_for(self.socket.exists, timeout, "the bare Xvnc's socket")
        return self

    def env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key != "XAUTHORITY"}
        env.update({"DISPLAY": f":{self.display}", "QT_QPA_PLATFORM": "xcb"})
        return env

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            procs.stop_tree(self.proc.pid, 5)
            self.proc.wait()
