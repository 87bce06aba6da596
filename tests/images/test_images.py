"""The images, built and run as a user does: `docker run -p 127.0.0.1:PORT:8888 IMAGE`, the
token URL, the napari card, a host folder as a volume, `docker stop`, `docker kill` and
`docker start` (test_docker_doc.py runs the docs' own `docker run` lines as written).

Everything is real: the images come from scripts/build-images.sh (tests/images/conftest.py),
the containers from podman, the clicks from Debian's Chromium.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from typing import Any

import numpy as np
import pytest

from jupyter_napari_desktop.napari_side.session_keep import load_session
from tests.images.containers import (
    BUILD_SCRIPT,
    GPU,
    NAME,
    REPO,
    Build,
    Container,
    build_images,
    build_report,
    doc_builds,
    elapsed,
    engine_run,
    listening_ports,
    own_volume,
    prune_images,
    run_as_typed,
    run_flags,
    storage_free_gb,
    tag,
)
from tests.support.pages import wait_for_colours
from tests.support.pattern import write_pattern, write_tiff
from tests.support.rfb import RFBClient
from tests.support.waiting import run_async, wait_for

# The first test that needs the images waits for their build (minutes on a cold cache).
pytestmark = pytest.mark.timeout(3600)

MAGENTA, CYAN = (255, 0, 255), (0, 255, 255)
PATTERN = "/home/jovyan/work/pattern.png"
# Free space the napari-gpu build needs: CUDA PyTorch's wheels and their install in the
# build's layer, then that layer copied into the image (measured: 17 GB at its peak).
GPU_BUILD_GB = 25


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    folder = own_volume(tmp_path_factory.mktemp("volume") / "work")
    write_pattern(folder / "pattern.png")
    write_tiff(folder / "cells.tif", MAGENTA, CYAN)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


@pytest.fixture(scope="module")
def napari(built, container_engine, volume, images_dir, figures):
    """The napari image as `docker run -p 127.0.0.1:PORT:8888 -v DIR:/home/jovyan/work`,
    with a --NapariDesktop option on the command line (napari opens the test pattern)."""
    started = time.monotonic()
    box = Container(container_engine, "napari", "jnd-test-napari", volume)
    box.run(f"--NapariDesktop.napari_args={PATTERN}", "--NapariDesktop.session=minimal")
    try:
        box.wait_napari(timeout=180)
        figures["container start -> napari running (s)"] = elapsed(started)
        yield box
    finally:
        (images_dir / "napari-container.log").write_text(box.logs())
        box.remove()


def test_images_run_as_the_notebook_user_with_the_start_command(built, container_engine):
    for image in ("desktop", "napari"):
        config = json.loads(
            engine_run(
                container_engine, "image", "inspect", "--format", "{{json .Config}}", tag(image)
            ).stdout
        )
        assert config["User"] == "1000", config["User"]
        assert config["Entrypoint"][:1] == ["tini"], config["Entrypoint"]
        assert "8888/tcp" in config["ExposedPorts"]
    out = engine_run(
        container_engine,
        "run",
        "--rm",
        *run_flags(),
        tag("desktop"),
        "bash",
        "-c",
        "id -u; id -g; id -un; echo $HOME; command -v jupyterhub-singleuser; "
        "command -v node || echo no-node",
    ).stdout.split()
    assert out[:4] == ["1000", "100", "jovyan", "/home/jovyan"], out
    assert out[4].endswith("/jupyterhub-singleuser"), out
    assert out[5] == "no-node", f"Node.js must not reach the image: {out}"


def test_tigervnc_1_15_and_the_doctor_names_the_renderer(built, container_engine):
    """Debian 13's TigerVNC 1.15 (Xvnc -rendernode); without a /dev/dri device the doctor
    says napari draws on the CPU, and why."""
    out = engine_run(
        container_engine,
        "run",
        "--rm",
        *run_flags(),
        tag("napari"),
        "bash",
        "-c",
        "Xvnc -help 2>&1 | grep TigerVNC; jupyter napari-desktop doctor 2>&1",
        timeout=300,
    ).stdout
    assert "Xvnc TigerVNC 1.15" in out, out
    assert "Renderer: napari's OpenGL: Mesa llvmpipe on the CPU; auto: no /dev/dri/renderD*" in (
        out
    ), out
    assert re.search(r"\[OK  \] OpenGL: llvmpipe", out), out


def test_run_prints_the_token_url_and_serves_on_all_interfaces(napari):
    logs = napari.logs()
    assert "http://127.0.0.1:8888/lab?token=" in logs, logs[-2000:]
    listening = napari.exec("cat /proc/net/tcp /proc/net/tcp6")
    assert "00000000:22B8" in listening, "the server listens on 0.0.0.0:8888 inside"


def test_napari_card_draws_the_test_pattern(napari, browser, images_dir, figures):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{napari.url}lab?token={napari.token()}")
        page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
        page.screenshot(path=str(images_dir / "container-lab.png"))
        clicked = time.monotonic()
        with context.expect_page(timeout=30_000) as new_tab:
            page.locator(".jp-LauncherCard[title*='napari in a browser desktop']").first.click()
        tab = new_tab.value
        tab.wait_for_load_state()
        assert "napari-desktop/?app=napari" in tab.url
        canvas = tab.locator("#jp-NapariDesktop-root canvas").first
        png = wait_for_colours(canvas, None, 120)
        (images_dir / "container-napari-card.png").write_bytes(png)
        tab.screenshot(path=str(images_dir / "container-napari-page.png"))
        figures["click on napari -> pattern drawn (s)"] = elapsed(clicked)
        figures["PSS, napari container with the pattern open (MiB)"] = napari.pss_mib()
    finally:
        context.close()


def test_open_a_tiff_of_the_volume_in_napari(napari, browser, images_dir):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{napari.url}lab/tree/work?token={napari.token()}")
        item = page.locator(".jp-DirListing-item", has_text="cells.tif").first
        item.wait_for(timeout=90_000)
        with context.expect_page(timeout=30_000) as new_tab:
            item.click(button="right")
            page.locator(".lm-Menu-item:visible", has_text="Open in napari").click()
        tab = new_tab.value
        tab.wait_for_load_state()
        wait_for(
            lambda: "cells" in [layer["name"] for layer in napari.status()["napari"]["layers"]],
            120,
            "the layer 'cells' in napari",
        )
        canvas = tab.locator("#jp-NapariDesktop-root canvas").first
        png = wait_for_colours(canvas, [MAGENTA, CYAN], 120)
        (images_dir / "container-open-in-napari.png").write_bytes(png)
        page.screenshot(path=str(images_dir / "container-open-in-napari-lab.png"))
    finally:
        context.close()


def test_inside_the_container(napari):
    """uid 1000 throughout, no TCP port but the server's, VNC on a private unix socket."""
    uids = set(napari.exec("ps -eo uid=").split())
    assert uids == {"1000"}, f"every process runs as jovyan: {uids}"
    ports = listening_ports(napari.exec("cat /proc/net/tcp /proc/net/tcp6"))
    assert ports == {8888}, f"only the Jupyter server listens on TCP: {ports}"
    modes = napari.exec(
        'for f in /tmp/napari-desktop-*; do stat -c \'%a %U\' "$f" "$f/vnc.sock"; done'
    ).split("\n")
    assert modes[:2] == ["700 jovyan", "600 jovyan"], modes
    # Chinese, Japanese and Korean names (files, layers) are drawn as text, not boxes.
    cjk = napari.exec("fc-list ':charset=7d30 80de 3042 d55c' family").strip()
    assert cjk, "no font of the image has 細胞, あ and 한: napari would draw boxes"
    # The video path's encoder is there (c.NapariDesktop.video = "auto" needs no rebuild).
    encoder = napari.exec(
        "python -c 'from jupyter_napari_desktop.server import video_codec as v; "
        'print(v.available() or "libx264 here")\''
    ).strip()
    assert encoder.endswith("libx264 here"), f"the image cannot encode H.264: {encoder}"


