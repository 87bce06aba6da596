"""A slow link on loopback: a TCP proxy with a rate limit each way and a one-way delay.

Chromium's network emulation (CDP ``Network.emulateNetworkConditions``) is measured
beside it (``bandwidth.py``): in the Chromium of Debian 12 it does not hold back websocket
frames, so the benchmark throttles the desktop page's connection here instead. The proxy
behaves like a bottleneck with a small buffer: it reads from the sender only while less
than ``buffer_s`` of data waits for the link, so the server's TCP socket backs up as it
would behind a real slow link (TigerVNC's congestion control sees it).
"""

from __future__ import annotations

import asyncio
from typing import Optional


class Throttle:
    def __init__(
        self, target_port: int, mbit_per_s: float, rtt_ms: float, buffer_s: float = 0.05
    ) -> None:
        self.target_port = target_port
        self.rate = mbit_per_s * 1e6 / 8  # bytes per second
        self.delay = rtt_ms / 2000  # one way, seconds
        self.buffer_s = buffer_s
        self.port = 0
        self._server: Optional[asyncio.base_events.Server] = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        free_at = loop.time()  # when the link has sent everything queued so far

        async def deliver() -> None:
            while True:
                due, data = await line.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(deliver())
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        try:
            while True:
                backlog = free_at - loop.time()
                if backlog > self.buffer_s:
                    await asyncio.sleep(backlog - self.buffer_s)
                data = await reader.read(16384)
                now = loop.time()
                free_at = max(now, free_at) + len(data) / self.rate
                line.put_nowait((free_at + self.delay, data))
                if not data:
                    break
        except (OSError, asyncio.IncompleteReadError):
            line.put_nowait((loop.time(), b""))
