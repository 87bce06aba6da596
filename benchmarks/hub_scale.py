"""How many napari desktops fit on this machine behind one JupyterHub?

Adds users one at a time to a real JupyterHub on 127.0.0.1 (tests/hub/hubtools.py: real Unix
users, LocalProcessSpawner, configurable-http-proxy, deploy/jupyterhub/jupyterhub_config.py).
Each user's server starts the desktop and napari with the same 50x512x512 uint16 stack,
and stays connected through the hub's proxy. After each new user, every user (or
``--active`` of them: the new one and others at random) pages through the stack at the
same time, over the websocket, the way a person would: a key press (Right/Left), then
full-screen update requests until the update with the new slice has arrived, encoded as
noVNC asks TigerVNC for it (Tight with JPEG).

Per step it reports: spawn-to-napari time of the new user (server ready, desktop, napari
holding the stack), PSS per user (sum over the user's processes, /proc/PID/smaps_rollup),
how much MemAvailable dropped per user, the RFB round trip (a 64x64 update request) and
the input-to-screen latency (key press to the last byte of the update with the new slice;
p50/p95 over all presses of all users). It stops at ``--users`` (default 20), when the p95 latency
exceeds ``--max-latency`` (1 s), when MemAvailable drops under ``--min-free`` (2 GiB), or
after ``--max-minutes``. The largest N whose step passed is the answer. Needs root;
removes the users, their files and the hub afterwards.

    sudo .venv/bin/python -m benchmarks.hub_scale --users 5 [--session minimal]

Results: printed, and as JSON in benchmarks/results/hub_scale-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.hub import (
    USER_VENV,
    HubProcess,
    UnixUser,
    desktop_of,
    ensure_user_venv,
    missing_requirements,
    napari_state,
    sweep_stale_users,
    websocket_url,
)
from tests.support.procs import mem_available_kib, pss_kib
from tests.support.rfb import KEY_LEFT, KEY_RIGHT, RFBClient
from tests.support.stats import percentile
from tests.support.waiting import wait_for

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = [50, 512, 512]
PROBE = 64  # side of the square read back at the centre of the screen (round trips)
QUIET = 0.5  # s without updates after which the screen counts as drained


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hub_scale", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=20, help="most users (default 20)")
    parser.add_argument(
        "--session", choices=["xfce", "minimal"], default="xfce", help="desktop session"
    )
    parser.add_argument(
        "--max-latency", type=float, default=1.0, help="p95 input-to-screen limit, s (1.0)"
    )
    parser.add_argument("--min-free", type=float, default=2.0, help="stop under this GiB free")
    parser.add_argument(
        "--image",
        choices=["cells", "noise"],
        default="cells",
        help="stack content: blurred blobs (default) or noise (worst case for JPEG)",
    )
    parser.add_argument(
        "--active",
        type=int,
        default=0,
        help="users paging at the same time in each step, picked at random (default 0: all)",
    )
    parser.add_argument("--presses", type=int, default=10, help="key presses per user per step")
    parser.add_argument("--max-minutes", type=float, default=40, help="stop after this long")
    return parser.parse_args(argv)


class Seat:
    """One user: account, token, desktop, and an open RFB connection through the hub."""

    def __init__(self, user: UnixUser) -> None:
        self.user = user
        self.token = ""
        self.client: RFBClient | None = None
        self.times: dict[str, float] = {}
        self.desktop: Any = None
        self.forward = True
        self.step = 0
        self.pending = False  # an incremental update request is open at the server

    async def start(self, hub: HubProcess) -> None:
        t0 = time.perf_counter()
        hub.spawn(self.user.name)
        await asyncio.to_thread(hub.wait_ready, self.user.name, 300)
        self.times["server_ready_s"] = time.perf_counter() - t0
        self.token = hub.user_token(self.user.name)
        status, answer = await asyncio.to_thread(
            hub.api,
            "POST",
            f"/user/{self.user.name}/napari-desktop/api/start",
            {"app": "napari"},
            self.token,
        )
        if status != 200:
            raise RuntimeError(f"{self.user.name}: api/start {status} {answer}")
        self.times["desktop_ready_s"] = time.perf_counter() - t0
        self.desktop = await asyncio.to_thread(
            wait_for, lambda: desktop_of(self.user.uid), 60, "the desktop"
        )

        def holds_stack() -> bool:
            state = napari_state(self.desktop)
            return bool(state) and any(
                layer.get("shape") == SHAPE for layer in state.get("layers", [])
            )

        await asyncio.to_thread(wait_for, holds_stack, 300, "napari holding the stack", 0.25)
        self.times["napari_with_stack_s"] = time.perf_counter() - t0
        # Tight with JPEG (quality 6, compression 2) as noVNC asks; only the requests below.
        self.client = await RFBClient.connect_websocket(
            websocket_url(hub, self.user.name),
            self.token,
            continuous=False,
            cursor_pseudo=False,
            follow=False,
        )
        # The pointer rests over napari's canvas, away from the probe square (no click: a
        # press and move would pan the image); napari's window has the keyboard focus.
        await self.client.pointer(self.client.width - 60, 120)
        await asyncio.sleep(1.0)
        await self.rtt()

    def probe_box(self) -> tuple[int, int, int, int]:
        assert self.client is not None
        return (self.client.width - PROBE) // 2, (self.client.height - PROBE) // 2, PROBE, PROBE

    async def rtt(self) -> float:
        """A full (non-incremental) update of the probe square: protocol round trip."""
        assert self.client is not None
        start = time.perf_counter()
        await self.client.request(False, self.probe_box())
        await self.client.read_update(30)
        self.pending = False  # one update answers every outstanding request
        return time.perf_counter() - start

    async def next_update(self, timeout: float) -> list[tuple[int, int, int, int]] | None:
        """Ask for whatever changed on the whole screen (unless a request is still open) and
        wait up to ``timeout`` for it: its rectangles, or None when nothing came."""
        assert self.client is not None
        if not self.pending:
            await self.client.request(True)
            self.pending = True
        try:
            update = await self.client.read_update(timeout)
        except asyncio.TimeoutError:
            return None
        self.pending = False
        return update.rects

    async def press(self, timeout: float) -> float | None:
        """One slice step, seen as a browser tab sees it: from the key press until the
        update with the new slice (it covers the probe square at the centre) has arrived.
        First the screen is drained: after JPEG updates TigerVNC keeps sending lossless
        refreshes for a second or so, which would otherwise be taken for the answer.
        None: nothing came within ``timeout``."""
        assert self.client is not None
        self.step += 1
        if self.step % 20 == 0:
            self.forward = not self.forward
        deadline = time.monotonic() + 10
        while await self.next_update(QUIET) is not None and time.monotonic() < deadline:
            pass
        px, py, pw, ph = self.probe_box()
        start = time.perf_counter()
        await self.client.key(KEY_RIGHT if self.forward else KEY_LEFT)
        while True:
            left = timeout - (time.perf_counter() - start)
            rects = await self.next_update(left) if left > 0 else None
            if rects is None:
                return None
            if any(
                x < px + pw and px < x + w and y < py + ph and py < y + h for x, y, w, h in rects
            ):
                return time.perf_counter() - start

    def pss_kib(self) -> int:
        return pss_kib(self.user.processes())


async def measure(seats: list[Seat], presses: int, timeout: float) -> dict[str, Any]:
    """Everyone pages through the stack at once; latencies and round trips of all users."""

    async def one(seat: Seat) -> tuple[list[float | None], list[float]]:
        latencies, rtts = [], []
        for _ in range(presses):
            latencies.append(await seat.press(timeout))
            rtts.append(await seat.rtt())
            await asyncio.sleep(0.2)
        return latencies, rtts

    results = await asyncio.gather(*(one(seat) for seat in seats))
    latencies = [value for lat, _ in results for value in lat]
    rtts = [value for _, rtt in results for value in rtt]
    missed = sum(value is None for value in latencies)
    # A press that never changed the screen counts as slower than any limit.
    ranked = [math.inf if value is None else value for value in latencies]

    def pct(values: list[float], q: int) -> float:
        found = percentile(list(values), q)
        return math.inf if found is None else found

    return {
        "latency_p50_s": pct(ranked, 50),
        "latency_p95_s": pct(ranked, 95),
        "latency_missed": missed,
        "rtt_p50_s": pct(rtts, 50),
        "rtt_p95_s": pct(rtts, 95),
    }


def make_stack(path: Path, kind: str = "cells") -> None:
    """The 50x512x512 uint16 stack every napari opens: 'cells' (blurred blobs and a little
    noise, like a fluorescence stack) or 'noise' (uniform noise, the worst case for JPEG)."""
    import numpy as np
    import tifffile

    rng = np.random.default_rng(0)
    if kind == "noise":
        data = rng.integers(0, 4000, SHAPE, dtype=np.uint16)
    else:
        from scipy import ndimage

        seeds = np.zeros(SHAPE, np.float32)
        points = rng.integers(0, SHAPE, size=(600, 3))
        seeds[tuple(points.T)] = 1.0
        blobs = ndimage.gaussian_filter(seeds, sigma=(2, 6, 6))
        blobs *= 3000 / blobs.max()
        data = (blobs + rng.normal(200, 30, SHAPE)).clip(0, 65535).astype(np.uint16)
    tifffile.imwrite(path, data)
    os.chmod(path, 0o644)


async def run(args: argparse.Namespace, base: Path, report: dict[str, Any]) -> None:
    python = ensure_user_venv(USER_VENV, napari=True)
    stack = base / "stack-50x512x512.tif"
    make_stack(stack, args.image)
    homes = base / "home"
    homes.mkdir(mode=0o755)
    tag = secrets.token_hex(2)
    seats: list[Seat] = []
    hub = HubProcess(
        base / "hub",
        [f"ndbench{i:02d}{tag}" for i in range(args.users)],
        python,
        napari_desktop={"session": args.session, "napari_args": [str(stack)]},
        activity_interval=60,
    )
    free_before = mem_available_kib()
    deadline = time.monotonic() + args.max_minutes * 60
    try:
        hub.start()
        for index in range(args.users):
            seat = Seat(UnixUser.create(hub.users[index], homes))
            seats.append(seat)
            hub.unix_users.append(seat.user)
            await seat.start(hub)
            await asyncio.sleep(3)  # let the new napari settle before measuring
            active = seats
            if 0 < args.active < len(seats):
                active = [seat, *random.sample(seats[:-1], args.active - 1)]
            step = await measure(active, args.presses, timeout=5 * args.max_latency)
            pss = [seat.pss_kib() / 1024 for seat in seats]
            free = mem_available_kib()
            step.update(
                users=len(seats),
                active=len(active),
                new_user=seat.times,
                pss_per_user_mib=round(statistics.mean(pss), 1),
                pss_total_mib=round(sum(pss), 1),
                mem_available_gib=round(free / 2**20, 2),
                mem_used_per_user_mib=round((free_before - free) / 1024 / len(seats), 1),
            )
            step["responsive"] = step["latency_p95_s"] <= args.max_latency
            report["steps"].append(step)
            print_step(step)
            if step["responsive"]:
                report["largest_responsive_n"] = len(seats)
            else:
                report["stopped"] = f"p95 latency {step['latency_p95_s']:.2f} s"
                break
            if free / 2**20 < args.min_free:
                report["stopped"] = f"MemAvailable {free / 2**20:.1f} GiB < {args.min_free} GiB"
                break
            if time.monotonic() > deadline:
                report["stopped"] = f"--max-minutes {args.max_minutes}"
                break
        else:
            report["stopped"] = f"--users {args.users} reached"
    finally:
        for seat in seats:
            if seat.client is not None:
                await seat.client.close()
        hub.stop()
        for seat in seats:
            seat.user.remove()


def print_step(step: dict[str, Any]) -> None:
    new = step["new_user"]
    print(
        f"N={step['users']:2d} ({step['active']} paging) new user: server "
        f"{new['server_ready_s']:5.1f} s, "
        f"napari+stack {new['napari_with_stack_s']:5.1f} s | PSS/user "
        f"{step['pss_per_user_mib']:6.0f} MiB, used/user {step['mem_used_per_user_mib']:6.0f} "
        f"MiB, free {step['mem_available_gib']:5.1f} GiB | key->screen p50 "
        f"{step['latency_p50_s']:.3f} p95 {step['latency_p95_s']:.3f} s "
        f"(missed {step['latency_missed']}) | rtt p95 {step['rtt_p95_s']:.3f} s",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_requirements()
    if missing:
        print("hub_scale: cannot run here: " + "; ".join(missing), file=sys.stderr)
        return 2
    sweep_stale_users()
    base = Path(tempfile.mkdtemp(prefix="napari-hub-scale-", dir="/tmp"))
    os.chmod(base, 0o755)
    report: dict[str, Any] = {
        "args": vars(args),
        "cpus": os.cpu_count(),
        "mem_total_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
        "steps": [],
        "largest_responsive_n": 0,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("hub_scale-%Y%m%d-%H%M%S.json")
    try:
        asyncio.run(run(args, base, report))
    finally:
        hub_log = base / "hub" / "jupyterhub.log"
        if hub_log.exists():
            report["hub_log"] = str(out.with_suffix(".jupyterhub.log"))
            shutil.copy(hub_log, report["hub_log"])
        shutil.rmtree(base, ignore_errors=True)
        out.write_text(json.dumps(report, indent=1))
        print(
            f"largest responsive N: {report['largest_responsive_n']} "
            f"(stopped: {report.get('stopped', 'error')}); {out}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
