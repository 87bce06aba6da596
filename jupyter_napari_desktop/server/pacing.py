"""The desktop websocket's downstream: VNC server -> browser, paced.

TigerVNC 1.12 spends whatever the link leaves free on re-sending lossy areas nearly
losslessly (JPEG quality 100), also between two frames of napari playing a stack, so on a
fast link most of the bytes are those refreshes, not the picture. A per-connection rate
(a token bucket) makes the link look as fast as ``c.NapariDesktop.max_mbit_per_s``: reads
from the VNC socket pause when the bucket is empty, the VNC server's own congestion
control sees its socket fill and sends fewer refreshes, while a frame after a quiet moment
(a key press) still goes at once out of the burst. Reads also pause while the browser has
not taken what was already sent (a slow Wi-Fi link): the queue stays in the VNC server,
which adapts to it, instead of growing in the Jupyter server's memory.

Input (browser -> VNC server) is never paced.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Optional

from tornado.websocket import WebSocketClosedError

# How long the bucket may save up at the full rate: a frame after a pause goes at once.
BURST_SECONDS = 0.5
MIN_BURST_BYTES = 128 * 1024
# Unsent websocket bytes above which reading from the VNC socket pauses.
HIGH_WATER_BYTES = 1024 * 1024


class TokenBucket:
    """At most ``rate`` bytes per second on average, ``burst`` bytes at once."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError(f"rate and burst must be positive, not {rate!r} and {burst!r}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    @classmethod
    def for_mbit(cls, mbit_per_s: float) -> Optional[TokenBucket]:
        """The bucket for ``c.NapariDesktop.max_mbit_per_s`` (None: 0, no limit)."""
        if mbit_per_s <= 0:
            return None
        rate = mbit_per_s * 1e6 / 8
        return cls(rate, max(MIN_BURST_BYTES, rate * BURST_SECONDS))

    def spend(self, count: int) -> float:
        """Take ``count`` bytes; the seconds to wait before the next read (0: none)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= count
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class PacedSocketProtocol(asyncio.Protocol):
    """Each read from the VNC socket becomes one binary websocket message, paced."""

    def __init__(self, handler: Any, bucket: Optional[TokenBucket]) -> None:
        self.handler = handler
        self.bucket = bucket
        self.transport: Optional[asyncio.Transport] = None
        self._unsent = 0
        self._holds: set[str] = set()
        self._timer: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            sent = self.handler.write_message(data, binary=True)
        except WebSocketClosedError:
            if self.transport is not None:
                self.transport.close()
            return
        size = len(data)
        self._unsent += size
        sent.add_done_callback(lambda _: self._flushed(size))
        if self._unsent > HIGH_WATER_BYTES:
            self._hold("browser")
        wait = self.bucket.spend(size) if self.bucket is not None else 0.0
        if wait > 0 and self._timer is None:
            self._hold("rate")
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(wait, self._rate_again)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.handler.log.info("[napari-desktop] VNC connection closed: %s", exc or "by the server")
        self.handler.close()

    def _flushed(self, size: int) -> None:
        self._unsent -= size
        if self._unsent <= HIGH_WATER_BYTES // 2:
            self._release("browser")

    def _rate_again(self) -> None:
        self._timer = None
        wait = self.bucket.spend(0) if self.bucket is not None else 0.0
        if wait > 0:
            self._timer = asyncio.get_running_loop().call_later(wait, self._rate_again)
        else:
            self._release("rate")

    def _hold(self, reason: str) -> None:
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._holds.add(reason)

    def _release(self, reason: str) -> None:
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
