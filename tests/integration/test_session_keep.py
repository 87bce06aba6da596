"""napari's session kept in the user's home as it happens and back after any restart: a real
Jupyter server (a child process, so it can be SIGKILLed), a real Xvnc and a real napari.

Edits arrive as a person makes them (a brush stroke by xdotool on the desktop's display) and
as a notebook makes them (desktop_viewer(), through the package's REST API).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from tests.integration.conftest import needs_xvnc
from tests.support import procs
from tests.support.jupyter import JupyterServer
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(900)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")

from jupyter_napari_desktop.kernel.notebook import NapariDesktopError  # noqa: E402
from jupyter_napari_desktop.kernel.viewer import DesktopViewer, desktop_viewer  # noqa: E402
from jupyter_napari_desktop.napari_side.session_keep import load_session  # noqa: E402

SHAPE = (50, 512, 512)
OPTIONS = {
    "session": "minimal",
    "autostart_napari": False,
    "save_delay": 0.5,
    "geometry": "1024x768",
}


def serve(tmp: Path, monkeypatch: pytest.MonkeyPatch, **options: Any) -> JupyterServer:
    """A server on ``tmp`` (its home kept between servers) and this process set up as its
    kernel would be, for desktop_viewer()."""
    server = JupyterServer(tmp, {**OPTIONS, **options}).start()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
    assert server.proc is not None
    monkeypatch.setenv("JUPYTER_NAPARI_DESKTOP_SERVER_PID", str(server.proc.pid))
    return server


def session(server: JupyterServer) -> dict[str, Any]:
    status, body = server.request("GET", "napari-desktop/api/session")
    assert status == 200, body
    return body


def saved_after(server: JupyterServer, moment: float, layers: int) -> dict[str, Any]:
    """Wait for a save of ``layers`` layers that began after ``moment`` (epoch s)."""

    def done() -> Any:
        last = (session(server)["napari"] or {}).get("last_save") or {}
        return last if last.get("at", 0) > moment and last.get("layers") == layers else None

    return wait_for(done, 60, f"a save of {layers} layers after {moment}", 0.2)


def restored(server: JupyterServer) -> dict[str, Any]:
    def done() -> Any:
        kept = session(server)["napari"] or {}
        return kept.get("restored") if not kept.get("restoring") else None

    return wait_for(done, 120, "napari to restore its session", 0.25)


def napari_pid(server: JupyterServer) -> int:
    found = [p for p in server.desktop_pids() if "napari_helper.py" in " ".join(procs.cmdline(p))]
    assert found, "napari is not running"
    return found[0]


def kill_server(server: JupyterServer) -> None:
    """SIGKILL the Jupyter server; its desktop ends by itself (it watches its parent)."""
    assert server.proc is not None
    pids = server.desktop_pids()
    server.proc.kill()
    server.proc.wait()
    wait_for(lambda: not procs.living(set(pids)), 30, "the desktop to end with its server")


def paint_stroke(server: JupyterServer) -> None:
    """Drag the mouse across the middle of the screen with button 1 held (a brush stroke)."""
    env = server.x_env()
    width, height = 1024, 768
    steps = [(width // 2 - 120 + 20 * i, height // 2) for i in range(13)]
    commands = [["mousemove", str(steps[0][0]), str(steps[0][1])], ["mousedown", "1"]]
    for x, y in steps[1:]:
        commands += [["mousemove", str(x), str(y)], ["sleep", "0.05"]]
    commands.append(["mouseup", "1"])
    for command in commands:
        subprocess.run(["xdotool", *command], env=env, check=True, timeout=10)


def test_labels_painted_and_sent_are_back_after_the_server_is_sigkilled(tmp_path, monkeypatch):
    server = serve(tmp_path, monkeypatch)
    try:
        viewer = desktop_viewer(timeout=120)
        tifffile.imwrite(server.root / "nuclei.tif", np.full((64, 64), 7, np.uint8))
        assert viewer.open(server.root / "nuclei.tif") == ["nuclei"]
        image = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
        viewer.add_image(image, name="cells", colormap="magma", opacity=0.7, scale=[8, 8])
        labels = np.zeros(SHAPE, np.uint32)
        labels[10, 100:200, 100:200] = 3
        viewer.add_labels(labels, name="mask")
        viewer.add_points(np.array([[1.0, 5, 5], [2, 50, 60]]), name="spots", size=7)
        viewer.layers["mask"].update(mode="paint", selected_label=5, brush_size=30)
        viewer.reset_view()
        viewer.dims.current_step = (10, 0, 0)
        viewer.selected = ["mask"]
        moment = time.time()
        paint_stroke(server)
        after = saved_after(server, moment, 4)
        painted = viewer.get("mask")
        assert (painted == 5).sum() > 1000, "the stroke painted label 5 on the mask"
        assert after["written_bytes"] >= labels.nbytes
        # A notebook's edit through the REST API, saved in turn.
        painted[20, :10, :10] = 9
        moment = time.time()
        viewer.layers["mask"].data = painted
        saved = saved_after(server, moment, 4)
        assert saved["written_bytes"] < labels.nbytes * 1.1, "only the changed layer is written"
        kill_server(server)
    finally:
        server.stop_all()

    # The same home, a new server: napari comes back with the layers, in order, as saved.
    again = serve(tmp_path, monkeypatch)
    try:
        started = time.monotonic()
        viewer2 = desktop_viewer(timeout=120)
        back = restored(again)
        assert back["layers"] == ["nuclei", "cells", "mask", "spots"], back
        assert back["skipped"] == []
        assert time.monotonic() - started < 120
        assert list(viewer2.layers) == ["nuclei", "cells", "mask", "spots"]
        assert (viewer2.get("nuclei") == 7).all(), "the file opened again from its path"
        assert np.array_equal(viewer2.get("mask"), painted)
        assert np.array_equal(viewer2.get("cells"), image)
        cells = viewer2.layers["cells"]
        assert cells.colormap == "magma" and cells.opacity == pytest.approx(0.7)
        assert viewer2.dims.current_step[0] == 10 and viewer2.selected == ["mask"]
        status = again.request("GET", "napari-desktop/api/status")[1]
        assert status["napari"]["session"]["restored"]["from"] == back["from"]
        sessions = wait_for(
            lambda: session(again)["sessions"][1:] and session(again)["sessions"],
            30,
            "the restored session to be saved in a new folder",
        )
        assert sessions[1]["name"] == back["from"], "earlier sessions are kept"
        assert sessions[1]["layers"] == ["nuclei", "cells", "mask", "spots"]
        kept = json.loads(Path(sessions[1]["path"], "session.json").read_text())
        assert kept["layers"][0]["source"]["path"] == str(server.root / "nuclei.tif")
        assert "files" not in kept["layers"][0], "a file is kept by its path, not copied"
    finally:
        again.stop_all()


def test_a_file_napari_opens_at_each_start_stays_one_layer_across_restarts(tmp_path, monkeypatch):
    """NapariDesktop.napari_args opens a file at every start, and the session kept it too:
    after each restart it is one layer with the session's settings, not one copy more."""
    cells = tmp_path / "cells.tif"
    tifffile.imwrite(cells, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    options = {"napari_args": [str(cells)]}
    server = serve(tmp_path, monkeypatch, **options)
    try:
        viewer = desktop_viewer(timeout=120)
        wait_for(lambda: list(viewer.layers) == ["cells"], 60, "napari to open cells.tif")
        viewer.layers["cells"].update(colormap="magma", opacity=0.6)
        viewer.add_labels(np.full((64, 64), 3, np.uint8), name="mask")
        saved_after(server, 0, 2)
        kill_server(server)
    finally:
        server.stop_all()
    for start in (2, 3):
        again = serve(tmp_path, monkeypatch, **options)
        try:
            viewer = desktop_viewer(timeout=120)
            back = restored(again)
            assert back["layers"] == ["cells", "mask"] and back["skipped"] == [], (start, back)
            assert list(viewer.layers) == ["cells", "mask"], start
            layer = viewer.layers["cells"]
            assert layer.colormap == "magma" and layer.opacity == pytest.approx(0.6)
            assert (viewer.get("mask") == 3).all()
            wait_for(
                lambda start=start, again=again: len(session(again)["sessions"]) >= start,
                30,
                "the restored session to be saved in a new folder",
            )
            kill_server(again)
        finally:
            again.stop_all()


def test_napari_killed_while_saving_restores_a_complete_session(tmp_path, monkeypatch):
    """SIGKILL napari while it writes a save, ten times: each next start restores a whole
    session, the last one whose save had ended."""
    server = serve(tmp_path, monkeypatch)
    root = tmp_path / "home" / "napari-sessions"
    mid_save, last = 0, 1
    try:
        viewer: DesktopViewer = desktop_viewer(timeout=120)
        viewer.add_labels(np.full(SHAPE, 1, np.uint32), name="mask")
        saved_after(server, 0, 1)
        for round_ in range(2, 12):
            back = restored(server) if round_ > 2 else {"layers": ["mask"], "skipped": []}
            assert back["layers"] == ["mask"] and back["skipped"] == [], back
            data = viewer.get("mask")
            value = int(data[0, 0, 0])
            # The last value whose save ended before its kill (never older), whole.
            assert last <= value < round_ and (data == value).all(), (last, value, round_)
            last = value
            viewer.layers["mask"].data = np.full(SHAPE, round_, np.uint32)
            pid = napari_pid(server)

            def writing() -> bool:
                return any(root.glob("*/.*.tmp"))

            try:
                wait_for(writing, 10, "napari to be writing its session", 0.002)
                mid_save += 1
            except AssertionError:
                pass
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: not procs.alive(pid), 10, "napari to be killed")
            viewer = desktop_viewer(timeout=120)  # starts napari again
        assert mid_save >= 3, f"only {mid_save} of 10 kills came during a write"
    finally:
        server.stop_all()


