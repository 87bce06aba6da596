"""What is measured besides the Jupyter servers (``tests.support.jupyter``): a bare Xvnc,
started with the package's own argv at the package's frame rate, as napari's floor."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Optional

from jupyter_napari_desktop import launch
from jupyter_napari_desktop.config import NapariDesktop
from jupyter_napari_desktop.procs import make_runtime_dir, write_xauthority
from tests.support import procs
from tests.support.waiting import wait_for


class BareXvnc:
    """Xvnc alone (no session, no window manager), for napari's own start time."""

    def __init__(self, tmp: Path, geometry: str) -> None:
        self.display = procs.free_display()
        self.paths = make_runtime_dir(tmp)
        self.socket = self.paths.vnc_socket
        defaults = NapariDesktop()
        self.argv = launch.xvnc_argv(
            "Xvnc", self.display, self.paths, geometry, defaults.depth, defaults.frame_rate
        )
        self.log = tmp / "bare-xvnc.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, timeout: float = 20) -> BareXvnc:
        write_xauthority(self.paths.xauthority, self.display, secrets.token_bytes(16))
        self.proc = procs.start_logged(self.argv, self.log, stdout_too=False)
        wait_for(self.socket.exists, timeout, f"the bare Xvnc's socket (log {self.log})")
        return self

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DISPLAY": f":{self.display}",
                "XAUTHORITY": str(self.paths.xauthority),
                "QT_QPA_PLATFORM": "xcb",
            }
        )
        return env

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            procs.stop_tree(self.proc.pid, 5)
            self.proc.wait()
