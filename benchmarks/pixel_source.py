"""Where the video path should take its pixels from: Xvnc's Raw over its unix socket (what
the bridge does) against the X server's shared memory (MIT-SHM) and a plain X GetImage.

One Xvnc (TigerVNC, 1920x1080, depth 24, its RFB on a private unix socket, no TCP) is
started for the run; the same areas are read each way, alternating, ``--repeat`` times:

- ``raw``: a FramebufferUpdateRequest (not incremental) for the area over the unix socket,
  Xvnc's Raw answer read in 4 MB reads and landed in the screen array by the bridge's own
  reader (server/video_rfb.py's XvncReader), until the update's end;
- ``xshm``: XShmGetImage of the area into a shared memory segment (libXext through
  ctypes), then copied into an array (the segment is overwritten by the next picture);
- ``getimage``: XGetImage of the area (the picture travels over the X socket).

Both X ways give the pixels only: which parts changed would need the DAMAGE extension
besides, which Xvnc's updates carry for free. Prints a table and writes JSON to ``--out``
(default benchmarks/results/pixel-source.json) with the commit measured.

    .venv/bin/python benchmarks/pixel_source.py [--repeat 40]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.recording import commit
from jupyter_napari_desktop.server.video_rfb import (
    UpdateEnd,
    XvncReader,
    client_init_request,
    update_request,
)
from tests.support import procs
from tests.support.waiting import wait_for

RESULTS = Path(__file__).resolve().parent / "results"
WIDTH, HEIGHT = 1920, 1080
# napari's canvas on a 1920x1080 screen (the video path's area in the bandwidth benchmark)
# and the whole screen.
AREAS = {"canvas 928x960": (992, 60, 928, 960), "screen 1920x1080": (0, 0, WIDTH, HEIGHT)}
READ_BYTES = 4 * 1024 * 1024  # as the bridge (server/video.py)
ZPIXMAP = 2
ALL_PLANES = (1 << 64) - 1
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0


class XImage(ctypes.Structure):
    """The start of Xlib's XImage (the fields read here)."""

    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.c_void_p),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


class ShmSegmentInfo(ctypes.Structure):
    _fields_ = [
        ("shmseg", ctypes.c_ulong),
        ("shmid", ctypes.c_int),
        ("shmaddr", ctypes.c_void_p),
        ("readOnly", ctypes.c_int),
    ]


def library(name: str) -> ctypes.CDLL:
    found = ctypes.util.find_library(name)
    if found is None:
        raise SystemExit(f"lib{name} not found: apt-get install lib{name}-6 (or its -dev)")
    return ctypes.CDLL(found)


