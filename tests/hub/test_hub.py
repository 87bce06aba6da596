"""A real JupyterHub with two real Unix users, each with a napari desktop.

JupyterHub + configurable-http-proxy on 127.0.0.1 (free ports), LocalProcessSpawner,
``deploy/jupyterhub/jupyterhub_config.py`` plus test settings (tests/support/hub.py). Both
users' single-user servers run this checkout from a venv made from /usr/bin/python3, with
the "minimal" session and no napari. Everything is removed afterwards, even on failure:
the hub (by pid, it stops the servers and the proxy), the users' processes (by pid), the
users, their homes and their files in /tmp.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import secrets
import shutil
import stat
import time
import urllib.parse
from pathlib import Path

import pytest

from tests.support.hub import (
    USER_VENV,
    HubProcess,
    UnixUser,
    desktop_of,
    ensure_user_venv,
    http,
    http_full,
    hub_base,
    hub_marks,
    parse_time,
    run_as,
    sweep_stale_users,
    websocket_url,
)
from tests.support.procs import XVNC_NAMES, comm
from tests.support.rfb import RFBClient, RFBError
from tests.support.waiting import run_async, wait_for

pytestmark = hub_marks(280)

CULL_TIMEOUT = 50  # > the longest delay from input to the hub (10 + 15 + 5 s, see below)
CULL_EVERY = 5


@pytest.fixture(scope="module")
def hub():
    """Two users, the hub, both servers spawned and ready; torn down completely."""
    sweep_stale_users()
    python = ensure_user_venv(USER_VENV)
    base, homes = hub_base("napari-hub-test-")
    os.chmod(homes, 0o755)
    tag = secrets.token_hex(2)
    users: list[UnixUser] = []
    server = None
    problems: list[str] = []
    try:
        for letter in "ab":
            users.append(UnixUser.create(f"ndhub{letter}{tag}", homes))
        server = HubProcess(
            base / "hub",
            [u.name for u in users],
            python,
            napari_desktop={"session": "minimal", "autostart_napari": False},
        )
        server.start()
        for user in users:
            server.spawn(user.name)
        for user in users:
            server.wait_ready(user.name)
        server.tokens.update({user.name: server.user_token(user.name) for user in users})
        server.unix_users.extend(users)
        yield server
    finally:
        if server is not None:
            problems.extend(server.stop_and_check())
        for user in users:
            left = user.processes()
            if left:
                problems.append(f"{user.name}'s processes outlived the hub: {left}")
            problems.extend(user.remove())
        shutil.rmtree(base, ignore_errors=True)
        assert not problems, "cleanup: " + "; ".join(problems)


async def manual_client(hub: HubProcess, user: UnixUser) -> RFBClient:
    """A VNC session through the hub that sends only what it is told (Raw pixels)."""
    return await RFBClient.connect_websocket(
        websocket_url(hub, user.name), hub.tokens[user.name], raw=True, follow=False
    )


@pytest.fixture(scope="module")
def desktops(hub):
    """Both desktops started at the same time through the hub's proxy (same first display)."""
    a, b = hub.unix_users

    async def connect(user: UnixUser) -> tuple[bytes, int, int]:
        client = await manual_client(hub, user)
        await client.round_trip()
        await client.close()
        return client.greeting, client.width, client.height

    async def both() -> list[tuple[bytes, int, int]]:
        return list(await asyncio.wait_for(asyncio.gather(connect(a), connect(b)), 120))

    answers = run_async(both())
    files = {
        u.name: wait_for(lambda u=u: desktop_of(u.uid), 20, f"{u.name}'s desktop") for u in (a, b)
    }
    return {"answers": dict(zip((a.name, b.name), answers)), "files": files}


