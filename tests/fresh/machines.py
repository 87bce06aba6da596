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
from tests.support.waiting import wait_for

SUITES = ("bookworm", "trixie")
USERS = ("root", "sudo-user")
SUDO_USER = "alice"
CHECKOUT_DIR = "jupyter-napari-desktop"
MAKE_BASE = REPO / "scripts" / "make-debian-base.sh"
# This sandbox's podman needs runc and rlimits no higher than it allows; the host network
# reaches the registries. On an ordinary machine "--network host" alone will do.
FLAGS = os.environ.get("CONTAINER_FRESH_FLAGS", SANDBOX_BUILD_FLAGS)
CA_INSIDE = "/run/host-ca.crt"
CA_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+)")
SETUP_DONE = "== done."


def readme_command(number: int) -> str:
    """The command under ``# NUMBER.`` in the README's first bash block, as written."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "README.md has no ```bash block with the set-up commands"
    lines = block.group(1).splitlines()
    for index, line in enumerate(lines):
        if line.startswith(f"# {number}."):
            following = [x for x in lines[index + 1 :] if x.strip() and not x.startswith("#")]
            assert following, f"README.md: no command after '# {number}.'"
            return following[0].strip()
    raise AssertionError(f"README.md's bash block has no '# {number}.' comment: {lines}")


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

    def start(self, mounts: dict[Path, str]) -> Machine:
        """The container (idle), with the host's CA bundle and ``mounts`` read-only, the
        sudo user made, and the checkout unpacked in the user's home."""
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
            # A machine where the user may use sudo without a password; apt's lists are
            # removed again so that setup.sh finds the machine as bare as root does.
            self.exec(
                "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -q -y "
                f"--no-install-recommends sudo && useradd --create-home --shell /bin/bash "
                f"{self.login} && echo '{self.login} ALL=(ALL) NOPASSWD: ALL' > "
                f"/etc/sudoers.d/{self.login} && chmod 0440 /etc/sudoers.d/{self.login} && "
                "rm -rf /var/lib/apt/lists/*",
                user="root",
                timeout=600,
            )
        self.exec(f"mkdir {self.workdir} && tar -x -C {self.workdir} -f /run/checkout.tar")
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

    def run(self, command: str) -> Machine:
        """``command`` in the checkout as the machine's user, in the background; its output
        goes to the log."""
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
