"""The `docker run` commands of docs/docker.md and the README, read from the files and run
exactly as written in a shell, in a folder with `data/cells.tif`, as a person pastes them
into a terminal: the printed URL opens in Chromium, napari draws, and Ctrl-C (SIGINT to the
terminal's process group) ends the run and `--rm` removes the container.

Here `docker` is podman (a `docker` on PATH that runs podman, as Debian's podman-docker does),
and what this sandbox's podman needs (runc, its rlimits, slirp4netns for published ports) is
in a containers.conf named by CONTAINERS_CONF, not on the command line. Commands that need a
GPU (`--gpus`, `/dev/dri`) are listed and skipped where the machine has none.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from tests.images.containers import (
    NAME,
    REPO,
    build_report,
    doc_builds,
    doc_commands,
    engine_run,
    own_volume,
    run_as_typed,
    tag,
)
from tests.images.test_images import CYAN, MAGENTA
from tests.support.pages import click_card, desktop_canvas, wait_for_colours
from tests.support.pattern import write_tiff
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(20 * 60)

DOCS = ("docs/docker.md", "README.md")
# The server prints the token it made; one given on the command line it prints as "...".
URL = re.compile(r"http://127\.0\.0\.1:8888/lab\?token=([0-9a-f]+|\.\.\.)\n")
GIVEN_TOKEN = re.compile(r"--IdentityProvider\.token=(\S+)")
# napari's dark theme around its canvas (#262930): the window is there and drawn.
NAPARI_DARK = (38, 41, 48)
# Ctrl-C: the server, the desktop and napari stop, and the container is removed.
STOP_S = 30


def doc_run_commands() -> list[tuple[str, str]]:
    """(doc, command) for each `docker run` of the shell blocks of docs/docker.md and each
    one in backquotes in the README, each command once."""
    found = []
    for doc in DOCS:
        commands = doc_commands(doc, ("docker run",))
        if doc == "README.md":
            commands += re.findall(r"`(docker run [^`]+)`", (REPO / doc).read_text())
        for command in commands:
            command = re.sub(r"\s+", " ", command)
            if command not in [seen for _, seen in found]:
                found.append((doc, command))
    return found


def needs_gpu(command: str) -> bool:
    return "--gpus" in command or "/dev/dri" in command


BUILDS, GPU_BUILDS = doc_builds()
ALL_COMMANDS = doc_run_commands()
COMMANDS = [(doc, command) for doc, command in ALL_COMMANDS if not needs_gpu(command)]
GPU_COMMANDS = [(doc, command) for doc, command in ALL_COMMANDS if needs_gpu(command)]


def cannot_run(command: str, tool: str) -> Optional[str]:
    """Why this machine cannot run ``command`` (a GPU it lacks, an image this run did not
    build), or None."""
    if "--gpus" in command and not Path("/dev/nvidiactl").exists():
        return "needs an NVIDIA GPU (--gpus all); this machine has none"
    if "/dev/dri" in command and not Path("/dev/dri").exists():
        return "needs a /dev/dri render device; this machine has none"
    image = re.search(r"jupyter-napari-desktop:[\w-]+", command)
    if image and engine_run(tool, "image", "exists", image.group(0), check=False).returncode:
        return f"{image.group(0)} is not built in this run"
    return None


def one_off(command: str) -> bool:
    """A command after the image name (`... IMAGE python -c ...`) instead of the server."""
    after = re.split(r"jupyter-napari-desktop:[\w-]+", command, maxsplit=1)[-1].split()
    return bool(after) and not after[0].startswith("-")


def test_the_docs_show_the_run_commands():
    commands = [command for _, command in COMMANDS]
    assert "docker run --rm -p 127.0.0.1:8888:8888 jupyter-napari-desktop:napari" in commands
    assert len(commands) >= 4 and not any(map(one_off, commands)), commands
    gpu = [command for _, command in GPU_COMMANDS]
    assert len(gpu) >= 3 and sum(map(one_off, gpu)) == 2, gpu


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def containers(tool: str) -> set[str]:
    return set(engine_run(tool, "ps", "--all", "--quiet", "--no-trunc").stdout.split())


class Terminal:
    """One command typed into a shell; Ctrl-C signals its process group."""

    def __init__(self, command: str, cwd: Path, env: dict, log: Path) -> None:
        self.command, self.log = command, log
        self.out = log.open("w")
        self.proc = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def token(self) -> str:
        """The token of the URL the server printed (or the one the command gave it)."""

        def printed() -> Optional[str]:
            match = URL.search(self.output())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"the command ended: {self.output()[-3000:]}")
            return None

        token = wait_for(printed, 180, "the http://127.0.0.1:8888/lab?token= URL", step=0.5)
        given = GIVEN_TOKEN.search(self.command)
        if given:
            assert token == "...", f"the server printed the token it was given: {token}"
            return given.group(1)
        return token

    def ctrl_c(self) -> float:
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            ended = self.output()[-2000:]
            raise AssertionError(f"Ctrl-C did not end it in {STOP_S} s: {ended}") from None
        return time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.out.close()


@pytest.mark.parametrize(
    ("doc", "command"), COMMANDS, ids=[f"{d}:{n}" for n, (d, _) in enumerate(COMMANDS)]
)
def test_a_run_command_as_written(
    doc, command, built, container_engine, terminal, browser, images_dir, figures, tmp_path
):
    run_as_written(doc, command, container_engine, terminal, browser, images_dir, figures, tmp_path)


@pytest.mark.parametrize(
    ("doc", "command"), GPU_COMMANDS, ids=[f"{d}:{n}" for n, (d, _) in enumerate(GPU_COMMANDS)]
)
def test_a_gpu_run_command_as_written(
    doc, command, built, container_engine, terminal, browser, images_dir, figures, tmp_path
):
    why = cannot_run(command, container_engine)
    if why:
        pytest.skip(f"{command}: {why}")
    run_as_written(doc, command, container_engine, terminal, browser, images_dir, figures, tmp_path)


def run_as_written(
    doc, command, container_engine, terminal, browser, images_dir, figures, tmp_path
):
    """``command`` in a shell in a folder with data/cells.tif: a one-off command must end
    well; a server's URL opens in Chromium, napari draws, Ctrl-C ends it all."""
    if one_off(command):
        done = subprocess.run(
            ["bash", "-c", command], env=terminal, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        return
    assert port_is_free(8888), "port 8888 of 127.0.0.1 is taken: the doc's command needs it"
    folder = tmp_path / "here"
    folder.mkdir()
    # The folder a person mounts, writable for the container's user as the doc says.
    write_tiff(own_volume(folder / "data") / "cells.tif", MAGENTA, CYAN).chmod(0o644)
    label = f"{Path(doc).stem}-{ALL_COMMANDS.index((doc, command))}"
    before = containers(container_engine)
    shell = Terminal(command, folder, terminal, images_dir / f"doc-{label}.log")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        token = shell.token()
        page = context.new_page()
        if "napari_args=" in command:
            # The image the command opens; straight to the desktop page, as the doc says.
            page.goto(f"http://127.0.0.1:8888/napari-desktop/?app=napari&token={token}")
            png = wait_for_colours(desktop_canvas(page), [MAGENTA, CYAN], 180)
        else:
            page.goto(f"http://127.0.0.1:8888/lab?token={token}")
            page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
            page = click_card(context, page, "napari in a browser desktop")
            png = wait_for_colours(desktop_canvas(page), [NAPARI_DARK], 180, minimum=0.1)
        (images_dir / f"doc-{label}.png").write_bytes(png)
        if "session=minimal" in command:
            status = page.evaluate(
                "async (t) => (await fetch('/napari-desktop/api/status?token=' + t)).json()",
                token,
            )
            assert status.get("session") == "minimal", status
        context.close()
        stopped = shell.ctrl_c()
        figures[f"{doc}: {command}: Ctrl-C -> ended (s)"] = round(stopped, 1)
        assert containers(container_engine) == before, "--rm left the container behind"
        assert port_is_free(8888)
    finally:
        context.close()
        shell.close()
        for left in containers(container_engine) - before:
            engine_run(container_engine, "rm", "--force", left, check=False)


def test_the_docs_show_the_build_commands():
    assert "scripts/build-images.sh --help # every option" in BUILDS, BUILDS
    assert "scripts/build-images.sh # desktop and napari" in BUILDS, BUILDS
    assert sum(c.startswith("docker build") for c in BUILDS) == 2, BUILDS
    assert len(GPU_BUILDS) == 3, GPU_BUILDS


@pytest.mark.parametrize("command", BUILDS, ids=[f"build-{n}" for n in range(len(BUILDS))])
def test_a_build_command_as_written(
    command, built, container_engine, terminal, images_dir, figures
):
    """docs/docker.md's build commands typed in the repository root: each ends well and
    leaves its images (built on build-images.sh's layers of this run: no step runs again
    unless the sources changed)."""
    if NAME != "jupyter-napari-desktop":
        pytest.skip(f"IMAGE_NAME={NAME}: the doc's commands name jupyter-napari-desktop")
    log = images_dir / f"doc-build-{BUILDS.index(command)}.log"
    started = time.monotonic()
    text = run_as_typed(command, terminal, log, 45 * 60)
    figures[f"docs/docker.md: {command} (s)"] = round(time.monotonic() - started)
    if "--help" in command:
        assert "Usage: scripts/build-images.sh" in text, text[-2000:]
        return
    named = re.search(r" -t (\S+)", command)
    if named:
        images = [named.group(1)]
    else:
        images = [tag(image) for image in build_report(text).seconds]
        assert sorted(images) == [tag("desktop"), tag("napari")], text[-3000:]
    for image in images:
        assert engine_run(container_engine, "image", "exists", image, check=False).returncode == 0