def test_each_user_gets_the_vnc_greeting_through_the_hub(hub, desktops):
    for name, (greeting, width, height) in desktops["answers"].items():
        assert greeting == b"RFB 003.008\n", f"{name}: {greeting!r}"
        assert (width, height) == (1920, 1080), name
    for user in hub.unix_users:
        status, model = hub.api(
            "GET", f"/user/{user.name}/napari-desktop/api/status", token=hub.tokens[user.name]
        )
        assert status == 200, (user.name, status, model)
        assert model["running"] is True and model["session"] == "minimal", model
        # The example config's default URL: the server's root sends the user to napari.
        status, _, headers = http_full("GET", f"{hub.url}/user/{user.name}/", hub.tokens[user.name])
        assert status == 302, status
        where = urllib.parse.urlsplit(headers["location"])
        assert where.path == f"/user/{user.name}/napari-desktop/", headers["location"]
        assert urllib.parse.parse_qs(where.query) == {"app": ["napari"]}, headers["location"]


@pytest.mark.parametrize("direction", ["a->b", "b->a"])
def test_a_user_cannot_reach_another_users_desktop(hub, desktops, direction):
    users = hub.unix_users if direction == "a->b" else hub.unix_users[::-1]
    me, other = users
    token = hub.tokens[me.name]
    prefix = f"/user/{other.name}/napari-desktop"
    for method, path, body in [
        ("GET", "/", None),
        ("GET", "/?app=napari", None),
        ("GET", "/api/status", None),
        ("GET", "/api/info", None),
        ("POST", "/api/start", {"app": "napari"}),
        ("POST", "/api/stop", {}),
    ]:
        status, answer = hub.api(method, prefix + path, body, token=token)
        assert status in (403, 404), f"{me.name} {method} {prefix}{path}: {status} {answer!r}"
        assert "websocketPath" not in str(answer), "the desktop page must not be served"

    async def other_websocket() -> int:
        from websockets.exceptions import InvalidStatus

        try:
            client = await RFBClient.connect_websocket(
                websocket_url(hub, other.name), token, timeout=30
            )
        except InvalidStatus as refused:
            return int(refused.response.status_code)
        await client.close()
        return 101

    assert run_async(other_websocket()) in (403, 404), "the other user's websocket opened"
    # Without any credentials: sent to the login page (pages) or refused (API).
    status, _ = http("GET", hub.url + prefix + "/", None)
    assert status in (302, 403), status
    status, _ = http("GET", hub.url + prefix + "/api/status", None)
    assert status in (302, 403), status
    # The stop request above did not stop it.
    status, model = hub.api("GET", prefix + "/api/status", token=hub.tokens[other.name])
    assert status == 200 and model["running"] is True, (status, model)


# Run as another uid: try to list, connect to and read a desktop's private files, and to
# open its X display without the cookie (raw X11 connection setup: 0 = refused, 1 = accepted).
PROBE = r"""
import errno, json, socket, struct, sys
root, display, xauth = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {}
def attempt(name, fn):
    try:
        out[name] = fn()
    except OSError as err:
        out[name] = "error:" + (errno.errorcode.get(err.errno) or str(err))
def connect(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(path)
        return "connected:" + s.recv(12).decode("latin-1")
def read(path):
    with open(path, "rb") as f:
        return "read:%d" % len(f.read())
def cookie(path):  # (name, data) of the first Xauthority record
    data = open(path, "rb").read()
    fields, pos = [], 2
    for _ in range(4):
        (n,) = struct.unpack(">H", data[pos:pos + 2])
        fields.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return fields[2], fields[3]
def pad(b):
    return b + b"\0" * (-len(b) % 4)
def x_open(name, data):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect("/tmp/.X11-unix/X%d" % display)
        setup = struct.pack("<cxHHHHxx", b"l", 11, 0, len(name), len(data))
        s.sendall(setup + pad(name) + pad(data))
        return "x:%d" % s.recv(1)[0]
attempt("listdir", lambda: "listed:%d" % len(__import__("os").listdir(root)))
attempt("vnc", lambda: connect(root + "/vnc.sock"))
attempt("napari", lambda: connect(root + "/napari.sock"))
attempt("xauthority", lambda: read(root + "/Xauthority"))
attempt("x_no_cookie", lambda: x_open(b"", b""))
attempt("x_own_cookie", lambda: x_open(*cookie(xauth)))
print(json.dumps(out))
"""


