"""Which running Jupyter server the terminal commands talk to (cli.pick_server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_napari_desktop.cli import pick_server
from jupyter_napari_desktop.kernel.notebook import NapariDesktopError

SERVERS = [
    {"port": 8888, "url": "http://127.0.0.1:8888/", "root_dir": "/home/ada"},
    {"port": 8890, "url": "http://127.0.0.1:8890/", "root_dir": "/home/ada/project"},
    {"port": 9000, "url": "http://127.0.0.1:9000/", "root_dir": "/srv/data"},
]


def test_the_deepest_root_holding_the_directory():
    assert pick_server(SERVERS, 0, Path("/home/ada/project/images"))["port"] == 8890
    assert pick_server(SERVERS, 0, Path("/home/ada/notes"))["port"] == 8888
    assert pick_server(SERVERS, 0, Path("/srv/data"))["port"] == 9000


def test_a_port_wins_over_the_directory():
    assert pick_server(SERVERS, 9000, Path("/home/ada"))["port"] == 9000


def test_the_only_server_from_anywhere():
    assert pick_server(SERVERS[2:], 0, Path("/tmp"))["port"] == 9000


def test_several_and_none_holding_the_directory_asks_for_a_port():
    with pytest.raises(NapariDesktopError, match="choose one with --port"):
        pick_server(SERVERS, 0, Path("/tmp"))


def test_a_root_that_only_shares_a_prefix_does_not_hold_it():
    servers = [{"port": 1, "root_dir": "/home/ad"}, {"port": 2, "root_dir": "/srv"}]
    with pytest.raises(NapariDesktopError, match="--port"):
        pick_server(servers, 0, Path("/home/ada"))
