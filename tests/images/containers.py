"""The container engine for the image tests: the images built by scripts/build-images.sh, and
containers run the way a user runs them (``-p 127.0.0.1:PORT:8888``, a host folder as a
volume), with what this machine needs on top (CONTAINER_RUN_FLAGS)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tests.support.docs import shell_commands
from tests.support.procs import descendants, free_port, pss_kib
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-images.sh"
NAME = os.environ.get("IMAGE_NAME", "jupyter-napari-desktop")
# napari-gpu (CUDA PyTorch, about 8 GB) is built in the same run unless IMAGES_GPU=0.
GPU = os.environ.get("IMAGES_GPU", "1") != "0"
# What this sandbox needs: runc (crun fails on its cgroups), rlimits no higher than the
# sandbox allows, the host network for builds (package registries) and slirp4netns for
# published ports. On an ordinary machine set them to "" if you like.
SANDBOX_BUILD_FLAGS = (
    "--network host --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=4096:4096"
)
SANDBOX_RUN_FLAGS = (
    "--runtime runc --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network slirp4netns"
)


def engine() -> Optional[str]:
    """podman, or docker where its engine answers (CONTAINER_ENGINE picks one)."""
    wanted = os.environ.get("CONTAINER_ENGINE")
    if wanted:
        return wanted if shutil.which(wanted) else None
    if shutil.which("podman"):
        return "podman"
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    ):
        return "docker"
    return None


def storage_free_gb(tool: str) -> float:
    """Free space (GB) of the file system that holds the engine's images and layers."""
    template = "{{.Store.GraphRoot}}" if tool == "podman" else "{{.DockerRootDir}}"
    root = engine_run(tool, "info", "--format", template).stdout.strip()
    return round(shutil.disk_usage(root).free / 1e9, 1)


def prune_images(tool: str) -> str:
    """Remove the images no name points at any more (an earlier build of a tag that was built
    again, intermediate layers no image uses): each image test run leaves its builds' old
    versions behind, gigabytes a run. Named images (a user's) stay."""
    done = engine_run(tool, "image", "prune", "--force", check=False, timeout=1800)
    return done.stdout + done.stderr


def run_flags() -> list[str]:
    return shlex.split(os.environ.get("CONTAINER_RUN_FLAGS", SANDBOX_RUN_FLAGS))


def ca_bundle() -> Optional[str]:
    """The CA bundle this machine's registries need, when the environment names one."""
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        path = os.environ.get(var)
        if path and Path(path).is_file():
            return path
    return None


# Where build-images.sh --ca-bundle mounts the bundle, and the variables it points at it.
CA_INSIDE = "/run/build-ca-bundle.pem"
CA_VARIABLES = ("PIP_CERT", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def terminal_env(tool: str, folder: Path) -> dict[str, str]:
    """The environment of a terminal where `docker` works as on a machine with Docker: where
    there is no docker, PATH has a `docker` that is podman (as Debian's podman-docker), and
    this sandbox's settings come from outside the command line: CONTAINERS_CONF for runs;
    for builds what Docker does by itself (its image format: podman's OCI format drops
    SHELL) and what this machine needs, as build-images.sh gets them here (the host network,
    runc, rlimits, the registries' CA bundle), so a build finds build-images.sh's layers."""
    env = dict(os.environ)
    env.pop("CONTAINER_BUILD_FLAGS", None)  # build-images.sh would add them a second time
    if tool != "podman":
        return env
    flags = os.environ.get("CONTAINER_BUILD_FLAGS", SANDBOX_BUILD_FLAGS)
    build = ["--format", "docker", *shlex.split(flags)]
    bundle = ca_bundle()
    if bundle:
        build += ["--volume", f"{os.path.realpath(bundle)}:{CA_INSIDE}:ro"]
        for var in CA_VARIABLES:
            build += ["--build-arg", f"{var}={CA_INSIDE}"]
    shim = folder / "docker"
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = build ]; then\n'
        "    shift\n"
        f'    exec podman build {shlex.join(build)} "$@"\n'
        "fi\n"
        'exec podman "$@"\n'
    )
    shim.chmod(0o755)
    env["PATH"] = f"{folder}:{env['PATH']}"
    conf = folder / "containers.conf"
    conf.write_text(containers_conf(os.environ.get("CONTAINER_RUN_FLAGS", SANDBOX_RUN_FLAGS)))
    env["CONTAINERS_CONF"] = str(conf)
    return env


