"""Whatever `open` is given, the server answers in bounded time and napari stays responsive.

napari's readers run in a worker thread of the napari helper; a real reader plugin (``*.slow``,
installed for this test only through the desktop's PYTHONPATH) reads until the test lets it
finish, standing in for a file on a hung network mount.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import textwrap
import time

import numpy as np
import pytest
import tifffile
from tornado.httpclient import HTTPClientError

from tests.integration.conftest import needs_xvnc

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(600)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")

SLOW_READER = {
    "slowreader/__init__.py": """
        import time
        from pathlib import Path

        import numpy as np


        def get_reader(path):
            if isinstance(path, str) and path.endswith(".slow"):
                return read
            return None


        def read(path):
            release = Path(path + ".release")
            deadline = time.monotonic() + 300
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            return [(np.ones((16, 16), np.uint8), {"name": Path(path).stem}, "image")]
    """,
    "slowreader/napari.yaml": """
        name: slow-reader
        display_name: Slow reader for tests
        contributions:
          commands:
            - id: slow-reader.get_reader
              python_name: slowreader:get_reader
              title: Read .slow files slowly
          readers:
            - command: slow-reader.get_reader
              filename_patterns: ["*.slow"]
              accepts_directories: false
    """,
    "slow_reader-0.1.dist-info/METADATA": """
        Metadata-Version: 2.1
        Name: slow-reader
        Version: 0.1
    """,
    "slow_reader-0.1.dist-info/entry_points.txt": """
        [napari.manifest]
        slow-reader = slowreader:napari.yaml
    """,
}


@pytest.fixture
def plugins(tmp_path):
    folder = tmp_path / "plugins"
    for name, text in SLOW_READER.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return folder


@pytest.fixture
def desktop_options(plugins):
    return {
        "session": "minimal",
        "autostart_napari": False,
        "first_display": 45,
        "extra_env": {"PYTHONPATH": str(plugins)},
    }


async def call(jp_fetch, method, endpoint, body=None):
    """(status, JSON, seconds) of one API request; errors are answers too."""
    started = time.monotonic()
    kwargs = {"method": method}
    if method == "POST":
        kwargs["body"] = json.dumps(body or {})
    try:
        response = await jp_fetch("napari-desktop", "api", endpoint, request_timeout=300, **kwargs)
        code, answer = response.code, json.loads(response.body)
    except HTTPClientError as err:
        code, answer = err.code, json.loads(err.response.body)
    return code, answer, time.monotonic() - started


async def until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


async def test_bad_inputs_get_bounded_answers_and_napari_stays_responsive(
    jp_fetch, jp_root_dir, manager
):
    root = jp_root_dir
    tifffile.imwrite(root / "cells.tif", np.full((32, 32), 7, np.uint16))
    os.mkfifo(root / "pipe.tif")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(root / "socket.tif"))
    os.mknod(root / "null.tif", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    (root / ".hidden.tif").write_bytes(b"x")
    (root / "stuck.slow").write_bytes(b"slow")
    tried: list[tuple[str, int, float]] = []

    # Refused by the server before anything starts: napari never sees them.
    for path, code, words in [
        ("pipe.tif", 422, "named pipe"),
        ("socket.tif", 422, "socket"),
        ("null.tif", 422, "character device"),
        ("../etc/passwd", 403, "outside the Jupyter root"),
        (".hidden.tif", 403, "hidden"),
    ]:
        got, answer, took = await call(jp_fetch, "POST", "open", {"paths": [path]})
        tried.append((path, got, took))
        assert got == code and words in answer["error"]["message"], (path, answer)
        assert took < 5, f"{path} answered in {took:.1f} s"
    assert manager.proc is None, "refusals start nothing"
    listener.close()

    code, answer, _ = await call(jp_fetch, "POST", "open", {"paths": ["cells.tif"]})
    assert code == 200 and answer["opened"] == ["cells"], answer

    # A read that does not end: a bounded 504, the read goes on inside napari.
    manager.open_timeout = 3
    code, answer, took = await call(jp_fetch, "POST", "open", {"paths": ["stuck.slow"]})
    tried.append(("stuck.slow (never-ending read)", code, took))
    assert code == 504 and "still reading stuck.slow" in answer["error"]["message"], answer
    assert took < 15

    # Meanwhile status answers at once, with napari's layers and what it is reading, and a
    # second open is told who keeps napari busy.
    for _ in range(5):
        code, status, took = await call(jp_fetch, "GET", "status")
        assert code == 200 and took < 3, f"status took {took:.1f} s during a slow read"
        assert [layer["name"] for layer in status["napari"]["layers"]] == ["cells"]
        assert status["napari"]["reading"]["paths"] == ["stuck.slow"]
    code, answer, took = await call(jp_fetch, "POST", "open", {"paths": ["cells.tif"]})
    tried.append(("cells.tif during the slow read", code, took))
    assert code == 409 and answer["error"]["message"] == "napari is busy reading stuck.slow"
    assert took < 5

    # The read ends: its layer appears and napari takes opens again.
    (root / "stuck.slow.release").write_bytes(b"")

    async def read_finished():
        _, status, _ = await call(jp_fetch, "GET", "status")
        names = [layer["name"] for layer in status["napari"]["layers"]]
        return status["napari"]["reading"] is None and "stuck" in names

    await until(read_finished, 30, "the slow read to finish and become a layer")

    # A folder of thousands of files and a file far larger than memory: bounded answers.
    manager.open_timeout = 60
    many = root / "many"
    many.mkdir()
    tile = np.zeros((4, 4), np.uint8)
    for index in range(3000):
        tifffile.imwrite(many / f"tile-{index:04}.tif", tile)
    huge = root / "huge.npy"
    header = b"\x93NUMPY\x01\x00"
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    meta = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({4 * ram // 8},), }}"
    meta = meta.ljust(118) + "\n"
    with huge.open("wb") as handle:
        handle.write(header + len(meta).to_bytes(2, "little") + meta.encode())
        handle.truncate(4 * ram)  # sparse: no disk used
    for path in ("many", "huge.npy"):
        code, answer, took = await call(jp_fetch, "POST", "open", {"paths": [path]})
        tried.append((f"{path} ({answer.get('error', {}).get('message', 'opened')})", code, took))
        assert code in (200, 422, 504), (path, code, answer)
        assert took < 75, f"{path} answered in {took:.1f} s"
        if code == 504:
            await until(read_finished, 120, f"napari to finish reading {path}")

    code, status, took = await call(jp_fetch, "GET", "status")
    assert code == 200 and status["napari"]["running"] and took < 3
    assert {"cells", "stuck"} <= {layer["name"] for layer in status["napari"]["layers"]}
    print("\n".join(f"{path}: {code} in {took:.2f} s" for path, code, took in tried))
