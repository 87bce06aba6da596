"""The desktop from a terminal: ``jupyter-napari-desktop status``, ``open FILE...`` and
``session [--empty]`` (docs/napari-api.md, docs/sessions.md) run as a person runs them,
in the server's root directory, against a real server, desktop and napari."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.integration.conftest import needs_xvnc
from tests.support.docs import shell_commands
from tests.support.jupyter import JupyterServer, run_cli
from tests.support.paths import ROOT
from tests.support.pattern import write_pattern
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, needs_xvnc, pytest.mark.timeout(600)]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")

OPTIONS = {"session": "minimal", "autostart_napari": False, "save_delay": 0.5}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = JupyterServer(tmp_path_factory.mktemp("cli"), OPTIONS).start()
    write_pattern(server.root / "pattern.png")
    (server.root / "sub").mkdir()
    try:
        yield server
    finally:
        server.stop_all()


cli = run_cli


def test_status_before_the_desktop_starts(server):
    done = cli(server, "status")
    assert done.returncode == 0, done.stderr
    assert f"server: http://127.0.0.1:{server.port}/" in done.stdout
    assert "desktop: not running" in done.stdout


def test_open_starts_napari_with_the_file(server):
    done = cli(server, "open", "pattern.png")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "opened in napari: pattern"
    status = cli(server, "status")
    assert "napari " in status.stdout and "1 layer(s): pattern" in status.stdout, status.stdout
    as_json = json.loads(cli(server, "status", "--json").stdout)
    assert [layer["name"] for layer in as_json["napari"]["layers"]] == ["pattern"]


def test_paths_are_relative_to_where_it_runs(server):
    done = cli(server, "open", "../pattern.png", cwd=server.root / "sub")
    assert done.returncode == 0, done.stderr
    assert "opened in napari: pattern" in done.stdout  # napari names the second one itself


def test_a_path_outside_the_root_is_refused_with_the_fix(server):
    done = cli(server, "open", "/etc/hostname")
    assert done.returncode == 1
    assert "outside the Jupyter root directory" in done.stderr and "copy it in" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_that_is_not_there(server):
    done = cli(server, "open", "no-such.tif")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "napari desktop answered 4" in done.stderr, done.stderr


def test_open_with_no_file_says_what_to_give(server):
    done = cli(server, "open")
    assert done.returncode == 1 and "name the files to open" in done.stderr


def test_names_with_control_characters_are_shown_escaped(server):
    """A file's name becomes a layer's name: a newline must not forge a line of the
    status, an escape sequence must not reach the terminal."""
    for name in ("forged\nnapari 9.9: 0 layer(s): FAKE.png", "\x1b[31mred.png"):
        write_pattern(server.root / name)
        done = cli(server, "open", name)
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\nnapari 9.9" not in done.stdout
    status = cli(server, "status").stdout
    assert "forged\\nnapari 9.9: 0 layer(s): FAKE" in status, status
    assert "\\x1b[31mred" in status and "\x1b" not in status
    assert not any(line.startswith("napari 9.9") for line in status.splitlines())
    for layer in ("forged\nnapari 9.9: 0 layer(s): FAKE", "\x1b[31mred"):
        code, _ = server.request("DELETE", f"napari-desktop/api/layers/{quote(layer, safe='')}")
        assert code == 200


def test_bad_options_get_one_line(server):
    done = cli(server, "status", "--timeout=-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--timeout must be 1 or more seconds, not -1" in done.stderr
    done = cli(server, "session", "--empty", "--open=latest")
    assert done.returncode == 1 and "give --empty or --open, not both" in done.stderr


def test_a_port_with_no_server(server):
    done = cli(server, "status", "--port=1")
    assert done.returncode == 1
    assert f"no Jupyter server on port 1; running on: {server.port}" in done.stderr


def test_sessions_listed_and_started_empty(server):
    def listed():
        found = json.loads(cli(server, "session", "--json").stdout)
        return found if found["sessions"] and found["sessions"][0].get("layers") else None

    found = wait_for(listed, 60, "a saved session with the layers")
    text = cli(server, "session").stdout
    assert f"sessions in {found['dir']} (newest first):" in text
    assert f"{found['sessions'][0]['path']}: pattern" in text, text
    done = cli(server, "session", "--empty")
    assert done.returncode == 0, done.stderr
    assert "new, empty session" in done.stdout
    assert "0 layer(s)" in cli(server, "status").stdout
    shown = cli(server, "session", "--open=latest")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("napari shows ") and ": pattern" in shown.stdout, shown.stdout
    assert "2 layer(s): pattern, pattern [1]" in cli(server, "status").stdout  # both opened
    missing = cli(server, "session", "--open=no-such-session")
    assert missing.returncode == 1 and "answered 404" in missing.stderr, missing.stderr


def doc_commands(doc: str) -> list[str]:
    """The jupyter-napari-desktop lines of ``doc``'s shell blocks, as written."""
    return [line for line in shell_commands(doc) if "jupyter-napari-desktop " in line]


@pytest.mark.parametrize("doc", ["docs/napari-api.md", "docs/sessions.md", "docs/video.md"])
def test_the_docs_commands_as_written(server, doc):
    """Each command the page shows, typed as it stands in the checkout (where .venv is)."""
    commands = doc_commands(doc)
    assert commands, f"{doc} shows no jupyter-napari-desktop command"
    if not (ROOT / ".venv" / "bin" / "jupyter-napari-desktop").exists():
        pytest.skip("the checkout has no .venv: run bash scripts/setup.sh --test")
    # The pages' commands are about a running napari (sessions.md: "Start empty"); alone
    # (pytest -k) this test starts it as a person would, with a file.
    opened = cli(server, "open", "pattern.png")
    assert opened.returncode == 0, opened.stderr
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            env=server.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        assert done.stdout.strip(), f"{command} printed nothing"


def test_no_server_running(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    command = Path(sys.executable).absolute().parent / "jupyter-napari-desktop"
    done = subprocess.run(
        [str(command), "status"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "no Jupyter server is running for this user" in done.stderr
    assert "bash scripts/run-lab.sh" in done.stderr


@pytest.mark.parametrize("command", ["status", "open", "session", "doctor"])
def test_each_command_has_help(command):
    program = Path(sys.executable).absolute().parent / "jupyter-napari-desktop"
    done = subprocess.run([str(program), command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout or command == "doctor", done.stdout
    listed = subprocess.run([str(program), "--help"], capture_output=True, text=True).stdout
    assert f"\n{command}\n" in listed
