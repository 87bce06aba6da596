"""Bad input gets a clear message that says what to do, and nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tornado.httpclient import HTTPClientError

from tests.integration.conftest import needs_xvnc
from tests.support.jupyter import JupyterServer

pytestmark = pytest.mark.integration


class TestMissingXvnc:
    @pytest.fixture
    def desktop_options(self):
        return {"vnc_server": "/nonexistent/Xvnc", "first_display": 20}

    async def test_page_explains_what_to_install(self, jp_fetch):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("napari-desktop/", params={"app": "napari"})
        assert info.value.code == 503
        page = info.value.response.body.decode()
        assert "/nonexistent/Xvnc" in page
        assert "tigervnc-standalone-server" in page
        assert "c.NapariDesktop.vnc_server" in page

    async def test_api_start_gives_message_and_fix(self, jp_fetch, manager):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("napari-desktop/api/start", method="POST", body="{}")
        assert info.value.code == 503
        error = json.loads(info.value.response.body)["error"]
        assert "/nonexistent/Xvnc" in error["message"]
        assert "tigervnc-standalone-server" in error["fix"]
        assert manager.proc is None


class TestNapariMissing:
    @pytest.fixture
    def desktop_options(self):
        return {
            "session": "minimal",
            "napari_python": "/nonexistent/env/bin/python",
            "first_display": 20,
        }

    @needs_xvnc
    async def test_desktop_still_starts_and_says_how_to_get_napari(self, jp_fetch):
        response = await jp_fetch(
            "napari-desktop/api/start", method="POST", body=json.dumps({"app": "napari"})
        )
        status = json.loads(response.body)
        assert status["running"] is True
        assert status["napari"]["available"] is False
        assert "napari_python" in status["napari"]["message"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [("geometry", "huge", "WIDTHxHEIGHT"), ("session", "gnome", "session")],
)
def test_bad_config_stops_the_server_with_the_option_named(tmp_path, option, value, expected):
    server = JupyterServer(tmp_path, {option: value})
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "--no-browser"],
        env=server.env(),
        cwd=server.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "NapariDesktop" in output and option in output and expected in output
    assert repr(value) in output or value in output


@needs_xvnc
def test_doctor_passes_here_and_names_the_fix_when_broken(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin:" + str(sys.prefix) + "/bin"}
    good = subprocess.run(
        [sys.executable, "-m", "jupyter_napari_desktop.cli", "doctor", "--session=minimal"],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OpenGL" in good.stdout and "llvmpipe" in good.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_napari_desktop.cli",
            "doctor",
            "--NapariDesktop.vnc_server=/nonexistent/Xvnc",
            "--session=minimal",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert bad.returncode == 1
    assert "apt-get install -y tigervnc-standalone-server" in bad.stdout
