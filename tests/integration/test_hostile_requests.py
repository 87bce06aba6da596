"""Requests an attacker or a careless script sends, against the real server, desktop and
napari: each gets a clear 4xx (never a 500 or a hang), echoes no more than a little of what
it sent, and leaves nothing behind in napari. Found by probing a running server."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from tornado.httpclient import HTTPClientError

from tests.integration.conftest import needs_xvnc

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(300)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")


@pytest.fixture
def desktop_options():
    # restore off: what comes back after a restart is the server's reopening, not napari's
    # kept session. A 1 MB transfer limit: the files not yet collected hold at most 2 MB.
    return {
        "session": "minimal",
        "autostart_napari": False,
        "first_display": 46,
        "restore": False,
        "transfer_limit_mb": 1,
    }


async def call(jp_fetch, method, endpoint, body=None, **params):
    raw = None if body is None else body if isinstance(body, str) else json.dumps(body)
    response = await jp_fetch(
        "napari-desktop", "api", *endpoint.split("/"), method=method, body=raw, params=params
    )
    return json.loads(response.body) if response.body else None


async def refused(jp_fetch, method, endpoint, body=None, **params):
    """(status, error) of a request that must be refused with a JSON error."""
    with pytest.raises(HTTPClientError) as info:
        await call(jp_fetch, method, endpoint, body, **params)
    raw = info.value.response.body
    assert len(raw) < 4000, f"{len(raw)} bytes answered: the error echoes all it was sent"
    answer = json.loads(raw)
    assert set(answer["error"]) == {"message", "fix"}
    return info.value.code, answer["error"]


async def test_bad_input_gets_4xx_answers_that_echo_little(jp_fetch, jp_root_dir, tmp_path):
    (tmp_path / "secret.npy").write_bytes(b"x")
    os.symlink("loop.npy", jp_root_dir / "loop.npy")
    assert (await refused(jp_fetch, "POST", "open", {"paths": ["loop.npy"]}))[0] == 404

    code, err = await refused(jp_fetch, "POST", "open", {"paths": ["x" * 5_000_000]})
    assert code == 404 and "characters in all" in err["message"]
    code, _ = await refused(jp_fetch, "POST", "start", {"app": "y" * 5_000_000})
    assert code == 400

    deep = '{"paths": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for endpoint in ("open", "viewer", "links", "session"):
        method = "PUT" if endpoint == "viewer" else "POST"
        assert (await refused(jp_fetch, method, endpoint, deep))[0] == 400
    nested = {"camera": {"center": json.loads("[" * 900 + "]" * 900)}}
    assert (await refused(jp_fetch, "PUT", "viewer", nested))[0] == 400

    for level in ("²", "-1", "1e3", "9" * 400):
        assert (await refused(jp_fetch, "GET", "layers/any", level=level))[0] == 400

    for name in ("z" * 300, "/" + "z" * 300, "a\0b"):
        body = {"action": "open", "session": name}
        assert (await refused(jp_fetch, "POST", "session", body))[0] == 404

    code, _ = await refused(jp_fetch, "PUT", "access", {"control": ["u" * 5_000_000]})
    assert code == 400
    access = await call(jp_fetch, "GET", "access")
    assert access["control"] == []

    # A folder napari would read, holding a link to a file outside the root.
    stack = jp_root_dir / "stack"
    stack.mkdir()
    np.save(stack / "0.npy", np.zeros((4, 4), np.uint8))
    os.symlink(tmp_path / "secret.npy", stack / "1.npy")
    code, err = await refused(jp_fetch, "POST", "open", {"paths": ["stack"]})
    assert code == 403 and "stack/1.npy" in err["message"]

    status = await call(jp_fetch, "GET", "status")
    assert status["running"] is False, "nothing above started the desktop"


async def new_transfer(jp_fetch, array) -> str:
    made = await call(jp_fetch, "POST", "transfers", {"nbytes": array.nbytes})
    with open(made["path"], "wb") as out:
        np.save(out, array)
    return made["transfer"]


async def layer_names(jp_fetch) -> list[str]:
    return [layer["name"] for layer in (await call(jp_fetch, "GET", "layers"))["layers"]]


async def test_napari_refuses_without_harm(jp_fetch, jp_root_dir, tmp_path):
    await call(jp_fetch, "POST", "start", {"app": "napari", "wait": True})
    cells = await new_transfer(jp_fetch, np.ones((64, 64), np.uint8))
    body = {"type": "image", "transfer": cells, "props": {"name": "cells"}}
    await call(jp_fetch, "POST", "layers", body)

    # A layer napari's transforms cannot hold: refused, and nothing of it stays.
    far = await new_transfer(jp_fetch, np.zeros((4, 4), np.uint8))
    body = {"type": "image", "transfer": far, "props": {"translate": [1e308, 1e308]}}
    code, err = await refused(jp_fetch, "POST", "layers", body)
    assert code == 422 and "translate" in err["message"]
    assert await layer_names(jp_fetch) == ["cells"]
    for change in ({"camera": {"zoom": 9.3e-306}}, {"reset_view": "x"}):
        assert (await refused(jp_fetch, "PUT", "viewer", change))[0] == 422
    after = await call(jp_fetch, "PUT", "viewer", {"reset_view": True})
    assert 1e-3 < after["camera"]["zoom"] < 1e3, after

    # A request longer than napari reads: 413 with the limit, not "napari stopped answering".
    code, err = await refused(jp_fetch, "PUT", "layers/cells", {"props": {"name": "n" * 2**21}})
    assert code == 413 and "MB" in err["message"]
    assert await layer_names(jp_fetch) == ["cells"]

    # Fetches nobody collects hold at most twice the transfer limit (here 1 MB).
    big = await new_transfer(jp_fetch, np.ones((700, 1000), np.uint8))
    body = {"type": "image", "transfer": big, "props": {"name": "big"}}
    await call(jp_fetch, "POST", "layers", body)
    fetched = []
    with pytest.raises(HTTPClientError) as info:
        for _ in range(5):
            fetched.append((await call(jp_fetch, "GET", "layers/big"))["transfer"])
    assert info.value.code == 507 and len(fetched) == 3
    await call(jp_fetch, "DELETE", f"transfers/{fetched[0]}")
    fetched[0] = (await call(jp_fetch, "GET", "layers/big"))["transfer"]

    # A folder opened through the API, replaced by a link to outside before a restart.
    data = jp_root_dir / "data"
    data.mkdir()
    np.save(data / "mine.npy", np.full((8, 8), 7, np.uint8))
    await call(jp_fetch, "POST", "open", {"paths": ["data/mine.npy"]})
    assert "mine" in await layer_names(jp_fetch)
    data.rename(jp_root_dir / "moved")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "mine.npy", np.full((8, 8), 99, np.uint8))
    os.symlink(elsewhere, data)
    restarted = await call(jp_fetch, "POST", "restart", {})
    assert restarted["running"] is True
    await call(jp_fetch, "POST", "start", {"app": "napari", "wait": True})
    assert "mine" not in await layer_names(jp_fetch), "the restart followed the new link"
