"""Helpers shared by every test layer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("NAPARI_DESKTOP_ARTIFACTS", ROOT / "artifacts"))


def wait_for(condition: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def descendants(root: int) -> set[int]:
    """All pids below ``root`` right now (from /proc)."""
    from jupyter_napari_desktop.supervisor import descendants as tree

    return set(tree(root))


def alive(pids: set[int]) -> set[int]:
    """The pids of ``pids`` that still exist and are not zombies."""
    left = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            left.add(pid)
    return left


def listening_tcp_ports() -> set[int]:
    """TCP ports in LISTEN state on this machine (IPv4 and IPv6)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class JupyterProcess:
    """A real ``jupyter lab``/``jupyter server`` process on 127.0.0.1 with its own HOME."""

    def __init__(
        self,
        tmp: Path,
        options: dict | None = None,
        app: str = "server",
        base_url: str = "/",
        extra_config: dict | None = None,
    ) -> None:
        import json
        import secrets
        import socket

        self.tmp = tmp
        self.home = tmp / "home"
        self.root = tmp / "root"
        self.config_dir = tmp / "config"
        for folder in (self.home, self.root, self.config_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base_url = base_url
        config = {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_napari_desktop": True},
                "ip": "127.0.0.1",
                "port": self.port,
                "port_retries": 0,
                "open_browser": False,
                "root_dir": str(self.root),
                "base_url": base_url,
                "allow_root": True,
            },
            "IdentityProvider": {"token": self.token},
            "NapariDesktop": {"first_display": 30, **(options or {})},
        }
        for section, values in (extra_config or {}).items():
            config.setdefault(section, {}).update(values)
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
        self.app = app
        self.log_path = tmp / "jupyter.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("XDG_RUNTIME_DIR", None)
        env.update(
            {
                "HOME": str(self.home),
                "JUPYTER_CONFIG_DIR": str(self.config_dir),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            }
        )
        return env

    def start(self, timeout: float = 60) -> JupyterProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", self.app, "--no-browser"],
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.root,
        )
        wait_for(self.answers, timeout, f"jupyter {self.app} to answer (log: {self.log_path})")
        return self

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"jupyter exited early:\n{self.log()}")
        try:
            self.request("GET", "api/status")
        except OSError:
            return False
        return True

    def request(self, method: str, path: str, body: object = None, timeout: float = 120):
        """(status, JSON) of an authenticated API request."""
        import json
        import urllib.error
        import urllib.request

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
            return err.code, json.loads(err.read() or b"null")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def processes_with_home(home: Path) -> set[int]:
    """Pids whose environment has HOME=home: what a test's server left running."""
    wanted = f"HOME={home}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.add(int(entry))
    return found


def kill_leftovers(home: Path) -> set[int]:
    """SIGKILL what a test's server left behind (the reference tool leaves orphans)."""
    left = alive(processes_with_home(home))
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left
