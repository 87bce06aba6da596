"""Process, socket and file helpers that the manager, the supervisor and the doctor share.

Everything here touches the running system (``/proc``, sockets, X lock files, the private
directory); ``launch.py`` keeps the pure functions that turn config into argv, env and paths.
Only the standard library: the supervisor imports this and must start fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

from .launch import (
    DISPLAY_SEARCH,
    DesktopError,
    RenderNode,
    RuntimePaths,
    choose_render_node,
    parse_xvnc_version,
    runtime_name,
    x_lock_path,
    x_socket_path,
    xauthority_entry,
)

# --- processes ------------------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True if a process with this pid runs (ours or another user's). A zombie does not: a
    server killed with its parent holds no socket while it waits to be reaped, however long
    the container's init takes."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to ask: it exists
    state = stat.rpartition(")")[2].split()[:1]
    return state not in (["Z"], ["X"])


def descendants(root: int) -> list[int]:
    """Pids of every process below ``root`` (read from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        fields = stat[stat.rfind(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    queue = [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def describe(pid: int) -> str:
    """``PID NAME`` for logs."""
    try:
        return f"{pid} {Path(f'/proc/{pid}/comm').read_text().strip()}"
    except OSError:
        return str(pid)


def tree_pss_mb(root: int) -> float:
    """Proportional memory (PSS, MiB) of a process and all its descendants."""
    total_kb = 0
    for pid in [root, *descendants(root)]:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return round(total_kb / 1024, 1)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a process group led by ``proc`` (if it was killed itself)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" if it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- sockets --------------------------------------------------------------------------


def socket_accepts(path: Path, timeout: float = 1.0) -> bool:
    """Whether something listens on the unix socket ``path``. A full backlog (a busy Xvnc)
    answers EAGAIN at once: that is tried again until ``timeout``, not taken for "gone"."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            try:
                probe.connect(str(path))
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return False
            except OSError:
                return False
        time.sleep(0.02)


def rfb_greets(path: Path, timeout: float = 1.0) -> bool:
    """Whether a VNC server answers on the unix socket ``path`` with its RFB greeting."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(str(path))
            return probe.recv(12).startswith(b"RFB ")
        except OSError:
            return False


# --- X displays -----------------------------------------------------------------------


def xvnc_version(vnc_server: str) -> Optional[tuple[int, int]]:
    """TigerVNC's (major, minor) from the banner of ``Xvnc -help`` (1.15's ``-version``
    prints nothing); None if it does not run or say."""
    try:
        done = subprocess.run(
            [vnc_server, "-help"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_xvnc_version(done.stdout + done.stderr)


def render_nodes(dri: Path = Path("/dev/dri")) -> list[str]:
    """The DRM render nodes (/dev/dri/renderD128, ...) in number order."""
    found = [path for path in dri.glob("renderD*") if path.name[7:].isdigit()]
    return [str(path) for path in sorted(found, key=lambda path: int(path.name[7:]))]


def resolve_render_node(setting: str, vnc_server: str) -> RenderNode:
    """c.NapariDesktop.render_node for this machine (launch.choose_render_node on the
    Xvnc, the devices and the access this user has)."""
    if setting == "off":
        return choose_render_node(setting, None, [], bool)
    return choose_render_node(
        setting,
        xvnc_version(vnc_server),
        render_nodes(),
        lambda node: os.access(node, os.R_OK | os.W_OK),
    )


def lock_pid(display: int) -> Optional[int]:
    """The pid written in an X lock file, or None if there is no readable lock."""
    try:
        text = x_lock_path(display).read_text().strip()
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def x_socket_answers(display: int) -> bool:
    """True if an X server accepts connections for ``display`` (file or abstract socket)."""
    for address in (str(x_socket_path(display)), "\0" + str(x_socket_path(display))):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(address)
            except OSError:
                continue
            return True
    return False


def is_x_server(pid: int) -> bool:
    """True if the process ``pid`` may be an X server (its name starts with X: Xvnc,
    Xtigervnc, Xorg, Xvfb, ...; also when /proc does not say). A lock left by a container's
    killed X server names a pid that, after the container's restart, is often some other
    process of the new run."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().startswith("X")
    except OSError:
        return True


def display_state(display: int) -> str:
    """'free', 'stale' (a dead server's lock or socket we can remove) or 'taken'."""
    lock = x_lock_path(display)
    sock = x_socket_path(display)
    if lock.exists():
        pid = lock_pid(display)
        if pid is not None and pid_alive(pid) and is_x_server(pid):
            return "taken"
        return "stale"
    if x_socket_answers(display):
        return "taken"
    if sock.exists() or sock.is_symlink():
        return "stale"
    return "free"


def clean_stale_display(display: int) -> bool:
    """Remove a dead server's lock and socket; False if they belong to someone else."""
    for path in (x_lock_path(display), x_socket_path(display)):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except PermissionError:
            return False
    return True


def candidate_displays(first: int, count: int = DISPLAY_SEARCH) -> list[int]:
    """Display numbers to try, lowest first, cleaning stale ones on the way."""
    found = []
    for display in range(first, first + count):
        state = display_state(display)
        if state == "stale" and clean_stale_display(display):
            state = "free"
        if state == "free":
            found.append(display)
    return found


# --- the private directory ------------------------------------------------------------


def make_runtime_dir(parent: Path, name: str = "") -> RuntimePaths:
    """Create a fresh, empty private directory (0700) for one desktop."""
    parent.mkdir(parents=True, exist_ok=True)
    root = parent / (name or runtime_name())
    if root.is_dir() and not root.is_symlink() and root.stat().st_uid == os.getuid():
        shutil.rmtree(root)  # our own leftover from a desktop that was killed
    try:
        os.mkdir(root, 0o700)
    except FileExistsError as err:
        raise DesktopError(
            f"{root} exists and is not ours",
            "set c.NapariDesktop.runtime_dir to a private directory",
        ) from err
    os.chmod(root, 0o700)
    paths = RuntimePaths(root)
    if len(str(paths.vnc_socket)) > 100:
        raise DesktopError(
            f"The desktop's socket path {paths.vnc_socket} is too long for a unix socket",
            "set c.NapariDesktop.runtime_dir to a short directory such as /tmp",
        )
    return paths


def write_xauthority(path: Path, display: int, cookie: bytes) -> None:
    """Write an Xauthority file readable only by its owner (any host, and this host)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(xauthority_entry(display, cookie))
        handle.write(xauthority_entry(display, cookie, socket.gethostname()))
