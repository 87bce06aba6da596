"""The desktop websocket's upstream filter (server/rfb_input.py): a viewer's input never
reaches the VNC server, however the bytes are split or crafted."""

from __future__ import annotations

import struct

import pytest

from jupyter_napari_desktop.server.rfb_input import RfbInput, RfbProtocolError

pytestmark = pytest.mark.unit

HANDSHAKE_EXCLUSIVE = b"RFB 003.008\n" + b"\x01" + b"\x00"  # ClientInit: exclusive
PIXEL_FORMAT = bytes([0, 0, 0, 0]) + bytes(16)
ENCODINGS = struct.pack(">BxH3i", 2, 3, 7, -223, 50)
UPDATE = struct.pack(">BBHHHH", 3, 1, 0, 0, 1280, 800)
KEY = struct.pack(">BBxxI", 4, 1, 0x61)
POINTER = struct.pack(">BBHH", 5, 1, 100, 100)
WHEEL = struct.pack(">BBHH", 5, 8, 100, 100)
CUT = struct.pack(">Bxxxi", 6, 5) + b"hello"
CUT_EXTENDED = struct.pack(">Bxxxi", 6, -8) + struct.pack(">II", 1 << 24, 0)
CONTINUOUS = struct.pack(">BBHHHH", 150, 1, 0, 0, 1280, 800)
FENCE = struct.pack(">BxxxIB", 248, 0, 3) + b"abc"
RESIZE = struct.pack(">BxHHBx", 251, 2560, 1600, 1) + struct.pack(">IHHHHI", 0, 0, 0, 2560, 1600, 0)
QEMU_KEY = struct.pack(">BBHII", 255, 0, 1, 0x61, 30)
XVP = struct.pack(">BxBB", 250, 1, 2)  # shutdown
WATCH = PIXEL_FORMAT + ENCODINGS + UPDATE + CONTINUOUS + FENCE
INPUT = KEY + POINTER + WHEEL + CUT + CUT_EXTENDED + RESIZE + QEMU_KEY + XVP


def run(reader: RfbInput, data: bytes, step: int) -> bytes:
    return b"".join(reader.feed(data[i : i + step]) for i in range(0, len(data), step))


@pytest.mark.parametrize("step", [1, 3, 7, 64, 10_000])
def test_a_viewer_gets_the_picture_and_sends_no_input(step):
    reader = RfbInput(control=False)
    stream = HANDSHAKE_EXCLUSIVE + WATCH + INPUT + UPDATE
    forwarded = run(reader, stream, step)
    shared = b"RFB 003.008\n\x01\x01"  # ClientInit turned into a shared session
    assert forwarded == shared + WATCH + UPDATE
    assert reader.dropped == {
        "key": 1,
        "pointer": 2,
        "clipboard": 2,
        "resize": 1,
        "extended key": 1,
        "power": 1,
    }


@pytest.mark.parametrize("step", [1, 5, 10_000])
def test_the_owner_sends_everything(step):
    reader = RfbInput(control=True)
    stream = HANDSHAKE_EXCLUSIVE + WATCH + INPUT
    assert run(reader, stream, step) == b"RFB 003.008\n\x01\x01" + WATCH + INPUT
    assert reader.dropped == {}


def test_control_handed_over_and_taken_back_mid_stream():
    reader = RfbInput(control=False)
    assert reader.feed(HANDSHAKE_EXCLUSIVE + KEY) == b"RFB 003.008\n\x01\x01"
    reader.control = True
    assert reader.feed(KEY) == KEY
    reader.control = False
    assert reader.feed(KEY[:3]) == b""
    assert reader.feed(KEY[3:] + UPDATE) == UPDATE


def test_an_unknown_message_closes_a_viewer_and_passes_for_the_owner():
    with pytest.raises(RfbProtocolError, match="unknown client message type 99"):
        RfbInput(control=False).feed(HANDSHAKE_EXCLUSIVE + bytes([99, 1, 2, 3]))
    owner = RfbInput(control=True)
    assert owner.feed(HANDSHAKE_EXCLUSIVE + bytes([99, 1, 2, 3]))[-4:] == bytes([99, 1, 2, 3])
    assert owner.passthrough and owner.feed(KEY) == KEY
    owner.control = False  # a stream it cannot read any more cannot be watched safely
    with pytest.raises(RfbProtocolError):
        owner.feed(UPDATE)


def test_a_viewer_cannot_smuggle_input_inside_lengths():
    reader = RfbInput(control=False)
    reader.feed(HANDSHAKE_EXCLUSIVE)
    # A clipboard message whose text looks like a key event is dropped whole.
    assert reader.feed(struct.pack(">Bxxxi", 6, len(KEY)) + KEY) == b""
    # An unknown QEMU subtype cannot be framed: refused.
    with pytest.raises(RfbProtocolError):
        reader.feed(struct.pack(">BBHII", 255, 1, 0, 0, 0))


def test_a_huge_clipboard_message_is_refused():
    reader = RfbInput(control=True)
    reader.feed(HANDSHAKE_EXCLUSIVE)
    with pytest.raises(RfbProtocolError, match="clipboard message"):
        reader.feed(struct.pack(">Bxxxi", 6, 2**31 - 1))
