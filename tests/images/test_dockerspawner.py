"""JupyterHub with DockerSpawner through podman's Docker API: every user in their own container
of the napari image (deploy/jupyterhub/docker_spawner.py), isolated from the others, and the
idle culler stopping an untouched one.

Networking here: each container has its own network namespace (slirp4netns). Its published
port is bound on 127.0.0.2, where the proxy on the host reaches it; from inside, the host is
10.0.2.2, which slirp4netns maps to the host's 127.0.0.1 only (the hub's API), so one user's
container has no route to another's.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.containers import engine_run, tag
from tests.support.hub import HubProcess, chp_command
from tests.support.pages import (
    click_card,
    desktop_canvas,
    drop,
    wait_for_colours,
    wait_state,
    wait_uploads,
)
from tests.support.pattern import write_tiff
from tests.support.waiting import wait_for

# The first test that needs the images waits for their build (minutes on a cold cache).
pytestmark = pytest.mark.timeout(3600)

ROOT = Path(__file__).resolve().parents[2]
DOCKER_SPAWNER = ROOT / "deploy" / "jupyterhub" / "docker_spawner.py"
USERS = ["alice", "bob"]
MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)
SANDBOX_HOST_CONFIG = {
    "network_mode": "slirp4netns:allow_host_loopback=true",
    "runtime": "runc",
    "ulimits": [
        {"Name": "nofile", "Soft": 1024, "Hard": 1024},
        {"Name": "nproc", "Soft": 4096, "Hard": 4096},
    ],
}


@pytest.fixture(scope="module")
def podman_api(container_engine, tmp_path_factory):
    """`podman system service` on a private unix socket (the Docker API for DockerSpawner)."""
    if container_engine != "podman":
        pytest.skip("this test drives podman's Docker API")
    folder = tmp_path_factory.mktemp("podman-api")
    folder.chmod(0o700)
    socket = folder / "podman.sock"
    log = (folder / "service.log").open("w")
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(socket.exists, 30, "podman's API socket")
        yield f"unix://{socket}"
    finally:
        service.terminate()
        service.wait(15)
        log.close()


def container_of(user: str) -> str:
    return f"jnd-hubtest-{user}"


@pytest.fixture(scope="module")
def hub(built, podman_api, tmp_path_factory, images_dir):
    if chp_command() is None:
        pytest.fail("configurable-http-proxy missing: run scripts/setup.sh --test")
    for user in USERS:  # leftovers of an interrupted run
        engine_run("podman", "rm", "--force", container_of(user), check=False)
        engine_run("podman", "volume", "rm", "--force", f"{container_of(user)}-home", check=False)
    hub_config = f"""