def test_a_damaged_session_is_named_and_napari_starts_with_the_rest(tmp_path, monkeypatch):
    server = serve(tmp_path, monkeypatch)
    root = tmp_path / "home" / "napari-sessions"
    try:
        viewer = desktop_viewer(timeout=120)
        viewer.add_labels(np.full((8, 32, 32), 2, np.uint8), name="good")
        viewer.add_labels(np.full((8, 32, 32), 4, np.uint8), name="cut")
        saved_after(server, 0, 2)
        kill_server(server)
    finally:
        server.stop_all()
    folder = sorted(root.iterdir())[-1]
    state = json.loads((folder / "session.json").read_text())
    cut = folder / state["layers"][1]["files"]["data"]
    cut.write_bytes(cut.read_bytes()[:200])  # truncated, as by a full disk
    state["layers"].append({"name": "alien", "type": "hologram", "files": {"data": "x.npy"}})
    # A header that claims 931 GiB (the read used to die and leave napari "restoring" for
    # good), a named pipe as a layer's file (its read would block for good), and view
    # settings of the wrong type (the report of what was restored used to be lost).
    with open(folder / "huge.npy", "wb") as out:
        header = {"descr": "|u1", "fortran_order": False, "shape": (1_000_000, 1_000_000)}
        np.lib.format.write_array_header_1_0(out, header)
    state["layers"].append({"name": "huge", "type": "image", "files": {"data": "huge.npy"}})
    os.mkfifo(tmp_path / "pipe.npy")
    pipe = {"name": "pipe", "type": "image", "source": {"path": str(tmp_path / "pipe.npy")}}
    state["layers"].append(pipe)
    state["dims"], state["selected"] = 5, 5
    (folder / "session.json").write_text(json.dumps(state))
    newer = root / "2999-01-01T00-00-00Z-1"
    newer.mkdir()
    (newer / "session.json").write_text('{"format": 1, "layers": [')  # truncated
    odd = root / "2998-01-01T00-00-00Z-1"
    odd.mkdir()
    (odd / "session.json").write_text('{"format": 1, "layers": "abc"}')

    again = serve(tmp_path, monkeypatch)
    try:
        desktop_viewer(timeout=120)
        back = restored(again)
        assert back["from"] == folder.name and back["layers"] == ["good"]
        skipped = " | ".join(back["skipped"])
        assert "2999-01-01T00-00-00Z-1" in skipped, skipped
        assert "cut" in skipped and "alien" in skipped and "hologram" in skipped, skipped
        assert "huge: huge.npy: too large to load here" in skipped, skipped
        assert "pipe.npy is not a regular file or folder" in skipped, skipped
        assert "viewer dims: '5' is not a JSON object" in skipped, skipped
        assert "viewer selected: '5' is not a list of names" in skipped, skipped
        listed = {kept["name"]: kept for kept in session(again)["sessions"]}
        assert "cannot be read" in listed[newer.name]["error"]
        assert "not a napari-desktop session" in listed[odd.name]["error"]
        assert listed[folder.name]["layers"] == ["good", "cut", "alien", "huge", "pipe"]
        assert cut.exists() and newer.exists(), "nothing is deleted"
    finally:
        again.stop_all()