def test_stop_exits_cleanly_and_the_volume_keeps_files(built, container_engine, tmp_path, figures):
    volume = own_volume(tmp_path / "work")
    first = Container(container_engine, "napari", "jnd-test-stop", volume).run()
    try:
        first.wait_napari(timeout=180)
        code, body = first.request(
            "PUT",
            "api/contents/work/notes.txt",
            {"type": "file", "format": "text", "content": "kept"},
        )
        assert code in (200, 201), body
        started = time.monotonic()
        engine_run(container_engine, "stop", "--time", "10", first.name, timeout=60)
        stop_s = elapsed(started)
        state = first.state()
        assert state["ExitCode"] == 0, state
        assert stop_s < 10, f"podman stop took {stop_s} s: SIGTERM must end the container"
        figures["podman stop -> exited (s)"] = stop_s
    finally:
        first.remove()
    assert (volume / "notes.txt").read_text() == "kept"
    with Container(container_engine, "napari", "jnd-test-stop-2", volume).run() as second:
        code, body = second.request("GET", "api/contents/work/notes.txt?content=1")
        assert code == 200 and body["content"] == "kept", body


def test_kill_then_start_brings_the_desktop_back(built, container_engine, tmp_path):
    box = Container(container_engine, "napari", "jnd-test-kill", own_volume(tmp_path / "w"))
    with box.run("--NapariDesktop.session=minimal"):
        before = box.wait_napari(timeout=180)
        engine_run(container_engine, "kill", box.name)
        wait_for(lambda: not box.state()["Running"], 30, "the killed container to end")
        # the lock of the display napari was on; podman's cleanup of the killed container
        # unmounts its storage while `cp` mounts it again, so a first look may see nothing
        display = str(before["display"]).lstrip(":")
        lock = box.tool, "cp", f"{box.name}:/tmp/.X{display}-lock", str(tmp_path / "lock")
        wait_for(
            lambda: engine_run(*lock, check=False).returncode == 0,
            20,
            f"the killed run's X lock /tmp/.X{display}-lock ({before}; {box.logs()[-1500:]})",
            step=1,
        )
        tokens = box.logs().count("/lab?token=")
        engine_run(container_engine, "start", box.name)
        wait_for(lambda: box.logs().count("/lab?token=") > tokens, 90, "the restarted server")
        after = box.wait_napari(timeout=180)
        assert after["running"] and after["display"] == before["display"], (before, after)