def containers_conf(flags: str) -> str:
    """The sandbox's run flags (runtime, rlimits, network) as containers.conf settings."""
    runtime = re.search(r"--runtime (\S+)", flags)
    limits = re.findall(r"--ulimit (\S+)", flags)
    network = re.search(r"--network (\S+)", flags)
    lines = ["[containers]"]
    if limits:
        lines.append("default_ulimits = [" + ", ".join(f'"{x}"' for x in limits) + "]")
    if network:
        lines.append(f'netns = "{network.group(1)}"')
    lines.append("[engine]")
    if runtime:
        lines.append(f'runtime = "{runtime.group(1)}"')
    return "\n".join(lines) + "\n"


def doc_commands(doc: str, starts: tuple[str, ...]) -> list[str]:
    """The commands of ``doc``'s shell blocks that start with one of ``starts``, as written
    (tests/support/docs.py: lines ending in a backslash joined, each once)."""
    return [command for command in shell_commands(doc) if command.startswith(starts)]


def doc_builds() -> tuple[list[str], list[str]]:
    """docs/docker.md's build commands: (those of desktop and napari and --help, those that
    build napari-gpu: test_images.py's napari-gpu test runs them)."""
    commands = doc_commands("docs/docker.md", ("docker build", "scripts/build-images.sh"))
    gpu = [c for c in commands if "napari-gpu" in c or re.search(r"build-images\.sh all\b", c)]
    return [c for c in commands if c not in gpu], gpu


def run_as_typed(command: str, env: dict[str, str], log: Path, timeout: float) -> str:
    """``command`` in bash in the repository root (where docs/docker.md says to run it),
    its output kept in ``log``; AssertionError with the output's end if it fails."""
    with log.open("w") as out:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
    text = log.read_text(errors="replace")
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{text[-4000:]}"
    return text


def tag(image: str) -> str:
    return f"{NAME}:{image}"


@dataclass
class Build:
    seconds: dict[str, int] = field(default_factory=dict)
    gigabytes: dict[str, float] = field(default_factory=dict)
    output: str = ""


def build_report(text: str) -> Build:
    """Each image's build time and size, from build-images.sh's report at its end."""
    result = Build(output=text)
    for image, seconds, size in re.findall(r"^\s+(\S+)\s+(\d+) s\s+([\d.]+) GB$", text, re.M):
        result.seconds[image] = int(seconds)
        result.gigabytes[image] = float(size)
    return result


def build_images(tool: str, images: list[str], log: Path, timeout: float) -> Build:
    """scripts/build-images.sh IMAGES, as a user runs it (plus this machine's flags)."""
    argv = ["bash", str(BUILD_SCRIPT), "--engine", tool, "--make-base", "--name", NAME]
    bundle = ca_bundle()
    if bundle and tool == "podman":
        argv += ["--ca-bundle", bundle]
    env = dict(os.environ)
    env.setdefault("CONTAINER_BUILD_FLAGS", SANDBOX_BUILD_FLAGS if tool == "podman" else "")
    with log.open("w") as out:
        done = subprocess.run(
            [*argv, *images], stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout
        )
    text = log.read_text(errors="replace")
    assert done.returncode == 0, f"build-images.sh failed ({done.returncode}):\n{text[-6000:]}"
    return build_report(text)


