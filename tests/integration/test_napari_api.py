"""The open/status/restart API with a real napari in the real Xvnc desktop."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tifffile
from tornado.httpclient import HTTPClientError

from tests.integration.conftest import needs_xvnc

pytestmark = [pytest.mark.integration, needs_xvnc]
napari_missing = pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")


@pytest.fixture
def desktop_options():
    return {"session": "minimal", "autostart_napari": False, "first_display": 40}


@pytest.fixture
def files(jp_root_dir, tmp_path):
    data = jp_root_dir / "data"
    data.mkdir()
    stack = np.zeros((5, 64, 64), np.uint16)
    stack[:, 16:48, 16:48] = 1000
    tifffile.imwrite(data / "cells stack ß.tif", stack)
    (data / "notes.xyz").write_bytes(os.urandom(256))
    (tmp_path / "outside.tif").write_bytes(b"x")
    os.symlink(tmp_path / "outside.tif", data / "escape.tif")
    return data


async def post(jp_fetch, endpoint, body):
    raw = body if isinstance(body, str) else json.dumps(body)
    response = await jp_fetch("napari-desktop", "api", endpoint, method="POST", body=raw)
    return json.loads(response.body)


async def error(jp_fetch, endpoint, body):
    with pytest.raises(HTTPClientError) as info:
        await post(jp_fetch, endpoint, body)
    answer = json.loads(info.value.response.body)
    assert set(answer["error"]) == {"message", "fix"}
    return info.value.code, answer["error"]


async def test_open_status_errors_and_restart(jp_fetch, jp_serverapp, files, manager):
    opened = await post(jp_fetch, "open", {"paths": ["data/cells stack ß.tif"]})
    assert opened["opened"] == ["cells stack ß"]
    napari = opened["status"]["napari"]
    assert napari["running"] is True
    assert napari["layers"] == [{"name": "cells stack ß", "type": "image", "shape": [5, 64, 64]}]
    assert napari["dims"]["ndim"] == 3
    assert opened["status"]["memory_mb"] > 50

    assert (await error(jp_fetch, "open", {"paths": ["../outside.tif"]}))[0] == 403
    assert (await error(jp_fetch, "open", {"paths": ["/etc/passwd"]}))[0] == 403
    assert (await error(jp_fetch, "open", {"paths": ["data/escape.tif"]}))[0] == 403
    assert (await error(jp_fetch, "open", {"paths": ["data/missing.tif"]}))[0] == 404
    code, err = await error(jp_fetch, "open", {"paths": ["data/notes.xyz"]})
    assert code == 422 and "notes.xyz" in err["message"]
    for bad in (
        "{nope",
        "[]",
        {"paths": "data/x.tif"},
        {"paths": []},
        {"paths": [1]},
        {"paths": ["data/cells stack ß.tif"], "layer_type": "teapot"},
    ):
        assert (await error(jp_fetch, "open", bad))[0] == 400

    # Nothing above crashed the server, the desktop or the viewer.
    status = json.loads((await jp_fetch("napari-desktop/api/status")).body)
    assert status["running"] and status["napari"]["running"]
    assert [layer["name"] for layer in status["napari"]["layers"]] == ["cells stack ß"]

    old_display = status["display"]
    restarted = await post(jp_fetch, "restart", {})
    assert restarted["running"] is True
    assert [layer["name"] for layer in restarted["napari"]["layers"]] == ["cells stack ß"], (
        "restart reopens what was opened through the API"
    )
    assert restarted["display"] == old_display
    kernel_env = jp_serverapp.session_manager.get_kernel_env("nb.ipynb")
    assert kernel_env["DISPLAY"] == old_display, "kernels started now get the desktop's DISPLAY"
    assert kernel_env["XAUTHORITY"] == str(manager.paths.xauthority)
    assert kernel_env["JUPYTER_NAPARI_DESKTOP_SERVER_PID"] == str(os.getpid())
    assert "DISPLAY" not in os.environ or os.environ["DISPLAY"] != old_display, (
        "the server's own environment (and other extensions' processes) is left alone"
    )

    stopped = await post(jp_fetch, "stop", {})
    assert stopped["running"] is False and stopped["napari"]["running"] is False
    code, err = await error(jp_fetch, "start", {"app": "napari", "reconnect": True})
    assert code == 409, "an open page reconnecting must not start a desktop stopped on purpose"
    assert "stopped" in err["message"]
    assert manager.proc is None
    started = await post(jp_fetch, "start", {"app": "desktop"})
    assert started["running"] is True, "an explicit start (Try again, a card) starts it"