def test_a_bad_option_stops_the_container_with_the_reason(built, container_engine, tmp_path):
    box = Container(container_engine, "desktop", "jnd-test-bad", own_volume(tmp_path / "w"))
    with box.run("--NapariDesktop.session=kde"):
        wait_for(lambda: not box.state()["Running"], 90, "the container to stop")
        assert box.state()["ExitCode"] != 0
        logs = box.logs()
        assert "'session' trait of a NapariDesktop" in logs and "'kde'" in logs, logs[-2000:]


def test_a_port_option_replaces_the_default_port(built, container_engine, tmp_path):
    """`docker run IMAGE --ServerApp.port=9999` (start-notebook.py's own example form): the
    server listens on 9999 instead of refusing two values for the port."""
    box = Container(container_engine, "desktop", "jnd-test-port", own_volume(tmp_path / "w"))
    with box.run("--ServerApp.port=9999"):

        def ports() -> set[int]:
            if not box.state()["Running"]:
                raise AssertionError(f"the container ended: {box.logs()[-2000:]}")
            return listening_ports(box.exec("cat /proc/net/tcp /proc/net/tcp6"))

        assert wait_for(lambda: 9999 in ports(), 90, "a server on port 9999"), box.logs()
        assert 8888 not in ports()


def test_memory_of_an_idle_desktop_container(built, container_engine, tmp_path, figures):
    """PSS of the desktop image with its desktop started (XFCE, no napari)."""
    box = Container(container_engine, "desktop", "jnd-test-idle", own_volume(tmp_path / "w"))
    with box.run():
        code, body = box.request("POST", "napari-desktop/api/start", {})
        assert code == 200, body
        wait_for(lambda: box.status().get("running"), 60, "the desktop to run")
        wait_for(lambda: "xfdesktop" in box.exec("ps -eo comm="), 60, "XFCE's desktop")
        figures["PSS, desktop container idle, XFCE (MiB)"] = box.pss_mib()


