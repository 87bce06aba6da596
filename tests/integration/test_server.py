"""The extension in a real Jupyter server: routes, auth, the real websocket to a real Xvnc."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from urllib.parse import urlencode

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_napari_desktop.launch import x_lock_path
from tests.integration.conftest import needs_xvnc
from tests.support.procs import descendants, listening_tcp_ports, living
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _serving(http_server_client):
    """Every test here talks to the in-process server over its real port."""


def url(port, base, path):
    return f"http://localhost:{port}{base}{path}"


async def raw_fetch(port, base, path, **kwargs):
    """A request without pytest-jupyter's token header."""
    kwargs.setdefault("follow_redirects", False)
    kwargs.setdefault("raise_error", False)
    return await AsyncHTTPClient().fetch(url(port, base, path), **kwargs)


async def ws_connect(port, base, headers):
    request = HTTPRequest(
        url(port, base, "napari-desktop/websockify").replace("http", "ws", 1),
        headers=headers,
        connect_timeout=60,
        request_timeout=60,
    )
    return await websocket_connect(request)


async def rfb_greeting(port, base, headers):
    conn = await ws_connect(port, base, headers)
    try:
        return await conn.read_message()
    finally:
        conn.close()


def token_header(app):
    return {"Authorization": f"token {app.identity_provider.token}"}


async def test_extension_is_loaded(jp_serverapp):
    point = jp_serverapp.extension_manager.extensions["jupyter_napari_desktop"]
    assert point.enabled
    assert "napari_desktop_manager" in jp_serverapp.web_app.settings


@pytest.mark.parametrize("path", ["napari-desktop/", "napari-desktop/static/napari.svg"])
async def test_pages_redirect_to_login_without_token(jp_serverapp, jp_http_port, jp_base_url, path):
    response = await raw_fetch(jp_http_port, jp_base_url, path)
    assert response.code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["napari-desktop/api/status", "napari-desktop/api/info"])
async def test_api_refuses_without_token(jp_serverapp, jp_http_port, jp_base_url, path):
    response = await raw_fetch(jp_http_port, jp_base_url, path)
    assert response.code == 403


async def test_api_start_refuses_without_token(jp_serverapp, jp_http_port, jp_base_url, manager):
    response = await raw_fetch(
        jp_http_port, jp_base_url, "napari-desktop/api/start", method="POST", body="{}"
    )
    assert response.code == 403
    assert manager.proc is None, "nothing may start for an anonymous request"


async def test_websocket_refuses_without_auth(jp_serverapp, jp_http_port, jp_base_url, manager):
    with pytest.raises(HTTPClientError) as info:
        await rfb_greeting(jp_http_port, jp_base_url, {})
    assert info.value.code == 403
    assert manager.proc is None


async def test_page_and_info(jp_fetch):
    page = await jp_fetch("napari-desktop/", params={"app": "napari"})
    text = page.body.decode()
    # The script is in the page (a hub answers module scripts fetched by URL with login
    # redirects); the styles come by URL.
    assert '<script type="module">/*! jupyter-napari-desktop desktop page' in text
    assert "<script src=" not in text and 'type="module" src=' not in text
    assert "napari-desktop/static/build/desktop.css" in text
    config = json.loads(text.split('type="application/json">')[1].split("</script>")[0])
    assert config["app"] == "napari"
    assert config["websocketPath"].endswith("napari-desktop/websockify")
    info = json.loads((await jp_fetch("napari-desktop/api/info")).body)
    assert set(info) == {"version", "coexisting"}


