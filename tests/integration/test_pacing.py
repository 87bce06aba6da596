"""c.NapariDesktop.max_mbit_per_s through the real websocket to a real Xvnc."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest

from jupyter_napari_desktop.server.pacing import MIN_BURST_BYTES
from tests.integration.conftest import needs_xvnc
from tests.support.rfb import DESKTOP_SIZE, RAW, RFBClient, WebSocketStream

pytestmark = [pytest.mark.integration, needs_xvnc]

LIMIT_MBIT = 2.0


@pytest.fixture
def desktop_options():
    return {
        "session": "minimal",
        "autostart_napari": False,
        "first_display": 20,
        "geometry": "1024x768",
        "max_mbit_per_s": LIMIT_MBIT,
    }


@pytest.fixture(autouse=True)
def _serving(http_server_client):
    """The websocket client below talks to the in-process server over its real port."""


async def raw_only(client: RFBClient) -> None:
    """Raw pixels without LastRect: TigerVNC cannot send the screen as solid rectangles, so
    every update of the whole screen is width x height x 4 bytes, whatever it shows."""
    encodings = [RAW, DESKTOP_SIZE]
    message = struct.pack(">BxH", 2, len(encodings))
    await client.stream.write(message + b"".join(struct.pack(">i", e) for e in encodings))


async def test_one_tab_gets_at_most_its_rate_while_others_are_not_held_back(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}napari-desktop/websockify"
    token = jp_serverapp.identity_provider.token
    # The whole screen again and again, 3 MiB per update: far above the limit.
    paced = await RFBClient.connect_websocket(url, token, raw=True, follow=False)
    try:
        await raw_only(paced)
        stream = paced.stream
        assert isinstance(stream, WebSocketStream)
        start_bytes, start = stream.arrived, time.perf_counter()
        while time.perf_counter() - start < 4:
            await paced.request(incremental=False)
            await asyncio.sleep(0.05)
        # The Xvnc is not held up by the paced tab: a direct client gets the screen now.
        direct = await RFBClient.connect_unix(str(manager.paths.vnc_socket), raw=True)
        try:
            began = time.perf_counter()
            await direct.snapshot(timeout=10)
            direct_s = time.perf_counter() - began
        finally:
            await direct.close()
        elapsed = time.perf_counter() - start
        got = stream.arrived - start_bytes
    finally:
        await paced.close()
    rate = LIMIT_MBIT * 1e6 / 8
    # What arrived: the rate over the time, plus the burst and one read from the VNC socket
    # (asyncio reads up to 256 KiB before the bucket is asked); unpaced it would be >100 MB.
    bound = rate * elapsed + max(MIN_BURST_BYTES, 0.5 * rate) + 256 * 1024
    assert got <= bound, f"{got} bytes in {elapsed:.1f} s"
    assert got >= 0.5 * rate * (elapsed - 1), f"only {got} bytes in {elapsed:.1f} s"
    assert direct_s < 5, f"the direct client waited {direct_s:.1f} s for the screen"
