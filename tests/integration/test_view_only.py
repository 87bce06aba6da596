"""Watching never types into someone's desktop (server/access.py, server/rfb_input.py).

alice owns the desktop (``c.NapariDesktop.owner``); bob and carol come in with their own
identities (tests/support/identities.py, as JupyterHub's sharing brings visitors). Over
real websockets to the real Xvnc: bob receives the picture; his pointer, keys, clipboard
and resize, sent as raw RFB messages, change nothing in the X server (the pointer's
position and the screen's size read back with xdotool/xwininfo), while alice's input
arrives; alice hands bob control and his pointer moves it; she takes it back and it no
longer does. The API's changes answer bob 403."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import subprocess

import pytest
from tornado.httpclient import AsyncHTTPClient
from traitlets.config import Config
from websockets.exceptions import InvalidStatus

from tests.integration.conftest import needs_xvnc
from tests.support.identities import TOKEN_OF
from tests.support.rfb import RFBClient

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(300)]


def alices_desktop(tmp_path, monkeypatch, **options) -> Config:
    """The server's configuration: alice owns the desktop, bob and carol have their own
    tokens; ``options`` go to c.NapariDesktop as well."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_napari_desktop": True},
                "identity_provider_class": "tests.support.identities.NamedTokens",
            },
            "NapariDesktop": {
                "session": "minimal",
                "autostart_napari": False,
                "first_display": 20,
                "owner": "alice",
                **options,
            },
        }
    )


@pytest.fixture
def jp_server_config(tmp_path, monkeypatch):
    return alices_desktop(tmp_path, monkeypatch)


@pytest.fixture(autouse=True)
def _serving(http_server_client):
    """The in-process server answers on its real port (websockets, other identities)."""


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["napari_desktop_manager"]


@pytest.fixture
def api(jp_http_port, jp_base_url):
    async def call(who: str, method: str, path: str, body=None):
        url = f"http://localhost:{jp_http_port}{jp_base_url}napari-desktop/api/{path}"
        response = await AsyncHTTPClient().fetch(
            url,
            method=method,
            headers={"Authorization": f"token {TOKEN_OF[who]}"},
            body=None if body is None and method == "GET" else json.dumps(body or {}),
            raise_error=False,
            request_timeout=120,
        )
        return response.code, json.loads(response.body or b"null")

    return call


@pytest.fixture
def connect(jp_http_port, jp_base_url):
    async def open_as(who: str) -> RFBClient:
        url = f"ws://localhost:{jp_http_port}{jp_base_url}napari-desktop/websockify"
        return await RFBClient.connect_websocket(url, TOKEN_OF[who], timeout=60)

    return open_as


def x_env(manager) -> dict[str, str]:
    state = manager.read_state()
    return {"DISPLAY": f":{state['display']}", "XAUTHORITY": str(manager.paths.xauthority)}


def pointer_at(manager) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation"], env=x_env(manager), capture_output=True, text=True
    ).stdout
    found = re.search(r"x:(\d+) y:(\d+)", out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


def screen_size(manager) -> tuple[int, int]:
    out = subprocess.run(
        ["xwininfo", "-root"], env=x_env(manager), capture_output=True, text=True
    ).stdout
    return int(re.search(r"Width: (\d+)", out).group(1)), int(
        re.search(r"Height: (\d+)", out).group(1)
    )


async def until(condition, timeout: float = 10) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_viewer_never_starts_the_desktop(api, connect, manager):
    """Opening the desktop's websocket starts it for its owner; one who may only watch is
    refused while it is not running, as POST api/start refuses them."""
    with pytest.raises(InvalidStatus) as info:
        await connect("bob")
    assert info.value.response.status_code == 409
    assert not manager.running() and manager.proc is None
    code, answer = await api("bob", "POST", "start", {})
    assert code == 409 and "alice's desktop is not running" in answer["error"]["message"]


async def test_a_viewer_sees_the_desktop_and_changes_nothing(api, connect, manager):
    code, _ = await api("alice", "POST", "start", {})
    assert code == 200
    alice = await connect("alice")
    bob = await connect("bob")
    # bob receives the picture.
    await bob.request(incremental=False)
    assert await bob.next_update(20) is not None, "a viewer gets the picture"
    await alice.pointer(300, 200)
    assert await until(lambda: pointer_at(manager) == (300, 200)), "alice's pointer moves it"
    size = screen_size(manager)
    # Everything bob sends that would change the desktop, as raw RFB messages.
    await bob.pointer(40, 50, 1)
    await bob.pointer(40, 50, 0)
    await bob.key(0x61)
    await bob.stream.write(struct.pack(">Bxxxi", 6, 5) + b"hello")
    await bob.stream.write(
        struct.pack(">BxHHBx", 251, 800, 600, 1) + struct.pack(">IHHHHI", 0, 0, 0, 800, 600, 0)
    )
    await bob.stream.write(struct.pack(">BBHII", 255, 0, 1, 0x61, 30))  # QEMU key
    assert not await until(lambda: pointer_at(manager) != (300, 200), 2)
    assert screen_size(manager) == size
    # The API's changes are the owner's.
    for method, path in (("POST", "stop"), ("POST", "restart"), ("PUT", "screen")):
        code, answer = await api("bob", method, path, {"scale": 2})
        assert code == 403, (path, answer)
        assert "ask alice to hand you control" in answer["error"]["fix"]
    code, _ = await api("bob", "PUT", "access", {"control": ["bob"]})
    assert code == 403
    code, status = await api("bob", "POST", "start", {"app": "napari"})
    assert code == 200 and status["running"]  # a viewer's page asks: it gets the status
    # Everyone sees who is there.
    code, access = await api("alice", "GET", "access")
    assert code == 200
    assert [(p["user"], p["role"]) for p in access["people"]] == [
        ("alice", "owner"),
        ("bob", "viewer"),
    ]
    code, seen_by_bob = await api("bob", "GET", "access")
    assert seen_by_bob["owner"] == "alice" and seen_by_bob["you"]["role"] == "viewer"
    await bob.close()
    await alice.close()


async def test_control_handed_over_and_taken_back(api, connect, manager):
    await api("alice", "POST", "start", {})
    bob = await connect("bob")
    await bob.pointer(10, 20)
    assert not await until(lambda: pointer_at(manager) == (10, 20), 1.5)
    code, access = await api("alice", "PUT", "access", {"control": ["bob"]})
    assert code == 200 and access["control"] == ["bob"]
    await bob.pointer(111, 122)  # the same connection, now with control
    assert await until(lambda: pointer_at(manager) == (111, 122)), "bob's pointer arrives"
    code, _ = await api("bob", "PUT", "screen", {"scale": 1})
    assert code == 200
    code, access = await api("alice", "PUT", "access", {"control": []})
    assert access["control"] == []
    await bob.pointer(5, 6)
    assert not await until(lambda: pointer_at(manager) == (5, 6), 1.5)
    assert pointer_at(manager) == (111, 122)
    await bob.close()


async def test_a_hostile_viewer_stream_is_closed(api, connect, manager):
    await api("alice", "POST", "start", {})
    carol = await connect("carol")
    await carol.stream.write(bytes([99, 0, 0, 0]))  # a message type nobody knows
    await asyncio.wait_for(carol.stream.ws.wait_closed(), 10)  # the server closes it
    assert manager.running(), "the desktop goes on"
