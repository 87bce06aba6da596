"""A soak of the desktop websocket against a real Jupyter server (the test and benchmarks/soak.py).

Hundreds of websocket cycles (open and close at once, the RFB greeting only, a full RFB
handshake, a tab closed mid-frame by a websocket close or a dropped TCP connection) while
``streamers`` clients stream the screen; Xvnc is killed ``kills`` times while they do, and
each streamer reconnects as the page does (POST start with reconnect, then the websocket).
Afterwards the server's memory and open file descriptors are compared with where they
settled after a warm-up, and every process with the server's HOME must be in its tree.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional

import psutil

from . import procs
from .jupyter import JupyterServer
from .rfb import RFBClient, WebSocketStream
from .stats import percentile

KINDS = ("open-close", "greeting", "handshake", "mid-frame close", "mid-frame drop")
RECONNECT_LIMIT = 30.0  # seconds a streamer keeps trying before it counts as locked out


@dataclass
class SoakResult:
    cycles: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failed_cycles: list[str] = field(default_factory=list)
    kills: int = 0
    reconnects: list[float] = field(default_factory=list)
    lockouts: int = 0
    rss_settled_mib: float = 0.0
    rss_after_mib: float = 0.0
    fds_settled: int = 0
    fds_after: int = 0
    orphans: list[str] = field(default_factory=list)
    xvnc_after: int = 0
    seconds: float = 0.0

    def figures(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "by_kind": self.by_kind,
            "failed_cycles": len(self.failed_cycles),
            "xvnc_kills": self.kills,
            "reconnects": len(self.reconnects),
            "reconnect_p50_s": percentile(list(self.reconnects), 50),
            "reconnect_p95_s": percentile(list(self.reconnects), 95),
            "reconnect_max_s": max(self.reconnects) if self.reconnects else None,
            "lockouts": self.lockouts,
            "rss_settled_mib": self.rss_settled_mib,
            "rss_after_mib": self.rss_after_mib,
            "rss_change_pct": round(100 * (self.rss_after_mib / self.rss_settled_mib - 1), 1)
            if self.rss_settled_mib
            else None,
            "fds_settled": self.fds_settled,
            "fds_after": self.fds_after,
            "orphans": self.orphans,
            "xvnc_after": self.xvnc_after,
            "seconds": round(self.seconds, 1),
        }


def server_rss_mib(server: JupyterServer) -> float:
    assert server.proc is not None
    return round(psutil.Process(server.proc.pid).memory_info().rss / (1 << 20), 1)


def server_fds(server: JupyterServer) -> int:
    assert server.proc is not None
    return psutil.Process(server.proc.pid).num_fds()


def orphans(server: JupyterServer) -> list[str]:
    """Processes with the server's HOME outside its process tree."""
    assert server.proc is not None
    tree = set(procs.descendants(server.proc.pid)) | {server.proc.pid, os.getpid()}
    return [f"{pid} {procs.comm(pid)}" for pid in sorted(server.leftovers() - tree)]


async def post_start(server: JupyterServer) -> int:
    body = {"app": "desktop", "reconnect": True}
    code, _ = await asyncio.to_thread(server.request, "POST", "napari-desktop/api/start", body, 60)
    return int(code)


async def one_cycle(server: JupyterServer, kind: str, index: int) -> None:
    """One websocket life of ``kind``; raises on anything but the expected ending."""
    if kind in ("open-close", "greeting"):
        stream = await WebSocketStream.open(server.ws_url, server.token, timeout=30)
        try:
            if kind == "greeting":
                greeting = await asyncio.wait_for(stream.read(12), 30)
                if not greeting.startswith(b"RFB "):
                    raise AssertionError(f"not an RFB greeting: {greeting!r}")
        finally:
            await stream.close()
        return
    client = await asyncio.wait_for(
        RFBClient.connect_websocket(server.ws_url, server.token, timeout=30), 40
    )
    if kind == "handshake":
        await client.close()
        return
    # A tab closed while a frame streams: the full-screen update requested by the handshake
    # is on its way; close after a few milliseconds, politely or by dropping the TCP link.
    await asyncio.sleep((index % 7) * 0.003)
    stream = client.stream
    assert isinstance(stream, WebSocketStream)
    if kind == "mid-frame drop":
        stream.ws.transport.abort()  # no close frame: the TCP connection just goes
    await client.close()


