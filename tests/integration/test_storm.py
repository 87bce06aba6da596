"""A storm of concurrent start/stop/restart/open/status requests against a real server.

8 clients x 25 random calls: only documented statuses (never a 500, never a hang), and when
the storm ends the reported state matches the processes: running <=> Xvnc accepts on its
socket, no process outside the server's tree, no private directory left over.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tifffile
from tornado.httpclient import HTTPClientError

from jupyter_napari_desktop.procs import rfb_greets
from tests.integration.conftest import needs_xvnc
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(900)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")

CLIENTS, CALLS = 8, 25
STORM_LIMIT = 600  # seconds for the whole storm
CALL_TIMEOUT = 200  # a call that takes longer is a hang
CALLS_BY_WEIGHT = [("status", 40), ("start", 20), ("stop", 6), ("restart", 7), ("open", 27)]
# What each kind of call may answer (docs/napari-api.md), and the 503s a storm may cause.
DOCUMENTED = {
    "status": {200},
    "start": {200, 409},
    "stop": {200},
    "restart": {200},
    "open": {200, 409, 422, 503, 504},
}
STORM_503 = ("stopped while napari was starting", "napari stopped answering")


def runtime_dirs(parent: Path) -> set[Path]:
    return set(parent.glob("napari-desktop-*"))


def orphans(server: JupyterServer) -> set[int]:
    """Processes with the server's HOME that are not in its process tree."""
    assert server.proc is not None
    tree = set(procs.descendants(server.proc.pid)) | {server.proc.pid, os.getpid()}
    return server.leftovers() - tree


@pytest.fixture
def server(tmp_path):
    # Our private directories only, not other tests' (short: unix socket paths are short).
    runtime = Path(tempfile.mkdtemp(prefix="storm-", dir="/tmp"))
    options = {"session": "minimal", "autostart_napari": False, "runtime_dir": str(runtime)}
    proc = JupyterServer(tmp_path, options)
    proc.runtime = runtime
    tifffile.imwrite(proc.root / "cells.tif", np.full((16, 16), 5, np.uint8))
    os.mkfifo(proc.root / "pipe.tif")
    yield proc.start()
    proc.stop_all()
    shutil.rmtree(runtime, ignore_errors=True)


def client(server: JupyterServer, seed: int, results: list) -> None:
    rng = random.Random(seed)
    kinds = [kind for kind, weight in CALLS_BY_WEIGHT for _ in range(weight)]
    for _ in range(CALLS):
        kind = rng.choice(kinds)
        if kind == "status":
            method, path, body = "GET", "napari-desktop/api/status", None
        elif kind == "open":
            target = rng.choice(["cells.tif", "cells.tif", "pipe.tif"])
            method, path, body = "POST", "napari-desktop/api/open", {"paths": [target]}
        elif kind == "start":
            body = {"app": rng.choice(["desktop", "napari"]), "reconnect": rng.random() < 0.3}
            method, path = "POST", "napari-desktop/api/start"
        else:
            method, path, body = "POST", f"napari-desktop/api/{kind}", {}
        started = time.monotonic()
        try:
            code, answer = server.request(method, path, body, timeout=CALL_TIMEOUT)
        except OSError as err:  # a timeout or a dropped connection
            code, answer = 0, {"error": {"message": f"no answer: {err}"}}
        results.append((kind, code, answer, time.monotonic() - started))


def test_concurrent_requests_get_documented_answers_and_state_matches(server):
    before = runtime_dirs(server.runtime)
    results: list = []
    threads = [
        threading.Thread(target=client, args=(server, seed, results), daemon=True)
        for seed in range(CLIENTS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1, STORM_LIMIT - (time.monotonic() - started)))
    took = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), f"the storm hung ({took:.0f} s)"
    assert len(results) == CLIENTS * CALLS

    tally = Counter((kind, code) for kind, code, _, _ in results)
    slowest = max(seconds for *_, seconds in results)
    print(f"\nstorm: {len(results)} calls in {took:.1f} s, slowest {slowest:.1f} s")
    print("  " + ", ".join(f"{kind} {code}: {n}" for (kind, code), n in sorted(tally.items())))
    print("  503s:", Counter(a["error"]["message"][:60] for _, c, a, _ in results if c == 503))
    bad = [
        (kind, code, answer)
        for kind, code, answer, _ in results
        if code not in DOCUMENTED[kind]
        or (code == 503 and not any(s in answer["error"]["message"] for s in STORM_503))
    ]
    assert not bad, f"undocumented answers: {bad[:5]}\n{server.log()}"

    # The reported state matches the processes.
    code, status = server.request("GET", "napari-desktop/api/status")
    assert code == 200
    new_dirs = runtime_dirs(server.runtime) - before
    assert not orphans(server), f"orphans: {[procs.cmdline(p) for p in orphans(server)]}"
    if status["running"]:
        assert len(new_dirs) == 1, new_dirs
        (root,) = new_dirs
        assert rfb_greets(root / "vnc.sock", timeout=5), "running, so Xvnc accepts on its socket"
    else:
        assert not new_dirs, f"stopped, but private directories are left: {new_dirs}"
        assert server.xvnc() is None

    # Without stops in between, concurrent opens are each read or told napari is busy.
    opens: list = []

    def opener() -> None:
        for _ in range(5):
            opens.append(
                server.request("POST", "napari-desktop/api/open", {"paths": ["cells.tif"]})
            )

    threads = [threading.Thread(target=opener, daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT)
    codes = Counter(code for code, _ in opens)
    print(f"  concurrent opens: {dict(codes)}")
    assert set(codes) <= {200, 409} and codes[200] >= 1, [a for c, a in opens if c != 200][:3]

    # And a stop at the end leaves nothing.
    assert server.request("POST", "napari-desktop/api/stop", {})[0] == 200
    wait_for(lambda: not server.desktop_pids(), 15, "the desktop's processes to end")
    assert not runtime_dirs(server.runtime) - before
    assert not orphans(server)


async def test_stop_during_start_and_restart_are_serialized(jp_fetch, manager):
    """A stop that arrives while a start runs waits for it (it used to make the start read
    a process that had become None: a 500); two restarts and a stop end stopped."""

    async def post(endpoint, body=None):
        try:
            response = await jp_fetch(
                "napari-desktop", "api", endpoint, method="POST", body=json.dumps(body or {})
            )
        except HTTPClientError as err:
            return err.code, json.loads(err.response.body)
        return response.code, json.loads(response.body)

    starting = asyncio.ensure_future(post("start"))
    for _ in range(400):  # until the supervisor is started, before its desktop is ready
        if manager.proc is not None:
            break
        await asyncio.sleep(0.005)
    assert manager.proc is not None and not manager.running(), "caught the start midway"
    (stop, stopped), (start, started) = await post("stop"), await starting
    assert (start, stop) == (200, 200), (started, stopped)
    assert started["running"] is True and stopped["running"] is False
    assert manager.proc is None and manager.paths is None
    # The three arrive in no fixed order; each is served whole, one after the other.
    answers = await asyncio.gather(post("restart"), post("restart"), post("stop"))
    assert [code for code, _ in answers] == [200, 200, 200], answers
    assert manager.proc is None or manager.running(), "a desktop is either stopped or up"
    assert (await post("stop"))[0] == 200
    assert manager.proc is None and manager.paths is None
