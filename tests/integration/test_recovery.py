"""After Xvnc dies, the fresh desktop gets back what was opened in napari, and says why."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import numpy as np
import pytest
import tifffile

from tests.integration.conftest import needs_xvnc

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(400)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")


async def api(jp_fetch, method, endpoint, body=None):
    kwargs = {"method": method, "request_timeout": 200}
    if method == "POST":
        kwargs["body"] = json.dumps(body or {})
    response = await jp_fetch("napari-desktop", "api", endpoint, **kwargs)
    return json.loads(response.body)


async def layer_names(jp_fetch):
    status = await api(jp_fetch, "GET", "status")
    return [layer["name"] for layer in status["napari"]["layers"]]


async def test_xvnc_death_reopens_the_files_and_says_why(jp_fetch, jp_root_dir, manager):
    tifffile.imwrite(jp_root_dir / "nuclei.tif", np.full((16, 16), 3, np.uint8))
    opened = await api(jp_fetch, "POST", "open", {"paths": ["nuclei.tif"]})
    assert opened["opened"] == ["nuclei"]
    first = opened["status"]
    assert first["reason"] is None
    supervisor = manager.proc

    os.kill(manager.read_state()["xvnc_pid"], signal.SIGKILL)  # like the OOM killer
    deadline = time.monotonic() + 20
    while supervisor.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert supervisor.poll() is not None, "the supervisor ends its desktop when Xvnc dies"
    gone = await api(jp_fetch, "GET", "status")
    assert gone["running"] is False and "Xvnc exited" in gone["reason"], (
        "status says why at once, before the next connection starts a new desktop"
    )

    # The page reconnects by itself (POST start with reconnect, then the websocket).
    started = time.monotonic()
    again = await api(jp_fetch, "POST", "start", {"app": "napari", "reconnect": True})
    assert again["running"] is True and time.monotonic() - started < 15
    assert again["generation"] == first["generation"] + 1
    assert "Xvnc exited" in again["reason"], again["reason"]

    deadline = time.monotonic() + 120
    while "nuclei" not in await layer_names(jp_fetch) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert await layer_names(jp_fetch) == ["nuclei"], "the file opened through the API is back"

    stopped = await api(jp_fetch, "POST", "stop")
    assert stopped["reason"] == "stopped (Stop desktop)" and stopped["stopped_on_purpose"]