@pytest.mark.skipif(not GPU, reason="IMAGES_GPU=0: the napari-gpu image is not built")
def test_gpu_image_builds_and_napari_lists_cellpose(
    built, container_engine, terminal, images_dir, figures
):
    """napari-gpu (CUDA PyTorch, Cellpose, its napari plugin) builds on the napari image, by
    docs/docker.md's commands typed as written (build_gpu_image); its build checks the
    imports and napari's plugin list, and so does a container of it. The image (the largest
    by far) is removed after the test, and one an earlier run left before it is built
    again."""
    engine_run(container_engine, "rmi", "--force", tag("napari-gpu"), check=False, timeout=600)
    free = storage_free_gb(container_engine)
    figures["free GB before the napari-gpu build"] = free
    assert free >= GPU_BUILD_GB, (
        f"the napari-gpu build needs about {GPU_BUILD_GB} GB free where {container_engine} "
        f"keeps its images, and {free} GB are free: free space ({container_engine} image "
        "prune, old images), or leave this image out with IMAGES_GPU=0"
    )
    try:
        build = build_gpu_image(container_engine, terminal, images_dir, figures)
        figures["build"]["seconds"]["napari-gpu"] = build.seconds["napari-gpu"]
        figures["build"]["gigabytes"]["napari-gpu"] = build.gigabytes["napari-gpu"]
        # The build's own check prints only when its layer is built, not when it comes from
        # the cache: run the same script in a container of the image.
        script = REPO / "docker" / "napari-gpu" / "check_gpu_image.py"
        out = engine_run(
            container_engine,
            "run",
            "--rm",
            *run_flags(),
            "-v",
            f"{script}:/tmp/check_gpu_image.py:ro",
            tag("napari-gpu"),
            "python",
            "/tmp/check_gpu_image.py",
            timeout=300,
        ).stdout
        assert "napari-cellposesam 0.2.3: napari lists it" in out, out
        assert "(CUDA 13." in out, out
    finally:
        engine_run(container_engine, "rmi", "--force", tag("napari-gpu"), check=False, timeout=600)
        prune_images(container_engine)


def build_gpu_image(tool: str, terminal: dict, images_dir, figures) -> Build:
    """docs/docker.md's napari-gpu commands as a person types them in the repository root:
    `scripts/build-images.sh napari-gpu` builds it, then its `docker build` line and
    `scripts/build-images.sh all` (every step from the layers just built). With another
    IMAGE_NAME than the doc's, build-images.sh as the other image tests run it."""
    if NAME != "jupyter-napari-desktop":
        return build_images(tool, ["napari-gpu"], images_dir / "build-gpu.log", 3600)
    gpu = doc_builds()[1]
    first = next(c for c in gpu if c.startswith("scripts/build-images.sh napari-gpu"))
    text = run_as_typed(first, terminal, images_dir / "build-gpu.log", 3600)
    build = build_report(text)
    assert list(build.seconds) == ["napari-gpu"], text[-3000:]
    for n, command in enumerate([c for c in gpu if c != first], 1):
        started = time.monotonic()
        run_as_typed(command, terminal, images_dir / f"build-gpu-{n}.log", 3600)
        figures[f"docs/docker.md: {command} (s)"] = round(time.monotonic() - started)
    return build


