"""The server's one link to the desktop's napari (napari_side/napari_helper.py): its socket,
found and started with the desktop's rules, one request at a time, and napari's failures
turned into refusals in one place.

The desktop itself (its process, its state, the lock) is DesktopManager's; the link asks the
manager for a running desktop and reads its paths.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..launch import DesktopError, NapariLaunch, resolve_napari
from ..procs import pid_alive
from .errors import Refused

if TYPE_CHECKING:
    from .manager import DesktopManager

MAX_ANSWER = 8 << 20
# The longest request napari's helper reads (its MAX_REQUEST): names and settings, never data.
MAX_REQUEST = 1 << 20
START_TIMEOUT = 120.0  # seconds napari may take to answer after it was started
STATE_TIMEOUT = 2.0
# A request that finds napari running but not yet listening (starting: a notebook's
# v.layers right after the launcher card was clicked) waits this long for it, instead of
# answering that napari stopped answering.
STARTING_SECONDS = 30.0
# The helper's own lists (napari_side/napari_helper.py, which imports nothing of this package):
# the layer types napari can open files as, and those whose data the API sends and fetches.
# tests/unit/test_contracts.py checks that both sides agree.
LAYER_TYPES = ("image", "labels", "points", "shapes", "surface", "tracks", "vectors")
DATA_TYPES = ("image", "labels", "points", "shapes")


class NapariUnavailable(Exception):
    """napari's socket is not there or does not answer."""


class NapariNotListening(NapariUnavailable):
    """napari's socket is not there or refuses the connection: nothing was sent (napari may
    be starting: its socket opens once its window is up)."""


class NapariTimeout(NapariUnavailable):
    """napari took the request but did not answer within the timeout (a slow read)."""


async def ask(socket_path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one JSON request, return the JSON answer; NapariUnavailable on any failure."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(socket_path), limit=MAX_ANSWER), timeout
        )
    except (OSError, asyncio.TimeoutError) as err:
        raise NapariNotListening(f"napari does not answer on {socket_path}: {err}") from err
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError as err:
        raise NapariTimeout(f"napari did not answer in {timeout:g} s") from err
    except (OSError, ValueError) as err:
        raise NapariUnavailable(f"napari did not answer in {timeout:g} s: {err}") from err
    finally:
        writer.close()
    try:
        answer = json.loads(line)
    except ValueError as err:
        raise NapariUnavailable(f"napari sent a bad answer: {line[:200]!r}") from err
    if not isinstance(answer, dict):
        raise NapariUnavailable("napari sent a bad answer")
    return answer