def request_json(method: str, url: str, token: str, body: Any = None, timeout: float = 60):
    """(status, JSON or text) of a request to a Jupyter server with ``token``; (None, the
    error) when nothing answers."""
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, OSError) as err:
        return None, str(err)


def engine_run(tool: str, *args: str, timeout: float = 120, check: bool = True):
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{tool} {shlex.join(args)}: {done.stderr[-3000:]}"
    return done


class Container:
    """One container of an image, published on 127.0.0.1 only, a host folder as ~/work (or
    as the whole home, ``mount="/home/jovyan"``, as JupyterHub mounts a user's volume)."""

    def __init__(
        self, tool: str, image: str, name: str, volume: Path, mount: str = "/home/jovyan/work"
    ) -> None:
        self.tool, self.image, self.name, self.volume = tool, image, name, volume
        self.mount = mount
        self.port = free_port()
        self._token: Optional[str] = None

    def run(self, *args: str) -> Container:
        self.remove()
        self._token = None
        engine_run(
            self.tool,
            "run",
            "--detach",
            "--name",
            self.name,
            *run_flags(),
            "--publish",
            f"127.0.0.1:{self.port}:8888",
            "--volume",
            f"{self.volume}:{self.mount}",
            tag(self.image),
            *args,
        )
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def logs(self) -> str:
        done = engine_run(self.tool, "logs", self.name, check=False)
        return done.stdout + done.stderr

    def token(self, timeout: float = 90, fresh: bool = False) -> str:
        """The token of the newest server start, from the URL the container prints (read
        from its output once, and again with ``fresh`` after the server restarted)."""

        def printed() -> Optional[str]:
            tokens = re.findall(r"/lab\?token=([0-9a-f]+)", self.logs())
            return tokens[-1] if tokens else None

        if fresh or self._token is None:
            what = f"the token URL in {self.name}'s output"
            self._token = wait_for(printed, timeout, what, step=0.5)
        return self._token

    def request(self, method: str, path: str, body: Any = None) -> tuple:
        """(status, JSON or text) of a request with the token; a 403 after a restart of the
        server (a new token) reads the token again and tries once more."""
        code, answer = self._request(method, path, body, self.token())
        if code == 403:
            code, answer = self._request(method, path, body, self.token(fresh=True))
        return code, answer

    def _request(self, method: str, path: str, body: Any, token: str) -> tuple:
        return request_json(method, self.url + path, token, body)

    def status(self) -> dict[str, Any]:
        code, body = self.request("GET", "napari-desktop/api/status")
        return body if code == 200 else {}

    def wait_napari(self, timeout: float = 120) -> dict[str, Any]:
        def ready() -> Optional[dict[str, Any]]:
            status = self.status()
            return status if (status.get("napari") or {}).get("running") else None

        return wait_for(ready, timeout, f"napari running in {self.name}", step=0.5)

    def exec(self, script: str, user: Optional[str] = None) -> str:
        args = ["exec", *(["--user", user] if user else []), self.name, "bash", "-c", script]
        return engine_run(self.tool, *args).stdout

    def state(self) -> dict[str, Any]:
        done = engine_run(self.tool, "inspect", "--format", "{{json .State}}", self.name)
        return json.loads(done.stdout)

    def pss_mib(self) -> float:
        """PSS of every process of the container (seen from the host), in MiB."""
        root = int(self.state()["Pid"])
        return round(pss_kib([root, *descendants(root)]) / 1024, 1)

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        engine_run(self.tool, "rm", "--force", self.name, check=False)


def listening_ports(proc_net: str) -> set[int]:
    """Ports in LISTEN state in /proc/net/tcp{,6} text."""
    ports = set()
    for line in proc_net.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def own_volume(path: Path) -> Path:
    """A host folder the container's user (uid 1000, gid 100) may write, as on a laptop."""
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, 1000, 100)
    path.chmod(0o775)
    return path


def elapsed(start: float) -> float:
    return round(time.monotonic() - start, 1)