def test_a_failed_build_step_names_the_image(built, container_engine, tmp_path):
    """A step that fails (a napari release that does not exist) stops the script with the
    image's name; the image built before stays as it was."""
    before = engine_run(container_engine, "image", "inspect", "--format", "{{.Id}}", tag("napari"))
    done = subprocess.run(
        [
            "bash",
            str(BUILD_SCRIPT),
            "--engine",
            container_engine,
            "--name",
            NAME,
            "--build-arg",
            "NAPARI_VERSION=0.0.1",
            "napari",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 2, done.stdout[-2000:]
    assert f"building {tag('napari')} failed (docker/napari/Dockerfile)" in done.stderr
    after = engine_run(container_engine, "image", "inspect", "--format", "{{.Id}}", tag("napari"))
    assert before.stdout == after.stdout


def test_podman_rm_and_a_new_container_on_the_same_home_bring_the_layers_back(
    built, container_engine, tmp_path, figures
):
    """Labels opened in napari and painted with real pointer events (RFB over the page's
    websocket into Xvnc), saved in the home; `podman rm` and a new container of the napari
    image with the same home volume: napari restores the labels, equal to the last save."""
    home = own_volume(tmp_path / "home")
    labels = np.zeros((4, 512, 512), np.uint16)
    labels[1, :50, :50] = 2
    np.save(home / "labels.npy", labels)
    (home / "labels.npy").chmod(0o644)
    options = (
        "--NapariDesktop.session=minimal",
        "--NapariDesktop.geometry=1024x768",
        "--NapariDesktop.save_delay=0.5",
    )

    def layer_data(box: Container, name: str) -> np.ndarray:
        """The layer's data as napari has it (api/layers through a transfer file)."""
        code, answer = box.request("GET", f"napari-desktop/api/layers/{name}")
        assert code == 200, answer
        engine_run(box.tool, "cp", f"{box.name}:{answer['path']}", str(tmp_path / "got.npy"))
        box.request("DELETE", f"napari-desktop/api/transfers/{answer['transfer']}")
        return np.load(tmp_path / "got.npy")

    def kept(box: Container) -> dict:
        code, answer = box.request("GET", "napari-desktop/api/session")
        assert code == 200, answer
        return answer["napari"] or {}

    async def paint(box: Container) -> None:
        url = f"ws://127.0.0.1:{box.port}/napari-desktop/websockify"
        client = await RFBClient.connect_websocket(url, box.token(), raw=True, follow=False)
        try:
            width, height = client.width, client.height
            await client.drag([(width // 2 - 120 + 20 * i, height // 2) for i in range(13)])
            await client.round_trip()
        finally:
            await client.close()

    first = Container(container_engine, "napari", "jnd-test-keep", home, mount="/home/jovyan")
    try:
        first.run(*options)
        code, body = first.request(
            "POST", "napari-desktop/api/start", {"app": "napari", "wait": True}
        )
        assert code == 200, body
        code, body = first.request(
            "POST", "napari-desktop/api/open", {"paths": ["labels.npy"], "layer_type": "labels"}
        )
        assert code == 200 and body["opened"] == ["labels"], body
        props = {"mode": "paint", "selected_label": 5, "brush_size": 30}
        code, body = first.request("PUT", "napari-desktop/api/layers/labels", {"props": props})
        assert code == 200, body
        code, body = first.request(
            "PUT",
            "napari-desktop/api/viewer",
            {"reset_view": True, "dims": {"current_step": [1, 0, 0]}},
        )
        assert code == 200, body
        moment = time.time()
        run_async(paint(first))

        def saved() -> bool:
            last = kept(first).get("last_save") or {}
            return bool(last.get("at", 0) > moment)

        wait_for(saved, 60, "napari to save the painted labels", 0.5)
        painted = layer_data(first, "labels")
        folder = kept(first)["folder"]
    finally:
        (tmp_path / "first.log").write_text(first.logs())
        first.remove()  # podman rm --force
    assert (painted[1] == 5).sum() > 1000, "the stroke painted label 5 on slice 1"
    assert (painted[1, :50, :50] == 2).sum() > 0 and not painted[[0, 2, 3]].any()
    last_save = load_session(home / "napari-sessions" / folder)["labels"]
    assert np.array_equal(last_save["data"], painted), "edited labels are kept as data"

    second = Container(container_engine, "napari", "jnd-test-keep-2", home, mount="/home/jovyan")
    with second.run(*options):
        started = time.monotonic()
        code, body = second.request(
            "POST", "napari-desktop/api/start", {"app": "napari", "wait": True}
        )
        assert code == 200, body

        def restored_now() -> Any:
            now = kept(second)
            return now.get("restored") if not now.get("restoring") else None

        restored: dict = wait_for(restored_now, 120, "napari to restore its session")
        figures["new container -> napari restored (s)"] = elapsed(started)
        assert restored["from"] == folder and restored["layers"] == ["labels"], restored
        assert restored["skipped"] == [], restored
        assert np.array_equal(layer_data(second, "labels"), last_save["data"])
