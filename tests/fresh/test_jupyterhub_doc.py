"""docs/jupyterhub.md's "One machine, local Unix users" on a bare Debian 12 machine: its
three shell blocks read from the page and run as written, as root in the checkout (the hub's
side, the users' side, then the hub with the example config); a Unix user with a password,
as the machine would have; then the host's Chromium logs in through the hub's form, as that
user, and napari draws the test image on the page the hub sends them to.

The install runs on the host's network (the registries); the hub then runs in a container
of the same file system that publishes its port 8000 on 127.0.0.1 only (this test machine
serves nothing on other interfaces). Screenshots and logs in artifacts/fresh/."""

from __future__ import annotations

import re
import secrets
import shlex
import time

import pytest

from tests.fresh.machines import (
    CONFIG_INSIDE,
    PATTERN_INSIDE,
    SUDO_USER,
    Machine,
    readme_lines,
)
from tests.images.containers import engine_run, run_flags
from tests.support.hub import fill_login_form, login_page_answers
from tests.support.pages import wait_for_colours
from tests.support.procs import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.timeout(45 * 60)
DOC = "docs/jupyterhub.md"
HUB_SIDE = "# The hub's side"
USERS_SIDE = "# The users' side"
START = "# Start the hub"
SUITE = "bookworm"
INSTALL_TIMEOUT = 30 * 60
DONE = "DOC-LINES-DONE"


def test_the_local_users_section_on_a_bare_machine(
    container_engine, base, checkout, pattern_config, browser, fresh_dir, figures
):
    hub_side, users_side, start = (readme_lines(m, DOC) for m in (HUB_SIDE, USERS_SIDE, START))
    assert any("configurable-http-proxy" in line for line in hub_side), hub_side
    assert any(".[napari]" in line for line in users_side), users_side
    assert start == ["/opt/jupyterhub/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py"]
    base(SUITE)
    label = f"{SUITE}-jupyterhub-doc"
    machine = Machine(container_engine, SUITE, "root", checkout, fresh_dir / f"{label}.log")
    image = f"localhost/jnd-fresh-hub-doc:{machine.name.rsplit('-', 1)[-1]}"
    hub = f"{machine.name}-hub"
    user, password = SUDO_USER, secrets.token_hex(8)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        machine.start(pattern_config)
        found = machine.exec("for t in python3 node npm chromium; do command -v $t; done; :")
        assert found.strip() == "", f"the {SUITE} base is not bare: {found}"
        # The machine's people: a Unix user with a password. Every user's server opens the
        # test image in napari (a system-wide Jupyter config).
        machine.exec(
            f"useradd --create-home --shell /bin/bash {user} && "
            f"echo {shlex.quote(f'{user}:{password}')} | chpasswd && "
            f"mkdir -p /etc/jupyter && cp {CONFIG_INSIDE} /etc/jupyter/"
        )

        script = " && ".join([*hub_side, *users_side])
        machine.run(f"set -e; {script} && echo {DONE}")
        install_s = machine.wait_output(DONE, INSTALL_TIMEOUT, "the doc's two install blocks")
        machine.process.wait(timeout=60)
        engine_run(container_engine, "commit", machine.name, image, timeout=900)
        machine.remove()

        # The third block, as written, in the checkout; the hub's port on 127.0.0.1 only.
        engine_run(
            container_engine,
            "run",
            "--detach",
            "--name",
            hub,
            *run_flags(),
            "--publish",
            f"127.0.0.1:{port}:8000",
            f"--volume={next(h for h, i in pattern_config.items() if i == PATTERN_INSIDE)}"
            f":{PATTERN_INSIDE}:ro",
            f"--workdir={machine.workdir}",
            "--env=HOME=/root",
            image,
            "bash",
            "-c",
            " && ".join(start),
        )
        started = time.monotonic()
        wait_for(lambda: login_page_answers(url), 180, "the hub's login page", step=1)
        hub_s = time.monotonic() - started

        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            fill_login_form(page, url, user, password)
            page.screenshot(path=str(fresh_dir / f"{label}-login.png"))
            clicked = time.monotonic()
            page.click("#login_submit")
            napari_page = re.compile(r".*/user/.+/napari-desktop/\?app=napari")
            page.wait_for_url(napari_page, timeout=300_000)
            assert f"/user/{user}/" in page.url, page.url
            canvas = page.locator("#jp-NapariDesktop-root canvas").first
            png = wait_for_colours(canvas, None, 240)
            drawn_s = time.monotonic() - clicked
            (fresh_dir / f"{label}-napari-canvas.png").write_bytes(png)
            page.screenshot(path=str(fresh_dir / f"{label}-napari-page.png"))
        finally:
            context.close()
        # The user's server runs as the user, not as root.
        owners = engine_run(
            container_engine, "exec", hub, "pgrep", "-u", user, "-f", "jupyterhub-singleuser"
        ).stdout
        assert owners.split(), "no jupyterhub-singleuser process of the user"
        figures[label] = {
            "commands": [*hub_side, *users_side, *start],
            "install blocks (s)": round(install_s),
            "hub start -> login page (s)": round(hub_s),
            "log in -> napari draws (s)": round(drawn_s, 1),
        }
        print(f"{label}: {figures[label]}")
    finally:
        logs = engine_run(container_engine, "logs", hub, check=False, timeout=60)
        (fresh_dir / f"{label}-hub.log").write_text(logs.stdout + logs.stderr)
        engine_run(container_engine, "rm", "--force", "--time=0", hub, check=False, timeout=120)
        machine.remove()
        engine_run(container_engine, "rmi", "--force", image, check=False, timeout=300)