async def test_page_rejects_unknown_app(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("napari-desktop/", params={"app": "<script>"})
    assert info.value.code == 400


async def test_start_rejects_bad_json(jp_fetch):
    for body in ("{not json", "[1, 2]", json.dumps({"app": "gimp"})):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("napari-desktop/api/start", method="POST", body=body)
        assert info.value.code == 400


@needs_xvnc
async def test_real_rfb_through_websocket_and_private_files(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    before = listening_tcp_ports()
    greeting = await rfb_greeting(jp_http_port, jp_base_url, token_header(jp_serverapp))
    assert greeting == b"RFB 003.008\n"
    assert manager.running()
    new_ports = listening_tcp_ports() - before
    assert not new_ports, f"the desktop opened TCP ports {new_ports}"
    root = manager.paths.root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(manager.paths.vnc_socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(manager.paths.xauthority.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(manager.paths.vnc_socket.stat().st_mode)


@needs_xvnc
async def test_many_aborted_connections_do_not_lock_out(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    """TigerVNC's blacklist would refuse a host after 5 aborted handshakes."""
    headers = token_header(jp_serverapp)
    for _ in range(12):
        conn = await ws_connect(jp_http_port, jp_base_url, headers)
        await conn.read_message()
        conn.write_message(b"garbage that is not RFB\n", binary=True)
        conn.close()
    assert await rfb_greeting(jp_http_port, jp_base_url, headers) == b"RFB 003.008\n"


@needs_xvnc
async def test_cookie_websocket_from_other_origin_is_refused(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    token = jp_serverapp.identity_provider.token
    login = await raw_fetch(jp_http_port, jp_base_url, f"login?{urlencode({'token': token})}")
    cookies = "; ".join(c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie"))
    assert "username-" in cookies, "logging in with the token sets a cookie"
    with pytest.raises(HTTPClientError) as info:
        await rfb_greeting(
            jp_http_port, jp_base_url, {"Cookie": cookies, "Origin": "http://evil.example"}
        )
    assert info.value.code == 403
    assert manager.proc is None, "a foreign page must not even start the desktop"
    own_origin = f"http://localhost:{jp_http_port}"
    greeting = await rfb_greeting(
        jp_http_port, jp_base_url, {"Cookie": cookies, "Origin": own_origin}
    )
    assert greeting == b"RFB 003.008\n"


@needs_xvnc
async def test_xvnc_killed_next_connection_gets_a_fresh_desktop(
    jp_serverapp, jp_http_port, jp_base_url, manager
):
    headers = token_header(jp_serverapp)
    assert await rfb_greeting(jp_http_port, jp_base_url, headers) == b"RFB 003.008\n"
    state = manager.read_state()
    old_root, supervisor = manager.paths.root, manager.proc.pid
    os.kill(state["xvnc_pid"], signal.SIGKILL)
    wait_for(lambda: manager.proc.poll() is not None, 10, "the supervisor to notice Xvnc died")
    assert not living({state["session_pid"]}), "the session went with the dead X server"
    assert await rfb_greeting(jp_http_port, jp_base_url, headers) == b"RFB 003.008\n"
    assert manager.proc.pid != supervisor
    assert manager.paths.root == old_root, "same private path: kernels keep a valid XAUTHORITY"
    assert manager.read_state()["supervisor_pid"] == manager.proc.pid, (
        "fresh state, not the dead one"
    )
    assert manager.read_state()["display"] == state["display"], "display number reused"


@needs_xvnc
async def test_logout_then_start_again(jp_fetch, manager):
    first = json.loads((await jp_fetch("napari-desktop/api/start", method="POST", body="{}")).body)
    assert first["running"] is True
    os.kill(manager.read_state()["session_pid"], signal.SIGTERM)  # the user logs out
    wait_for(lambda: manager.proc.poll() is not None, 10, "the desktop to end with its session")
    status = json.loads((await jp_fetch("napari-desktop/api/status")).body)
    assert status["running"] is False
    again = json.loads((await jp_fetch("napari-desktop/api/start", method="POST", body="{}")).body)
    assert again["running"] is True


@needs_xvnc
async def test_stop_ends_every_process_and_removes_files(jp_fetch, manager):
    await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
    supervisor = manager.proc.pid
    tree = set(descendants(supervisor)) | {supervisor}
    display = manager.read_state()["display"]
    root = manager.paths.root
    assert len(tree) >= 3
    await jp_fetch("napari-desktop/api/stop", method="POST", body="{}")
    assert not living(tree)
    assert not root.exists()
    assert not x_lock_path(display).exists()
    assert not Path(f"/tmp/.X11-unix/X{display}").exists()


@needs_xvnc
@pytest.mark.parametrize("jp_base_url", ["/user/alice/"])
async def test_under_a_jupyterhub_style_base_url(jp_serverapp, jp_fetch, jp_http_port, jp_base_url):
    page = (await jp_fetch("napari-desktop/")).body.decode()
    assert '"websocketPath": "/user/alice/napari-desktop/websockify"' in page
    assert "/user/alice/napari-desktop/static/build/desktop.css" in page
    greeting = await rfb_greeting(jp_http_port, "/user/alice/", token_header(jp_serverapp))
    assert greeting == b"RFB 003.008\n"
    response = await raw_fetch(
        jp_http_port, "/", "napari-desktop/api/status", headers=token_header(jp_serverapp)
    )
    assert response.code == 404, "nothing is served outside the base URL"
