"""Pure command, environment and path building (no display needed)."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_napari_desktop import launch, procs
from jupyter_napari_desktop.launch import (
    DesktopError,
    RuntimePaths,
    choose_render_node,
    desktop_env,
    parse_xvnc_version,
    resolve_napari,
    session_argv,
    shebang_python,
    start_script,
    x_lock_path,
    xauthority_entry,
    xvnc_argv,
)
from jupyter_napari_desktop.procs import (
    clean_stale_display,
    display_state,
    make_runtime_dir,
    render_nodes,
)
from tests.support.waiting import wait_for


def test_xvnc_listens_on_a_private_unix_socket_only(tmp_path):
    paths = RuntimePaths(tmp_path)
    argv = xvnc_argv("Xvnc", 7, paths, "1280x800", 24, 30)
    assert argv[:2] == ["Xvnc", ":7"]
    pairs = dict(zip(argv, argv[1:]))
    assert pairs["-rfbport"] == "-1"
    assert pairs["-rfbunixpath"] == str(tmp_path / "vnc.sock")
    assert pairs["-rfbunixmode"] == "0600"
    assert pairs["-nolisten"] == "tcp"
    assert pairs["-auth"] == str(tmp_path / "Xauthority")
    assert "-UseBlacklist=0" in argv
    assert pairs["-FrameRate"] == "30"
    assert pairs["-geometry"] == "1280x800"
    assert "-rendernode" not in argv


def test_xvnc_gets_the_render_node_it_is_given(tmp_path):
    argv = xvnc_argv("Xvnc", 7, RuntimePaths(tmp_path), "1280x800", 24, 30, "/dev/dri/renderD128")
    assert argv[-2:] == ["-rendernode", "/dev/dri/renderD128"]


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("\nXvnc TigerVNC 1.12.0 - built 2023-01-06 16:01\nCopyright (C) 1999-2021", (1, 12)),
        ("Xvnc TigerVNC 1.15.0 - built 2025-04-01 00:00\n", (1, 15)),
        ("Xvnc: command not found", None),
    ],
)
def test_xvnc_version_is_read_from_its_banner(text, version):
    assert parse_xvnc_version(text) == version


NODES = ["/dev/dri/renderD128", "/dev/dri/renderD129"]


@pytest.mark.parametrize(
    ("setting", "version", "nodes", "usable", "path", "why"),
    [
        ("auto", (1, 15), NODES, NODES, "/dev/dri/renderD128", "the first render node"),
        ("auto", (1, 14), NODES, NODES, "/dev/dri/renderD128", "TigerVNC 1.14"),
        ("auto", (1, 12), NODES, NODES, None, "needs 1.14 or newer"),
        ("auto", None, NODES, NODES, None, "did not say its TigerVNC version"),
        ("auto", (1, 15), [], [], None, "--device /dev/dri"),
        ("auto", (1, 15), NODES, NODES[1:], None, "renderD128 is not readable and writable"),
        ("off", (1, 15), NODES, NODES, None, "'off'"),
        ("/dev/dri/renderD129", (1, 12), NODES, [], "/dev/dri/renderD129", "set by"),
    ],
)
def test_render_node_choice(setting, version, nodes, usable, path, why):
    chosen = choose_render_node(setting, version, nodes, lambda node: node in usable)
    assert chosen.path == path
    assert why in chosen.reason
    assert ("GPU" in chosen.renderer) == (path is not None)


def test_render_nodes_are_listed_in_number_order(tmp_path):
    for name in ("renderD129", "renderD128", "renderD1000", "card0", "renderDx"):
        (tmp_path / name).touch()
    assert render_nodes(tmp_path) == [str(tmp_path / f"renderD{n}") for n in (128, 129, 1000)]


def test_runtime_dir_is_private(tmp_path):
    paths = make_runtime_dir(tmp_path)
    assert paths.root.parent == tmp_path
    assert paths.root.stat().st_mode & 0o777 == 0o700


def test_runtime_dir_too_long_for_a_socket(tmp_path):
    deep = tmp_path / ("d" * 90)
    with pytest.raises(DesktopError) as info:
        make_runtime_dir(deep)
    assert "runtime_dir" in info.value.fix


def test_xauthority_record_format():
    cookie = bytes(range(16))
    record = xauthority_entry(12, cookie)
    family, address_len = struct.unpack(">HH", record[:4])
    assert family == 0xFFFF and address_len == 0
    assert record[4:8] == b"\x00\x0212"
    assert b"MIT-MAGIC-COOKIE-1" in record
    assert record.endswith(b"\x00\x10" + cookie)


def test_xauthority_file_is_owner_only(tmp_path):
    target = tmp_path / "Xauthority"
    procs.write_xauthority(target, 3, b"x" * 16)
    assert target.stat().st_mode & 0o777 == 0o600


def test_session_choice_order(tmp_path):
    assert session_argv("xfce", "", tmp_path) == (
        "xfce",
        ["dbus-launch", "--exit-with-session", "xfce4-session"],
    )
    kind, argv = session_argv("minimal", "", tmp_path)
    assert kind == "minimal" and argv[0] in ("openbox", "xfwm4")
    own = tmp_path / ".vnc" / "xstartup"
    own.parent.mkdir()
    own.write_text("#!/bin/sh\nexec xterm\n")
    assert session_argv("xfce", "", tmp_path)[0] == "xfce", "not executable: ignored"
    own.chmod(0o755)
    assert session_argv("xfce", "", tmp_path) == ("user-xstartup", [str(own)])
    assert session_argv("xfce", "/opt/site/xstartup", tmp_path) == (
        "xstartup",
        ["/opt/site/xstartup"],
    )


def test_desktop_env_forces_x_and_drops_secrets(tmp_path):
    base = {
        "PATH": "/usr/bin",
        "QT_QPA_PLATFORM": "offscreen",
        "JUPYTERHUB_API_TOKEN": "secret",
        "JUPYTER_TOKEN": "secret",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/0/bus",
        "DISPLAY": ":0",
    }
    env = desktop_env(base, 5, RuntimePaths(tmp_path), {"NAPARI_ASYNC": "1"})
    assert env["DISPLAY"] == ":5"
    assert env["QT_QPA_PLATFORM"] == "xcb"
    assert env["XAUTHORITY"] == str(tmp_path / "Xauthority")
    assert "JUPYTERHUB_API_TOKEN" not in env and "JUPYTER_TOKEN" not in env
    assert "DBUS_SESSION_BUS_ADDRESS" not in env
    assert env["NAPARI_ASYNC"] == "1"
    assert env["XDG_DATA_DIRS"].startswith(str(tmp_path / "share"))
    assert env["PATH"] == "/usr/bin"


def test_start_script_quotes_hostile_paths(tmp_path):
    odd = tmp_path / "my images" / "it's; $(touch pwned).tif"
    out = tmp_path / "args.txt"
    argv = [
        sys.executable,
        "-c",
        f"import sys; open({str(out)!r}, 'w').write('\\n'.join(sys.argv[1:]))",
        str(odd),
    ]
    script = tmp_path / "start"
    script.write_text(start_script(argv, tmp_path / "log"))
    script.chmod(0o755)
    subprocess.run([str(script)], check=True, cwd=tmp_path)
    assert out.read_text() == str(odd)
    assert not (tmp_path / "pwned").exists()


def test_resolve_napari_in_server_env_uses_the_helper():
    launch_ = resolve_napari([], sys.executable, ["/data/cells.tif"], [])
    assert launch_.available
    assert launch_.argv == [sys.executable, str(launch.NAPARI_HELPER), "/data/cells.tif"]


def test_resolve_napari_bad_python_says_what_to_do(tmp_path):
    result = resolve_napari([], str(tmp_path / "nope" / "python"), [], [])
    assert not result.available
    assert "napari_python" in result.message


def test_resolve_napari_missing_everywhere(monkeypatch):
    monkeypatch.setattr(launch.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", "/nonexistent")
    result = resolve_napari([], "", [], [])
    assert not result.available
    assert "pip install 'napari[pyqt6]'" in result.message


def test_resolve_napari_custom_command_and_wrapper(monkeypatch):
    result = resolve_napari(["sh", "-c", "true"], "", ["a.tif"], ["no-such-vglrun"])
    assert result.argv == ["sh", "-c", "true", "a.tif"], "a wrapper not on PATH is skipped"
    result = resolve_napari(["sh"], "", [], ["env"])
    assert result.argv == ["env", "sh"]
    assert not resolve_napari(["no-such-napari"], "", [], []).available


def test_shebang_python(tmp_path):
    script = tmp_path / "napari"
    script.write_text("#!/opt/napari env/bin/python3 -s\n")
    assert shebang_python(script) is None, "a path with a space is not a clean shebang"
    script.write_text("#!/opt/envs/napari/bin/python3\nimport napari\n")
    assert shebang_python(script) == "/opt/envs/napari/bin/python3"
    script.write_text("#!/bin/sh\n")
    assert shebang_python(script) is None


@pytest.fixture
def unused_display():
    """A high display number with no lock, socket or server."""
    for _ in range(50):
        number = random.randint(6000, 8999)
        if display_state(number) == "free":
            yield number
            clean_stale_display(number)
            return
    pytest.fail("no free display number found")


def test_stale_lock_of_dead_server_is_cleaned(unused_display):
    dead = subprocess.Popen(["true"])
    dead.wait()
    x_lock_path(unused_display).write_text(f"{dead.pid:>10}\n")
    assert display_state(unused_display) == "stale"
    assert unused_display in procs.candidate_displays(unused_display, 1)
    assert not x_lock_path(unused_display).exists()


def test_lock_of_a_zombie_server_is_stale(unused_display):
    """A server killed with its parent stays a zombie until init reaps it (in a container,
    maybe never): its lock is stale, the display is used again."""
    zombie = subprocess.Popen(["true"])
    try:
        wait_for(
            lambda: Path(f"/proc/{zombie.pid}/stat").read_text().split()[2] == "Z", 5, "a zombie"
        )
        assert not procs.pid_alive(zombie.pid)
        x_lock_path(unused_display).write_text(f"{zombie.pid:>10}\n")
        assert display_state(unused_display) == "stale"
        assert unused_display in procs.candidate_displays(unused_display, 1)
    finally:
        zombie.wait()


def test_live_lock_is_respected(unused_display, tmp_path):
    """A lock of a running X server (a process named X...) keeps its display taken."""
    server = tmp_path / "Xfake"
    shutil.copy("/bin/sleep", server)
    running = subprocess.Popen([str(server), "60"])
    try:
        wait_for(lambda: procs.describe(running.pid).endswith("Xfake"), 5, "Xfake to run")
        x_lock_path(unused_display).write_text(f"{running.pid:>10}\n")
        assert display_state(unused_display) == "taken"
        assert procs.candidate_displays(unused_display, 1) == []
        assert x_lock_path(unused_display).exists()
    finally:
        running.kill()
        running.wait()


def test_lock_naming_a_live_process_that_is_no_x_server_is_stale(unused_display):
    """After `docker kill` + `docker start` the lock's pid is often another process of the
    new run (here: this test's own Python): the display is used again."""
    x_lock_path(unused_display).write_text(f"{os.getpid():>10}\n")
    assert display_state(unused_display) == "stale"
    assert unused_display in procs.candidate_displays(unused_display, 1)
    assert not x_lock_path(unused_display).exists()


def test_desktop_entry_points_at_start_script(tmp_path):
    entry = launch.desktop_entry(tmp_path / "start-napari", Path("/icons/napari.svg"))
    assert f"Exec={tmp_path / 'start-napari'}" in entry
    assert "Name=napari" in entry


def test_xauthority_file_has_a_wild_and_a_local_entry(tmp_path):
    """python-xlib (the supervisor's idle clock) finds cookies by hostname only."""
    import socket

    from Xlib.xauth import FamilyLocal, Xauthority

    target = tmp_path / "Xauthority"
    procs.write_xauthority(target, 7, b"k" * 16)
    entries = Xauthority(str(target)).entries
    assert (0xFFFF, b"", b"7", b"MIT-MAGIC-COOKIE-1", b"k" * 16) in entries
    local = (FamilyLocal, socket.gethostname().encode(), b"7", b"MIT-MAGIC-COOKIE-1", b"k" * 16)
    assert local in entries
