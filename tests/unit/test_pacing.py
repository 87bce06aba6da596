"""The desktop websocket's pacing: the token bucket and when reads from Xvnc pause."""

from __future__ import annotations

import asyncio

import pytest
from tornado.websocket import WebSocketClosedError

from jupyter_napari_desktop.server.pacing import (
    HIGH_WATER_BYTES,
    MIN_BURST_BYTES,
    PacedSocketProtocol,
    TokenBucket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_goes_at_once_then_the_rate_holds():
    clock = Clock()
    bucket = TokenBucket(1000, 500, clock)
    assert bucket.spend(500) == 0
    assert bucket.spend(250) == pytest.approx(0.25)
    clock.now += 0.25
    assert bucket.spend(0) == 0
    # Over 10 s of steady reads no more than rate x time + burst gets through.
    sent = 0
    for _ in range(100):
        clock.now += 0.1
        if bucket.spend(0) == 0:
            bucket.spend(150)
            sent += 150
    assert 9_000 <= sent <= 10_000 + 500


def test_a_quiet_moment_fills_the_burst_but_no_more():
    clock = Clock()
    bucket = TokenBucket(1000, 500, clock)
    bucket.spend(500)
    clock.now += 60
    assert bucket.spend(500) == 0
    assert bucket.spend(1) > 0


def test_mbit_option():
    assert TokenBucket.for_mbit(0) is None
    bucket = TokenBucket.for_mbit(4)
    assert bucket is not None
    assert bucket.rate == 500_000
    assert bucket.burst == 250_000
    small = TokenBucket.for_mbit(0.5)
    assert small is not None and small.burst == MIN_BURST_BYTES
    with pytest.raises(ValueError, match="must be positive"):
        TokenBucket(0, 10)


class Transport:
    def __init__(self) -> None:
        self.paused = False
        self.closed = False

    def pause_reading(self) -> None:
        assert not self.paused, "paused twice"
        self.paused = True

    def resume_reading(self) -> None:
        assert self.paused, "resumed while reading"
        self.paused = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


class Handler:
    def __init__(self) -> None:
        self.sent: list[asyncio.Future[None]] = []
        self.closed = False

    def write_message(self, data: bytes, binary: bool) -> asyncio.Future[None]:
        assert binary
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append(future)
        return future

    def close(self) -> None:
        self.closed = True


def paced(bucket: TokenBucket | None) -> tuple[PacedSocketProtocol, Transport, Handler]:
    handler = Handler()
    protocol = PacedSocketProtocol(handler, bucket)
    transport = Transport()
    protocol.transport = transport  # type: ignore[assignment]
    return protocol, transport, handler


async def test_reads_pause_while_the_browser_has_not_taken_a_megabyte():
    protocol, transport, handler = paced(None)
    protocol.data_received(b"x" * HIGH_WATER_BYTES)
    assert not transport.paused
    protocol.data_received(b"x")
    assert transport.paused
    handler.sent[0].set_result(None)
    await asyncio.sleep(0)
    assert not transport.paused


async def test_reads_pause_until_the_bucket_has_room_again():
    protocol, transport, handler = paced(TokenBucket(100_000, 10_000))
    protocol.data_received(b"x" * 15_000)  # 5 kB over: 50 ms
    assert transport.paused
    for future in handler.sent:
        future.set_result(None)
    await asyncio.sleep(0.02)
    assert transport.paused
    await asyncio.sleep(0.06)
    assert not transport.paused


async def test_a_closed_websocket_closes_the_vnc_side():
    protocol, transport, handler = paced(None)

    def closed(data: bytes, binary: bool) -> None:
        raise WebSocketClosedError()

    handler.write_message = closed  # type: ignore[method-assign]
    protocol.data_received(b"RFB")
    assert transport.closed
