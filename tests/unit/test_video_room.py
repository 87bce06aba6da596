"""The view-only link's video room (video_room.py) without Xvnc: the room's bridge is fed
Xvnc's bytes, its viewers are fake websockets whose sends complete when the test says."""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Callable

import numpy as np
import pytest

from jupyter_napari_desktop.server import video_room
from jupyter_napari_desktop.server.video_rfb import (
    CURSOR,
    DESKTOP_SIZE,
    H264,
    PIXEL_FORMAT,
    RAW,
    TIGHT,
    VERSION,
    update_request,
)
from jupyter_napari_desktop.server.video_room import ROOM_HANDSHAKE, Room
from tests.unit.test_video_rfb import rect, xvnc_greeting

WIDTH, HEIGHT = 64, 48


class Transport:
    """The room's unix socket to Xvnc: what the room wrote."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Socket:
    """A viewer's websocket and its page: the page asks for the next update when it has
    read one (as noVNC); ``stalled`` ones read nothing until ``drain``."""

    def __init__(self, stalled: bool = False) -> None:
        self.got: list[bytes] = []
        self.stalled = stalled
        self.waiting: list[asyncio.Future[None]] = []
        self.closed: tuple[int, str] | None = None
        self.ask: Callable[[], None] = lambda: None

    def write_message(self, data: bytes, binary: bool) -> asyncio.Future[None]:
        assert binary
        self.got.append(bytes(data))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.stalled:
            self.waiting.append(done)
        else:
            self._read(done)
        return done

    def _read(self, done: asyncio.Future[None]) -> None:
        done.set_result(None)
        if len(self.got) > 4:  # after the handshake and ServerInit: an update
            asyncio.get_running_loop().call_soon(self.ask)

    def drain(self) -> None:
        self.stalled = False
        for done in self.waiting:
            self._read(done)
        self.waiting = []

    def close(self, code: int, why: str) -> None:
        self.closed = (code, why)


def raw_update(x: int, y: int, pixels: np.ndarray) -> bytes:
    h, w = pixels.shape[:2]
    return struct.pack(">BxH", 0, 1) + rect(x, y, w, h, RAW, pixels.tobytes())


def viewer_hello(encodings: list[int]) -> bytes:
    """A page's handshake, pixel format, encodings and first (whole) request."""
    return (
        VERSION
        + b"\x01\x01"
        + struct.pack(">Bxxx", 0)
        + PIXEL_FORMAT
        + struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings)
        + update_request(False, 0, 0, WIDTH, HEIGHT)
    )


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def open_room() -> tuple[Room, Transport, list[Room]]:
    gone: list[Room] = []
    room = Room("unused", 20, "auto", logging.getLogger("test-room"), gone.append)
    transport = Transport()
    room.bridge.transport = transport  # type: ignore[assignment]
    room.bridge._task = asyncio.ensure_future(room.bridge._run())
    room.bridge.from_browser(ROOM_HANDSHAKE)
    room.bridge.from_xvnc(xvnc_greeting(WIDTH, HEIGHT))
    screen = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 4), np.uint8)
    room.bridge.from_xvnc(raw_update(0, 0, screen))
    return room, transport, gone


def encodings_asked(written: bytes) -> list[int]:
    at = written.index(bytes([2, 0]))  # SetEncodings after ClientInit and SetPixelFormat
    (count,) = struct.unpack_from(">H", written, at + 2)
    return list(struct.unpack_from(f">{count}i", written, at + 4))


def test_viewers_share_the_updates_a_stalled_one_is_skipped_then_gets_a_whole_picture(
    monkeypatch,
):
    monkeypatch.setattr(video_room, "HIGH_WATER_BYTES", 2000)

    async def scenario() -> None:
        room, transport, gone = await open_room()
        # Xvnc is asked for no cursor shape: it draws the pointer into the room's picture.
        assert CURSOR not in encodings_asked(bytes(transport.written))
        slow, quick = Socket(stalled=True), Socket()
        for socket in (slow, quick):
            viewer = room.join(socket)
            socket.ask = lambda v=viewer: room.from_viewer(
                v, update_request(True, 0, 0, WIDTH, HEIGHT)
            )
            room.from_viewer(viewer, viewer_hello([H264, TIGHT, CURSOR]))
        await settle()
        for socket in (slow, quick):
            assert socket.got[0] == VERSION
            init = socket.got[3]
            assert struct.unpack_from(">HH", init) == (WIDTH, HEIGHT)
            whole = socket.got[4]  # the whole picture: its size first, then exact pixels
            assert struct.unpack_from(">HHHHi", whole, 4) == (0, 0, WIDTH, HEIGHT, DESKTOP_SIZE)
        assert room.stats["pictures"] == 1  # both joined together: one picture for both
        rng = np.random.default_rng(2)
        for k in range(12):
            room.bridge.from_xvnc(raw_update(k, k, rng.integers(0, 256, (8, 8, 4), np.uint8)))
            await settle()
        await settle()
        quick_updates = len(quick.got) - 5
        assert quick_updates >= 10, quick_updates  # not held back by the stalled one
        assert room.stats["skipped"] > 0 and len(slow.got) < len(quick.got)
        before = len(slow.got)
        slow.drain()
        await settle()
        # Caught up: a whole picture of its own, then live again.
        assert struct.unpack_from(">HHHHi", slow.got[before], 4)[4] == DESKTOP_SIZE
        assert room.viewers[id(slow)].state == "live"
        assert room.stats["pictures"] == 2
        # Nothing but pixel format, encodings and update requests ever went to Xvnc.
        assert not any(room.viewers[k].reader.control for k in room.viewers)
        room.leave(slow)
        room.leave(quick)
        assert room.closed and gone == [room]

    asyncio.run(scenario())


