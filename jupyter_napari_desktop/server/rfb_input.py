"""The desktop websocket's upstream: browser -> VNC server, read message by message.

Someone who may only watch (a visitor of a shared server under JupyterHub) must never
change the owner's desktop, whatever their page or a hand-written client sends. So the
server reads the client's RFB stream itself (RFC 6143 and the extensions noVNC speaks)
and, for a viewer, forwards only what is needed to receive the picture: the handshake,
SetPixelFormat, SetEncodings, FramebufferUpdateRequest, EnableContinuousUpdates and
fences. Key, pointer (and so wheel), cut text (the clipboard), SetDesktopSize (resize),
QEMU (extended keys) and XVP (reboot) messages are dropped. A message the reader does
not know cannot be framed: a viewer's connection is then closed; the owner's goes on
unread (``RfbInput.passthrough``), as it did before this module.

Every client's ClientInit asks for a shared session: one that asked for exclusive use
would disconnect everyone else.
"""

from __future__ import annotations

import struct
from typing import Optional

# Client -> server message types and their fixed sizes (None: variable, see _size).
SET_PIXEL_FORMAT = 0
SET_ENCODINGS = 2
UPDATE_REQUEST = 3
KEY = 4
POINTER = 5
CUT_TEXT = 6
CONTINUOUS_UPDATES = 150
CLIENT_FENCE = 248
XVP = 250
SET_DESKTOP_SIZE = 251
QEMU = 255
FIXED = {
    SET_PIXEL_FORMAT: 20,
    UPDATE_REQUEST: 10,
    KEY: 8,
    POINTER: 6,
    CONTINUOUS_UPDATES: 10,
    XVP: 4,
}
# What a viewer may send: enough to receive the picture, nothing that changes the desktop.
WATCHING = {SET_PIXEL_FORMAT, SET_ENCODINGS, UPDATE_REQUEST, CONTINUOUS_UPDATES, CLIENT_FENCE}
NAMES = {
    KEY: "key",
    POINTER: "pointer",
    CUT_TEXT: "clipboard",
    SET_DESKTOP_SIZE: "resize",
    QEMU: "extended key",
    XVP: "power",
}
# Handshake (RFB 3.8, security type None): version (12), security type (1), ClientInit (1).
HANDSHAKE = 12 + 1 + 1
HANDSHAKE_BYTES = -1  # messages(): a piece of the handshake
PASSTHROUGH = -2  # messages(): bytes of an owner's stream that can no longer be framed
MAX_CUT_TEXT = 10 * 1024 * 1024  # TigerVNC's own limit for clipboard text


class RfbProtocolError(ValueError):
    """The client's stream cannot be read as RFB: the connection must end."""


class RfbInput:
    """Splits a client's byte stream into messages and keeps what its role may send.

    ``control``: True for the owner (and whoever the owner handed control to); it can be
    changed while the connection is open. ``feed`` returns the bytes to forward now.
    """

    def __init__(self, control: bool) -> None:
        self.control = control
        self.passthrough = False  # an owner's message this reader does not know
        self.dropped: dict[str, int] = {}
        self._handshake = HANDSHAKE
        self._buffer = bytearray()

    def feed(self, data: bytes) -> bytes:
        return b"".join(chunk for _, chunk in self.messages(data))

    def messages(self, data: bytes) -> list[tuple[int, bytes]]:
        """What of ``data`` to forward, framed: (HANDSHAKE_BYTES, bytes of the handshake) or
        (message type, one whole message); (PASSTHROUGH, bytes) once it cannot be framed."""
        if self.passthrough:
            if not self.control:
                raise RfbProtocolError("view-only, and the stream can no longer be read")
            return [(PASSTHROUGH, data)]
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        if self._handshake:
            take = min(self._handshake, len(self._buffer))
            chunk = self._buffer[:take]
            if self._handshake - take == 0 and take > 0:
                chunk[-1] = 1  # ClientInit: shared, never exclusive
            if chunk:
                out.append((HANDSHAKE_BYTES, bytes(chunk)))
            del self._buffer[:take]
            self._handshake -= take
        while self._buffer and not self._handshake:
            size = self._size()
            if size is None:
                break  # more bytes needed
            kind = self._buffer[0]
            message = bytes(self._buffer[:size])
            del self._buffer[:size]
            if self.passthrough:
                out.append((PASSTHROUGH, message))
            elif self.control or kind in WATCHING:
                out.append((kind, message))
            else:
                name = NAMES.get(kind, str(kind))
                self.dropped[name] = self.dropped.get(name, 0) + 1
        return out

    def _size(self) -> Optional[int]:
        """The size of the message at the buffer's start, None if not all of it is here."""
        buffer = self._buffer
        kind = buffer[0]
        if kind in FIXED:
            size = FIXED[kind]
        elif kind == SET_ENCODINGS:
            if len(buffer) < 4:
                return None
            (count,) = struct.unpack_from(">H", buffer, 2)
            size = 4 + 4 * count
        elif kind == CUT_TEXT:
            if len(buffer) < 8:
                return None
            (length,) = struct.unpack_from(">i", buffer, 4)
            length = abs(length)  # negative: the extended clipboard's format
            if length > MAX_CUT_TEXT:
                raise RfbProtocolError(f"clipboard message of {length} bytes")
            size = 8 + length
        elif kind == CLIENT_FENCE:
            if len(buffer) < 9:
                return None
            size = 9 + buffer[8]
        elif kind == SET_DESKTOP_SIZE:
            if len(buffer) < 8:
                return None
            size = 8 + 16 * buffer[6]
        elif kind == QEMU:
            if len(buffer) < 2:
                return None
            if buffer[1] != 0:  # only the extended key event (subtype 0) is known
                return self._unknown(kind)
            size = 12
        else:
            return self._unknown(kind)
        return size if len(buffer) >= size else None

    def _unknown(self, kind: int) -> Optional[int]:
        if not self.control:
            raise RfbProtocolError(f"unknown client message type {kind} from a viewer")
        # The owner's client speaks something newer: forward the rest as it comes.
        self.passthrough = True
        return len(self._buffer)
