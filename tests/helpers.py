"""Helpers shared by every test layer: the names older tests import, from ``tests.support``."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import procs
from tests.support.jupyter import ROOT, JupyterServer
from tests.support.procs import listening_tcp_ports
from tests.support.waiting import wait_for

__all__ = [
    "ARTIFACTS",
    "ROOT",
    "JupyterProcess",
    "alive",
    "descendants",
    "kill_leftovers",
    "listening_tcp_ports",
    "processes_with_home",
    "wait_for",
]

ARTIFACTS = Path(os.environ.get("NAPARI_DESKTOP_ARTIFACTS", ROOT / "artifacts"))
JupyterProcess = JupyterServer
alive = procs.living  # the pids of a set that still exist and are not zombies


def descendants(root: int) -> set[int]:
    """All pids below ``root`` right now."""
    return set(procs.descendants(root))


def processes_with_home(home: Path) -> set[int]:
    """Pids whose environment has HOME=home: what a test's server left running."""
    return procs.processes_with_env("HOME", str(home))


def kill_leftovers(home: Path) -> set[int]:
    """SIGKILL what a test's server left behind (the reference tool leaves orphans)."""
    return procs.kill_all(processes_with_home(home))
