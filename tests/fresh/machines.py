"""Fresh machines: bare Debian roots (``mmdebstrap --variant=minbase``: no Python, no
Node.js, no Chromium) imported into podman, with this checkout as ``git archive HEAD`` (so
untracked files cannot help) in the home of root or of a user who may use sudo.

A machine is a container on the host's network: apt, pip and npm reach their registries as
on a real machine, and the Jupyter server that the README's command starts on 127.0.0.1:8888
is reachable from the host's Chromium. Where 8888 is taken, Jupyter takes the next free port
and prints it; the tests read the URL the command printed, as a person does."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Optional

from tests.images.containers import REPO, SANDBOX_BUILD_FLAGS, ca_bundle, engine_run
from tests.support.docs import commands_under
from tests.support.pages import wait_for_colours
from tests.support.waiting import wait_for

SUITES = ("bookworm", "trixie")
USERS = ("root", "sudo-user")
# Each base once and each user once (about 10 min with the existing-environment test);
# FRESH_MATRIX=full runs both users on both bases (about 17 min on 2 cores).
CASES = (
    [(suite, user) for suite in SUITES for user in USERS]
    if os.environ.get("FRESH_MATRIX") == "full"
    else [("bookworm", "root"), ("trixie", "sudo-user")]
)
SUDO_USER = "alice"
CHECKOUT_DIR = "jupyter-napari-desktop"
MAKE_BASE = REPO / "scripts" / "make-debian-base.sh"
# This sandbox's podman needs runc and rlimits no higher than it allows; the host network
# reaches the registries. On an ordinary machine "--network host" alone will do.
FLAGS = os.environ.get("CONTAINER_FRESH_FLAGS", SANDBOX_BUILD_FLAGS)
CA_INSIDE = "/run/host-ca.crt"
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
# The whole line: a log read while the server writes it may end inside the token.
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+)\n")
SETUP_DONE = "== done."
PATTERN_INSIDE = "/run/pattern.png"
CONFIG_INSIDE = "/run/jupyter_server_config.json"
NAPARI_CARD = ".jp-LauncherCard[title*='napari in a browser desktop']"


def readme_lines(marker: str, doc: str = "README.md") -> list[str]:
    """The commands under the comment that starts with ``marker`` in ``doc``'s shell blocks."""
    return commands_under(marker, doc)


def readme_command(number: int) -> str:
    """The numbered command of the README's set-up block (``# 1.``, ``# 2.``)."""
    return readme_lines(f"# {number}.")[0]


def base_image(suite: str) -> str:
    return f"localhost/jnd-fresh-base:{suite}"