def test_an_unwritable_session_folder_never_stops_napari(tmp_path, monkeypatch):
    """A home that cannot be written (here a file where the folder should be: even root
    cannot write there): napari runs, keeps its layers, and the API says what failed."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    server = serve(tmp_path, monkeypatch, session_dir=str(blocker / "sessions"))
    try:
        viewer = desktop_viewer(timeout=120)
        viewer.add_labels(np.ones((4, 16, 16), np.uint8), name="mask")

        def error() -> Any:
            return (session(server)["napari"] or {}).get("error")

        message = wait_for(error, 60, "the failed save to be reported")
        assert "could not be saved" in message and "not-a-folder" in message, message
        assert list(viewer.layers) == ["mask"]
    finally:
        server.stop_all()


def test_an_undone_stroke_is_saved_undone(tmp_path, monkeypatch):
    """napari's undo (Ctrl+Z) emits no data event: the save still finds it."""
    server = serve(tmp_path, monkeypatch)
    root = tmp_path / "home" / "napari-sessions"
    try:
        viewer = desktop_viewer(timeout=120)
        viewer.add_labels(np.zeros((512, 512), np.uint32), name="mask")
        viewer.layers["mask"].update(mode="paint", selected_label=5, brush_size=30)
        viewer.reset_view()
        moment = time.time()
        paint_stroke(server)
        saved_after(server, moment, 1)
        assert (viewer.get("mask") == 5).sum() > 1000
        moment = time.time()
        subprocess.run(["xdotool", "key", "ctrl+z"], env=server.x_env(), check=True, timeout=10)
        wait_for(lambda: not viewer.get("mask").any(), 30, "napari to undo the stroke")
        saved_after(server, moment, 1)
        folder = sorted(root.iterdir())[-1]
        state = json.loads((folder / "session.json").read_text())
        kept = np.load(folder / state["layers"][0]["files"]["data"])
        assert not kept.any(), "the undone stroke is not in the saved labels"
    finally:
        server.stop_all()


