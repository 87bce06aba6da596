"""docs/jupyterhub.md's DockerSpawner deployment, its two lines as written: `pip install ...`
in the project's venv, then `jupyterhub -f deploy/jupyterhub/jupyterhub_config_docker.py`
with nothing added to the config (PAM login, the napari image, a volume per user, 4G, ports on
127.0.0.1, the hub's API for the containers on the bridge). A Unix user with a password logs
in with the host's Chromium through the hub's form, lands on the napari page, drops a TIFF
on it and napari shows it; stopping the hub removes her container and keeps her volume.

The hub listens on every interface, as the doc's config says; this machine serves nothing
beyond its loopback, so the hub, podman's Docker API and the containers' bridge run in a
network namespace of their own (netns_hub.py); the browser reaches the hub's port through a
relay from the host's 127.0.0.1. On a machine with Docker nothing of that is needed; with
podman, DOCKER_HOST names its API (docs/jupyterhub.md).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.images.containers import (
    REPO,
    SANDBOX_RUN_FLAGS,
    containers_conf,
    doc_commands,
    engine_run,
    run_as_typed,
    tag,
)
from tests.support.hub import (
    UnixUser,
    chp_command,
    fill_login_form,
    login_page_answers,
    node_bin_dir,
)
from tests.support.pages import desktop_canvas, drop, wait_for_colours, wait_state, wait_uploads
from tests.support.pattern import write_tiff
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(3600)

DOC = "docs/jupyterhub.md"
INSTALL = "pip install jupyterhub dockerspawner"
START = "jupyterhub -f deploy/jupyterhub/jupyterhub_config_docker.py"
USER = "jnddocker"
CONTAINER, VOLUME = f"napari-desktop-{USER}", f"napari-desktop-home-{USER}"
MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)


def remove_leftovers() -> None:
    engine_run("podman", "rm", "--force", "--time=0", CONTAINER, check=False)
    engine_run("podman", "volume", "rm", "--force", VOLUME, check=False)


def test_the_docker_spawner_lines_as_written(
    built, container_engine, browser, images_dir, tmp_path, figures
):
    if container_engine != "podman":
        pytest.skip("this test serves the Docker API with podman")
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare (a network namespace for the hub)")
    if node_bin_dir() is None or chp_command() is None:
        pytest.fail("configurable-http-proxy missing: run scripts/setup.sh --test")
    install, start = (doc_commands(DOC, (line,)) for line in (INSTALL, START))
    assert len(install) == 1 and start == [START], (install, start)
    assert tag("napari") == "jupyter-napari-desktop:napari", "the config's default image"

    venv_bin = str(Path(sys.executable).parent)
    # The machine has configurable-http-proxy ("and configurable-http-proxy"): the tests'.
    proxy_bin = str(Path(chp_command() or "").parent)
    path = os.pathsep.join([proxy_bin, node_bin_dir() or "", venv_bin, os.environ["PATH"]])
    run_as_typed(install[0], dict(os.environ, PATH=path), images_dir / "docker-doc-pip.log", 600)

    # The checkout's deploy/ in a folder of its own: JupyterHub writes its database, cookie
    # secret and the proxy's pid file into the working directory.
    workdir = tmp_path / "hub"
    shutil.copytree(REPO / "deploy", workdir / "deploy")
    # podman's API gets this machine's container settings (runc, rlimits) from
    # containers.conf, as `docker` gets a daemon's; the network is the bridge the config asks for.
    conf = tmp_path / "containers.conf"
    flags = os.environ.get("CONTAINER_RUN_FLAGS", SANDBOX_RUN_FLAGS)
    conf.write_text(containers_conf(re.sub(r"--network \S+", "", flags)))
    remove_leftovers()
    subprocess.run(["userdel", USER], capture_output=True, check=False)  # an interrupted run's
    (tmp_path / "homes").mkdir()
    user = UnixUser.create(USER, tmp_path / "homes")
    password = secrets.token_hex(8)
    subprocess.run(["chpasswd"], input=f"{USER}:{password}", text=True, check=True)
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    netns = subprocess.Popen(
        [
            *("unshare", "--net", "--fork", sys.executable, "-m", "tests.images.netns_hub"),
            *("--workdir", str(workdir), "--listen-fd", str(listener.fileno())),
            *("--containers-conf", str(conf), "--path", path),
            *("--first-container", tag("napari"), start[0]),
        ],
        cwd=REPO,
        pass_fds=(listener.fileno(),),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    listener.close()
    assert netns.stdin and netns.stdout
    stopped = False
    try:
        started = json.loads(netns.stdout.readline() or "{}")
        assert "pid" in started, f"the hub did not start: {log_of(workdir)}"

        def login_page() -> bool:
            if netns.poll() is not None:
                raise AssertionError(f"jupyterhub ended: {log_of(workdir)}")
            return login_page_answers(url)

        wait_for(login_page, 120, "the hub's login page", step=0.5)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            fill_login_form(page, url, USER, password)
            page.click("#login_submit")
            page.wait_for_url(
                re.compile(rf".*/user/{USER}/napari-desktop/\?app=napari"), timeout=300_000
            )
            wait_state(page, "connected", 180)
            tiff = write_tiff(tmp_path / "from the laptop.tif", MAGENTA, CYAN)
            drop(page, "from the laptop.tif", tiff.read_bytes())
            [result] = wait_uploads(page, 1)
            assert result["status"] == "uploaded", result
            png = wait_for_colours(desktop_canvas(page), [MAGENTA, CYAN], 120, 0.05)
            (images_dir / "docker-doc-napari.png").write_bytes(png)
            page.screenshot(path=str(images_dir / "docker-doc-page.png"))
        finally:
            context.close()

        inspect = engine_run("podman", "inspect", "--format", "{{json .}}", CONTAINER).stdout
        [box] = json.loads(inspect)
        assert box["HostConfig"]["Memory"] == 4 * 1024**3, box["HostConfig"]["Memory"]
        bindings = [b for p in box["HostConfig"]["PortBindings"].values() for b in p]
        assert bindings and all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings
        inside = engine_run("podman", "exec", CONTAINER, "id", "-u").stdout.strip()
        assert inside == "1000"

        # Stopping the hub stops her server: DockerSpawner removes the container, the volume
        # with her files stays for the next start.
        netns.stdin.close()
        ended = json.loads(netns.stdout.readline() or "{}")
        netns.wait(120)
        stopped = True
        assert ended.get("exit") == 0, f"jupyterhub: {ended} {log_of(workdir)}"
        gone = engine_run("podman", "container", "exists", CONTAINER, check=False)
        assert gone.returncode == 1, "the user's container is still there"
        kept = engine_run("podman", "volume", "exists", VOLUME, check=False)
        assert kept.returncode == 0, "the user's volume is gone"
        # The config's idle culler reached the hub's API on the bridge (and did not die).
        assert "200 GET /hub/api/users" in log_of(workdir, 200_000), log_of(workdir)
        figures["DockerSpawner doc lines: commands"] = [install[0], start[0]]
    finally:
        if not stopped:
            netns.stdin.close()
            try:
                netns.wait(120)
            except subprocess.TimeoutExpired:
                netns.kill()
        for name in ("command.log", "podman-service.log"):
            if (workdir / name).exists():
                shutil.copy(workdir / name, images_dir / f"docker-doc-{name}")
        remove_leftovers()
        assert not user.remove()


def log_of(workdir: Path, chars: int = 3000) -> str:
    try:
        return (workdir / "command.log").read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
