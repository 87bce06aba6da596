"""A bare X server for tests that need one without a desktop: Debian's Xvfb."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support import procs


class Xvfb:
    """An Xvfb on a display number it picks itself (-displayfd): never one in use."""

    def __init__(self, log: Path, size: str = "1600x1000x24") -> None:
        read, write = os.pipe()
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                pass_fds=(write,),
            )
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            self.stop()
            raise AssertionError(f"Xvfb gave no display number (log: {log})")
        self.display = f":{number}"

    def stop(self) -> None:
        procs.stop_tree(self.proc.pid, 5)