def test_a_notebook_opens_a_saved_session(tmp_path, monkeypatch):
    """With ``restore = False`` napari starts empty; ``desktop_viewer(session="latest")``
    shows the session saved before (not the one napari writes now), ``open_session(path)``
    any saved folder; the layers shown before stay on disk in their own session."""
    server = serve(tmp_path, monkeypatch, restore=False)
    root = tmp_path / "home" / "napari-sessions"
    try:
        viewer = desktop_viewer(timeout=120)
        labels = np.zeros((6, 64, 64), np.uint16)
        labels[2, 10:30, 10:40] = 4
        image = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
        viewer.add_image(image, name="cells", colormap="magma", opacity=0.6)
        viewer.add_labels(labels, name="mask")
        viewer.dims.current_step = (2, 0, 0)
        viewer.selected = ["cells"]
        first = saved_after(server, 0, 2)
        first_folder = session(server)["napari"]["folder"]
        os.kill(napari_pid(server), signal.SIGKILL)
        # At once, while napari dies: a start then waits for the new napari (was a 503).
        viewer = desktop_viewer(timeout=120)  # napari again, empty (restore = False)
        assert list(viewer.layers) == []
        viewer.add_points(np.array([[3.0, 4.0]]), name="scratch")
        saved_after(server, first["at"], 1)
        second_folder = session(server)["napari"]["folder"]
        assert second_folder != first_folder

        moment = time.time()
        viewer = desktop_viewer(timeout=120, session="latest")
        assert list(viewer.layers) == ["cells", "mask"]
        assert np.array_equal(viewer.get("mask"), labels)
        assert np.array_equal(viewer.get("cells"), image)
        cells = viewer.layers["cells"]
        assert cells.colormap == "magma" and cells.opacity == pytest.approx(0.6)
        assert viewer.dims.current_step[0] == 2 and viewer.selected == ["cells"]
        shown = session(server)["napari"]
        assert shown["restored"]["from"] == first_folder, shown
        # What is opened is kept in a new session; the scratch session stays as it was.
        saved_after(server, moment, 2)
        third_folder = session(server)["napari"]["folder"]
        assert third_folder not in (first_folder, second_folder)
        kept = {item["name"]: item.get("layers") for item in session(server)["sessions"]}
        assert kept[second_folder] == ["scratch"], kept
        assert kept[first_folder] == ["cells", "mask"], kept

        # An edit not saved yet (save_delay) is saved in its session before another opens.
        edited = labels.copy()
        edited[3] = 7
        viewer.layers["mask"].data = edited
        back = viewer.open_session(root / second_folder)
        assert back["from"] == second_folder and back["layers"] == ["scratch"], back
        assert list(viewer.layers) == ["scratch"]
        assert np.array_equal(load_session(root / third_folder)["mask"]["data"], edited)
        assert viewer.open_session(first_folder)["layers"] == ["cells", "mask"]

        with pytest.raises(NapariDesktopError) as missing:
            viewer.open_session("1999-01-01T00-00-00Z-1")
        assert missing.value.status == 404 and "no saved napari session" in str(missing.value)
        with pytest.raises(NapariDesktopError) as outside:
            viewer.open_session("..")  # a name is a folder of the sessions folder, no more
        assert outside.value.status == 404, outside.value
        assert list(viewer.layers) == ["cells", "mask"], "a refused open changes nothing"
    finally:
        server.stop_all()


