"""Zero to JupyterHub's single-user pod for deploy/z2jh/config.yaml, made by KubeSpawner's own
code and run with `podman kube play` on the napari image (tests/images/z2jh_pod.py): it runs
as uid 1000 gid 100 with the home on the claim's volume, napari draws in Chromium, and a file
written in the home is still there after `podman kube down` and `play`."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.images.containers import SANDBOX_BUILD_FLAGS, engine_run, request_json, tag
from tests.images.z2jh_pod import claim_names, pod_manifest, podman_pod
from tests.support.pages import wait_for_colours
from tests.support.pattern import write_pattern
from tests.support.procs import free_port
from tests.support.waiting import wait_for

pytestmark = [
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        importlib.util.find_spec("kubespawner") is None,
        reason="pip install jupyterhub-kubespawner (the test extra)",
    ),
]

USER = "alice"
NAPARI_CARD = ".jp-LauncherCard[title*='napari in a browser desktop']"


def containers_conf(tmp: Path) -> dict[str, str]:
    """`podman kube play` takes no --runtime or --ulimit: this machine's needs (runc,
    rlimits no higher than the sandbox allows) go in a containers.conf of its own."""
    flags = SANDBOX_BUILD_FLAGS.split()
    runtime = flags[flags.index("--runtime") + 1]
    ulimits = [flags[i + 1] for i, flag in enumerate(flags) if flag == "--ulimit"]
    conf = tmp / "containers.conf"
    conf.write_text(
        f'[containers]\ndefault_ulimits = {json.dumps(ulimits)}\n[engine]\nruntime = "{runtime}"\n'
    )
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


class KubePod:
    def __init__(self, tool: str, yaml_path: Path, pod: dict, port: int, env: dict) -> None:
        self.tool, self.yaml_path, self.pod, self.port, self.env = tool, yaml_path, pod, port, env
        self.name = pod["metadata"]["name"]
        self.container = f"{self.name}-{pod['spec']['containers'][0]['name']}"

    def kube(self, *args: str, check: bool = True):
        done = subprocess.run(
            [self.tool, "kube", *args, str(self.yaml_path)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
        )
        if check:
            assert done.returncode == 0, f"podman kube {args}: {done.stdout}{done.stderr}"
        return done

    def play(self) -> str:
        """The pod started; the token of its server's printed URL."""
        self.kube("play", "--network", "slirp4netns")

        def printed():
            logs = engine_run(self.tool, "logs", self.container, check=False)
            found = re.findall(r"/lab\?token=([0-9a-f]+)\n", logs.stdout + logs.stderr)
            return found[-1] if found else None

        return wait_for(printed, 120, f"the token URL in {self.container}'s output", step=0.5)

    def down(self) -> None:
        self.kube("down", check=False)

    def exec(self, script: str) -> str:
        return engine_run(self.tool, "exec", self.container, "bash", "-c", script).stdout

    def request(self, token: str, method: str, path: str, body=None):
        url = f"http://127.0.0.1:{self.port}/{path}"
        return request_json(method, url, token, body, timeout=120)


@pytest.fixture(scope="module")
def kube_pod(built, container_engine, images_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("z2jh")
    pod = podman_pod(pod_manifest(tag("napari"), USER, tmp), free_port())
    assert claim_names(pod) == [f"claim-{USER}"], pod["spec"]["volumes"]
    yaml_path = images_dir / "z2jh-pod.yaml"
    yaml_path.write_text(yaml.safe_dump(pod))
    port = pod["spec"]["containers"][0]["ports"][0]["hostPort"]
    box = KubePod(container_engine, yaml_path, pod, port, containers_conf(tmp))
    box.down()
    engine_run(container_engine, "volume", "rm", "--force", f"claim-{USER}", check=False)
    engine_run(container_engine, "volume", "create", f"claim-{USER}")
    try:
        yield box
    finally:
        logs = engine_run(container_engine, "logs", box.container, check=False)
        (images_dir / "z2jh-pod.log").write_text(logs.stdout + logs.stderr)
        box.down()
        engine_run(container_engine, "volume", "rm", "--force", f"claim-{USER}", check=False)


def test_pod_of_kubespawner_runs_napari_as_uid_1000_with_home_on_the_claim(
    kube_pod, browser, images_dir, tmp_path
):
    token = kube_pod.play()
    ids = kube_pod.exec(
        "id -u; id -g; stat -c '%u %g' $HOME; awk '$5 == \"/home/jovyan\"' /proc/self/mountinfo"
    ).splitlines()
    assert ids[:3] == ["1000", "100", "1000 100"], ids
    assert len(ids) > 3, f"/home/jovyan is not a mount of its own (the claim's volume): {ids}"

    pattern = base64.b64encode(write_pattern(tmp_path / "pattern.png").read_bytes()).decode()
    for name, model in (
        ("pattern.png", {"type": "file", "format": "base64", "content": pattern}),
        ("kept.txt", {"type": "file", "format": "text", "content": "kept"}),
    ):
        code, body = kube_pod.request(token, "PUT", f"api/contents/{name}", model)
        assert code in (200, 201), body
    code, body = kube_pod.request(
        token, "POST", "napari-desktop/api/open", {"paths": ["pattern.png"]}
    )
    assert code == 200, body

    # The image's screen size: napari, maximized when the pod started, stays whole when the
    # page fits the remote screen to the window.
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{kube_pod.port}/lab?token={token}")
        page.wait_for_selector(NAPARI_CARD, timeout=90_000)
        with context.expect_page(timeout=30_000) as new_tab:
            page.locator(NAPARI_CARD).first.click()
        tab = new_tab.value
        tab.wait_for_load_state()
        canvas = tab.locator("#jp-NapariDesktop-root canvas").first
        try:
            png = wait_for_colours(canvas, None, 180)
        finally:
            tab.screenshot(path=str(images_dir / "z2jh-pod-napari-page.png"))
        (images_dir / "z2jh-pod-napari.png").write_bytes(png)
    finally:
        context.close()

    kube_pod.down()
    token = kube_pod.play()
    code, body = kube_pod.request(token, "GET", "api/contents/kept.txt?content=1")
    assert code == 200 and body["content"] == "kept", body