def test_another_uid_cannot_touch_the_private_files_or_the_display(hub, desktops):
    a, b = hub.unix_users
    files = desktops["files"]
    for user in (a, b):
        mine = files[user.name]
        info = mine.root.stat()
        assert info.st_uid == user.uid and stat.S_IMODE(info.st_mode) == 0o700, mine.root
        for path in (mine.vnc_socket, mine.xauthority):
            info = path.stat()
            assert info.st_uid == user.uid and stat.S_IMODE(info.st_mode) == 0o600, path
    for me, other in ((a, b), (b, a)):
        own = files[me.name]
        target = files[other.name]
        theirs = run_as(me, PROBE, [str(target.root), str(target.display), str(own.xauthority)])
        assert theirs["listdir"] == "error:EACCES", theirs
        assert theirs["vnc"] == "error:EACCES", theirs
        assert theirs["napari"] == "error:EACCES", theirs
        assert theirs["xauthority"] == "error:EACCES", theirs
        assert theirs["x_no_cookie"] == "x:0", f"{me.name} opened {other.name}'s display: {theirs}"
        assert theirs["x_own_cookie"] == "x:0", f"{me.name}'s cookie opened the other display"
        # The same probe on the user's own desktop succeeds: the refusals above are real.
        mine = run_as(me, PROBE, [str(own.root), str(own.display), str(own.xauthority)])
        assert mine["listdir"].startswith("listed:"), mine
        assert mine["vnc"] == "connected:RFB 003.008\n", mine
        assert mine["xauthority"] == "read:" + str(own.xauthority.stat().st_size), mine
        assert mine["x_no_cookie"] == "x:0", mine
        assert mine["x_own_cookie"] == "x:1", mine