def test_the_session_is_in_the_file_browser_when_the_root_is_the_home(tmp_path, monkeypatch):
    """JupyterHub, the images and Binder serve the home: the sessions are a visible folder
    of the root, listed and downloadable through Jupyter's contents API (what JupyterLab's
    file browser shows), and a notebook finds them with sessions()."""
    server = JupyterServer(
        tmp_path, OPTIONS, extra_config={"ServerApp": {"root_dir": str(tmp_path / "home")}}
    ).start()
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    assert server.proc is not None
    monkeypatch.setenv("JUPYTER_NAPARI_DESKTOP_SERVER_PID", str(server.proc.pid))
    try:
        viewer = desktop_viewer(timeout=120)
        moment = time.time()
        viewer.add_labels(np.full((4, 16, 16), 7, np.uint8), name="mask")
        saved_after(server, moment, 1)
        code, listing = server.request("GET", "api/contents/napari-sessions")
        assert code == 200, listing
        folders = [item["name"] for item in listing["content"] if item["type"] == "directory"]
        newest = viewer.sessions()[0]
        assert newest["name"] in folders and newest["layers"] == ["mask"], (folders, newest)
        assert Path(newest["path"]) == tmp_path / "home" / "napari-sessions" / newest["name"]
        code, state = server.request(
            "GET", f"api/contents/napari-sessions/{newest['name']}/session.json?content=1"
        )
        assert code == 200 and state["type"] == "file", state
        assert [layer["name"] for layer in json.loads(state["content"])["layers"]] == ["mask"]
    finally:
        server.stop_all()