load_subconfig({str(DOCKER_SPAWNER)!r})
c.DockerSpawner.client_kwargs = {{"base_url": {podman_api!r}}}
c.DockerSpawner.image = {tag("napari")!r}
c.DockerSpawner.name_template = "jnd-hubtest-{{username}}"
c.DockerSpawner.volumes = {{"jnd-hubtest-{{username}}-home": "/home/jovyan"}}
c.DockerSpawner.remove = False  # the test reads the culled container's state, then removes it
c.DockerSpawner.host_ip = "127.0.0.2"
c.DockerSpawner.extra_host_config = {SANDBOX_HOST_CONFIG!r}
c.DockerSpawner.cmd = ["start-notebook.py", "--NapariDesktop.session=minimal"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_connect_ip = ""
c.Spawner.hub_connect_url = "http://10.0.2.2:{{hub_port}}"
c.Spawner.args = []
c.Spawner.environment = {{"JUPYTERHUB_ACTIVITY_INTERVAL": "5"}}
c.Spawner.start_timeout = 240
c.Spawner.http_timeout = 240
"""
    server = HubProcess(
        workdir=tmp_path_factory.mktemp("dockerhub"),
        users=USERS,
        user_python=Path(sys.executable),
    )
    # The containers reach the hub's API (on the host's 127.0.0.1) as 10.0.2.2.
    server.hub_config = hub_config.replace("{hub_port}", str(server.hub_port))
    server.start()
    try:
        yield server
    finally:
        (images_dir / "dockerspawner-hub.log").write_text(server.log(200_000))
        for user in USERS:
            logs = engine_run("podman", "logs", container_of(user), check=False)
            (images_dir / f"dockerspawner-{user}.log").write_text(logs.stdout + logs.stderr)
        server.stop()
        wait_for(lambda: not server.proxy_processes(), 15, "configurable-http-proxy to end")
        for user in USERS:
            engine_run("podman", "rm", "--force", container_of(user), check=False)
            engine_run(
                "podman", "volume", "rm", "--force", f"{container_of(user)}-home", check=False
            )


@pytest.fixture(scope="module")
def spawned(hub):
    for user in USERS:
        hub.spawn(user)
    for user in USERS:
        hub.wait_ready(user, timeout=300)
    return {user: hub.user_token(user) for user in USERS}


def desktop_status(hub, user: str, token: str):
    return hub.api("GET", f"/user/{user}/napari-desktop/api/status", token=token)


def test_each_user_gets_napari_in_their_own_container(hub, spawned):
    for user, token in spawned.items():

        def napari_runs(user=user, token=token):
            code, status = desktop_status(hub, user, token)
            return code == 200 and status["napari"]["running"]

        wait_for(napari_runs, 180, f"napari in {user}'s container")
        state = json.loads(
            engine_run(
                "podman", "inspect", "--format", "{{json .Config.Image}}", container_of(user)
            ).stdout
        )
        assert state.endswith(tag("napari")), state
        uid = engine_run("podman", "exec", container_of(user), "id", "-u").stdout.strip()
        assert uid == "1000"


def test_users_cannot_reach_each_other(hub, spawned):
    code, body = desktop_status(hub, "bob", spawned["alice"])
    assert code == 403, f"alice's token on bob's desktop: {code} {body}"
    code, body = desktop_status(hub, "alice", spawned["bob"])
    assert code == 403, f"bob's token on alice's desktop: {code} {body}"

    # Where the proxy sends bob's requests: his container's port on the host.
    bob_target = hub.proxy_routes()["/user/bob"]["target"]  # http://127.0.0.2:PORT
    assert bob_target.startswith("http://127.0.0.2:"), bob_target
    bob_host_port = int(bob_target.rsplit(":", 1)[1].rstrip("/"))
    probe = (
        "import socket, sys\n"
        "def reach(host, port):\n"
        "    with socket.socket() as s:\n"
        "        s.settimeout(3)\n"
        "        return s.connect_ex((host, port)) == 0\n"
        "print(reach('10.0.2.2', int(sys.argv[1])), reach('127.0.0.2', int(sys.argv[1])),"
        " reach('10.0.2.2', int(sys.argv[2])))\n"
    )
    out = engine_run(
        "podman",
        "exec",
        container_of("alice"),
        "python",
        "-c",
        probe,
        str(bob_host_port),
        str(hub.hub_port),
    ).stdout.split()
    assert out == ["False", "False", "True"], (
        f"from alice's container: bob's server reachable? (host, 127.0.0.2): {out[:2]}; "
        f"the hub's API (the control: must be reachable): {out[2:]}"
    )


def test_alice_logs_in_and_napari_draws_in_her_container(
    hub, spawned, browser, images_dir, tmp_path
):
    """As alice meets it: the hub's login form, the napari page (the hub's default URL), a
    file from her laptop dropped on it is uploaded into her container and drawn; then the
    napari card in her JupyterLab."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        hub.log_in(page, "alice")
        wait_state(page, "connected", 180)
        tiff = write_tiff(tmp_path / "laptop.tif", MAGENTA, CYAN)
        drop(page, "from alice's laptop.tif", tiff.read_bytes())
        [result] = wait_uploads(page, 1)
        assert result["status"] == "uploaded", result
        inside = engine_run(
            "podman", "exec", container_of("alice"), "sha256sum", f"/home/jovyan/{result['path']}"
        ).stdout.split()[0]
        assert inside == hashlib.sha256(tiff.read_bytes()).hexdigest()
        png = wait_for_colours(desktop_canvas(page), [MAGENTA, CYAN], 120, 0.05)
        (images_dir / "dockerspawner-alice-napari.png").write_bytes(png)

        lab = context.new_page()
        lab.goto(f"{hub.url}/user/alice/lab?reset")
        lab.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=120_000)
        tab = click_card(context, lab, "napari in a browser desktop")
        wait_state(tab, "connected", 90)
        png = wait_for_colours(desktop_canvas(tab), [MAGENTA, CYAN], 120, 0.05)
        (images_dir / "dockerspawner-alice-lab-card.png").write_bytes(png)
        lab.screenshot(path=str(images_dir / "dockerspawner-alice-lab.png"))
    finally:
        context.close()


def test_the_idle_culler_stops_an_untouched_server(hub, spawned):
    culler = hub.start_culler(timeout=30, every=5)
    try:
        wait_for(lambda: hub.server("alice") is None, 150, "the culler to stop alice's server")
        state = json.loads(
            engine_run(
                "podman", "inspect", "--format", "{{json .State}}", container_of("alice")
            ).stdout
        )
        assert not state["Running"] and state["ExitCode"] == 0, state
    finally:
        culler.terminate()
        culler.wait(15)
    log = (hub.workdir / "idle-culler.log").read_text(errors="replace")
    assert "alice" in log, log[-2000:]
