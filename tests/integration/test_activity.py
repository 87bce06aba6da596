"""Idle culling counts user input, not screen updates streaming to an open tab."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from datetime import datetime, timezone

import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_napari_desktop.server.app import ACTIVITY_KEY
from jupyter_napari_desktop.supervisor.process import INPUT_POLL
from tests.integration.conftest import needs_xvnc
from tests.support.procs import cmdline, descendants

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
    before = settings["last_activity_times"][ACTIVITY_KEY]
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
    assert settings["last_activity_times"][ACTIVITY_KEY] == before, "screen bytes must not count"

    # A person moves the mouse: RFB PointerEvents through the same websocket.
    for x in range(10, 200, 20):
        conn.write_message(struct.pack(">BBHH", 5, 0, x, x), binary=True)
    moved = time.time()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (manager.last_input() or 0) < moved - 1:
        await asyncio.sleep(0.5)
    assert manager.last_input() >= moved - 1, "the pointer events reached the X server"
    app.report_input()
    reported = settings["last_activity_times"][ACTIVITY_KEY].timestamp()
    assert reported >= moved - 1
    assert jp_serverapp.web_app.last_activity().timestamp() >= moved - 1
    conn.close()


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


async def test_activity_only_moves_forward_through_last_activity_times(
    jp_serverapp, jp_fetch, manager, monkeypatch
):
    """Reported where jupyter_server collects extensions' activity, never going back."""
    app = extension_app(jp_serverapp)
    times = jp_serverapp.web_app.settings["last_activity_times"]
    now = time.time() + 3600  # newer than anything else the server saw
    for reading, expected in [(now, now), (now - 600, now), (now + 5, now + 5), (None, now + 5)]:
        monkeypatch.setattr(manager, "last_input", lambda reading=reading: reading)
        app.report_input()
        assert times[ACTIVITY_KEY] == at(expected), f"after a reading of {reading}"
    assert "api_last_activity" not in jp_serverapp.web_app.settings or (
        jp_serverapp.web_app.settings["api_last_activity"] < at(now)
    ), "not the server's own API activity"
    answer = json.loads((await jp_fetch("api", "status")).body)
    reported = datetime.fromisoformat(answer["last_activity"].replace("Z", "+00:00"))
    assert abs(reported.timestamp() - (now + 5)) < 1, answer


async def test_idle_time_is_read_without_a_process_per_poll(jp_fetch, manager):
    """The supervisor reads the X idle time over its own X connection: over two polls it
    starts no process (it used to start a Python interpreter every 10 s)."""
    await jp_fetch("napari-desktop", "api", "start", method="POST", body="{}")
    supervisor = manager.proc.pid
    for _ in range(50):
        if manager.last_input() is not None:
            break
        await asyncio.sleep(0.1)
    assert manager.last_input() is not None
    first = set(descendants(supervisor))
    seen: dict[int, list[str]] = {}
    deadline = time.monotonic() + 2 * INPUT_POLL + 2
    while time.monotonic() < deadline:
        for pid in set(descendants(supervisor)) - first:
            seen.setdefault(pid, cmdline(pid))
        await asyncio.sleep(0.05)
    assert not seen, f"processes started by the supervisor while idle: {seen}"
    assert manager.last_input() is not None
