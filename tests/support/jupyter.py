"""A real ``jupyter lab``/``jupyter server`` process on 127.0.0.1 with its own HOME, and the
desktop it runs, found by pid (its process tree or that HOME in the environment)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from . import procs
from .paths import ROOT
from .waiting import wait_for


class JupyterServer:
    """One Jupyter server in ``tmp`` (home, root, config), with a fresh token and port.

    ``extension=True``: this checkout's extension with c.NapariDesktop ``options``;
    ``False``: nothing of ours (the reference tool, from its own ``python``).
    """

    def __init__(
        self,
        tmp: Path,
        options: Optional[dict] = None,
        app: str = "server",
        base_url: str = "/",
        extra_config: Optional[dict] = None,
        python: Optional[Path] = None,
        extension: bool = True,
    ) -> None:
        self.tmp, self.app, self.base_url, self.extension = tmp, app, base_url, extension
        self.python = Path(python or sys.executable).absolute()  # a venv python is a link
        self.home, self.root, self.config_dir = tmp / "home", tmp / "root", tmp / "config"
        for folder in (self.home, self.root, self.config_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.port = procs.free_port()
        config: dict[str, Any] = {
            "ServerApp": {
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "root_dir": str(self.root),
                "base_url": base_url,
                "allow_root": True,
            },
            "IdentityProvider": {"token": self.token},
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            },
        }
        if extension:
            config["ServerApp"]["jpserver_extensions"] = {"jupyter_napari_desktop": True}
            config["NapariDesktop"] = {"first_display": 30, **(options or {})}
        for section, values in (extra_config or {}).items():
            config.setdefault(section, {}).update(values)
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        self.log_path = tmp / "jupyter.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    @property
    def ws_url(self) -> str:
        """The desktop websocket (ours, or the reference tool's)."""
        path = "napari-desktop/websockify" if self.extension else "desktop-websockify/"
        return f"ws://127.0.0.1:{self.port}{self.base_url}{path}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        pythonpath = env.pop("PYTHONPATH", None)
        for name in ("XDG_RUNTIME_DIR", "DISPLAY", "XAUTHORITY", "VIRTUAL_ENV"):
            env.pop(name, None)
        env.update(
            {
                "HOME": str(self.home),
                "JUPYTER_CONFIG_DIR": str(self.config_dir),
                "JUPYTER_DATA_DIR": str(self.tmp / "data"),
                "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
                "PATH": f"{self.python.parent}{os.pathsep}{env.get('PATH', '')}",
            }
        )
        if self.extension:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), pythonpath]))
        return env

    def start(self, timeout: float = 60) -> JupyterServer:
        self.proc = procs.start_logged(
            [str(self.python), "-m", "jupyter", self.app, "--no-browser"],
            self.log_path,
            env=self.env(),
            cwd=self.root,
        )
        wait_for(self.answers, timeout, f"jupyter {self.app} to answer (log: {self.log_path})", 0.1)
        return self

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyter exited early:\n{self.log()}")
        try:
            self.request("GET", "api/status", timeout=5)
        except OSError:
            return False
        return True

    def request(self, method: str, path: str, body: object = None, timeout: float = 120):
        """(status, JSON) of an authenticated request (the error body's JSON too; None when
        it is not JSON)."""
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
            try:
                return err.code, json.loads(err.read() or b"null")
            except ValueError:
                return err.code, None

    def layer_names(self) -> list[str]:
        """The names of napari's layers, through the package's status API."""
        code, status = self.request("GET", "napari-desktop/api/status")
        assert code == 200, status
        return [layer["name"] for layer in (status.get("napari") or {}).get("layers", [])]

    def viewer(self) -> dict:
        """napari's dims, camera and selection (``GET napari-desktop/api/viewer``)."""
        code, viewer = self.request("GET", "napari-desktop/api/viewer")
        assert code == 200, viewer
        return viewer

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    # -- the desktop this server runs ------------------------------------------------
    def desktop_pids(self) -> list[int]:
        """Every living process of the desktop: below the server, or escaped from its tree
        but with its HOME."""
        found = procs.processes_with_env("HOME", str(self.home))
        if self.proc is not None:
            found.update(procs.descendants(self.proc.pid))
            found.discard(self.proc.pid)
        found.discard(os.getpid())
        return sorted(procs.living(found))

    def xvnc(self) -> Optional[int]:
        found = [pid for pid in self.desktop_pids() if procs.comm(pid) in procs.XVNC_NAMES]
        return found[0] if found else None

    def vnc_socket(self) -> Optional[str]:
        pid = self.xvnc()
        return procs.option_value(procs.cmdline(pid), "-rfbunixpath") if pid else None

    def desktop_log(self, chars: int = 4000) -> str:
        """The end of the desktop's own log (Xvnc, the supervisor, napari), while it runs."""
        socket = self.vnc_socket()
        if not socket:
            return "(no desktop running)"
        try:
            return (Path(socket).parent / "desktop.log").read_text(errors="replace")[-chars:]
        except OSError as err:
            return f"(desktop log not readable: {err})"

    def x_env(self) -> dict[str, str]:
        """Environment to start a program in this desktop (DISPLAY, XAUTHORITY, HOME)."""
        pid = self.xvnc()
        if pid is None:
            raise AssertionError(f"the desktop is not running (log: {self.log_path})")
        argv = procs.cmdline(pid)
        display = next((word for word in argv if word.startswith(":")), None)
        if display is None:  # its command line not readable (yet, or any more)
            raise AssertionError(f"Xvnc {pid} shows no display in its command line: {argv}")
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

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """Stop the server (``sig``, then SIGKILL after ``timeout``); leaves its desktop to
        end by itself. ``stop_all`` also ends what is left of the desktop."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def stop_all(self) -> None:
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
        for pid in set(pids) | set(self.desktop_pids()):
            procs.stop_tree(pid, 3)

    def leftovers(self) -> set[int]:
        """Living processes that still have this server's HOME."""
        return procs.living(procs.processes_with_env("HOME", str(self.home)))

    def kill_leftovers(self) -> set[int]:
        """SIGKILL what the server left behind (the reference tool leaves orphans)."""
        return procs.kill_all(self.leftovers())


def run_cli(server: JupyterServer, *args: str, cwd: Optional[Path] = None) -> Any:
    """``jupyter-napari-desktop ARGS`` as a person types it, as the server's user, in
    ``cwd`` (the server's root): the finished process."""
    command = server.python.parent / "jupyter-napari-desktop"
    return subprocess.run(
        [str(command), *args],
        env=server.env(),
        cwd=cwd or server.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
