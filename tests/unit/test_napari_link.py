"""How the server reaches napari (server/napari_link.py): a request while napari starts."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from jupyter_napari_desktop.server import napari_link
from jupyter_napari_desktop.server.errors import Refused
from jupyter_napari_desktop.server.napari_link import NapariLink


class Desktop:
    """A running desktop (as the link sees the manager) whose napari has this process's
    pid and listens on ``napari.sock`` only once ``listen`` ran."""

    def __init__(self, folder: Path) -> None:
        self.paths = SimpleNamespace(
            napari_pid=folder / "napari.pid", napari_socket=folder / "napari.sock"
        )
        self.paths.napari_pid.write_text(str(os.getpid()))
        self.generation = 1
        self.stopped_on_purpose = False
        self.asked: list[dict] = []

    def running(self) -> bool:
        return True

    async def listen(self) -> asyncio.AbstractServer:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.asked.append(json.loads(await reader.readline()))
            writer.write(json.dumps({"ok": True, "layers": []}).encode() + b"\n")
            await writer.drain()
            writer.close()

        return await asyncio.start_unix_server(answer, str(self.paths.napari_socket))


@pytest.fixture
def folder(tmp_path_factory):
    # A short path: a unix socket's path is at most 107 bytes.
    return Path(tmp_path_factory.mktemp("nl", numbered=True))


def test_a_request_while_napari_starts_waits_for_it(folder):
    """napari runs (its pid) but its socket is not there yet: a notebook's v.layers right
    after the launcher card was clicked answered 503 "napari stopped answering". It waits
    for napari to listen, and the request goes once."""
    desktop = Desktop(folder)
    link = NapariLink(desktop)  # type: ignore[arg-type]

    async def scenario() -> tuple[dict, float]:
        async def later() -> asyncio.AbstractServer:
            await asyncio.sleep(0.8)
            return await desktop.listen()

        starting = asyncio.ensure_future(later())
        begun = time.monotonic()
        answer = await link.ask({"cmd": "layers"}, 5)
        waited = time.monotonic() - begun
        (await starting).close()
        return answer, waited

    answer, waited = asyncio.run(scenario())
    assert answer == {"ok": True, "layers": []}
    assert waited >= 0.7
    assert desktop.asked == [{"cmd": "layers"}]


def test_a_napari_that_exits_is_not_waited_for(folder, monkeypatch):
    """napari's process gone (its pid file too): 409 at once, not after the wait."""
    desktop = Desktop(folder)
    desktop.paths.napari_pid.unlink()
    link = NapariLink(desktop)  # type: ignore[arg-type]
    monkeypatch.setattr(link, "seen", desktop.generation)
    begun = time.monotonic()
    with pytest.raises(Refused) as caught:
        asyncio.run(link.ask({"cmd": "layers"}, 5))
    assert caught.value.status == 409 and "napari was closed" in str(caught.value)
    assert time.monotonic() - begun < napari_link.STARTING_SECONDS / 2


def test_a_napari_that_never_listens_says_so_after_the_wait(folder, monkeypatch):
    monkeypatch.setattr(napari_link, "STARTING_SECONDS", 0.5)
    link = NapariLink(Desktop(folder))  # type: ignore[arg-type]
    with pytest.raises(Exception, match="napari stopped answering"):
        asyncio.run(link.ask({"cmd": "layers"}, 5))