def make_base(tool: str, suite: str, log: Path) -> str:
    """A bare Debian SUITE from Debian's archive (scripts/make-debian-base.sh), made anew."""
    image = base_image(suite)
    with log.open("w") as out:
        done = subprocess.run(
            ["bash", str(MAKE_BASE), "--engine", tool, suite, image],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    assert done.returncode == 0, f"make-debian-base.sh {suite} failed:\n{log.read_text()[-3000:]}"
    return image


def git_archive(path: Path) -> Path:
    """The committed checkout (HEAD) as a tar file: what a clone holds, nothing more."""
    subprocess.run(["git", "-C", str(REPO), "archive", "--output", str(path), "HEAD"], check=True)
    return path


class Machine:
    """One fresh machine: a container of a bare base, the checkout unpacked in the home of
    ``user`` (root, or ``alice`` with passwordless sudo), a command run there as that user."""

    def __init__(self, tool: str, suite: str, user: str, checkout: Path, log: Path) -> None:
        self.tool, self.suite, self.checkout, self.log = tool, suite, checkout, log
        self.login = "root" if user == "root" else SUDO_USER
        self.home = "/root" if self.login == "root" else f"/home/{self.login}"
        self.name = f"jnd-fresh-{suite}-{user}-{os.getpid()}"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.started = 0.0

    @property
    def workdir(self) -> str:
        return f"{self.home}/{CHECKOUT_DIR}"

    def start(self, mounts: dict[Path, str], packages: tuple[str, ...] = ()) -> Machine:
        """The container (idle), with the host's CA bundle and ``mounts`` read-only, the
        sudo user made, Debian ``packages`` installed, the checkout unpacked in the user's
        home and ~/.jupyter/jupyter_server_config.json from the mounts' config, if any."""
        self.remove()
        volumes = [f"--volume={self.checkout}:/run/checkout.tar:ro"]
        bundle = ca_bundle()
        if bundle:
            volumes.append(f"--volume={bundle}:{CA_INSIDE}:ro")
        volumes += [f"--volume={host}:{inside}:ro" for host, inside in mounts.items()]
        engine_run(
            self.tool,
            "run",
            "--detach",
            "--name",
            self.name,
            *shlex.split(FLAGS),
            *volumes,
            base_image(self.suite),
            "sleep",
            "infinity",
        )
        if self.login != "root":
            packages = ("sudo", *packages)
        if packages:
            # apt's lists are removed again, so that the command finds them as on a bare
            # machine.
            self.exec(
                "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -q -y "
                f"--no-install-recommends {shlex.join(packages)} && rm -rf /var/lib/apt/lists/*",
                user="root",
                timeout=600,
            )
        if self.login != "root":
            # A user who may use sudo without a password.
            sudoers = f"/etc/sudoers.d/{self.login}"
            self.exec(
                f"useradd --create-home --shell /bin/bash {self.login} && "
                f"echo '{self.login} ALL=(ALL) NOPASSWD: ALL' > {sudoers} && chmod 0440 {sudoers}",
                user="root",
            )
        self.exec(f"mkdir {self.workdir} && tar -x -C {self.workdir} -f /run/checkout.tar")
        if CONFIG_INSIDE in mounts.values():
            self.exec(f"mkdir -p ~/.jupyter && cp {CONFIG_INSIDE} ~/.jupyter/")
        return self

    def env_args(self, user: str) -> list[str]:
        home = "/root" if user == "root" else self.home
        args = [f"--env=HOME={home}", f"--env=USER={user}", f"--env=LOGNAME={user}"]
        if ca_bundle():
            args += [f"--env={var}={CA_INSIDE}" for var in CA_VARS]
        return args

    def exec(self, script: str, user: str = "", timeout: float = 120) -> str:
        """Run ``script`` with bash as ``user`` (default: the machine's user); its stdout."""
        user = user or self.login
        args = ["exec", f"--user={user}", f"--workdir={self.home if user != 'root' else '/'}"]
        done = engine_run(
            self.tool, *args, *self.env_args(user), self.name, "bash", "-c", script, timeout=timeout
        )
        return done.stdout

    def run(self, command: str, log: Optional[Path] = None) -> Machine:
        """``command`` in the checkout as the machine's user, in the background; its output
        goes to the log (from now on ``log``, if given)."""
        self.log = log or self.log
        argv = [
            self.tool,
            "exec",
            f"--user={self.login}",
            f"--workdir={self.workdir}",
            *self.env_args(self.login),
            self.name,
            "bash",
            "-c",
            command,
        ]
        with self.log.open("wb") as out:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_output(self, pattern: re.Pattern[str] | str, timeout: float, what: str) -> float:
        """Seconds from the command's start until ``pattern`` showed in its output."""

        def seen() -> Optional[float]:
            if re.search(pattern, self.output()):
                return time.monotonic() - self.started
            if self.process and self.process.poll() is not None:
                raise AssertionError(
                    f"the command ended ({self.process.returncode}) before {what}:\n"
                    f"{self.output()[-6000:]}"
                )
            return None

        return wait_for(seen, timeout, f"{what} in {self.name}'s output", step=1)

    def url(self) -> tuple[int, str]:
        """Port and token of the URL the command printed."""
        found = URL.search(self.output())
        assert found, f"no http://127.0.0.1:PORT/lab?token=... in:\n{self.output()[-3000:]}"
        return int(found.group(1)), found.group(2)

    def remove(self) -> None:
        engine_run(self.tool, "rm", "--force", "--time=0", self.name, check=False, timeout=120)
        if self.process and self.process.poll() is None:
            self.process.wait(timeout=30)


def napari_card_draws(
    browser, port: int, token: str, label: str, folder: Path, video: bool = False
) -> float:
    """The host's Chromium opens JupyterLab with ``token``, clicks the napari card and waits
    for napari to draw the test pattern; seconds from the click. Screenshots in ``folder``.
    With ``video`` the page must be on the video path (H.264, docs/video.md)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/lab?token={token}")
        page.wait_for_selector(NAPARI_CARD, timeout=90_000)
        page.screenshot(path=str(folder / f"{label}-lab.png"))
        clicked = time.monotonic()
        with context.expect_page(timeout=30_000) as new_tab:
            page.locator(NAPARI_CARD).first.click()
        tab = new_tab.value
        tab.wait_for_load_state()
        assert "napari-desktop/?app=napari" in tab.url, tab.url
        canvas = tab.locator("#jp-NapariDesktop-root canvas").first
        png = wait_for_colours(canvas, None, 180)
        drawn = time.monotonic() - clicked
        (folder / f"{label}-napari-canvas.png").write_bytes(png)
        tab.screenshot(path=str(folder / f"{label}-napari-page.png"))
        if video:
            handle = tab.evaluate(
                "({video: napariDesktop.video, failed: napariDesktop.videoFailed || null})"
            )
            assert handle == {"video": True, "failed": None}, f"not on the video path: {handle}"
        return drawn
    finally:
        context.close()
