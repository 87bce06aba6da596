"""Presenter mode: one instructor's desktop watched by a room, against the same desktop alone.

One Jupyter server of ours runs the desktop (minimal session, 1280x800) with napari showing
a fluorescence-like stack. The presenter is an RFB client over the owner's websocket (what
the owner's page does); the viewers are RFB clients over a view-only link's websocket
(``napari-desktop/watch``), each reading every update as a browser would; one more viewer
never reads at all (a stalled laptop). Xvnc encodes for each client.

For ``--viewers`` 0 and N, and N again on the video path (the link's pages ask for H.264: one
encoder for the room, server/video_room.py; where PyAV is installed), in one run:
- the presenter's frames per second while napari steps through the stack at ``RATE`` per
  second (driven through the REST API), and the presenter's key -> redrawn canvas latency
  (Right/Left step the slider; median of ``--keys``);
- CPU of Xvnc and the Jupyter server (per viewer: the increase over alone / N), Mbit/s per
  viewer, and the benchmark's own CPU (its N clients parse what they receive).

    .venv/bin/python -m benchmarks.presenter [--viewers 30]

Writes ``--out`` (default benchmarks/results/presenter.{json,md}).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import images
from benchmarks.measure import CANVAS_SHARE, input_latency
from benchmarks.recording import table, write_rows
from jupyter_napari_desktop.server.video_codec import available
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.rfb import RFBClient

RESULTS = Path(__file__).resolve().parent / "results"
PLANES = 40
RATE = 10.0  # napari steps per second while frames are counted
SECONDS = 12.0


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=30, help="viewers in the room (30)")
    parser.add_argument("--keys", type=int, default=15, help="key presses timed per phase (15)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for presenter.*")
    return parser.parse_args(argv)


async def drive(server: JupyterServer, seconds: float) -> int:
    """napari steps through the stack at up to RATE per second (the picture moves); the
    steps napari took."""
    loop = asyncio.get_running_loop()
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        step += 1
        body = {"dims": {"current_step": [step % PLANES, 0, 0]}}
        await loop.run_in_executor(None, server.request, "PUT", "napari-desktop/api/viewer", body)
        await asyncio.sleep(1 / RATE)
    return step


async def phase(
    server: JupyterServer, link_ws: str, owner_ws: str, viewers: int, keys: int, video: bool
) -> dict[str, Any]:
    room: list[RFBClient] = []
    stalled: Optional[RFBClient] = None
    if video:
        link_ws += "&video=h264"
    try:
        for _ in range(viewers):
            # Counted, not drawn: as the Tight clients, which only read what they get.
            room.append(
                await RFBClient.connect_websocket(
                    link_ws, "none", timeout=60, video=video, draw=False
                )
            )
        if viewers:
            # A laptop that stops reading: updates requested, then nothing taken.
            stalled = await RFBClient.connect_websocket(
                link_ws, "none", timeout=60, video=video, draw=False
            )
            if stalled._reader is not None:
                stalled._reader.cancel()
        presenter = await RFBClient.connect_websocket(owner_ws, server.token, timeout=60)
        await presenter.next_update(10, pixels_only=False)
        await asyncio.sleep(2.0)
        pids = {"xvnc": server.xvnc() or 0, "jupyter_server": server.proc.pid}
        cpu0 = {name: procs.cpu_seconds(pid) for name, pid in pids.items()}
        own0 = time.process_time()
        got0 = [c.stream.arrived for c in room]
        t0 = time.perf_counter()
        steps = await drive(server, SECONDS)
        t1 = time.perf_counter()
        cpu1 = {name: procs.cpu_seconds(pid) for name, pid in pids.items()}
        own1 = time.process_time()
        seconds = t1 - t0
        area = CANVAS_SHARE * presenter.width * presenter.height
        frames = [u for u in presenter.stats.window(t0, t1) if u.area >= area]
        received = sum(c.stream.arrived - g for c, g in zip(room, got0))
        errors = [str(c.error) for c in room if c.error is not None]
        await presenter.close()
        latency = await input_latency(
            lambda: RFBClient.connect_websocket(owner_ws, server.token, timeout=60),
            "key",
            presenter.width,
            presenter.height,
            keys,
        )
        canvas = [v for v in latency["key_to_canvas"] if v is not None]
        return {
            "viewers": viewers,
            "path": "video" if video else "tight",
            "presenter_fps": round(len(frames) / seconds, 2),
            "napari_steps_per_s": round(steps / seconds, 2),
            "frames_per_step": round(len(frames) / steps, 2) if steps else None,
            "key_to_canvas_ms_p50": round(statistics.median(canvas), 1) if canvas else None,
            "keys_answered": f"{len(canvas)}/{keys}",
            "cpu_percent": {n: round(100 * (cpu1[n] - cpu0[n]) / seconds, 1) for n in pids},
            "client_cpu_percent": round(100 * (own1 - own0) / seconds, 1),
            "mbit_per_viewer": round(received * 8 / seconds / 1e6 / viewers, 2)
            if viewers
            else None,
            "viewer_errors": errors[:3],
        }
    finally:
        for client in room:
            await client.close()
        if stalled is not None:
            await stalled.close()


async def measure(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    stack = images.write_fluorescence(tmp / "cells.npy", PLANES)
    settings = {"session": "minimal", "geometry": "1280x800", "napari_args": [str(stack)]}
    video = available() is None
    # The presenter and the Tight viewers do not ask for H.264: their path is as without it.
    server = JupyterServer(tmp, {**settings, "video": "auto" if video else "off"})
    server.start(timeout=120)
    try:
        code, status = server.request(
            "POST", "napari-desktop/api/start", {"app": "napari", "wait": True}
        )
        assert code == 200, status
        code, link = server.request("POST", "napari-desktop/api/links", {"expires_in": 3600})
        assert code == 201, link
        token = urllib.parse.parse_qs(urllib.parse.urlparse(link["path"]).query)["token"][0]
        ws = server.url.replace("http", "ws", 1) + "napari-desktop/"
        owner_ws, link_ws = ws + "websockify", f"{ws}watch/websockify?token={token}"
        rows = []
        phases = [(0, False), (args.viewers, False)] + ([(args.viewers, True)] if video else [])
        for viewers, on_video in phases:
            row = await phase(server, link_ws, owner_ws, viewers, args.keys, on_video)
            print(f"{viewers} viewers: {row}", flush=True)
            rows.append(row)
        return rows
    finally:
        server.stop_all()


def report(rows: list[dict[str, Any]], measured: str) -> list[str]:
    alone, n = rows[0], rows[-1]["viewers"]
    lines = [
        "# Presenter mode: one desktop, a room watching",
        "",
        f"Measured at {measured} by `python -m benchmarks.presenter` (see its docstring):",
        f"1280x800, napari stepping through a stack {RATE:g} times a second for {SECONDS:g} s;",
        f"{n} viewers on a view-only link plus one that never reads, their pages on the Tight",
        "path (Xvnc encodes for each) or on the video path (one encoder for the room). Frames",
        "per step: the share of napari's steps the presenter was shown (1.0: every one).",
        "",
    ]
    lines += table(
        [
            "viewers",
            "viewers' path",
            "napari steps/s",
            "presenter frames/s",
            "frames per step",
            "key -> canvas p50 ms",
            "Xvnc CPU %",
            "server CPU %",
            "Mbit/s per viewer",
            "clients' CPU %",
        ],
        [
            [
                str(r["viewers"]),
                r.get("path", "tight") if r["viewers"] else "",
                str(r["napari_steps_per_s"]),
                str(r["presenter_fps"]),
                str(r["frames_per_step"]),
                str(r["key_to_canvas_ms_p50"]),
                str(r["cpu_percent"]["xvnc"]),
                str(r["cpu_percent"]["jupyter_server"]),
                str(r["mbit_per_viewer"]),
                str(r["client_cpu_percent"]),
            ]
            for r in rows
        ],
    )
    lines.append("")
    for room in rows[1:]:
        extra = {k: room["cpu_percent"][k] - alone["cpu_percent"][k] for k in alone["cpu_percent"]}
        lines.append(
            f"{room.get('path', 'tight').capitalize()} path, per viewer: Xvnc "
            f"{extra['xvnc'] / n:.1f} % CPU, the Jupyter server "
            f"{extra['jupyter_server'] / n:.1f} % (of one core). Presenter frames/s with the "
            f"room: {room['presenter_fps'] / alone['presenter_fps']:.2f} of alone. Per viewer "
            f"and picture napari drew: {room['mbit_per_viewer'] / room['napari_steps_per_s']:.2f}"
            " Mbit."
        )
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="presenter-bench-") as work:
        rows = asyncio.run(measure(args, Path(work)))
    write_rows(args.out, "presenter", rows, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
