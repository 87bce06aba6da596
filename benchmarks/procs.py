"""Processes: trees from /proc, environments, memory (PSS), CPU time, stopping by pid."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable, Optional

from jupyter_napari_desktop.supervisor import descendants

__all__ = ["descendants"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def wait_for(condition: Callable[[], object], timeout: float, what: str, step: float = 0.05):
    """Poll ``condition`` until it returns something truthy; raise with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def find_in_tree(root: int, name: str) -> list[int]:
    return [pid for pid in descendants(root) if comm(pid) == name]


def display_processes(display: str, exclude: set[int]) -> list[int]:
    """Processes whose environment has DISPLAY=``display`` (daemons that left the tree)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in exclude:
            if environ(int(entry)).get("DISPLAY") == display:
                found.append(int(entry))
    return found


def memory(pids: list[int]) -> dict[str, object]:
    """PSS and USS (private) in MiB summed over ``pids``, and the biggest processes."""
    per: list[tuple[float, float, str, int]] = []
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {}
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                fields[parts[0][:-1]] = int(parts[1])
        pss = fields.get("Pss", 0) / 1024
        uss = (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024
        per.append((pss, uss, comm(pid), pid))
    per.sort(reverse=True)
    return {
        "pss_mib": round(sum(p[0] for p in per), 1),
        "uss_mib": round(sum(p[1] for p in per), 1),
        "processes": len(per),
        "by_process": [  # the twelve largest
            {"pid": pid, "name": name, "pss_mib": round(pss, 1)} for pss, _, name, pid in per[:12]
        ],
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(root: int) -> float:
    return sum(cpu_seconds(pid) for pid in [root, *descendants(root)])


def stop_tree(root: int, timeout: float = 10) -> None:
    """SIGTERM ``root`` and its descendants (by pid), then SIGKILL what is left."""
    victims = [root, *descendants(root)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in victims:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 3)
        while time.monotonic() < deadline:
            victims = [pid for pid in victims if alive(pid)]
            if not victims:
                return
            time.sleep(0.05)


def free_display(first: int = 60, last: int = 200) -> int:
    """A display number with no X lock and no X socket."""
    for display in range(first, last):
        if (
            not Path(f"/tmp/.X{display}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{display}").exists()
        ):
            return display
    raise RuntimeError(f"no free X display between :{first} and :{last}")


def option_value(argv: list[str], option: str) -> Optional[str]:
    """The word after ``option`` in a command line."""
    for index, word in enumerate(argv[:-1]):
        if word == option:
            return argv[index + 1]
    return None


def footprint(pids: list[int]) -> dict[str, float]:
    """Physical memory the processes use together: each resident page counted once.

    Unlike PSS this does not depend on what else runs on the machine (PSS splits a shared
    library page among every process that maps it, here or elsewhere). Needs root to read
    page frame numbers from /proc/PID/pagemap; returns {} otherwise.
    """
    import numpy as np

    page = os.sysconf("SC_PAGE_SIZE")
    frames = []
    anonymous = 0
    for pid in pids:
        try:
            smaps = Path(f"/proc/{pid}/smaps").read_text()
            pagemap = open(f"/proc/{pid}/pagemap", "rb")
        except OSError:
            continue
        with pagemap:
            start = end = 0
            for line in smaps.splitlines():
                head = line.split(maxsplit=1)[0]
                if "-" in head and not head.endswith(":"):
                    low, high = head.split("-")
                    start, end = int(low, 16), int(high, 16)
                elif head == "Rss:" and int(line.split()[1]) > 0:
                    pagemap.seek(start // page * 8)
                    data = pagemap.read((end - start) // page * 8)
                    entries = np.frombuffer(data, dtype=np.uint64)
                    present = entries[(entries >> np.uint64(63)) & np.uint64(1) == 1]
                    pfns = present & np.uint64((1 << 55) - 1)
                    if pfns.size and not pfns.any():
                        return {}  # no page frame numbers: not root
                    frames.append(pfns)
                elif head == "Anonymous:":
                    anonymous += int(line.split()[1])
    if not frames:
        return {}
    unique = np.unique(np.concatenate(frames)).size
    return {
        "footprint_mib": round(unique * page / 2**20, 1),
        "anonymous_mib": round(anonymous / 1024, 1),
    }