def listening_tcp_ports(uid: int) -> set[int]:
    """TCP ports in LISTEN state whose socket belongs to ``uid`` (from /proc/net/tcp*)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[7]) == uid:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_the_only_tcp_port_of_a_user_is_the_jupyter_server(hub, desktops):
    for user in hub.unix_users:
        server = hub.server(user.name)
        assert server is not None
        target = hub.proxy_routes()[f"/user/{user.name}"]["target"]
        port = int(target.rsplit(":", 1)[1])
        assert listening_tcp_ports(user.uid) == {port}, (user.name, target)


def test_two_desktops_never_share_a_display_or_a_lock(hub, desktops):
    a, b = hub.unix_users
    files = desktops["files"]
    displays = {files[u.name].display for u in (a, b)}
    assert len(displays) == 2, f"both desktops on display {displays}"
    assert displays <= set(range(40, 46)), f"both start from first_display 40: {displays}"
    for user in (a, b):
        desk = files[user.name]
        lock = Path(f"/tmp/.X{desk.display}-lock")
        pid = int(lock.read_text().strip())
        assert pid == desk.status["xvnc_pid"], (lock, pid, desk.status)
        assert comm(pid) in XVNC_NAMES, comm(pid)
        assert Path(f"/proc/{pid}").stat().st_uid == user.uid, f"{lock}'s Xvnc runs as {user.name}"
        assert lock.stat().st_uid == user.uid
        sock = Path(f"/tmp/.X11-unix/X{desk.display}")
        assert stat.S_ISSOCK(sock.stat().st_mode) and sock.stat().st_uid == user.uid, sock


@pytest.mark.skipif(
    importlib.util.find_spec("jupyterhub_idle_culler") is None,
    reason="jupyterhub-idle-culler is not installed (pip install jupyterhub-idle-culler)",
)
def test_idle_culling_counts_input_not_screen_updates(hub, desktops):
    """A streams screen updates and never touches the desktop; B moves the pointer.

    Input reaches the hub in at most ~31 s: the supervisor reads the X idle time every 10 s,
    the extension reports it every 15 s, jupyterhub-singleuser tells the hub every 5 s
    (JUPYTERHUB_ACTIVITY_INTERVAL). The hub polls the proxy's activity every 5 s, so with
    the stock proxy class A's bytes would count; InputActivityProxy (the example config)
    leaves them out. The culler (the example's role and scopes) then stops A, not B.
    """
    a, b = hub.unix_users
    seen: dict[str, list] = {"a_hub": [], "a_proxy": [], "b_hub": []}

    def hub_activity(user: UnixUser):
        server = hub.server(user.name)
        return parse_time(server["last_activity"]) if server else None

    async def scenario() -> dict:
        from websockets.exceptions import ConnectionClosed

        viewer = await manual_client(hub, a)
        worker = await manual_client(hub, b)
        start = time.time()
        culler = None
        times = {"start": start, "culler": None, "a_culled": None}
        viewing = True
        step = 0
        try:
            while time.time() - start < 120:
                step += 1
                if viewing:
                    # A: what an open tab does, take screen updates (non-incremental: they come).
                    try:
                        await viewer.request(False, (0, 0, 512, 512))
                        await viewer.read_update(10)
                    except (ConnectionClosed, RFBError, asyncio.TimeoutError, OSError):
                        viewing = False  # A's server was stopped
                # B: a person moving the mouse, and the screen updates that follow.
                await worker.pointer(100 + step % 200, 100 + step % 150)
                await worker.request(False, (0, 0, 256, 256))
                await worker.read_update(10)
                await asyncio.sleep(0.25)
                if step % 8:
                    continue
                now = time.time()
                seen["a_hub"].append((now, hub_activity(a)))
                seen["b_hub"].append((now, hub_activity(b)))
                route = hub.proxy_routes().get(f"/user/{a.name}")
                if route:
                    seen["a_proxy"].append((now, parse_time(route.get("last_activity"))))
                if culler is None and (seen["b_hub"][-1][1] or 0) >= start:
                    # B's input has reached the hub: from now on the culler must spare B.
                    culler = hub.start_culler(CULL_TIMEOUT, CULL_EVERY)
                    times["culler"] = now
                if times["a_culled"] is None and seen["a_hub"][-1][1] is None:
                    times["a_culled"] = now
                # Stop once A is gone and B, without its input, would be past the timeout too.
                if times["a_culled"] and now > start + CULL_TIMEOUT + 2.5 * CULL_EVERY:
                    break
            return times
        finally:
            if culler is not None:
                culler.terminate()
                culler.wait(10)
            await viewer.close()
            await worker.close()

    times = run_async(scenario())
    start = times["start"]
    log = hub.workdir / "idle-culler.log"
    culler_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    assert times["culler"] is not None, (
        f"B's pointer input never reached the hub's last_activity: {seen['b_hub']}\n{hub.log()}"
    )
    # The proxy did see A's bytes (the stock proxy class would have counted them) ...
    proxy_times = [value for _, value in seen["a_proxy"] if value]
    assert proxy_times and max(proxy_times) > start + 5, f"CHP activity of A: {seen['a_proxy']}"
    # ... but A's activity on the hub never moved past the start of the streaming,
    a_times = [value for _, value in seen["a_hub"] if value]
    assert a_times and max(a_times) < start, f"A's last_activity advanced: {seen['a_hub']}"
    # and the culler stopped A while A's tab was still receiving screen updates.
    assert times["a_culled"] is not None, f"A was not culled: {seen['a_hub']}\n{culler_log}"
    # B, with input, kept advancing and was spared, also after its pre-input activity
    # would have been older than the timeout.
    server_b = hub.server(b.name)
    assert server_b is not None and server_b["ready"], f"B was culled:\n{culler_log}"
    b_times = [value for _, value in seen["b_hub"] if value]
    assert max(b_times) > times["culler"] - 35, seen["b_hub"]
    assert time.time() > start + CULL_TIMEOUT, "B was watched for a whole timeout"
