"""Selkies 2.1 (H.264 over websockets) on one of our desktops: the streaming reference of
the bandwidth part.

Selkies runs from its own virtual environment, ``benchmarks/.venv-selkies`` (created with
``python3 -m venv`` and ``pip install selkies==2.1.0`` on first use, as the reference tool's
is), beside the desktop it shows: a desktop of the package (its Xvnc command line, its
session), which nothing else draws from but the harness's lossless reads of the X screen
through the VNC unix socket. Selkies captures that X display (XShm), encodes it with x264 on
the CPU and serves its own web client on 127.0.0.1, on a port the OS picked.

The settings are Selkies' defaults for the video (websockets transport, the ``h264enc``
encoder, 60 frames/s, CBR at 8000 kbit/s with its congestion control, paint-over of a still
screen at CRF 18, 4:2:0); what is set is what keeps the comparison fair and the machine's
other jobs undisturbed: the loopback address and a free port, no login page, the desktop's
size kept (1920x1080, the page's window is that size), software encoding pinned, and no
audio, microphone, webcam, gamepads or printing (none of them has a counterpart in ours).
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from tests.support import procs
from tests.support.waiting import wait_for

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-selkies"
PACKAGES = ["selkies==2.1.0"]

# Command-line options of `selkies` (2.1.0): the video pipeline at its defaults, named
# anyway so that the report shows what was measured.
OPTIONS: dict[str, str] = {
    "mode": "websockets",
    "encoder": "h264enc",  # x264 here: no GPU encoder on this machine
    "use-cpu": "true",
    "framerate": "60",
    "rate-control-mode": "cbr",
    "video-bitrate": "8000",  # kbit/s, the default; congestion control may lower it
    "congestion-control": "true",
    "enable-resize": "false",  # keep the desktop's 1920x1080
    "enable-basic-auth": "false",
    "audio-enabled": "false",
    "microphone-enabled": "false",
    "webcam-enabled": "false",
    "gamepad-enabled": "false",
    "printing-enabled": "false",
}


def ensure_venv(venv: Path = VENV) -> Path:
    """The ``selkies`` program of ``venv``, created with pip (from PyPI) when missing."""
    program = venv / "bin" / "selkies"
    if program.exists():
        return program
    print(f"[bench] creating {venv} with {' '.join(PACKAGES)}", flush=True)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *PACKAGES], check=True)
    return program


def versions(venv: Path = VENV) -> dict[str, str]:
    script = (
        "import importlib.metadata as m\n"
        "for name in ('selkies', 'pixelflux'):\n"
        "    print(name, m.version(name))\n"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=60
    )
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


class Selkies:
    """One Selkies server for the X display in ``env`` (DISPLAY, XAUTHORITY, HOME)."""

    def __init__(self, program: Path, env: dict[str, str], tmp: Path) -> None:
        self.program = program
        self.env = dict(env)
        self.tmp = tmp
        self.port = procs.free_port()
        sockets = tmp / "sockets"
        sockets.mkdir(parents=True, exist_ok=True)
        options = {
            "addr": "127.0.0.1",
            "port": str(self.port),
            **OPTIONS,
            # Its input sockets in our tmp, not /tmp's shared names.
            "js-socket-path": str(sockets),
            "webcam-socket-path": str(sockets),
        }
        self.argv = [str(program)]
        for name, value in options.items():
            self.argv += [f"--{name}", value]
        self.log = tmp / "selkies.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 60) -> Selkies:
        self.proc = procs.start_logged(self.argv, self.log, env=self.env, cwd=self.tmp)
        wait_for(self.answers, timeout, f"Selkies to serve its page (log {self.log})", 0.2)
        return self

    def answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"selkies exited with {self.proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def pids(self) -> list[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        return [self.proc.pid, *procs.descendants(self.proc.pid)]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            procs.stop_tree(self.proc.pid, 10)
            self.proc.wait()
