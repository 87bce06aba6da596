"""Helpers shared by every test layer."""

from __future__ import annotations

import os
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
