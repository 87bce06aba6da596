"""A small RFB (VNC) client for tests and measurements, over a unix socket or a websocket.

It negotiates what noVNC negotiates with TigerVNC (Tight + JPEG quality + compression
level, CopyRect, DesktopSize/ExtendedDesktopSize, LastRect, Cursor, Fence and
ContinuousUpdates), so the server sends what a browser tab would get. It does not decode
Tight: it parses rectangles far enough to skip their payloads and records, per
FramebufferUpdate, when it arrived, its size in bytes and how many pixel rectangles it had.

``raw=True`` asks for Raw pixels instead and keeps a numpy copy of the screen, for
checks of what is on the X screen (``snapshot()``).

``video=True`` asks for what the desktop page asks for on the video path (Open H.264,
lossless Tight, no quality level) and keeps the screen too: Tight's fills and zlib
rectangles are decoded into it, H.264 rectangles only counted (``stats.h264``), so once
the picture is still ``snapshot()`` shows what the page shows.

By default the client behaves like a browser tab: it asks for the whole screen, then keeps
an update request open (or continuous updates on). ``follow=False`` sends only what the
caller asks for: ``request(box=...)``, then ``read_update()`` takes the updates in order.
"""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# Encodings (RFC 6143 and the community registry).
RAW, COPYRECT, TIGHT, H264 = 0, 1, 7, 50
CURSOR, DESKTOP_SIZE, LAST_RECT = -239, -223, -224
DESKTOP_NAME, EXT_DESKTOP_SIZE = -307, -308
FENCE, CONTINUOUS_UPDATES = -312, -313
QUALITY_0, COMPRESS_0 = -32, -256
PSEUDO = {CURSOR, DESKTOP_SIZE, LAST_RECT, DESKTOP_NAME, EXT_DESKTOP_SIZE}

FENCE_REQUEST = 1 << 31
FENCE_BLOCK_BEFORE, FENCE_BLOCK_AFTER = 1, 2

KEY_LEFT, KEY_RIGHT = 0xFF51, 0xFF53


class RFBError(Exception):
    pass


class Stream:
    """Byte stream with exact reads; counts the bytes it received."""

    received = 0

    async def read(self, n: int) -> bytes:
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class UnixStream(Stream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: str) -> UnixStream:
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        return cls(reader, writer)

    async def read(self, n: int) -> bytes:
        data = await self.reader.readexactly(n)
        self.received += n
        return data

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass


