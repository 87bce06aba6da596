"""open_in_napari() from a kernel-like process talks to its own server's API."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tifffile

from tests.integration.conftest import needs_xvnc
from tests.support.jupyter import JupyterServer

pytestmark = [pytest.mark.integration, needs_xvnc]
pytest.importorskip("napari", reason="napari is installed by scripts/setup.sh")


@pytest.fixture
def server(tmp_path):
    proc = JupyterServer(tmp_path, {"session": "minimal", "autostart_napari": False})
    (proc.root / "analysis").mkdir()
    tifffile.imwrite(proc.root / "analysis" / "nuclei.tif", [[0, 1], [2, 3]])
    yield proc.start()
    proc.stop()


def run_in_kernel(server: JupyterServer, code: str) -> subprocess.CompletedProcess:
    env = server.env()
    env["JUPYTER_NAPARI_DESKTOP_SERVER_PID"] = str(server.proc.pid)  # as the server gives kernels
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=server.root / "analysis",
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_open_in_napari_from_a_kernel(server):
    done = run_in_kernel(
        server,
        "from jupyter_napari_desktop import open_in_napari; print(open_in_napari('nuclei.tif'))",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['nuclei']"
    code, status = server.request("GET", "napari-desktop/api/status")
    assert code == 200
    assert [layer["name"] for layer in status["napari"]["layers"]] == ["nuclei"]


def test_open_in_napari_outside_the_root_says_what_to_do(server):
    done = run_in_kernel(
        server, "from jupyter_napari_desktop import open_in_napari; open_in_napari('/etc/hostname')"
    )
    assert done.returncode != 0
    assert "outside the Jupyter root directory" in done.stderr
    assert "copy it in" in done.stderr