def test_a_far_viewer_gets_one_update_more_than_its_page_asked_for():
    """A page on a far network whose next request has not arrived yet: the room has sent it
    one update beyond its requests (not one a round trip), and no more."""

    async def scenario() -> None:
        room, _, _ = await open_room()
        far = Socket()  # its pages' requests are all still on their way
        viewer = room.join(far)
        room.from_viewer(viewer, viewer_hello([H264, TIGHT]))
        await settle()
        assert viewer.state == "live"
        rng = np.random.default_rng(3)
        for k in range(6):
            room.bridge.from_xvnc(raw_update(k, k, rng.integers(0, 256, (8, 8, 4), np.uint8)))
            await settle()
        # One request (the first, answered by the whole picture) and one update beyond it.
        assert viewer.client.requests == 1
        assert viewer.updates == 1 + video_room.ROOM_AHEAD == 2, viewer.updates
        room.from_viewer(viewer, update_request(True, 0, 0, WIDTH, HEIGHT))
        for k in range(3):
            room.bridge.from_xvnc(raw_update(k, 9, rng.integers(0, 256, (8, 8, 4), np.uint8)))
            await settle()
        assert viewer.updates == 3, viewer.updates
        room.bridge.close("done")

    asyncio.run(scenario())


def test_a_page_that_does_not_decode_h264_is_closed_with_a_reason():
    async def scenario() -> None:
        room, _, _ = await open_room()
        socket = Socket()
        room.from_viewer(room.join(socket), viewer_hello([TIGHT, RAW]))
        assert socket.closed is not None and socket.closed[0] == 1008
        assert "H.264" in socket.closed[1]
        room.bridge.close("done")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "message",
    [
        struct.pack(">BBxxI", 4, 1, 0x61),  # a key
        struct.pack(">BBHH", 5, 1, 10, 10),  # a click
        struct.pack(">BxxxI", 6, 3) + b"abc",  # the clipboard
    ],
)
def test_a_viewers_input_never_reaches_xvnc(message):
    async def scenario() -> None:
        room, transport, _ = await open_room()
        socket = Socket()
        viewer = room.join(socket)
        room.from_viewer(viewer, viewer_hello([H264, TIGHT]))
        await settle()
        before = bytes(transport.written)
        room.from_viewer(viewer, message * 3)
        await settle()
        sent = bytes(transport.written)[len(before) :]
        assert message not in sent and all(sent[k] == 3 for k in range(0, len(sent), 10))
        assert sum(viewer.reader.dropped.values()) == 3
        room.bridge.close("done")

    asyncio.run(scenario())


def test_a_viewer_asking_for_the_whole_picture_again_and_again_gets_one_in_two_seconds():
    async def scenario() -> None:
        room, _, _ = await open_room()
        socket = Socket()
        viewer = room.join(socket)
        socket.ask = lambda: room.from_viewer(viewer, update_request(True, 0, 0, WIDTH, HEIGHT))
        room.from_viewer(viewer, viewer_hello([H264, TIGHT]))
        await settle()
        assert room.stats["pictures"] == 1
        for _ in range(20):  # a hostile page: each would cost an encoding and an IDR
            room.from_viewer(viewer, update_request(False, 0, 0, WIDTH, HEIGHT))
        await settle()
        assert room.stats["pictures"] == 1 and viewer.state == "live"
        viewer.whole_at -= video_room.WHOLE_EVERY  # two seconds later
        room.from_viewer(viewer, update_request(False, 0, 0, WIDTH, HEIGHT))
        await settle()
        assert room.stats["pictures"] == 2
        room.bridge.close("done")

    asyncio.run(scenario())