class WebSocketStream(Stream):
    """RFB bytes carried in binary websocket messages (what noVNC does)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.buf = bytearray()
        self.pos = 0
        self.arrived = 0  # bytes of websocket messages, also of a rectangle not read yet

    @classmethod
    async def open(cls, url: str, token: str, timeout: float = 90) -> WebSocketStream:
        from websockets.asyncio.client import connect

        ws = await connect(
            url,
            additional_headers={"Authorization": f"token {token}"},
            max_size=None,
            compression=None,
            ping_interval=None,
            open_timeout=timeout,
            subprotocols=None,
        )
        return cls(ws)

    async def read(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n:
            message = await self.ws.recv()
            if isinstance(message, str):
                message = message.encode()
            self.arrived += len(message)
            if self.pos > 1 << 20:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += message
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        self.received += n
        return data

    async def write(self, data: bytes) -> None:
        await self.ws.send(data)

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class Update:
    """One FramebufferUpdate as the client saw it."""

    started: float  # perf_counter when its header arrived
    done: float  # when its last byte arrived
    nbytes: int
    pixel_rects: int
    pseudo_rects: int
    area: int  # pixels covered by its pixel rectangles
    rects: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, w, h


@dataclass
class H264Rect:
    """One Open H.264 rectangle: where, its flags, its Annex B bytes."""

    box: tuple[int, int, int, int]
    flags: int
    data: bytes


@dataclass
class Stats:
    updates: list[Update] = field(default_factory=list)
    fences: int = 0

    def window(self, start: float, end: float) -> list[Update]:
        return [u for u in self.updates if start <= u.done < end]


class RFBClient:
    def __init__(
        self,
        stream: Stream,
        quality: int = 6,
        compression: int = 2,
        cursor_pseudo: bool = True,
        continuous: bool = True,
        raw: bool = False,
        follow: bool = True,
        video: bool = False,
        draw: bool = True,
    ) -> None:
        self.stream = stream
        self.follow = follow
        self.greeting = b""
        self.quality = quality
        self.compression = compression
        self.cursor_pseudo = cursor_pseudo
        self.continuous = continuous
        self.raw = raw
        self.video = video
        # A video client draws what it gets (``picture``) unless ``draw`` is False: a room
        # of them in one process then only reads, as Tight clients do (benchmarks).
        self.draw = video and draw
        self.h264: list[H264Rect] = []
        self._zlibs = [zlib.decompressobj() for _ in range(4)]
        self.width = self.height = 0
        self.name = ""
        self.stats = Stats()
        self.screens: list[tuple[int, int, int, int, int, int]] = []
        self.cu_enabled = False
        self.fb: Optional[np.ndarray] = None
        self._update_event = asyncio.Event()
        self._reader: Optional[asyncio.Task[None]] = None
        self.error: Optional[BaseException] = None
        self._taken = 0  # updates handed out by read_update()

    # -- connection ----------------------------------------------------------------
    @classmethod
    async def connect_unix(cls, path: str, **kwargs: object) -> RFBClient:
        client = cls(await UnixStream.open(path), **kwargs)  # type: ignore[arg-type]
        await client.handshake()
        return client

    @classmethod
    async def connect_websocket(
        cls, url: str, token: str, timeout: float = 90, **kwargs: object
    ) -> RFBClient:
        client = cls(await WebSocketStream.open(url, token, timeout), **kwargs)  # type: ignore[arg-type]
        await client.handshake()
        return client

    async def handshake(self) -> None:
        s = self.stream
        version = self.greeting = await s.read(12)
        if not version.startswith(b"RFB "):
            raise RFBError(f"not an RFB server: {version!r}")
        await s.write(b"RFB 003.008\n")
        count = (await s.read(1))[0]
        if count == 0:
            length = struct.unpack(">I", await s.read(4))[0]
            raise RFBError("server refused: " + (await s.read(length)).decode(errors="replace"))
        types = await s.read(count)
        if 1 not in types:
            raise RFBError(f"server wants authentication {list(types)}; need security type None")
        await s.write(b"\x01")
        result = struct.unpack(">I", await s.read(4))[0]
        if result != 0:
            raise RFBError(f"security handshake failed ({result})")
        await s.write(b"\x01")  # ClientInit: shared
        self.width, self.height = struct.unpack(">HH", await s.read(4))
        await s.read(16)  # server pixel format: replaced below
        length = struct.unpack(">I", await s.read(4))[0]
        self.name = (await s.read(length)).decode(errors="replace")
        # 32 bpp, depth 24, little endian, true colour, R G B at bytes 0 1 2 (as noVNC).
        await s.write(
            struct.pack(">B3x", 0)
            + struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 0, 8, 16)
        )
        if self.raw:
            encodings = [RAW, DESKTOP_SIZE, EXT_DESKTOP_SIZE, LAST_RECT]
        elif self.video:
            encodings = [H264, TIGHT, RAW, DESKTOP_SIZE, EXT_DESKTOP_SIZE, LAST_RECT, CURSOR]
        else:
            encodings = [COPYRECT, TIGHT, RAW]
            encodings += [QUALITY_0 + self.quality, COMPRESS_0 + self.compression]
            encodings += [DESKTOP_SIZE, LAST_RECT, EXT_DESKTOP_SIZE, DESKTOP_NAME]
            if self.continuous:
                encodings += [FENCE, CONTINUOUS_UPDATES]
            if self.cursor_pseudo:
                encodings.append(CURSOR)
        await s.write(
            struct.pack(">BxH", 2, len(encodings))
            + b"".join(struct.pack(">i", e) for e in encodings)
        )
        keep = self.raw or self.draw
        self.fb = np.zeros((self.height, self.width, 4), np.uint8) if keep else None
        if self.follow:
            await self.request(incremental=False)
        self._reader = asyncio.ensure_future(self._read_loop())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        try:
            await asyncio.wait_for(self.stream.close(), 5)
        except (asyncio.TimeoutError, OSError):
            pass

    # -- client messages -----------------------------------------------------------
    async def request(
        self, incremental: bool = True, box: Optional[tuple[int, int, int, int]] = None
    ) -> None:
        """FramebufferUpdateRequest for ``box`` (x, y, w, h; default the whole screen)."""
        x, y, w, h = box or (0, 0, self.width, self.height)
        await self.stream.write(struct.pack(">BBHHHH", 3, int(incremental), x, y, w, h))

    async def key(self, keysym: int) -> None:
        """Press and release one key."""
        await self.stream.write(
            struct.pack(">BBxxI", 4, 1, keysym) + struct.pack(">BBxxI", 4, 0, keysym)
        )

    async def pointer(self, x: int, y: int, buttons: int = 0) -> None:
        await self.stream.write(struct.pack(">BBHH", 5, buttons, x, y))

    async def click(self, x: int, y: int) -> None:
        await self.pointer(x, y, 1)
        await self.pointer(x, y, 0)

    async def drag(self, points: list[tuple[int, int]], pause: float = 0.05) -> None:
        """A drag with button 1 held (a brush stroke): pressed at the first point, moved
        through the others ``pause`` seconds apart, released at the last."""
        await self.pointer(*points[0], 0)
        await self.pointer(*points[0], 1)
        for x, y in points[1:]:
            await asyncio.sleep(pause)
            await self.pointer(x, y, 1)
        await self.pointer(*points[-1], 0)

    async def set_desktop_size(self, width: int, height: int, timeout: float = 10) -> bool:
        """Ask for a new screen size (ExtendedDesktopSize); True once the server has it."""
        screen_id, flags = (self.screens[0][0], self.screens[0][5]) if self.screens else (0, 0)
        await self.stream.write(
            struct.pack(">BxHHBx", 251, width, height, 1)
            + struct.pack(">IHHHHI", screen_id, 0, 0, width, height, flags)
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.width, self.height) == (width, height):
                return True
            await asyncio.sleep(0.05)
        return False

    # -- waiting -------------------------------------------------------------------
    async def next_update(
        self,
        timeout: float,
        pixels_only: bool = True,
        after: float = 0.0,
        min_area: int = 0,
    ) -> Optional[Update]:
        """The next FramebufferUpdate to complete (with pixel rectangles), or None.

        ``after``: only one whose first byte came after this perf_counter time;
        ``min_area``: only one covering at least this many pixels.
        """
        seen = len(self.stats.updates)
        deadline = time.perf_counter() + timeout
        while True:
            for update in self.stats.updates[seen:]:
                if (
                    (update.pixel_rects or not pixels_only)
                    and update.started >= after
                    and update.area >= min_area
                ):
                    return update
            seen = len(self.stats.updates)
            left = deadline - time.perf_counter()
            if left <= 0 or self.error is not None:
                return None
            self._update_event.clear()
            try:
                await asyncio.wait_for(self._update_event.wait(), left)
            except asyncio.TimeoutError:
                return None

    async def read_update(self, timeout: float) -> Update:
        """The next update that this method has not returned yet (every update, in order).
        Raises asyncio.TimeoutError when none comes, RFBError when the connection failed."""
        deadline = time.perf_counter() + timeout
        while self._taken >= len(self.stats.updates):
            if self.error is not None:
                raise RFBError(f"connection failed: {self.error}")
            left = deadline - time.perf_counter()
            if left <= 0:
                raise asyncio.TimeoutError(f"no framebuffer update in {timeout:g} s")
            self._update_event.clear()
            try:
                await asyncio.wait_for(self._update_event.wait(), left)
            except asyncio.TimeoutError:
                pass
        self._taken += 1
        return self.stats.updates[self._taken - 1]

    async def round_trip(self, size: int = 64, timeout: float = 30) -> float:
        """Seconds from a full (non-incremental) request of a ``size`` square at the centre
        to the last byte of its answer (updates still queued are passed over)."""
        self._taken = len(self.stats.updates)
        w, h = min(size, self.width), min(size, self.height)
        start = time.perf_counter()
        await self.request(False, ((self.width - w) // 2, (self.height - h) // 2, w, h))
        await self.read_update(timeout)
        return time.perf_counter() - start

    async def quiet(self, quiet_for: float, timeout: float) -> bool:
        """Wait until no update arrived for ``quiet_for`` seconds."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            last = self.stats.updates[-1].done if self.stats.updates else 0.0
            idle = time.perf_counter() - last
            if idle >= quiet_for:
                return True
            await asyncio.sleep(min(quiet_for - idle, 0.05) + 0.001)
        return False

    def picture(self) -> np.ndarray:
        """RGB copy of the screen as drawn so far (``video=True`` clients), nothing asked."""
        assert self.video and self.fb is not None, "picture needs a video client"
        return self.fb[:, :, :3].copy()

    async def snapshot(self, timeout: float = 10) -> np.ndarray:
        """RGB copy of the whole screen (``raw=True`` clients only)."""
        assert self.raw, "snapshot needs a raw client"
        seen = len(self.stats.updates)
        await self.request(incremental=False)
        deadline = time.perf_counter() + timeout
        while len(self.stats.updates) <= seen:
            if self.error is not None:
                raise RFBError(f"connection failed: {self.error}")
            if time.perf_counter() > deadline:
                raise RFBError("no framebuffer update in time")
            self._update_event.clear()
            try:
                await asyncio.wait_for(self._update_event.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        assert self.fb is not None
        return self.fb[:, :, :3].copy()

    # -- server messages -----------------------------------------------------------
    async def _read_loop(self) -> None:
        try:
            while True:
                kind = (await self.stream.read(1))[0]
                if kind == 0:
                    await self._framebuffer_update()
                elif kind == 1:
                    _, _, count = struct.unpack(">BHH", await self.stream.read(5))
                    await self.stream.read(6 * count)
                elif kind == 2:
                    pass  # bell
                elif kind == 3:
                    length = struct.unpack(">3xI", await self.stream.read(7))[0]
                    await self.stream.read(length & 0x7FFFFFFF)
                elif kind == 150:  # EndOfContinuousUpdates: the server supports them
                    if self.continuous and not self.cu_enabled:
                        self.cu_enabled = True
                        await self.stream.write(
                            struct.pack(">BBHHHH", 150, 1, 0, 0, self.width, self.height)
                        )
                elif kind == 248:
                    await self._fence()
                else:
                    raise RFBError(f"unknown server message type {kind}")
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self.error = err
            self._update_event.set()

    async def _fence(self) -> None:
        flags, length = struct.unpack(">3xIB", await self.stream.read(8))
        payload = await self.stream.read(length)
        self.stats.fences += 1
        if flags & FENCE_REQUEST:
            flags &= FENCE_BLOCK_BEFORE | FENCE_BLOCK_AFTER
            await self.stream.write(struct.pack(">B3xIB", 248, flags, length) + payload)

    async def _framebuffer_update(self) -> None:
        s = self.stream
        before = s.received - 1
        (count,) = struct.unpack(">xH", await s.read(3))
        started = time.perf_counter()
        pixel_rects = pseudo_rects = area = 0
        rects = []
        index = 0
        while count == 0xFFFF or index < count:
            index += 1
            x, y, w, h, encoding = struct.unpack(">HHHHi", await s.read(12))
            if encoding == LAST_RECT:
                break
            if encoding in PSEUDO:
                pseudo_rects += 1
            else:
                pixel_rects += 1
                area += w * h
                rects.append((x, y, w, h))
            await self._rect(x, y, w, h, encoding)
        update = Update(
            started,
            time.perf_counter(),
            s.received - before,
            pixel_rects,
            pseudo_rects,
            area,
            rects,
        )
        self.stats.updates.append(update)
        self._update_event.set()
        if self.follow and not self.cu_enabled:
            await self.request(incremental=True)

    async def _rect(self, x: int, y: int, w: int, h: int, encoding: int) -> None:
        s = self.stream
        if encoding == RAW:
            data = await s.read(w * h * 4)
            if self.fb is not None and w and h:
                self.fb[y : y + h, x : x + w] = np.frombuffer(data, np.uint8).reshape(h, w, 4)
        elif encoding == COPYRECT:
            sx, sy = struct.unpack(">HH", await s.read(4))
            if self.fb is not None:
                self.fb[y : y + h, x : x + w] = self.fb[sy : sy + h, sx : sx + w].copy()
        elif encoding == TIGHT:
            await self._tight(w, h, x, y)
        elif encoding == H264:
            length, flags = struct.unpack(">II", await s.read(8))
            self.h264.append(H264Rect((x, y, w, h), flags, await s.read(length)))
        elif encoding == CURSOR:
            await s.read(w * h * 4 + ((w + 7) // 8) * h)
        elif encoding == DESKTOP_SIZE:
            await self._resize(w, h)
        elif encoding == EXT_DESKTOP_SIZE:
            (count,) = struct.unpack(">B3x", await s.read(4))
            screens = [struct.unpack(">IHHHHI", await s.read(16)) for _ in range(count)]
            if y == 0:  # a change (or the initial state), not an error reply
                self.screens = screens
                await self._resize(w, h)
        elif encoding == DESKTOP_NAME:
            (length,) = struct.unpack(">I", await s.read(4))
            self.name = (await s.read(length)).decode(errors="replace")
        else:
            raise RFBError(f"unexpected rectangle encoding {encoding}")

    async def _resize(self, w: int, h: int) -> None:
        if (w, h) == (self.width, self.height):
            return
        self.width, self.height = w, h
        if self.raw or self.draw:
            self.fb = np.zeros((h, w, 4), np.uint8)
        if self.cu_enabled:  # continuous updates cover the whole (new) screen
            await self.stream.write(struct.pack(">BBHHHH", 150, 1, 0, 0, w, h))

    async def _compact_length(self) -> int:
        length = 0
        for shift in (0, 7, 14):
            byte = (await self.stream.read(1))[0]
            length |= (byte & (0x7F if shift < 14 else 0xFF)) << shift
            if not byte & 0x80 or shift == 14:
                break
        return length

    async def _tight(self, w: int, h: int, x: int = 0, y: int = 0) -> None:
        """Skip one Tight rectangle (TPIXEL is 3 bytes with our pixel format); with
        ``video``, fills and copy-filter rectangles are drawn into the screen."""
        s = self.stream
        control = (await s.read(1))[0]
        for stream in range(4):
            if control >> stream & 1:
                self._zlibs[stream] = zlib.decompressobj()
        control >>= 4
        if control == 0x08:  # fill
            pixel = await s.read(3)
            if self.draw and self.fb is not None:
                self.fb[y : y + h, x : x + w, :3] = np.frombuffer(pixel, np.uint8)
            return
        if control == 0x09:  # JPEG
            await s.read(await self._compact_length())
            return
        if control & 0x08:
            raise RFBError(f"bad Tight compression control {control:#x}")
        filter_id = (await s.read(1))[0] if control & 0x04 else 0
        if filter_id == 1:  # palette
            colours = (await s.read(1))[0] + 1
            await s.read(colours * 3)
            size = ((w + 7) // 8) * h if colours <= 2 else w * h
        elif filter_id in (0, 2):  # copy, gradient
            size = w * h * 3
        else:
            raise RFBError(f"bad Tight filter {filter_id}")
        if size < 12:
            data = await s.read(size)
        else:
            data = await s.read(await self._compact_length())
            if self.draw:  # only the video path's own Tight (zlib, copy filter)
                data = self._zlibs[control & 3].decompress(data)
        if self.draw and self.fb is not None and filter_id in (0, 2):
            pixels = np.frombuffer(data, np.uint8).reshape(h, w, 3)
            self.fb[y : y + h, x : x + w, :3] = undo_gradient(pixels) if filter_id else pixels


def undo_gradient(residuals: np.ndarray) -> np.ndarray:
    """The pixels of a Tight gradient-filtered rectangle ((h, w, 3) residuals), as noVNC's
    core/decoders/tight.js rebuilds them: each value is its residual plus the prediction
    left + upper - upper-left clamped to 0-255 (first row: left; first column: upper),
    modulo 256. A row is solved at once where no prediction needs the clamp, else value by
    value."""
    r = residuals.astype(np.int64)
    out = np.zeros_like(r)
    out[0] = np.cumsum(r[0], axis=0) & 0xFF  # first row: the left value
    for y in range(1, r.shape[0]):
        upper = out[y - 1]
        # Unclamped, value - upper is the running sum of the residuals along the row.
        row = (upper + np.cumsum(r[y], axis=0)) & 0xFF
        left = np.vstack([np.zeros((1, 3), np.int64), row[:-1]])
        upper_left = np.vstack([np.zeros((1, 3), np.int64), upper[:-1]])
        prediction = left + upper - upper_left
        if ((prediction >= 0) & (prediction <= 255)).all():
            out[y] = row
            continue
        for x in range(r.shape[1]):
            for c in range(3):
                left_c = out[y, x - 1, c] if x else 0
                upper_left_c = upper[x - 1, c] if x else 0
                guess = min(255, max(0, left_c + upper[x, c] - upper_left_c))
                out[y, x, c] = (r[y, x, c] + guess) & 0xFF
    return out.astype(np.uint8)
