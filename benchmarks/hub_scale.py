"""Users per machine and the nine o'clock start, through a real JupyterHub on this machine.

Everything goes through a real JupyterHub on 127.0.0.1 (``tests/support/hub.py``: real Unix
users, LocalProcessSpawner, configurable-http-proxy, deploy/jupyterhub/jupyterhub_config.py).

**Users per machine** (``--steps 1,10,30``): users are added one at a time until each step's
count is reached. Each user's server starts the desktop and napari holding the same
50x512x512 uint16 stack (the napari card's request, ``POST napari-desktop/api/start``), and
keeps a VNC session open through the hub's proxy, as an open tab does (an incremental update
request outstanding, Tight + JPEG as noVNC asks). At each step:

- memory: PSS per user (sum over the user's processes), total, MemAvailable;
- idle CPU: CPU-seconds of every user's processes over ``--idle-seconds`` (60) while nobody
  does anything, per user and as % of a core; the hub and its proxy apart;
- the active user (the first) plays the stack while the others idle: Right (Left) key
  presses, each as soon as the previous slice is on the screen, for ``--play-seconds``
  (frames/s), then ``--presses`` single presses after the screen has drained (key -> the
  update with the new slice, p50/p95), after ``--warmup-seconds`` of playing. Against the
  same user alone: the first step (N=1), and again after the last step with the others'
  servers stopped (the machine's drift in between). At each step with N > 1 also ``--pairs``
  turns of playing with the others idle, then with their processes frozen (SIGSTOP, memory
  kept): what idle users cost the active one, measured within the same minutes;
- spawn time of the users added (hub spawn request -> napari holding the stack), p50/p95.

**Workshop** (``--workshop 10``): another hub whose users' napari opens a four-colour test
image; their servers are started first. One user clicks alone (cold click -> napari drawn),
then ``--workshop`` users click within ``--spread`` seconds (3) of each other. Drawn: the
image is on the user's X screen (a Raw VNC client on the desktop's socket, as root). The CPU
floor: the CPU-seconds all the starts used until drawn, divided by the cores; the last user
drawn (from the first click) against it.

CPU-seconds and memory hardly depend on other load on the machine; times do: the report
gives the load average, read timings with it.

    sudo .venv/bin/python -m benchmarks.hub_scale --session minimal --steps 1,10,30 --workshop 10

Needs root; creates users named ``ndbench<NN><tag>`` (removed at the end, with their
files, the hub and every process, by pid). Results: printed, and as JSON and Markdown in
``--out`` (default benchmarks/results/hub-scale-<session>.{json,md}), naming the commit.
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
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import images
from benchmarks.recording import commit
from tests.support import procs
from tests.support.hub import (
    USER_COMMENT,
    USER_VENV,
    HubProcess,
    UnixUser,
    desktop_of,
    ensure_user_venv,
    missing_requirements,
    napari_state,
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
PREFIX = "ndbench"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hub_scale", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--session", choices=["xfce", "minimal"], default="minimal", help="desktop session"
    )
    parser.add_argument(
        "--steps", default="1,10,30", help="user counts to measure at (default 1,10,30; '' none)"
    )
    parser.add_argument(
        "--workshop", type=int, default=10, help="users clicking napari at once (0: skip)"
    )
    parser.add_argument("--spread", type=float, default=3.0, help="their clicks within (3 s)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle window (60 s)")
    parser.add_argument("--play-seconds", type=float, default=20.0, help="playing (20 s)")
    parser.add_argument("--presses", type=int, default=10, help="latency presses (10)")
    parser.add_argument(
        "--warmup-seconds", type=float, default=10.0, help="playing before each step (10 s)"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=5,
        help="at N > 1: rounds of playing with the others idle, then frozen (5)",
    )
    parser.add_argument(
        "--pair-seconds", type=float, default=10.0, help="each playing window of a pair (10 s)"
    )
    parser.add_argument("--min-free", type=float, default=2.0, help="stop under this GiB free")
    parser.add_argument(
        "--image",
        choices=["cells", "noise"],
        default="cells",
        help="stack content: blurred blobs (default) or noise (worst case for JPEG)",
    )
    parser.add_argument("--out", type=Path, help="report path without suffix")
    return parser.parse_args(argv)


def pct(values: list[Optional[float]], q: int) -> Optional[float]:
    return percentile(list(values), q)


def cpu_of_users(users: list[UnixUser]) -> dict[str, float]:
    """User name -> CPU-seconds (user + system) of the processes the user has now."""
    return {u.name: sum(procs.cpu_seconds(pid) for pid in u.processes()) for u in users}


class Seat:
    """One user: account, token, desktop, and an open RFB connection through the hub."""

    def __init__(self, user: UnixUser) -> None:
        self.user = user
        self.token = ""
        self.client: Optional[RFBClient] = None
        self.times: dict[str, float] = {}
        self.desktop: Any = None
        self.forward = True
        self.step = 0
        self.pending = False  # an incremental update request is open at the server

    async def start(self, hub: HubProcess) -> None:
        t0 = time.perf_counter()
        hub.spawn(self.user.name)
        await asyncio.to_thread(hub.wait_ready, self.user.name, 300)
        self.times["server_ready_s"] = round(time.perf_counter() - t0, 2)
        self.token = await asyncio.to_thread(hub.user_token, self.user.name)
        await self.click_napari(hub)
        self.desktop = await asyncio.to_thread(
            wait_for, lambda: desktop_of(self.user.uid), 60, "the desktop"
        )

        def holds_stack() -> bool:
            state = napari_state(self.desktop)
            return bool(state) and any(
                layer.get("shape") == SHAPE for layer in state.get("layers", [])
            )

        await asyncio.to_thread(wait_for, holds_stack, 300, "napari holding the stack", 0.25)
        self.times["napari_with_stack_s"] = round(time.perf_counter() - t0, 2)
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
        await self.idle_tab()

    async def idle_tab(self) -> None:
        """What an open, idle tab leaves at the server: one incremental request."""
        assert self.client is not None
        if not self.pending:
            await self.client.request(True)
            self.pending = True

    async def click_napari(self, hub: HubProcess) -> None:
        """What the napari card (or the hub's default URL) asks: the desktop with napari."""
        status, answer = await asyncio.to_thread(
            hub.api,
            "POST",
            f"/user/{self.user.name}/napari-desktop/api/start",
            {"app": "napari"},
            self.token,
        )
        if status != 200:
            raise RuntimeError(f"{self.user.name}: api/start {status} {answer}")

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

    async def next_update(self, timeout: float) -> Optional[list[tuple[int, int, int, int]]]:
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

    async def drain(self) -> None:
        """Take updates until the screen is quiet: after JPEG updates TigerVNC sends
        lossless refreshes for a second or so, which would be taken for an answer."""
        deadline = time.monotonic() + 10
        while await self.next_update(QUIET) is not None and time.monotonic() < deadline:
            pass

    async def slice_step(self, timeout: float) -> Optional[float]:
        """A key press, until an update covering the probe square (the new slice) came."""
        assert self.client is not None
        self.step += 1
        if self.step % 40 == 0:
            self.forward = not self.forward
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

    async def play(self, seconds: float) -> dict[str, Any]:
        """Page through the stack as fast as the slices come back (a held arrow key)."""
        await self.drain()
        frames, missed = 0, 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            if await self.slice_step(5.0) is None:
                missed += 1
            else:
                frames += 1
        elapsed = time.perf_counter() - start
        return {"frames_per_s": round(frames / elapsed, 2), "missed": missed}

    async def paired(self, others: list[Seat], pairs: int, seconds: float) -> dict[str, Any]:
        """Frames/s with the other users idle, then with their processes frozen (SIGSTOP:
        their memory stays, their timers, polls and screen updates stop), in turns: what
        idle users cost the active one, with the machine's drift in both."""
        idle, frozen, missed = [], [], 0
        pids = [pid for seat in others for pid in seat.user.processes()]
        for _ in range(pairs):
            got = await self.play(seconds)
            idle.append(got["frames_per_s"])
            procs.signal_all(pids, signal.SIGSTOP)
            try:
                still = await self.play(seconds)
            finally:
                procs.signal_all(pids, signal.SIGCONT)
            frozen.append(still["frames_per_s"])
            missed += got["missed"] + still["missed"]
        return {
            "frames_per_s_others_idle": idle,
            "frames_per_s_others_frozen": frozen,
            "frames_idle_vs_frozen": round(
                statistics.median(idle) / max(statistics.median(frozen), 1e-9), 3
            ),
            "frames_idle_vs_frozen_means": round(
                statistics.mean(idle) / max(statistics.mean(frozen), 1e-9), 3
            ),
            "pairs_missed": missed,
        }

    async def latency(self, presses: int) -> dict[str, Any]:
        """Single presses after the screen drained: key -> the new slice on the screen."""
        values: list[Optional[float]] = []
        for _ in range(presses):
            await self.drain()
            values.append(await self.slice_step(5.0))
        ranked = [math.inf if v is None else v for v in values]
        return {
            "key_to_pixels_p50_ms": round(1000 * (pct(ranked, 50) or math.inf), 1),
            "key_to_pixels_p95_ms": round(1000 * (pct(ranked, 95) or math.inf), 1),
            "missed": sum(v is None for v in values),
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


def hub_processes(hub: HubProcess) -> list[int]:
    """The hub and its proxy (and what else runs below the hub as root): not the users'
    servers, which are the hub's children too."""
    assert hub.proc is not None
    mine = set(procs.processes_of(os.getuid()))
    below = [pid for pid in procs.descendants(hub.proc.pid) if pid in mine]
    return [hub.proc.pid, *below, *hub.proxy_processes()]


async def measure_step(
    args: argparse.Namespace, hub: HubProcess, seats: list[Seat], alone: Optional[dict]
) -> dict[str, Any]:
    """Memory, idle CPU, the active user's frames/s and latency, at the current N."""
    await asyncio.sleep(10)  # the newest napari settles
    users = [seat.user for seat in seats]
    pss = [seat_pss / 1024 for seat_pss in (pss_kib(u.processes()) for u in users)]
    hub_pids = sorted(set(hub_processes(hub)))
    cpu0, hub0 = cpu_of_users(users), sum(procs.cpu_seconds(p) for p in hub_pids)
    per_pid0 = {pid: procs.cpu_seconds(pid) for u in users for pid in u.processes()}
    t0 = time.monotonic()
    await asyncio.sleep(args.idle_seconds)
    elapsed = time.monotonic() - t0
    cpu1, hub1 = cpu_of_users(users), sum(procs.cpu_seconds(p) for p in hub_pids)
    by_name: dict[str, float] = {}
    for pid in (pid for u in users for pid in u.processes()):
        used = procs.cpu_seconds(pid) - per_pid0.get(pid, 0.0)
        by_name[procs.comm(pid)] = by_name.get(procs.comm(pid), 0.0) + used
    idle_by_process = {
        name: round(value / elapsed * 100 / len(users), 3)
        for name, value in sorted(by_name.items(), key=lambda item: -item[1])[:8]
    }
    idle = [(cpu1[u.name] - cpu0[u.name]) / elapsed * 100 for u in users]
    active = seats[0]
    # The first seconds of playing after napari opened ran about 1.5 times as fast as the
    # minutes after them in 3 of 4 runs, alone too: a warm-up, so that N=1 is not measured
    # on them alone.
    await active.play(args.warmup_seconds)
    play = await active.play(args.play_seconds)
    latency = await active.latency(args.presses)
    turns = await active.paired(seats[1:], args.pairs, args.pair_seconds) if seats[1:] else {}
    await active.idle_tab()
    spawns = [seat.times["napari_with_stack_s"] for seat in seats]
    step: dict[str, Any] = {
        "users": len(seats),
        "pss_per_user_mib": round(statistics.mean(pss), 1),
        "pss_max_user_mib": round(max(pss), 1),
        "pss_total_mib": round(sum(pss), 1),
        "mem_available_gib": round(mem_available_kib() / 2**20, 2),
        "idle_cpu_per_user_percent": round(statistics.mean(idle), 3),
        "idle_cpu_max_user_percent": round(max(idle), 3),
        "idle_cpu_all_users_percent": round(sum(idle), 2),
        "idle_cpu_per_user_by_process_percent": idle_by_process,
        "hub_and_proxy_cpu_percent": round((hub1 - hub0) / elapsed * 100, 3),
        "spawn_to_napari_p50_s": pct(list(spawns), 50),
        "spawn_to_napari_p95_s": pct(list(spawns), 95),
        "active": {**play, **latency, **turns},
        "load_average": round(os.getloadavg()[0], 2),
    }
    if alone:
        step["active"]["frames_vs_alone"] = round(
            play["frames_per_s"] / max(alone["frames_per_s"], 1e-9), 3
        )
        step["active"]["p50_vs_alone"] = round(
            latency["key_to_pixels_p50_ms"] / max(alone["key_to_pixels_p50_ms"], 1e-9), 3
        )
    return step


async def scale(args: argparse.Namespace, base: Path, python: Path, report: dict) -> None:
    steps = sorted({int(n) for n in args.steps.split(",") if n.strip()})
    if not steps:
        return
    stack = base / "stack-50x512x512.tif"
    make_stack(stack, args.image)
    homes = base / "scale-home"
    homes.mkdir(mode=0o755)
    tag = secrets.token_hex(2)
    seats: list[Seat] = []
    hub = HubProcess(
        base / "scale-hub",
        [f"{PREFIX}{i:02d}{tag}" for i in range(steps[-1])],
        python,
        napari_desktop={"session": args.session, "napari_args": [str(stack)]},
        activity_interval=60,
    )
    alone: Optional[dict] = None
    try:
        hub.start()
        for target in steps:
            while len(seats) < target:
                seat = Seat(UnixUser.create(hub.users[len(seats)], homes))
                seats.append(seat)
                hub.unix_users.append(seat.user)
                await seat.start(hub)
                print(f"  user {len(seats)}: {seat.times}", flush=True)
                if mem_available_kib() / 2**20 < args.min_free:
                    break
            step = await measure_step(args, hub, seats, alone)
            if alone is None and len(seats) == 1:
                alone = step["active"]
            report["steps"].append(step)
            print_step(step)
            if mem_available_kib() / 2**20 < args.min_free:
                report["stopped"] = f"MemAvailable under {args.min_free} GiB"
                break
        if alone is not None and len(seats) > 1:
            report["alone_after"] = await alone_again(args, hub, seats)
    finally:
        for seat in seats:
            if seat.client is not None:
                await seat.client.close()
        report["spawn_times"] = [seat.times for seat in seats]
        stop_hub(hub, [seat.user for seat in seats], report)


async def alone_again(
    args: argparse.Namespace, hub: HubProcess, seats: list[Seat]
) -> dict[str, Any]:
    """The others' servers stopped through the hub: the active user alone again, as at N=1
    but as late as the last step (the machine's drift between the two)."""
    for seat in seats[1:]:
        if seat.client is not None:
            await seat.client.close()
            seat.client = None
        status, answer = await asyncio.to_thread(
            hub.api, "DELETE", f"/hub/api/users/{seat.user.name}/server"
        )
        if status not in (202, 204):
            raise RuntimeError(f"stop {seat.user.name}: {status} {answer}")
    for seat in seats[1:]:
        await asyncio.to_thread(
            wait_for, lambda seat=seat: not seat.user.processes(), 120, f"{seat.user.name} stopped"
        )
    await asyncio.sleep(10)
    active = seats[0]
    play = await active.play(args.play_seconds)
    latency = await active.latency(args.presses)
    return {**play, **latency, "load_average": round(os.getloadavg()[0], 2)}


def sweep_own_stale_users() -> list[str]:
    """Remove users an earlier, killed run of this benchmark left (its prefix and the hub
    tests' comment); other runs' and the hub tests' users are left alone."""
    import pwd

    removed = []
    for entry in pwd.getpwall():
        if entry.pw_gecos == USER_COMMENT and entry.pw_name.startswith(PREFIX):
            UnixUser(entry.pw_name, Path(entry.pw_dir), entry.pw_uid, entry.pw_gid).remove()
            removed.append(entry.pw_name)
    return removed


def stop_hub(hub: HubProcess, users: list[UnixUser], report: dict) -> None:
    hub.stop()
    for user in users:
        report.setdefault("cleanup_problems", []).extend(user.remove())


async def until_drawn(uid: int, timeout: float = 180) -> float:
    """perf_counter time when the test pattern is on ``uid``'s desktop (Raw VNC, root)."""
    deadline = time.perf_counter() + timeout
    desktop = None
    while desktop is None:
        if time.perf_counter() > deadline:
            raise TimeoutError("no desktop")
        desktop = desktop_of(uid)
        if desktop is None:
            await asyncio.sleep(0.05)
    client = await RFBClient.connect_unix(str(desktop.vnc_socket), raw=True)
    try:
        looked_at = -1
        while time.perf_counter() < deadline:
            assert client.fb is not None
            # Look only at a changed screen: ten users' checks every 50 ms would take the
            # CPU the starts being measured need.
            if len(client.stats.updates) != looked_at:
                looked_at = len(client.stats.updates)
                if images.shows_pattern(client.fb[:, :, :3]):
                    return time.perf_counter()
            await asyncio.sleep(0.05)
    finally:
        await client.close()
    raise TimeoutError("napari's pattern never showed")


async def click(hub: HubProcess, seat: Seat, delay: float) -> dict[str, Any]:
    """After ``delay`` s: the napari card's request; until napari is drawn."""
    await asyncio.sleep(delay)
    cpu0 = {pid: procs.cpu_seconds(pid) for pid in seat.user.processes()}
    clicked = time.perf_counter()
    await seat.click_napari(hub)
    answered = time.perf_counter()
    drawn = await until_drawn(seat.user.uid)
    by_name: dict[str, float] = {}
    for pid in seat.user.processes():
        name = procs.comm(pid)
        used = procs.cpu_seconds(pid) - cpu0.get(pid, 0.0)
        by_name[name] = by_name.get(name, 0.0) + used
    cpu = sum(by_name.values())
    top = sorted(by_name.items(), key=lambda item: -item[1])[:6]
    return {
        "cpu_s_by_process": {name: round(value, 2) for name, value in top},
        "clicked": clicked,
        "drawn": drawn,
        "click_to_drawn_s": round(drawn - clicked, 2),
        "start_answered_s": round(answered - clicked, 2),
        "cpu_s": round(cpu, 2),
    }


async def workshop(args: argparse.Namespace, base: Path, python: Path, report: dict) -> None:
    if args.workshop <= 0:
        return
    pattern = images.write_pattern(base / "pattern.png")
    os.chmod(pattern, 0o644)
    homes = base / "workshop-home"
    homes.mkdir(mode=0o755)
    tag = secrets.token_hex(2)
    count = args.workshop + 1  # one clicks alone first
    hub = HubProcess(
        base / "workshop-hub",
        [f"{PREFIX}w{i:02d}{tag}" for i in range(count)],
        python,
        napari_desktop={"session": args.session, "napari_args": [str(pattern)]},
        activity_interval=60,
    )
    seats: list[Seat] = []
    result: dict[str, Any] = {"users": args.workshop, "spread_s": args.spread}
    report["workshop"] = result
    try:
        hub.start()
        for name in hub.users:
            seat = Seat(UnixUser.create(name, homes))
            seats.append(seat)
            hub.unix_users.append(seat.user)
            hub.spawn(name)
        for seat in seats:
            await asyncio.to_thread(hub.wait_ready, seat.user.name, 300)
            seat.token = await asyncio.to_thread(hub.user_token, seat.user.name)
        await asyncio.sleep(5)
        first = await click(hub, seats[0], 0)
        result["alone"] = {k: v for k, v in first.items() if k not in ("clicked", "drawn")}
        print(f"workshop: one user alone: {result['alone']}", flush=True)
        await asyncio.sleep(5)
        cores = os.cpu_count() or 1
        delays = sorted(random.uniform(0, args.spread) for _ in seats[1:])
        harness_cpu0 = sum(os.times()[:2])
        clicks = await asyncio.gather(
            *(click(hub, seat, delay) for seat, delay in zip(seats[1:], delays))
        )
        harness_cpu = sum(os.times()[:2]) - harness_cpu0
        start = min(c["clicked"] for c in clicks)
        last = max(c["drawn"] for c in clicks)
        cpu = sum(c["cpu_s"] for c in clicks)
        result.update(
            click_to_drawn_s=[c["click_to_drawn_s"] for c in clicks],
            click_to_drawn_p50_s=pct([c["click_to_drawn_s"] for c in clicks], 50),
            cpu_s_per_start=[c["cpu_s"] for c in clicks],
            cpu_s_by_process=[c["cpu_s_by_process"] for c in clicks],
            cpu_s_all=round(cpu, 1),
            cores=cores,
            cpu_floor_s=round(cpu / cores, 2),
            first_click_to_last_drawn_s=round(last - start, 2),
            last_vs_floor=round((last - start) / (cpu / cores), 2),
            load_average=round(os.getloadavg()[0], 2),
            harness_cpu_s=round(harness_cpu, 1),
        )
        print(f"workshop: {result}", flush=True)
    finally:
        stop_hub(hub, [seat.user for seat in seats], report)


def print_step(step: dict[str, Any]) -> None:
    active = step["active"]
    print(
        f"N={step['users']:2d}: PSS/user {step['pss_per_user_mib']:6.0f} MiB, total "
        f"{step['pss_total_mib']:7.0f} MiB, free {step['mem_available_gib']:5.1f} GiB | idle CPU/"
        f"user {step['idle_cpu_per_user_percent']:.2f}% | spawn p50 "
        f"{step['spawn_to_napari_p50_s']} p95 {step['spawn_to_napari_p95_s']} s | active "
        f"{active['frames_per_s']} frames/s, key->pixels p50 {active['key_to_pixels_p50_ms']} "
        f"p95 {active['key_to_pixels_p95_ms']} ms | load {step['load_average']}",
        flush=True,
    )


def markdown(report: dict[str, Any]) -> str:
    args = report["args"]
    lines = [
        f"# Users per machine and the nine o'clock start ({args['session']} session)",
        "",
        f"Run {report['when']} on {report['cpus']} CPUs, {report['mem_total_gib']} GiB; "
        f"measured commit `{report['commit']}`. Command: `{report['command']}`.",
        "",
        "Through a real JupyterHub with local users (benchmarks/hub_scale.py). Memory and "
        "CPU-seconds hardly depend on other load on the machine; times do, and other jobs "
        "shared this machine: see the load average (1 min, 2 CPUs) beside each figure.",
        "",
    ]
    if report["steps"]:
        lines += [
            "## Users per machine: napari holding a 50x512x512 stack, one user active",
            "",
            "| N | PSS/user MiB | PSS total MiB | free GiB | idle CPU/user % of a core | "
            "hub+proxy CPU % | spawn→napari p50/p95 s | active frames/s (vs alone) | "
            "key→pixels p50/p95 ms (p50 vs alone) | load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in report["steps"]:
            a = s["active"]
            lines.append(
                f"| {s['users']} | {s['pss_per_user_mib']} | {s['pss_total_mib']} | "
                f"{s['mem_available_gib']} | {s['idle_cpu_per_user_percent']} | "
                f"{s['hub_and_proxy_cpu_percent']} | {s['spawn_to_napari_p50_s']} / "
                f"{s['spawn_to_napari_p95_s']} | {a['frames_per_s']} "
                f"({a.get('frames_vs_alone', 1.0)}) | {a['key_to_pixels_p50_ms']} / "
                f"{a['key_to_pixels_p95_ms']} ({a.get('p50_vs_alone', 1.0)}) | "
                f"{s['load_average']} |"
            )
        lines += [
            "",
            "Idle CPU: all the user's processes (jupyterhub-singleuser, supervisor, Xvnc, "
            "session, napari) over the idle window, each user's VNC session open with an "
            "update request outstanding; the active user idles too then. Active: key presses "
            "through the hub's websocket, each sent when the previous slice was on the screen "
            "(frames/s), then single presses after the screen drained (latency).",
            "",
            "Idle CPU per user by process (% of a core, mean over the users), last step: "
            f"{report['steps'][-1].get('idle_cpu_per_user_by_process_percent')}",
            "",
        ]
        last = report["steps"][-1]["active"]
        if "frames_idle_vs_frozen" in last:
            lines += [
                f"Active user's frames/s in turns at N={report['steps'][-1]['users']} "
                f"({args['pair_seconds']} s each): the others idle "
                f"{last['frames_per_s_others_idle']}, the others' processes frozen (SIGSTOP, "
                f"memory kept) {last['frames_per_s_others_frozen']}: idle / frozen "
                f"{last['frames_idle_vs_frozen']} (medians), "
                f"{last['frames_idle_vs_frozen_means']} (means).",
                "",
            ]
        after = report.get("alone_after")
        if after:
            first = report["steps"][0]["active"]
            late = round(last["frames_per_s"] / max(after["frames_per_s"], 1e-9), 3)
            lines += [
                "Alone again after the last step (the others' servers stopped through the "
                f"hub): {after['frames_per_s']} frames/s, key→pixels p50 "
                f"{after['key_to_pixels_p50_ms']} ms (load {after['load_average']}); at N=1 "
                f"before: {first['frames_per_s']} frames/s, {first['key_to_pixels_p50_ms']} ms. "
                f"Last step / alone after: {late}.",
                "",
            ]
    w = report.get("workshop")
    if w and "click_to_drawn_s" in w:
        lines += [
            f"## Workshop start: {w['users']} users click napari within {w['spread_s']} s",
            "",
            "| figure | value |",
            "|---|---|",
            f"| one user alone: click → napari drawn | {w['alone']['click_to_drawn_s']} s "
            f"({w['alone']['cpu_s']} CPU-s) |",
            f"| each user: click → napari drawn | {', '.join(map(str, w['click_to_drawn_s']))} s |",
            f"| p50 | {w['click_to_drawn_p50_s']} s |",
            f"| CPU-seconds per start | {', '.join(map(str, w['cpu_s_per_start']))} |",
            f"| CPU-seconds by process: alone | {w['alone'].get('cpu_s_by_process')} |",
            f"| CPU-seconds by process: one of the {w['users']} | "
            f"{(w.get('cpu_s_by_process') or [None])[0]} |",
            f"| CPU floor (all starts' CPU-s ÷ {w['cores']} cores) | {w['cpu_floor_s']} s |",
            f"| first click → last drawn | {w['first_click_to_last_drawn_s']} s = "
            f"{w['last_vs_floor']} times the floor (target ≤ 1.5) |",
            f"| load average | {w['load_average']} |",
            f"| the benchmark's own CPU-s meanwhile (its VNC clients watching for napari) | "
            f"{w.get('harness_cpu_s', '-')} |",
            "",
        ]
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace, base: Path, report: dict[str, Any]) -> None:
    python = ensure_user_venv(USER_VENV, napari=True)
    await workshop(args, base, python, report)
    await scale(args, base, python, report)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    missing = missing_requirements()
    if missing:
        print("hub_scale: cannot run here: " + "; ".join(missing), file=sys.stderr)
        return 2
    sweep_own_stale_users()
    base = Path(tempfile.mkdtemp(prefix="napari-hub-scale-", dir="/tmp"))
    os.chmod(base, 0o755)
    report: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "command": "python -m benchmarks.hub_scale " + " ".join(sys.argv[1:]),
        "commit": commit(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "mem_total_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1),
        "steps": [],
    }
    out = args.out or RESULTS / f"hub-scale-{args.session}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(run(args, base, report))
    finally:
        for hub_dir in ("scale-hub", "workshop-hub"):
            log = base / hub_dir / "jupyterhub.log"
            if log.exists():
                shutil.copy(log, out.with_name(f"{out.name}-{hub_dir}.log"))
        shutil.rmtree(base, ignore_errors=True)
        out.with_suffix(".json").write_text(json.dumps(report, indent=1))
        out.with_suffix(".md").write_text(markdown(report))
        print(f"{out}.json, {out}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