class XReader:
    """The X server's pixels of an area: XShmGetImage into shared memory, or XGetImage."""

    def __init__(self, display: str) -> None:
        self.x11, self.xext, self.libc = library("X11"), library("Xext"), library("c")
        x11, xext, libc = self.x11, self.xext, self.libc
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultVisual.restype = ctypes.c_void_p
        x11.XDefaultRootWindow.restype = ctypes.c_ulong
        x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x11.XDefaultVisual.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XDefaultDepth.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XGetImage.restype = ctypes.POINTER(XImage)
        x11.XGetImage.argtypes = (
            [ctypes.c_void_p, ctypes.c_ulong]
            + [ctypes.c_int] * 2
            + [ctypes.c_uint] * 2
            + [ctypes.c_ulong, ctypes.c_int]
        )
        x11.XDestroyImage.argtypes = [ctypes.POINTER(XImage)]
        x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        xext.XShmQueryExtension.argtypes = [ctypes.c_void_p]
        xext.XShmCreateImage.restype = ctypes.POINTER(XImage)
        xext.XShmCreateImage.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.POINTER(ShmSegmentInfo),
            ctypes.c_uint,
            ctypes.c_uint,
        ]
        xext.XShmAttach.argtypes = [ctypes.c_void_p, ctypes.POINTER(ShmSegmentInfo)]
        xext.XShmDetach.argtypes = [ctypes.c_void_p, ctypes.POINTER(ShmSegmentInfo)]
        xext.XShmGetImage.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.POINTER(XImage),
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
        libc.shmat.restype = ctypes.c_void_p
        libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        libc.shmdt.argtypes = [ctypes.c_void_p]
        libc.shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        self.display = x11.XOpenDisplay(display.encode())
        if not self.display:
            raise SystemExit(f"cannot open X display {display}")
        if not xext.XShmQueryExtension(self.display):
            raise SystemExit("the X server has no MIT-SHM extension")
        screen = x11.XDefaultScreen(self.display)
        self.root = x11.XDefaultRootWindow(self.display)
        self.visual = x11.XDefaultVisual(self.display, screen)
        self.depth = x11.XDefaultDepth(self.display, screen)
        self._shm: dict[tuple[int, int], tuple[Any, ShmSegmentInfo, np.ndarray]] = {}

    def _segment(self, w: int, h: int) -> tuple[Any, ShmSegmentInfo, np.ndarray]:
        if (w, h) in self._shm:
            return self._shm[(w, h)]
        info = ShmSegmentInfo()
        image = self.xext.XShmCreateImage(
            self.display, self.visual, self.depth, ZPIXMAP, None, ctypes.byref(info), w, h
        )
        size = image.contents.bytes_per_line * h
        info.shmid = self.libc.shmget(IPC_PRIVATE, size, IPC_CREAT | 0o600)
        if info.shmid < 0:
            raise SystemExit(f"shmget of {size} bytes failed: {ctypes.get_errno()}")
        info.shmaddr = self.libc.shmat(info.shmid, None, 0)
        info.readOnly = 0
        image.contents.data = info.shmaddr
        if not self.xext.XShmAttach(self.display, ctypes.byref(info)):
            raise SystemExit("XShmAttach failed")
        self.x11.XSync(self.display, 0)
        self.libc.shmctl(info.shmid, IPC_RMID, None)  # gone once both ends detach
        line = image.contents.bytes_per_line
        view = np.ctypeslib.as_array(
            (ctypes.c_uint8 * (line * h)).from_address(info.shmaddr)
        ).reshape(h, line)[:, : w * 4]
        self._shm[(w, h)] = (image, info, view)
        return self._shm[(w, h)]

    def xshm(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        image, _, view = self._segment(w, h)
        if not self.xext.XShmGetImage(self.display, self.root, image, x, y, ALL_PLANES):
            raise RuntimeError("XShmGetImage failed")
        return view.reshape(h, w, 4).copy()

    def getimage(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        image = self.x11.XGetImage(self.display, self.root, x, y, w, h, ALL_PLANES, ZPIXMAP)
        if not image:
            raise RuntimeError("XGetImage failed")
        try:
            line = image.contents.bytes_per_line
            data = ctypes.string_at(image.contents.data, line * h)
            return np.frombuffer(data, np.uint8).reshape(h, line)[:, : w * 4].reshape(h, w, 4)
        finally:
            self.x11.XDestroyImage(image)

    def close(self) -> None:
        for _, info, _ in self._shm.values():
            self.xext.XShmDetach(self.display, ctypes.byref(info))
            self.libc.shmdt(info.shmaddr)
        self.x11.XCloseDisplay(self.display)


class RawReader:
    """Xvnc's Raw pixels of an area over its unix socket, as the bridge reads them."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.reader = XvncReader()
        self.buffer = bytearray(READ_BYTES)
        self._until(lambda events: self.reader.init is not None)
        self.sock.sendall(client_init_request([]))

    def _until(self, done: Callable[[list[Any]], bool]) -> None:
        view = memoryview(self.buffer)
        while True:
            count = self.sock.recv_into(view)
            if not count:
                raise SystemExit("Xvnc closed the connection")
            reply, events = self.reader.feed(view[:count])
            if reply:
                self.sock.sendall(reply)
            if done(events):
                return

    def raw(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        self.sock.sendall(update_request(False, x, y, w, h))
        self._until(lambda events: any(isinstance(e, UpdateEnd) for e in events))
        return self.reader.screen[y : y + h, x : x + w]

    def close(self) -> None:
        self.sock.close()


def start_xvnc(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    xvnc = shutil.which("Xvnc")
    if xvnc is None:
        raise SystemExit("Xvnc not found: apt-get install tigervnc-standalone-server")
    sock = str(folder / "vnc.sock")
    free = [
        n
        for n in range(180, 260)
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()
    ]
    if not free:
        raise SystemExit("no free X display number between :180 and :259")
    number = free[0]
    with (folder / "xvnc.log").open("wb") as log:  # the child keeps its own copy
        proc = subprocess.Popen(
            [
                xvnc,
                f":{number}",
                "-geometry",
                f"{WIDTH}x{HEIGHT}",
                "-depth",
                "24",
                "-rfbport",
                "-1",
                "-rfbunixpath",
                sock,
                "-rfbunixmode",
                "0600",
                "-SecurityTypes",
                "None",
                "-nolisten",
                "tcp",
                "-AlwaysShared",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    wait_for(lambda: Path(sock).exists() or proc.poll() is not None, 30, "Xvnc's socket")
    if proc.poll() is not None:
        raise SystemExit(f"Xvnc ended: {(folder / 'xvnc.log').read_text()[-2000:]}")
    return proc, f":{number}", sock


def paint(display: str) -> None:
    """Something other than black on the screen (the copies cost the same whatever the
    pixels are; the check that both ways read the same pixels needs some)."""
    xsetroot = shutil.which("xsetroot")
    if xsetroot:
        subprocess.run(
            [xsetroot, "-solid", "#3a5f8c"], env={**os.environ, "DISPLAY": display}, check=False
        )


def measure(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pixel-source-") as tmp:
        proc, display, sock = start_xvnc(Path(tmp))
        try:
            paint(display)
            x_reader, raw_reader = XReader(display), RawReader(sock)
            ways: dict[str, Callable[..., np.ndarray]] = {
                "raw": raw_reader.raw,
                "xshm": x_reader.xshm,
                "getimage": x_reader.getimage,
            }
            results: dict[str, Any] = {}
            try:
                for label, area in AREAS.items():
                    times: dict[str, list[float]] = {way: [] for way in ways}
                    pictures = {way: read(*area) for way, read in ways.items()}  # warm up
                    same = bool(
                        (pictures["xshm"][..., :3][..., ::-1] == pictures["raw"][..., :3]).all()
                    )
                    for _ in range(repeat):
                        for way, read in ways.items():
                            started = time.perf_counter()
                            read(*area)
                            times[way].append(time.perf_counter() - started)
                    results[label] = {
                        "same_pixels_raw_xshm": same,
                        **{
                            way: {
                                "median_ms": round(1000 * statistics.median(values), 2),
                                "p90_ms": round(1000 * sorted(values)[int(0.9 * len(values))], 2),
                            }
                            for way, values in times.items()
                        },
                    }
            finally:
                raw_reader.close()
                x_reader.close()
        finally:
            procs.stop_tree(proc.pid, 5)
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/pixel_source.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--repeat", type=int, default=40, help="reads of each area each way")
    parser.add_argument("--out", type=Path, default=RESULTS / "pixel-source.json")
    args = parser.parse_args(argv)
    results = measure(args.repeat)
    print(f"{'area':18} {'way':9} {'median ms':>9} {'p90 ms':>7}")
    for label, found in results.items():
        for way in ("raw", "xshm", "getimage"):
            print(f"{label:18} {way:9} {found[way]['median_ms']:9.2f} {found[way]['p90_ms']:7.2f}")
        print(f"{label:18} Raw and XShm the same pixels: {found['same_pixels_raw_xshm']}")
    record = {
        "commit": commit(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