async def streamer(
    server: JupyterServer, stop: asyncio.Event, result: SoakResult, connected: asyncio.Event
) -> None:
    """A tab that streams the screen and reconnects after Xvnc dies, as the page does:
    POST start with reconnect, then the websocket; each reconnect is timed from the moment
    the connection was lost to a completed RFB handshake."""
    lost: Optional[float] = None
    while not stop.is_set():
        try:
            if lost is not None and await post_start(server) != 200:
                raise RuntimeError("start refused")
            client = await RFBClient.connect_websocket(server.ws_url, server.token, timeout=10)
        except Exception:  # the page retries on any failure too
            if lost is not None and time.monotonic() - lost > RECONNECT_LIMIT:
                result.lockouts += 1
                return
            await asyncio.sleep(0.1)
            continue
        if lost is not None:
            result.reconnects.append(round(time.monotonic() - lost, 3))
        connected.set()
        while not stop.is_set() and client.error is None:
            await asyncio.sleep(0.05)
        await client.close()
        lost = time.monotonic()


async def run_cycles(
    server: JupyterServer, count: int, start: int, result: SoakResult, parallel: int
) -> None:
    for first in range(start, start + count, parallel):
        batch = range(first, min(first + parallel, start + count))
        kinds = [KINDS[i % len(KINDS)] for i in batch]
        outcomes = await asyncio.gather(
            *(one_cycle(server, kind, i) for kind, i in zip(kinds, batch)),
            return_exceptions=True,
        )
        for kind, outcome in zip(kinds, outcomes):
            result.cycles += 1
            result.by_kind[kind] = result.by_kind.get(kind, 0) + 1
            if isinstance(outcome, BaseException):
                where = traceback.extract_tb(outcome.__traceback__)[-3:]
                place = " < ".join(f"{f.name}:{f.lineno}" for f in reversed(where))
                result.failed_cycles.append(f"{kind}: {outcome!r}"[:160] + f" at {place}")


async def wait_desktop(server: JupyterServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await post_start(server) == 200 and server.xvnc() is not None:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the desktop did not come back within {timeout:g} s")


async def soak(
    server: JupyterServer,
    cycles: int = 300,
    kills: int = 3,
    streamers: int = 2,
    warmup: int = 40,
    parallel: int = 4,
) -> SoakResult:
    """Run the soak against ``server`` (started, extension on); return its figures."""
    result = SoakResult()
    began = time.monotonic()
    await wait_desktop(server)
    stop = asyncio.Event()
    ready = [asyncio.Event() for _ in range(streamers)]
    tasks = [
        asyncio.ensure_future(streamer(server, stop, result, ready[i])) for i in range(streamers)
    ]
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 60)
    await run_cycles(server, warmup, 0, result, parallel)
    await asyncio.sleep(3)
    result.rss_settled_mib, result.fds_settled = server_rss_mib(server), server_fds(server)
    warm_failures = list(result.failed_cycles)
    result.failed_cycles.clear()
    result.cycles, result.by_kind = 0, {}

    per_round = max(1, cycles // (kills + 1))
    done = 0
    for round_index in range(kills + 1):
        count = per_round if round_index < kills else cycles - done
        await run_cycles(server, count, warmup + done, result, parallel)
        done += count
        if round_index < kills:
            xvnc = server.xvnc()
            if xvnc is not None:
                expected = len(result.reconnects) + streamers
                os.kill(xvnc, signal.SIGKILL)
                result.kills += 1
                deadline = time.monotonic() + RECONNECT_LIMIT + 5
                while len(result.reconnects) < expected and time.monotonic() < deadline:
                    if all(task.done() for task in tasks):
                        break
                    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    await asyncio.sleep(3)
    result.rss_after_mib, result.fds_after = server_rss_mib(server), server_fds(server)
    result.orphans = orphans(server)
    result.xvnc_after = sum(
        1 for pid in server.desktop_pids() if procs.comm(pid) in procs.XVNC_NAMES
    )
    result.failed_cycles = warm_failures + result.failed_cycles
    result.seconds = time.monotonic() - began
    return result
