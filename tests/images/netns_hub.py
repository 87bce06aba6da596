"""A command line of a doc, as written, in a network namespace of its own (run by
test_dockerspawner_doc.py under `unshare --net --fork`).

docs/jupyterhub.md's DockerSpawner deployment listens on every interface (the proxy's port
8000, the hub's API for the containers); this test machine serves nothing beyond its
loopback. In a namespace of its own "every interface" is a loopback and podman's bridge,
seen from nowhere else. Here:

- the loopback comes up, podman's Docker API starts on a private unix socket and one
  container of ``--first-container`` runs once: podman makes its bridge network (the
  containers' way to the hub's API) with its first container;
- the command runs in bash, in ``--workdir``, with DOCKER_HOST pointing at that API and
  NAPARI_DESKTOP_HUB_CONNECT_IP at the bridge's gateway (the deployment's two settings from
  the environment; on a machine with Docker the defaults are right);
- a listening socket of the test (on the host's 127.0.0.1, passed as ``--listen-fd``) is
  relayed to port 8000 here, the hub's public port: the test's browser logs in through it;
- when the test closes this process's stdin the command gets SIGTERM (JupyterHub stops the
  users' servers and DockerSpawner removes their containers), then the API ends.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.waiting import wait_for

RELAY_TO = ("127.0.0.1", 8000)


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def relay(listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(RELAY_TO, timeout=10)
        except OSError:
            client.close()
            continue
        upstream.settimeout(None)
        for ends in ((client, upstream), (upstream, client)):
            threading.Thread(target=pump, args=ends, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--listen-fd", type=int, required=True)
    parser.add_argument("--containers-conf", type=Path, required=True)
    parser.add_argument("--path", required=True, help="PATH of the command")
    parser.add_argument("--first-container", required=True, help="an image to start once")
    parser.add_argument("command")
    args = parser.parse_args()

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    api_socket = args.workdir / "podman.sock"
    env = dict(os.environ, CONTAINERS_CONF=str(args.containers_conf))
    with (args.workdir / "podman-service.log").open("w") as log:
        service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{api_socket}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    command = None
    try:
        wait_for(api_socket.exists, 30, "podman's API socket", step=0.1)
        gateway = subprocess.run(
            ["podman", "network", "inspect", "podman"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        subnets = json.loads(gateway.stdout)[0]["subnets"]
        # podman makes its bridge (the gateway's address) with its first container; on a
        # Docker host docker0 is always there. Without it the proxy cannot reach the hub.
        subprocess.run(
            ["podman", "run", "--rm", "--network", "podman", args.first_container, "true"],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
        env.update(
            PATH=args.path,
            DOCKER_HOST=f"unix://{api_socket}",
            NAPARI_DESKTOP_HUB_CONNECT_IP=subnets[0]["gateway"],
        )
        with (args.workdir / "command.log").open("w") as log:
            command = subprocess.Popen(
                ["bash", "-c", args.command],
                cwd=args.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        listener = socket.socket(fileno=args.listen_fd)
        threading.Thread(target=relay, args=(listener,), daemon=True).start()
        print(json.dumps({"pid": command.pid, "gateway": subnets[0]["gateway"]}), flush=True)
        sys.stdin.read()  # until the test is done
        command.send_signal(signal.SIGTERM)
        try:
            code = command.wait(60)
        except subprocess.TimeoutExpired:
            command.kill()
            code = command.wait()
        print(json.dumps({"exit": code}), flush=True)
        return 0
    finally:
        if command is not None and command.poll() is None:
            command.kill()
        service.terminate()
        try:
            service.wait(15)
        except subprocess.TimeoutExpired:
            service.kill()


if __name__ == "__main__":
    sys.exit(main())
