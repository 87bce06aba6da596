"""Processes through psutil: trees, environments, memory, CPU time, stopping by pid; and
what psutil lacks: the physical footprint from /proc/PID/pagemap, free X displays."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any, Optional

import psutil

XVNC_NAMES = ("Xvnc", "Xtigervnc")  # Debian: Xvnc links to Xtigervnc


def start_logged(
    argv: list[str], log: Path, stdout_too: bool = True, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with stdin closed and stderr (and stdout, unless ``stdout_too`` is
    False) appended to ``log``; the child keeps its own copy of the log's descriptor."""
    with log.open("ab") as handle:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle if stdout_too else subprocess.DEVNULL,
            stderr=handle,
            **popen,
        )


def descendants(root: int) -> list[int]:
    """Every pid below ``root`` right now ([] if it is gone)."""
    try:
        return [child.pid for child in psutil.Process(root).children(recursive=True)]
    except psutil.Error:
        return []


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def living(pids: set[int]) -> set[int]:
    """The pids of ``pids`` that are alive."""
    return {pid for pid in pids if alive(pid)}


def comm(pid: int) -> str:
    try:
        return str(psutil.Process(pid).name())
    except psutil.Error:
        return ""


def cmdline(pid: int) -> list[str]:
    try:
        return list(psutil.Process(pid).cmdline())
    except psutil.Error:
        return []


def environ(pid: int) -> dict[str, str]:
    try:
        return dict(psutil.Process(pid).environ())
    except psutil.Error:
        return {}


def processes_with_env(name: str, value: str) -> set[int]:
    """Pids (not this process) whose environment has ``name=value``: what a test's server
    left running, found by its private HOME or its DISPLAY."""
    me = os.getpid()
    return {pid for pid in psutil.pids() if pid != me and environ(pid).get(name) == value}


def processes_of(uid: int) -> list[int]:
    """Pids whose real uid is ``uid``."""
    found = []
    for proc in psutil.process_iter(["uids"]):
        uids = proc.info["uids"]
        if uids is not None and uids.real == uid:
            found.append(proc.pid)
    return found


def signal_all(pids: set[int] | list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def stop_tree(root: int, timeout: float = 10) -> None:
    """SIGTERM ``root`` and its descendants (by pid), then SIGKILL what is left."""
    victims = []
    for pid in [root, *descendants(root)]:
        try:
            victims.append(psutil.Process(pid))
        except psutil.Error:
            pass
    for proc in victims:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, left = psutil.wait_procs(victims, timeout=timeout)
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(left, timeout=3)


def kill_all(pids: set[int]) -> set[int]:
    """SIGKILL the living ``pids``; the ones that were alive."""
    left = living(pids)
    signal_all(left, signal.SIGKILL)
    return left


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def memory(pids: list[int]) -> dict[str, Any]:
    """PSS and USS (private) in MiB summed over ``pids``, and the twelve biggest processes."""
    per: list[tuple[float, float, str, int]] = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            info = proc.memory_full_info()
            name = proc.name()
        except psutil.Error:
            continue
        per.append((info.pss / 2**20, info.uss / 2**20, name, pid))
    per.sort(reverse=True)
    return {
        "pss_mib": round(sum(p[0] for p in per), 1),
        "uss_mib": round(sum(p[1] for p in per), 1),
        "processes": len(per),
        "by_process": [
            {"pid": pid, "name": name, "pss_mib": round(pss, 1)} for pss, _, name, pid in per[:12]
        ],
    }


def reset_peak_rss(pid: int) -> None:
    """Start a new peak-RSS period for ``pid`` (``echo 5 > /proc/PID/clear_refs``)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of ``pid`` since it started or since ``reset_peak_rss`` (the
    kernel's VmHWM, which psutil does not give), MiB; psutil's current RSS if it is larger."""
    status = Path(f"/proc/{pid}/status").read_text()
    hwm_kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return round(max(hwm_kib * 1024, psutil.Process(pid).memory_info().rss) / 2**20, 1)


def pss_kib(pids: list[int]) -> int:
    """Sum of PSS over ``pids``, KiB."""
    return round(memory(pids)["pss_mib"] * 1024)


def mem_available_kib() -> int:
    return int(psutil.virtual_memory().available // 1024)


def footprint(pids: list[int]) -> dict[str, float]:
    """Physical memory the processes use together: each resident page counted once.

    Unlike PSS this does not depend on what else runs on the machine (PSS splits a shared
    library page among every process that maps it, here or elsewhere). psutil has no
    such figure: it reads page frame numbers from /proc/PID/pagemap, which needs root;
    returns {} otherwise.
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


def listening_tcp_ports() -> set[int]:
    """TCP ports in LISTEN state on this machine (IPv4 and IPv6)."""
    return {
        conn.laddr.port
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_display(first: int = 60, last: int = 200) -> int:
    """A display number with no X lock and no X socket."""
    from jupyter_napari_desktop.launch import x_lock_path, x_socket_path

    for display in range(first, last):
        if not x_lock_path(display).exists() and not x_socket_path(display).exists():
            return display
    raise RuntimeError(f"no free X display between :{first} and :{last}")


def option_value(argv: list[str], option: str) -> Optional[str]:
    """The word after ``option`` in a command line."""
    for index, word in enumerate(argv[:-1]):
        if word == option:
            return argv[index + 1]
    return None
