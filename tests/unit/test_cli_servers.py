"""Which running Jupyter server the terminal commands talk to (cli.pick_server), and what
the command says when several serve the directory it runs in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jupyter_napari_desktop.cli import pick_server
from jupyter_napari_desktop.kernel.notebook import NapariDesktopError
from tests.support.paths import ROOT

SERVERS = [
    {"port": 8888, "url": "http://127.0.0.1:8888/", "root_dir": "/home/ada"},
    {"port": 8890, "url": "http://127.0.0.1:8890/", "root_dir": "/home/ada/project"},
    {"port": 9000, "url": "http://127.0.0.1:9000/", "root_dir": "/srv/data"},
]


def test_the_deepest_root_holding_the_directory():
    assert pick_server(SERVERS, 0, Path("/home/ada/project/images"))[0]["port"] == 8890
    assert pick_server(SERVERS, 0, Path("/home/ada/notes"))[0]["port"] == 8888
    assert pick_server(SERVERS, 0, Path("/srv/data"))[0]["port"] == 9000


def test_a_port_wins_over_the_directory():
    assert pick_server(SERVERS, 9000, Path("/home/ada"))[0]["port"] == 9000


def test_the_only_server_from_anywhere():
    assert pick_server(SERVERS[2:], 0, Path("/tmp"))[0]["port"] == 9000


def test_several_and_none_holding_the_directory_asks_for_a_port():
    with pytest.raises(NapariDesktopError, match="choose one with --port"):
        pick_server(SERVERS, 0, Path("/tmp"))


def test_a_root_that_only_shares_a_prefix_does_not_hold_it():
    servers = [{"port": 1, "root_dir": "/home/ad"}, {"port": 2, "root_dir": "/srv"}]
    with pytest.raises(NapariDesktopError, match="--port"):
        pick_server(servers, 0, Path("/home/ada"))


def test_servers_of_one_root_the_lowest_port_and_the_others_named():
    """Two servers of the same root: the command said nothing and took whichever runtime
    file came first; now the same one every time, and the note says how to take another."""
    twins = [
        {"port": 8891, "url": "http://127.0.0.1:8891/", "root_dir": "/home/ada/project"},
        *SERVERS,
        {"port": 8889, "url": "http://127.0.0.1:8889/", "root_dir": "/home/ada/project/"},
    ]
    server, note = pick_server(twins, 0, Path("/home/ada/project/images"))
    assert server["port"] == 8889
    assert note == (
        "3 Jupyter servers serve /home/ada/project: using http://127.0.0.1:8889/ (port 8889, "
        "the lowest); for another, add --port=8890 or --port=8891"
    )
    assert pick_server(twins, 8890, Path("/home/ada/project"))[1] == "", "--port: no note"
    assert pick_server(SERVERS, 0, Path("/home/ada/project"))[1] == "", "one server: no note"


class Status(BaseHTTPRequestHandler):
    """A Jupyter server's napari-desktop status API as the CLI sees it: not running."""

    def do_GET(self) -> None:
        body = json.dumps({"running": False, "reason": f"fake on {self.server.server_port}"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_servers_of_one_root(tmp_path):
    """Two answering servers, both serving ``root``, in the runtime files of a fresh
    JUPYTER_RUNTIME_DIR (their pid: this live process)."""
    root, runtime = tmp_path / "root", tmp_path / "runtime"
    root.mkdir()
    runtime.mkdir()
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Status) for _ in range(2)]
    for index, server in enumerate(servers):
        threading.Thread(target=server.serve_forever, daemon=True).start()
        info = {
            "pid": os.getpid(),
            "port": server.server_port,
            "url": f"http://127.0.0.1:{server.server_port}/",
            "root_dir": str(root),
            "token": "t",
        }
        (runtime / f"jpserver-{os.getpid() + index}.json").write_text(json.dumps(info))
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,  # this checkout, not an installed copy
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
    }
    try:
        yield root, env, sorted(server.server_port for server in servers)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_command_says_which_server_it_took_and_how_to_take_the_other(
    two_servers_of_one_root,
):
    root, env, (low, high) = two_servers_of_one_root

    def status(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "jupyter_napari_desktop.cli", "status", *args]
        return subprocess.run(
            command, cwd=root, env=env, capture_output=True, text=True, timeout=60
        )

    done = status()
    assert done.returncode == 0, done.stderr
    assert f"server: http://127.0.0.1:{low}/" in done.stdout
    assert f"fake on {low}" in done.stdout
    assert (
        f"2 Jupyter servers serve {root.resolve()}: using http://127.0.0.1:{low}/ "
        f"(port {low}, the lowest); for another, add --port={high}"
    ) in done.stderr, done.stderr
    done = status(f"--port={high}")
    assert done.returncode == 0, done.stderr
    assert f"server: http://127.0.0.1:{high}/" in done.stdout and f"fake on {high}" in done.stdout
    assert done.stderr == ""
