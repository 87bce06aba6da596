"""Data between notebooks and the desktop's napari: layers, screenshots, dims and camera.

Arrays never go through JSON, the network or a path a client chose. The server makes every
transfer file: a random name in ``transfers/`` of the desktop's private directory (0700; the
file 0600, created empty). A client sending an array asks for one (``make``), writes the .npy
into it and hands back only its name; napari's helper reads it (``allow_pickle=False``) in a
worker thread. Fetching works the other way round: the helper writes into a file made here
and the client reads it, then deletes it. A name the server did not make is refused, and
files nobody collected are removed after ``TRANSFER_TTL`` seconds and with the desktop.

The manager owns the desktop's state; this module only asks it for napari's socket
(``NapariLink.socket``), so the notebook's verbs follow the same start rules as
"Open in napari".
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .errors import Refused
from .manager import DesktopManager

TRANSFER_DIR = "transfers"
TRANSFER_RE = re.compile(r"^[0-9a-f]{32}\.(npy|png)$")
TRANSFER_TTL = 600.0
# The transfer files not yet collected hold at most this many times transfer_limit_mb (an
# array each way): a fetch makes a copy of a layer, and repeated fetches nobody collects
# must not fill the desktop's directory (often a tmpfs, i.e. memory).
HELD_LIMITS = 2
NPY_HEADER_SLACK = 1 << 16  # a .npy file's header, on top of its data
LIST_FIX = "see the layers there are with v.layers (GET napari-desktop/api/layers)"


@dataclass
class Transfer:
    name: str
    path: Path
    created: float


def mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.1f} MB"


class Exchange:
    """The notebook's verbs on the desktop's napari; the transfer files they use."""

    def __init__(self, manager: DesktopManager) -> None:
        self.manager = manager
        self.transfers: dict[str, Transfer] = {}

    @property
    def limit(self) -> int:
        return int(self.manager.config.transfer_limit_mb) * 10**6

    def too_large(self, what: str, nbytes: int) -> Refused:
        limit_mb = self.manager.config.transfer_limit_mb
        return Refused(
            413,
            f"{what} is {mb(nbytes)}, more than the limit of {limit_mb} MB",
            "send or fetch a part of it (a crop, a lower level of a multiscale layer: "
            "v.get(name, level=1)), or ask the admin to raise c.NapariDesktop.transfer_limit_mb",
        )

    def no_room(self, folder: Path, nbytes: int, free: int) -> Refused:
        return Refused(
            507,
            f"The array ({mb(nbytes)}) does not fit in the desktop's private directory "
            f"{folder.parent} ({mb(free)} free)",
            "send a smaller part, free space there, or ask the admin to set "
            "c.NapariDesktop.runtime_dir to a disk with room (a tmpfs such as /run/user is "
            "often small)",
        )

    # -- transfer files --------------------------------------------------------------
    def directory(self) -> Path:
        """``transfers/`` (0700) of the running desktop's private directory."""
        paths = self.manager.paths
        if paths is None or not self.manager.running():
            raise Refused(
                409,
                "The desktop is not running",
                "start it and its napari: desktop_viewer() in a notebook or the napari card",
            )
        folder = paths.root / TRANSFER_DIR
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise Refused(500, f"{folder} is not our directory", "Restart desktop")
        os.chmod(folder, 0o700)
        return folder

    def held(self) -> int:
        """Bytes in the transfer files made and not yet collected."""
        total = 0
        for transfer in self.transfers.values():
            with contextlib.suppress(OSError):
                total += os.lstat(transfer.path).st_size
        return total

    def make(self, nbytes: int = 0, suffix: str = ".npy") -> Transfer:
        """A fresh empty file (0600) for one array of ``nbytes``; 413 above the limit, 507
        while the files not yet collected hold HELD_LIMITS times the limit."""
        if nbytes > self.limit:
            raise self.too_large("The array", nbytes)
        self.sweep()
        held = self.held()
        if held + nbytes > HELD_LIMITS * self.limit:
            raise Refused(
                507,
                f"{len(self.transfers)} transfer files not yet collected hold {mb(held)}, "
                f"more than the {mb(HELD_LIMITS * self.limit)} this server keeps at once",
                "fetch or delete them (DELETE napari-desktop/api/transfers/<name>); files "
                f"nobody collects go after {TRANSFER_TTL / 60:g} minutes",
            )
        folder = self.directory()
        free = shutil.disk_usage(folder).free
        if nbytes + NPY_HEADER_SLACK > free:
            raise self.no_room(folder, nbytes, free)
        name = secrets.token_hex(16) + suffix
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        transfer = Transfer(name, path, time.monotonic())
        self.transfers[name] = transfer
        return transfer

    def take(self, name: Any) -> Transfer:
        """The transfer file ``name`` made by this server for the running desktop, checked:
        a plain file of ours, no larger than the limit."""
        transfer = self.transfers.get(name) if isinstance(name, str) else None
        if transfer is None or not TRANSFER_RE.match(name):
            raise Refused(
                400,
                f"{str(name)[:80]!r} is not a transfer file this server made",
                "ask for one with POST napari-desktop/api/transfers and use the name it answers",
            )
        paths = self.manager.paths
        if paths is None or transfer.path.parent != paths.root / TRANSFER_DIR:
            self.remove(name)
            raise Refused(
                409,
                "The desktop was restarted since the transfer file was made",
                "send the array again (desktop_viewer() reconnects)",
            )
        try:
            info = os.lstat(transfer.path)
        except FileNotFoundError:
            self.transfers.pop(name, None)
            raise Refused(410, "The transfer file is gone", "send the array again") from None
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            self.remove(name)
            raise Refused(400, "The transfer file is not a plain file of ours", "send it again")
        if info.st_size > self.limit + NPY_HEADER_SLACK:
            self.remove(name)
            raise self.too_large("The array sent", info.st_size)
        return transfer

    def remove(self, name: str) -> bool:
        """Forget a transfer and delete its file; False if this server did not make it."""
        transfer = self.transfers.pop(name, None)
        if transfer is None:
            return False
        transfer.path.unlink(missing_ok=True)
        return True

    def sweep(self) -> None:
        """Remove transfer files nobody collected within TRANSFER_TTL."""
        now = time.monotonic()
        for name, transfer in list(self.transfers.items()):
            if now - transfer.created > TRANSFER_TTL or not transfer.path.parent.is_dir():
                self.remove(name)

    # -- talking to napari -----------------------------------------------------------
    async def ask(
        self, request: dict[str, Any], start: bool = False, timeout: Optional[float] = None
    ) -> dict[str, Any]:
        """napari's answer to ``request``; its refusals as Refused (404 for a missing layer,
        413 for a layer above the limit, 422 for bad input)."""
        timeout = timeout or self.manager.open_timeout
        answer = await self.manager.napari.ask(request, timeout, start)
        if answer.get("ok"):
            return answer
        error = str(answer.get("error") or "napari refused")
        if "missing" in answer:
            raise Refused(404, error, f"it may have been removed or renamed in napari; {LIST_FIX}")
        if "too_large" in answer:
            raise self.too_large(f"Layer {request.get('name')!r}", int(answer["too_large"]))
        if "no_room" in answer:
            nbytes, free = answer["no_room"]
            raise self.no_room(Path(str(request.get("file"))).parent, int(nbytes), int(free))
        raise Refused(422, error, "check the data and the settings you gave")

    async def layers(self) -> list[dict[str, Any]]:
        answer = await self.ask({"cmd": "layers"})
        return list(answer.get("layers", []))

    async def get(self, name: str, level: int) -> dict[str, Any]:
        """Write a layer's data into a fresh transfer file; the answer names it."""
        await self.manager.napari.socket(False)  # refuse before making a file
        transfer = self.make()
        request = {
            "cmd": "get",
            "name": name,
            "level": level,
            "file": str(transfer.path),
            "limit": self.limit,
        }
        try:
            answer = await self.ask(request)
        except BaseException:
            self.remove(transfer.name)
            raise
        answer["transfer"], answer["path"] = transfer.name, str(transfer.path)
        return answer

    async def add(self, kind: str, transfer_name: Any, props: dict[str, Any]) -> dict[str, Any]:
        """A new layer from a transfer file the client filled (napari started if needed); a
        list of them: a multiscale layer, highest resolution first. napari's answer: the
        layer and its timing (seconds reading in a worker, adding on Qt's thread)."""
        names = transfer_name if isinstance(transfer_name, list) else [transfer_name]
        try:
            transfers = [self.take(name) for name in names]
            total = sum(transfer.path.stat().st_size for transfer in transfers)
            if total > self.limit + len(transfers) * NPY_HEADER_SLACK:
                raise self.too_large("The arrays sent", total)
            paths = [str(transfer.path) for transfer in transfers]
            request = {
                "cmd": "add",
                "type": kind,
                "file": paths if isinstance(transfer_name, list) else paths[0],
                "props": props,
            }
            answer = await self.ask(request, start=True)
        finally:
            for name in names:
                if isinstance(name, str):
                    self.remove(name)
        return answer

    async def update(self, name: str, transfer_name: Any, props: dict[str, Any]) -> dict[str, Any]:
        transfer = self.take(transfer_name) if transfer_name is not None else None
        request = {
            "cmd": "update",
            "name": name,
            "file": str(transfer.path) if transfer else None,
            "props": props,
        }
        try:
            answer = await self.ask(request)
        finally:
            if transfer is not None:
                self.remove(transfer.name)
        return dict(answer["layer"])

    async def remove_layer(self, name: str) -> None:
        await self.ask({"cmd": "remove", "name": name})

    async def screenshot(self, fmt: str) -> tuple[dict[str, Any], Optional[bytes]]:
        """The canvas: as PNG bytes (``fmt="png"``) or in a transfer file (``"npy"``)."""
        await self.manager.napari.socket(False)
        transfer = self.make(suffix=f".{fmt}")
        request = {"cmd": "screenshot", "file": str(transfer.path), "format": fmt}
        try:
            answer = await self.ask(request)
            png = transfer.path.read_bytes() if fmt == "png" else None
        except BaseException:
            self.remove(transfer.name)
            raise
        if png is not None:
            self.remove(transfer.name)
            return answer, png
        answer["transfer"], answer["path"] = transfer.name, str(transfer.path)
        return answer, None

    async def viewer(self, change: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """dims, camera and the selected layers; set first what ``change`` names."""
        if change:
            return await self.ask({"cmd": "set_viewer", **change})
        return await self.ask({"cmd": "viewer"})
