"""JupyterHub visitors who watch share the video room too (server/video_room.py): alice owns
the desktop; bob and carol come in with their own identities (as JupyterHub's sharing
brings them) and their pages ask for H.264. Over real websockets to the real Xvnc: both are
in the one room (one encoder, not one each), bob's pointer changes nothing; alice hands bob
control and his room connection closes so that his page reconnects, now on a bridge of his
own whose pointer moves the desktop's; carol stays in the room."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_napari_desktop.server.video_codec import available
from tests.integration.conftest import needs_xvnc
from tests.integration.test_view_only import (  # noqa: F401 - fixtures used by name
    _serving,
    alices_desktop,
    api,
    manager,
    pointer_at,
    until,
)
from tests.support.identities import TOKEN_OF
from tests.support.rfb import RFBClient

pytestmark = [
    pytest.mark.integration,
    needs_xvnc,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        available() is not None,
        reason=f"needs PyAV with libx264 (the [video] extra): {available()}",
    ),
]


@pytest.fixture
def jp_server_config(tmp_path, monkeypatch):
    return alices_desktop(tmp_path, monkeypatch, video="auto")


@pytest.fixture
def watch(jp_http_port, jp_base_url):
    async def open_as(who: str) -> RFBClient:
        url = f"ws://localhost:{jp_http_port}{jp_base_url}napari-desktop/websockify?video=h264"
        return await RFBClient.connect_websocket(url, TOKEN_OF[who], timeout=60, video=True)

    return open_as


async def test_watching_visitors_share_the_room_until_handed_control(api, watch, manager):  # noqa: F811
    code, _ = await api("alice", "POST", "start", {})
    assert code == 200
    bob, carol = await watch("bob"), await watch("carol")
    assert await until(lambda: bob.stats.updates and carol.stats.updates, 20), "the picture"
    room = manager.video_room
    assert room is not None and sorted(v.user for v in room.viewers.values()) == ["bob", "carol"]
    before = pointer_at(manager)
    await bob.pointer(before[0] // 2 + 7, before[1] // 2 + 9, 1)
    await asyncio.sleep(1.0)
    assert pointer_at(manager) == before, "a watching visitor's pointer arrived"

    code, access = await api("alice", "PUT", "access", {"control": ["bob"]})
    assert code == 200 and access["control"] == ["bob"]
    await asyncio.wait_for(bob.stream.ws.wait_closed(), 5)  # his page reconnects ...
    await bob.close()
    bob = await watch("bob")  # ... on a bridge of his own, his input passed on
    await bob.pointer(111, 122)
    assert await until(lambda: pointer_at(manager) == (111, 122)), "bob's pointer arrives"
    assert [v.user for v in room.viewers.values()] == ["carol"] and not room.closed
    await carol.close()
    await bob.close()
    assert await until(lambda: room.closed, 5), "the room closes with its last viewer"
