"""The RFB pieces of the video path (video.py): both ends of the bridge, no sockets.

In video mode the server speaks RFB to Xvnc itself and to noVNC itself:

- ``XvncReader``: the client end towards Xvnc. It asks only for what it parses cheaply (Raw
  pixels in one fixed format, RGBX, and the pseudo-encodings noVNC asked for and this module
  knows), keeps the screen in a numpy array and turns Xvnc's messages into events: pixels
  changed in a rectangle, a pseudo-rectangle to pass on (cursor, resize, LEDs, name), a
  message to pass on (clipboard, bell, XVP), the end of an update.
- ``server_init`` / ``framebuffer_update`` / ``TightEncoder`` / ``h264_rect``: the server
  end towards noVNC (RFB 3.8, no security on the private socket's behalf: the websocket is
  authenticated by Jupyter), and the rectangles noVNC decodes: Tight (zlib, lossless) and
  Open H.264 (encoding 50, U32 length, U32 flags, Annex B).
- ``ClientMessages``: which of the browser's messages go to Xvnc (input, clipboard, resize)
  and which the bridge answers itself (pixel format, encodings, update requests).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from .rfb_input import (
    CLIENT_FENCE,
    CONTINUOUS_UPDATES,
    SET_ENCODINGS,
    SET_PIXEL_FORMAT,
    UPDATE_REQUEST,
)

VERSION = b"RFB 003.008\n"
SECURITY_NONE = 1
# Encodings (RFC 6143 and the community registry, as noVNC names them).
RAW, TIGHT, H264 = 0, 7, 50
CURSOR, DESKTOP_SIZE, LAST_RECT = -239, -223, -224
QEMU_KEY, QEMU_LED, DESKTOP_NAME, EXT_DESKTOP_SIZE, XVP_PSEUDO = -258, -261, -307, -308, -309
EXTENDED_CLIPBOARD = 0xC0A1E5CE - (1 << 32)  # as a signed 32-bit value
# Pseudo-encodings noVNC may ask for that the bridge passes on to Xvnc (their rectangles
# are parsed below); others (fences, continuous updates, quality levels) it answers itself.
PASSED_ON = (
    CURSOR,
    DESKTOP_SIZE,
    EXT_DESKTOP_SIZE,
    DESKTOP_NAME,
    QEMU_KEY,
    QEMU_LED,
    XVP_PSEUDO,
    EXTENDED_CLIPBOARD,
)
# Server -> client message types.
UPDATE, COLOURS, BELL, CUT_TEXT, END_CONTINUOUS, SERVER_FENCE, XVP = 0, 1, 2, 3, 150, 248, 250
# 32 bits a pixel, depth 24, little-endian, true colour, red at bit 0: R, G, B, X in memory,
# what noVNC asks for at depth 24 and what its decoders write.
PIXEL_FORMAT = struct.pack(">BBBBHHHBBBxxx", 32, 24, 0, 1, 255, 255, 255, 0, 8, 16)
MAX_NAME = 4096
# Tight's compact length holds 22 bits: lossless bands stay below that uncompressed.
TIGHT_BAND_BYTES = 1 << 20
TIGHT_FILL = 0x80
# Tight's compression control for zlib stream 1 with a filter byte, and the gradient filter.
TIGHT_GRADIENT_STREAM = 0x50
TIGHT_GRADIENT = 2
# A band this large (pixels) is also tried through the gradient filter: smaller ones (a
# caret, a menu) are not worth the second compression.
GRADIENT_MIN_PIXELS = 16 * 1024
# Both ways are tried for one such band in this many; the others go the way that won last
# (a picture's bands are alike: trying both each time made a key's picture about 10% later
# at 1920x1080, benchmarks/results/bandwidth-video.md).
GRADIENT_RETRY = 8
H264_RESET_CONTEXT = 1
H264_RESET_ALL = 2


class RfbStreamError(ValueError):
    """Xvnc's stream cannot be read (or the browser's cannot be bridged): close."""


@dataclass
class Pixels:
    """Pixels of the screen changed in this rectangle (already in ``XvncReader.screen``)."""

    x: int
    y: int
    w: int
    h: int


@dataclass
class Pseudo:
    """A pseudo-rectangle to pass on as it came (header and payload); ``resized`` when it
    changed the screen's size."""

    data: bytes
    resized: bool = False