class NapariLink:
    """The desktop's napari as the server reaches it."""

    def __init__(self, manager: DesktopManager) -> None:
        self.manager = manager
        self.seen = 0  # the desktop generation whose napari a notebook verb last reached

    def launch(self) -> NapariLaunch:
        """How napari is started in the desktop (c.NapariDesktop.napari_*)."""
        c = self.manager.config
        return resolve_napari(c.napari_command, c.napari_python, c.napari_args, c.napari_wrapper)

    def running(self) -> bool:
        paths = self.manager.paths
        if not paths:
            return False
        try:
            pid = int(paths.napari_pid.read_text())
        except (OSError, ValueError):
            return False
        return pid_alive(pid)

    async def state(self) -> Optional[dict[str, Any]]:
        """Layers, dims, version and the read in progress from the running napari, or None."""
        paths = self.manager.paths
        if not paths or not self.running():
            return None
        try:
            answer = await ask(paths.napari_socket, {"cmd": "state"}, STATE_TIMEOUT)
        except NapariUnavailable:
            return None
        return answer if answer.get("ok") else None

    def start(self) -> None:
        """Ask the supervisor to start napari unless it already runs."""
        proc = self.manager.proc
        if proc is not None and proc.poll() is None and not self.running():
            try:
                os.kill(proc.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    async def socket(self, start: bool) -> Path:
        """napari's socket. ``start``: start the desktop and napari if needed (as open does);
        else Refused 409 saying how to start them."""
        manager = self.manager
        if start:
            socket_path = await self._started()
            self.seen = manager.generation
            return socket_path
        paths = manager.paths
        if not manager.running() or paths is None:
            raise Refused(
                409,
                "The desktop is not running"
                + (" (it was stopped with Stop desktop)" if manager.stopped_on_purpose else ""),
                "start it and its napari: desktop_viewer() in a notebook, the napari launcher "
                'card, or POST napari-desktop/api/start {"app": "napari", "wait": true}',
            )
        if not self.running():
            raise Refused(
                409,
                "napari was closed in the desktop"
                if self.seen == manager.generation
                else "napari is not running in the desktop (c.NapariDesktop.autostart_napari "
                "is off and nothing started it yet)",
                "start it: desktop_viewer() in a notebook (a closed napari's layers are gone), "
                'the napari launcher card, or POST napari-desktop/api/start {"app": "napari"}',
            )
        self.seen = manager.generation
        return paths.napari_socket

    async def _started(self, timeout: float = START_TIMEOUT) -> Path:
        """Start the desktop and napari if needed; return napari's socket once it answers.

        The manager's lock is held to start them, not while napari starts (that can take a
        while): a stop in the meantime makes this fail with "the desktop stopped"."""
        manager = self.manager
        paths = await manager.ensure_running_with_napari()
        launch = self.launch()
        if not launch.available:
            raise DesktopError("napari is not available in this desktop", launch.message)
        started = time.monotonic()
        deadline = started + timeout
        reason = f"napari did not start within {timeout:g} s"
        asked_again = False
        while time.monotonic() < deadline:
            try:
                await ask(paths.napari_socket, {"cmd": "state"}, STATE_TIMEOUT)
                return paths.napari_socket
            except NapariUnavailable:
                pass
            proc = manager.proc
            if manager.paths is not paths or proc is None or proc.poll() is not None:
                reason = "the desktop stopped while napari was starting"
                break
            if not self.running():
                if not asked_again:
                    # The napari seen running a moment ago may have been dying (killed just
                    # before): the supervisor did not start another. Ask once more.
                    asked_again = True
                    started = time.monotonic()
                    self.start()
                elif time.monotonic() > started + 5:
                    reason = "napari exited while starting"  # after 5 s to write its pid
                    break
            await asyncio.sleep(0.25)
        raise DesktopError(
            reason,
            "run 'jupyter napari-desktop doctor' to check napari and Qt; see the server log",
        )

    async def ask(
        self,
        request: dict[str, Any],
        timeout: float,
        start: bool = False,
        slow: Optional[tuple[str, str]] = None,
    ) -> dict[str, Any]:
        """napari's answer to ``request``, its failures as refusals: 504 when it does not
        answer within ``timeout`` (``slow``: the message and fix that say what is slow),
        409 when napari is gone, 503 when it runs but stopped answering; 413 for a request
        longer than napari reads."""
        size = len(json.dumps(request).encode()) + 1
        if size > MAX_REQUEST:
            raise Refused(
                413,
                f"the request to napari is {size / 1e6:.1f} MB, more than napari takes "
                f"({MAX_REQUEST / 1e6:.1f} MB)",
                "give shorter names and settings; send data as an array (desktop_viewer())",
            )
        socket_path = await self.socket(start)
        try:
            return await self._ask_when_listening(socket_path, request, timeout)
        except NapariTimeout as err:
            message, fix = slow or (
                f"napari did not answer {request['cmd']!r} within {timeout:g} s",
                "try again; a very large array may need a larger c.NapariDesktop.open_timeout",
            )
            raise Refused(504, message, fix) from err
        except NapariUnavailable as err:
            if not self.running():
                raise Refused(
                    409,
                    "napari was closed in the desktop (or stopped answering)",
                    "start it again: desktop_viewer() in a notebook (a closed napari's layers "
                    "are gone) or the napari launcher card",
                    str(err),
                ) from err
            raise DesktopError(
                f"napari stopped answering: {err}", "try again; see the server log", str(err)
            ) from err

    async def _ask_when_listening(
        self, socket_path: Path, request: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """``ask``, waiting up to STARTING_SECONDS while napari runs but does not listen yet
        (nothing was sent, so asking again repeats nothing)."""
        deadline = time.monotonic() + STARTING_SECONDS
        while True:
            try:
                return await ask(socket_path, request, timeout)
            except NapariNotListening:
                if not self.running() or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.2)

    async def open(
        self, paths: list[Path], plugin: Optional[str], layer_type: Optional[str], timeout: float
    ) -> dict[str, Any]:
        """Open files as layers (napari starts if needed); napari's {"ok", "layers"|"error"}.
        Refused 409 while napari is still reading an earlier open, 504 when the read outlasts
        ``timeout`` (it goes on in napari)."""
        request = {
            "cmd": "open",
            "paths": [str(p) for p in paths],
            "plugin": plugin,
            "layer_type": layer_type,
        }
        names = ", ".join(p.name for p in paths)
        slow = (
            f"napari is still reading {names} after {timeout:g} s",
            "the layer appears when the read ends (status shows napari.reading); if it "
            "never ends (a hung network mount), Restart desktop",
        )
        answer = await self.ask(request, timeout, start=True, slow=slow)
        if answer.get("busy"):
            raise Refused(
                409,
                f"napari is busy reading {answer['busy']}",
                "open it again when that read has finished (status shows napari.reading)",
            )
        return answer
