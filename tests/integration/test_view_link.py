"""A view-only link (no JupyterHub): the owner makes one; with it, anyone sees the desktop's
picture and reaches nothing else of the Jupyter server (no contents, kernels, terminals or
API); their input is dropped; revoking it closes their connection within a second."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import urllib.parse

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import websocket_connect

from tests.integration.conftest import needs_xvnc
from tests.support.rfb import RFBClient

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def _serving(http_server_client):
    """The in-process server answers on its real port (a browser without a login)."""


def base(jp_http_port, jp_base_url) -> str:
    return f"http://localhost:{jp_http_port}{jp_base_url}"


async def anonymous(url: str, method: str = "GET", body=None, headers=None):
    """A request without Jupyter's token or cookie: what someone with only the link has."""
    response = await AsyncHTTPClient().fetch(
        url,
        method=method,
        body=body,
        headers=headers,
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
    )
    return response.code, response.body


def pointer_at(manager) -> tuple[int, int]:
    state = manager.read_state()
    env = {"DISPLAY": f":{state['display']}", "XAUTHORITY": str(manager.paths.xauthority)}
    out = subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True, text=True)
    found = re.search(r"x:(\d+) y:(\d+)", out.stdout)
    assert found, out
    return int(found.group(1)), int(found.group(2))


async def test_a_view_link_shows_the_picture_and_nothing_else(
    jp_fetch, jp_http_port, jp_base_url, manager
):
    await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
    made = json.loads(
        (
            await jp_fetch(
                "napari-desktop/api/links", method="POST", body=json.dumps({"expires_in": 600})
            )
        ).body
    )
    token = urllib.parse.parse_qs(urllib.parse.urlparse(made["path"]).query)["token"][0]
    listed = json.loads((await jp_fetch("napari-desktop/api/links")).body)["links"]
    assert [link["id"] for link in listed] == [made["id"]]
    assert token not in json.dumps(listed), "a link's token is shown once, never listed"
    root = base(jp_http_port, jp_base_url)
    # The page, its status and its styles open with the link.
    code, page = await anonymous(f"{root}napari-desktop/watch?token={token}")
    assert code == 200 and b'"role": "viewer"' in page
    code, status = await anonymous(f"{root}napari-desktop/watch/status?token={token}")
    assert code == 200 and json.loads(status)["running"] is True
    # The page sends it in a header, out of URLs (JupyterHub logs a stopped server's URLs).
    watch = "X-Napari-Desktop-Watch"
    code, status = await anonymous(f"{root}napari-desktop/watch/status", headers={watch: token})
    assert code == 200 and json.loads(status)["running"] is True
    code, _ = await anonymous(f"{root}napari-desktop/watch/status", headers={watch: token[:-1]})
    assert code == 403
    for path in ("napari-desktop/api/status", "api/contents", "napari-desktop/"):
        code, _ = await anonymous(f"{root}{path}", headers={watch: token})
        assert code in (302, 403, 404), (path, code)
    code, _ = await anonymous(f"{root}napari-desktop/watch/static/build/desktop.css")
    assert code == 200
    # Nothing else of the server, with the link's token in any place Jupyter reads one.
    for method, path in (
        ("GET", "api/contents"),
        ("GET", "api/kernels"),
        ("POST", "api/kernels"),
        ("GET", "api/terminals"),
        ("POST", "api/terminals"),
        ("GET", "napari-desktop/api/status"),
        ("POST", "napari-desktop/api/stop"),
        ("GET", "lab"),
        ("GET", "napari-desktop/"),
    ):
        code, _ = await anonymous(f"{root}{path}?token={token}", method, b"{}")
        assert code in (302, 403, 404, 405), (method, path, code)
        assert code != 200
    for wrong in ("", "x" * 43, token[:-1]):
        code, _ = await anonymous(f"{root}napari-desktop/watch?token={wrong}")
        assert code == 403
    # The picture comes; input does not arrive.
    url = f"ws://localhost:{jp_http_port}{jp_base_url}napari-desktop/watch/websockify"
    viewer = await RFBClient.connect_websocket(f"{url}?token={token}", "none", timeout=60)
    await viewer.request(incremental=False)
    assert await viewer.next_update(20) is not None
    before = pointer_at(manager)
    target = (before[0] + 37) % 200 + 10, (before[1] + 41) % 200 + 10
    await viewer.pointer(*target, 1)
    await viewer.key(0x61)
    await asyncio.sleep(1.5)
    assert pointer_at(manager) == before
    # Revoked: the viewer's connection ends within a second, the link no longer opens.
    await jp_fetch(f"napari-desktop/api/links/{made['id']}", method="DELETE")
    await asyncio.wait_for(viewer.stream.ws.wait_closed(), 1.0)  # within a second
    code, _ = await anonymous(f"{root}napari-desktop/watch?token={token}")
    assert code == 403
    assert manager.running()


@pytest.mark.parametrize("body", [{"expires_in": 5}, {"expires_in": "1h"}, {"expires_in": 1e9}])
async def test_bad_expiry_gets_400(jp_fetch, body):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("napari-desktop/api/links", method="POST", body=json.dumps(body))
    assert info.value.code == 400


async def test_a_link_refused_while_the_desktop_is_stopped_keeps_its_token_out_of_the_log(
    jp_fetch, jp_http_port, jp_base_url
):
    await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
    made = json.loads((await jp_fetch("napari-desktop/api/links", method="POST", body="{}")).body)
    token = urllib.parse.parse_qs(urllib.parse.urlparse(made["path"]).query)["token"][0]
    await jp_fetch("napari-desktop/api/stop", method="POST", body="{}")
    url = f"ws://localhost:{jp_http_port}{jp_base_url}napari-desktop/watch/websockify"
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    tornado_log = logging.getLogger("tornado")  # tornado.general: an HTTPError's warning
    tornado_log.addHandler(handler)
    try:
        with pytest.raises(HTTPClientError) as info:
            await websocket_connect(f"{url}?video=h264&token={token}")
    finally:
        tornado_log.removeHandler(handler)
    assert info.value.code == 409
    assert "websockify?video=h264&token=[secret]" in logged.getvalue()
    assert token not in logged.getvalue()