@dataclass
class Message:
    """A whole server message to pass on (clipboard, bell, XVP)."""

    data: bytes


@dataclass
class UpdateEnd:
    """The end of one FramebufferUpdate."""


Event = Union[Pixels, Pseudo, Message, UpdateEnd]


@dataclass
class ServerInit:
    width: int
    height: int
    name: bytes


def client_init_request(encodings: list[int]) -> bytes:
    """SetPixelFormat (RGBX) and SetEncodings (Raw and ``encodings``) for Xvnc."""
    wanted = [RAW, LAST_RECT] + [e for e in encodings if e in PASSED_ON]
    return (
        struct.pack(">Bxxx", SET_PIXEL_FORMAT)
        + PIXEL_FORMAT
        + struct.pack(">BxH", SET_ENCODINGS, len(wanted))
        + struct.pack(f">{len(wanted)}i", *wanted)
    )


def update_request(incremental: bool, x: int, y: int, w: int, h: int) -> bytes:
    return struct.pack(">BBHHHH", UPDATE_REQUEST, int(incremental), x, y, w, h)


class XvncReader:
    """The client end towards Xvnc: ``feed`` Xvnc's bytes, get back what to write to Xvnc
    (the handshake's answers) and the events; ``screen`` is the picture, (h, w, 4) RGBX."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = "version"
        self.init: Optional[ServerInit] = None
        self.screen = np.zeros((0, 0, 4), np.uint8)
        self._rects_left = 0  # of the FramebufferUpdate being read
        # The Raw rectangle whose pixels are arriving: x, y, w, h and its bytes so far.
        # They land in the screen as they come, not gathered first (a picture is megabytes:
        # gathering cost a copy more, about 2.5 ms of 5.5 for napari's 1920x1080 canvas).
        self._raw: Optional[list[int]] = None

    def feed(self, data: bytes | memoryview) -> tuple[bytes, list[Event]]:
        reply = bytearray()
        events: list[Event] = []
        if self._raw is not None:
            with memoryview(data) as view:
                used = self._land(view.cast("B"), events)
                rest = view[used:]
                self._buffer += rest
                rest.release()
        else:
            self._buffer += data
        while self._raw is None and self._step(reply, events):
            pass
        return bytes(reply), events

    def _land(self, chunk: memoryview, events: list[Event]) -> int:
        """The next bytes of the Raw rectangle being read, from ``chunk``, into the screen;
        how many were used. Its end is an event (and the update's end, if it was last)."""
        assert self._raw is not None
        x, y, w, h, filled = self._raw
        row = w * 4
        take = min(len(chunk), row * h - filled)
        pos = 0
        while pos < take:
            r, c = divmod(filled, row)
            if c == 0 and take - pos >= row:  # whole rows at once
                rows = (take - pos) // row
                block = np.frombuffer(chunk, np.uint8, rows * row, pos)
                self.screen[y + r : y + r + rows, x : x + w] = block.reshape(rows, w, 4)
                count = rows * row
            else:  # the rest of a row, or its start
                count = min(row - c, take - pos)
                line = self.screen[y + r, x : x + w].reshape(-1)
                line[c : c + count] = np.frombuffer(chunk, np.uint8, count, pos)
            pos += count
            filled += count
        self._raw[4] = filled
        if filled == row * h:
            self._raw = None
            events.append(Pixels(x, y, w, h))
            self._rects_left -= 1
            if not self._rects_left:
                events.append(UpdateEnd())
        return take

    def resize(self, width: int, height: int) -> None:
        old = self.screen
        self.screen = np.zeros((height, width, 4), np.uint8)
        h, w = min(height, old.shape[0]), min(width, old.shape[1])
        self.screen[:h, :w] = old[:h, :w]

    def _take(self, n: int) -> Optional[bytes]:
        if len(self._buffer) < n:
            return None
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def _step(self, reply: bytearray, events: list[Event]) -> bool:
        """Read one thing if all of it is here; False when more bytes are needed."""
        buf = self._buffer
        state = self._state
        if state == "version":
            version = self._take(12)
            if version is None:
                return False
            if not version.startswith(b"RFB 003."):
                raise RfbStreamError(f"not a VNC server: {version!r}")
            reply += VERSION
            self._state = "security"
        elif state == "security":
            if not buf or len(buf) < 1 + buf[0]:
                return False
            count = buf[0]
            types = bytes(buf[1 : 1 + count])
            del buf[: 1 + count]
            if SECURITY_NONE not in types:
                raise RfbStreamError(f"the VNC server offers no 'None' security: {list(types)}")
            reply.append(SECURITY_NONE)
            self._state = "result"
        elif state == "result":
            result = self._take(4)
            if result is None:
                return False
            if result != b"\0\0\0\0":
                raise RfbStreamError("the VNC server refused the connection")
            reply.append(1)  # ClientInit: shared
            self._state = "init"
        elif state == "init":
            if len(buf) < 24:
                return False
            (length,) = struct.unpack_from(">I", buf, 20)
            if length > MAX_NAME:
                raise RfbStreamError(f"desktop name of {length} bytes")
            if len(buf) < 24 + length:
                return False
            width, height = struct.unpack_from(">HH", buf, 0)
            self.init = ServerInit(width, height, bytes(buf[24 : 24 + length]))
            del buf[: 24 + length]
            self.resize(width, height)
            self._state = "messages"
        elif self._rects_left:
            return self._rect(events)
        else:
            return self._message(events)
        return True

    def _message(self, events: list[Event]) -> bool:
        buf = self._buffer
        if not buf:
            return False
        kind = buf[0]
        if kind == UPDATE:
            if len(buf) < 4:
                return False
            (self._rects_left,) = struct.unpack_from(">H", buf, 2)
            del buf[:4]
            if not self._rects_left:
                events.append(UpdateEnd())
            return True
        if kind == BELL:
            events.append(Message(self._take(1) or b""))
            return True
        if kind == CUT_TEXT:
            if len(buf) < 8:
                return False
            (length,) = struct.unpack_from(">i", buf, 4)
            size = 8 + abs(length)  # negative: the extended clipboard
        elif kind == XVP:
            size = 4
        elif kind == END_CONTINUOUS:
            self._take(1)
            return True
        elif kind == SERVER_FENCE:
            if len(buf) < 9:
                return False
            size = 9 + buf[8]
            if len(buf) < size:
                return False
            del buf[:size]  # not asked for: nothing to answer
            return True
        else:
            raise RfbStreamError(f"unknown message type {kind} from the VNC server")
        data = self._take(size)
        if data is None:
            return False
        events.append(Message(data))
        return True

    def _rect(self, events: list[Event]) -> bool:
        buf = self._buffer
        if len(buf) < 12:
            return False
        x, y, w, h, encoding = struct.unpack_from(">HHHHi", buf, 0)
        if encoding == RAW:
            if x + w > self.screen.shape[1] or y + h > self.screen.shape[0]:
                raise RfbStreamError(f"a {w}x{h} rectangle at {x},{y} outside the screen")
            del buf[:12]
            self._raw = [x, y, w, h, 0]
            with memoryview(buf) as view:
                used = self._land(view, events)
            del buf[:used]  # the buffer cannot be resized while a view holds it
            return self._raw is None
        size = self._payload_size(encoding, w, h)
        if size is None or len(buf) < 12 + size:
            return False
        if encoding == LAST_RECT:
            del buf[:12]
            self._rects_left = 1
        else:
            data = bytes(buf[: 12 + size])
            del buf[: 12 + size]
            resized = encoding in (DESKTOP_SIZE, EXT_DESKTOP_SIZE) and (
                (w, h) != (self.screen.shape[1], self.screen.shape[0])
            )
            if resized:
                self.resize(w, h)
            events.append(Pseudo(data, resized))
        self._rects_left -= 1
        if not self._rects_left:
            events.append(UpdateEnd())
        return True

    def _payload_size(self, encoding: int, w: int, h: int) -> Optional[int]:
        """Bytes after the rectangle's header; None until enough is here to know."""
        buf = self._buffer
        if encoding == RAW:
            return w * h * 4
        if encoding == CURSOR:
            return w * h * 4 + (w + 7) // 8 * h
        if encoding in (DESKTOP_SIZE, LAST_RECT, QEMU_KEY, XVP_PSEUDO):
            return 0
        if encoding == QEMU_LED:
            return 1
        if encoding == EXT_DESKTOP_SIZE:
            if len(buf) < 13:
                return None
            return 4 + 16 * buf[12]
        if encoding == DESKTOP_NAME:
            if len(buf) < 16:
                return None
            (length,) = struct.unpack_from(">I", buf, 12)
            if length > MAX_NAME:
                raise RfbStreamError(f"desktop name of {length} bytes")
            return 4 + length
        raise RfbStreamError(f"encoding {encoding} from the VNC server was not asked for")


# What the bridge sends noVNC before ServerInit: the security types (None only) after the
# client's version, SecurityResult OK after the client's choice.
SECURITY_TYPES = bytes([1, SECURITY_NONE])
SECURITY_OK = struct.pack(">I", 0)


def server_init(init: ServerInit) -> bytes:
    """ServerInit for noVNC: Xvnc's size and name, RGBX."""
    return (
        struct.pack(">HH", init.width, init.height)
        + PIXEL_FORMAT
        + struct.pack(">I", len(init.name))
        + init.name
    )


def rect_header(x: int, y: int, w: int, h: int, encoding: int) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding)


