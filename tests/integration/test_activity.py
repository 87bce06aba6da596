"""Idle culling counts user input, not screen updates streaming to an open tab."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.integration.conftest import needs_xvnc

pytestmark = [pytest.mark.integration, needs_xvnc]


@pytest.fixture(autouse=True)
def _serving(http_server_client):
    """The websocket goes over the in-process server's real port."""


def extension_app(serverapp):
    (app,) = serverapp.extension_manager.extension_apps["jupyter_napari_desktop"]
    return app


async def rfb_session(port, base, token):
    """A real RFB client over the desktop websocket: handshake with security type None."""
    request = HTTPRequest(
        f"ws://localhost:{port}{base}napari-desktop/websockify",
        headers={"Authorization": f"token {token}"},
    )
    conn = await websocket_connect(request)
    buffer = bytearray()

    async def read(count):
        while len(buffer) < count:
            buffer.extend(await conn.read_message())
        data = bytes(buffer[:count])
        del buffer[:count]
        return data

    assert await read(12) == b"RFB 003.008\n"
    conn.write_message(b"RFB 003.008\n", binary=True)
    (count,) = await read(1)
    types = await read(count)
    assert 1 in types, f"security type None offered: {list(types)}"
    conn.write_message(bytes([1]), binary=True)
    assert await read(4) == b"\0\0\0\0", "security result OK"
    conn.write_message(bytes([1]), binary=True)  # ClientInit, shared
    width, height = struct.unpack(">HH", await read(4))
    await read(16)  # pixel format
    (name_len,) = struct.unpack(">I", await read(4))
    await read(name_len)
    return conn, width, height


async def test_screen_updates_are_not_activity_but_input_is(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    app = extension_app(jp_serverapp)
    settings = jp_serverapp.web_app.settings
    token = jp_serverapp.identity_provider.token
    conn, width, height = await rfb_session(jp_http_port, jp_base_url, token)
    for _ in range(50):
        if manager.last_input() is not None:
            break
        await asyncio.sleep(0.1)
    assert manager.last_input() is not None, "the supervisor reads the X idle time at start"

    # An open tab: 6 s of full-screen update requests and the frames they bring.
    app.report_input()  # the desktop's start is the last input so far
    before = settings.get("api_last_activity")
    deadline = time.monotonic() + 6
    received = 0
    while time.monotonic() < deadline:
        conn.write_message(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height), binary=True)
        try:
            received += len(await asyncio.wait_for(conn.read_message(), 0.5))
        except asyncio.TimeoutError:
            pass
    assert received > 0, "the desktop sent screen updates"
    app.report_input()
    assert settings.get("api_last_activity") == before, "screen bytes must not count"

    # A person moves the mouse: RFB PointerEvents through the same websocket.
    for x in range(10, 200, 20):
        conn.write_message(struct.pack(">BBHH", 5, 0, x, x), binary=True)
    moved = time.time()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (manager.last_input() or 0) < moved - 1:
        await asyncio.sleep(0.5)
    assert manager.last_input() >= moved - 1, "the pointer events reached the X server"
    app.report_input()
    reported = settings["api_last_activity"].timestamp()
    assert reported >= moved - 1
    conn.close()