def framebuffer_update(rects: list[bytes]) -> bytes:
    """One FramebufferUpdate of whole rectangles (each header and payload)."""
    return struct.pack(">BxH", UPDATE, len(rects)) + b"".join(rects)


def compact_length(n: int) -> bytes:
    """Tight's 1-3 byte length (7 bits a byte, low bits first)."""
    if n >= 1 << 22:
        raise ValueError(f"{n} bytes do not fit Tight's compact length")
    out = bytearray([n & 0x7F])
    if n > 0x7F:
        out[0] |= 0x80
        out.append((n >> 7) & 0x7F)
        if n > 0x3FFF:
            out[1] |= 0x80
            out.append(n >> 14)
    return bytes(out)


@dataclass
class TightEncoder:
    """Lossless Tight rectangles for noVNC: a solid area as a fill, the rest as 24-bit
    pixels through zlib, each band either as they are (stream 0) or, where that is
    smaller, through Tight's gradient filter (stream 1: each pixel less its prediction from
    the left, upper and upper-left ones; a smooth picture, napari's enlarged image, is
    mostly zeros then): both are tried for one band in ``GRADIENT_RETRY``, the others go
    the way that won. noVNC keeps each stream: one compressor per stream and connection.
    With ``reset`` the first rectangle of each stream tells the browser to start that
    stream afresh: what this encoder sends decodes whatever the browser got before (one
    encoder an update, for many browsers: video_room.py).
    """

    level: int = 1
    reset: bool = False
    _zlib: Optional[zlib._Compress] = field(default=None, repr=False)
    _gradient_zlib: Optional[zlib._Compress] = field(default=None, repr=False)
    # Bands of GRADIENT_MIN_PIXELS or more so far, less one; whether the filter won last.
    _large: int = field(default=-1, init=False, repr=False)
    _gradient_won: bool = field(default=False, init=False, repr=False)
    # Bit N: stream N used (with ``reset``: its reset was sent).
    _started: int = field(default=0, init=False, repr=False)

    def rects(self, pixels: np.ndarray, x: int, y: int) -> list[bytes]:
        """``pixels`` (RGBX, (h, w, 4)) at ``x``, ``y`` of the screen as Tight rectangles,
        in bands that fit Tight's length field."""
        h, w = pixels.shape[:2]
        if w <= 0 or h <= 0:
            return []
        rows = max(1, TIGHT_BAND_BYTES // (w * 3))
        return [
            self._rect(pixels[top : top + rows, :, :3], x, y + top) for top in range(0, h, rows)
        ]

    def _rect(self, band: np.ndarray, x: int, y: int) -> bytes:
        h, w = band.shape[:2]
        header = rect_header(x, y, w, h, TIGHT)
        first = band[0, 0]
        if (band == first).all():
            return header + bytes([TIGHT_FILL]) + first.tobytes()
        raw = np.ascontiguousarray(band).tobytes()
        if len(raw) < 12:
            return header + b"\0" + raw
        if self._zlib is None:
            self._zlib = zlib.compressobj(self.level)
        if h * w < GRADIENT_MIN_PIXELS:
            return self._plain(header, self._zlib, raw)
        if self._gradient_zlib is None:
            self._gradient_zlib = zlib.compressobj(self.level)
        self._large += 1
        if self._large % GRADIENT_RETRY:
            # The way that won last time (both cost a band's encoding time twice over).
            if self._gradient_won:
                return self._gradient(header, self._gradient_zlib, band)
            return self._plain(header, self._zlib, raw)
        # Both ways from copies of the streams' compressors; the smaller is sent and its
        # compressor kept (the browser's inflater of the other stream saw nothing).
        started = self._started
        copy, gradient = self._zlib.copy(), self._gradient_zlib.copy()
        plain = self._plain(header, copy, raw)
        self._started, plain_started = started, self._started
        filtered = self._gradient(header, gradient, band)
        self._gradient_won = len(filtered) < len(plain)
        if self._gradient_won:
            self._gradient_zlib = gradient
            return filtered
        self._zlib, self._started = copy, plain_started
        return plain

    def _control(self, stream: int) -> int:
        """The reset bit of ``stream`` if this is its first rectangle and ``reset``."""
        bit = 1 << stream
        first = not self._started & bit
        self._started |= bit
        return bit if self.reset and first else 0

    def _plain(self, header: bytes, stream: zlib._Compress, raw: bytes) -> bytes:
        return header + bytes([self._control(0)]) + self._compressed(stream, raw)

    def _gradient(self, header: bytes, stream: zlib._Compress, band: np.ndarray) -> bytes:
        data = self._compressed(stream, gradient_residuals(band).tobytes())
        control = TIGHT_GRADIENT_STREAM | self._control(TIGHT_GRADIENT_STREAM >> 4 & 3)
        return header + bytes([control, TIGHT_GRADIENT]) + data

    @staticmethod
    def _compressed(stream: zlib._Compress, data: bytes) -> bytes:
        out = stream.compress(data) + stream.flush(zlib.Z_SYNC_FLUSH)
        return compact_length(len(out)) + out


def gradient_residuals(band: np.ndarray) -> np.ndarray:
    """Tight's gradient filter of 24-bit pixels ((h, w, 3) uint8): each value less its
    prediction, modulo 256. The prediction is left + upper - upper-left, clamped to 0-255
    (the first row: the left value; the first column: the upper one), as noVNC's
    core/decoders/tight.js undoes it."""
    values = band.astype(np.int16)
    prediction = np.zeros_like(values)
    prediction[0, 1:] = values[0, :-1]
    upper = values[:-1]
    left = np.zeros_like(upper)
    left[:, 1:] = values[1:, :-1]
    upper_left = np.zeros_like(upper)
    upper_left[:, 1:] = values[:-1, :-1]
    prediction[1:] = np.clip(left + upper - upper_left, 0, 255)
    return ((values - prediction) & 0xFF).astype(np.uint8)


def h264_rect(x: int, y: int, w: int, h: int, data: bytes, flags: int = 0) -> bytes:
    """An Open H.264 rectangle: noVNC keeps one decoder per exact (x, y, w, h)."""
    return rect_header(x, y, w, h, H264) + struct.pack(">II", len(data), flags) + data


@dataclass
class ClientMessage:
    kind: int
    data: bytes


class ClientMessages:
    """What the bridge does with the browser's messages (after rfb_input's role filter):
    ``to_xvnc`` (input, clipboard, resize, unknown owners' bytes) or answered here."""

    def __init__(self) -> None:
        self.encodings: list[int] = []
        self.requests = 0  # FramebufferUpdateRequests so far
        # Areas asked for non-incrementally (x, y, w, h): sent again whole, losslessly.
        self.full: list[tuple[int, int, int, int]] = []

    def take(self, message: bytes) -> bool:
        """True if the bridge answers this message itself; False: send it to Xvnc."""
        kind = message[0]
        if kind == SET_ENCODINGS:
            (count,) = struct.unpack_from(">H", message, 2)
            self.encodings = list(struct.unpack_from(f">{count}i", message, 4))
            return True
        if kind == UPDATE_REQUEST:
            self.requests += 1
            if not message[1]:
                self.full.append(struct.unpack_from(">HHHH", message, 2))
            return True
        if kind == SET_PIXEL_FORMAT:
            if message[4:20] != PIXEL_FORMAT:
                raise RfbStreamError("the page asked for a pixel format other than RGBX")
            return True
        return kind in (CONTINUOUS_UPDATES, CLIENT_FENCE)  # never offered: ignored
