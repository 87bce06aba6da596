"""scripts/run-lab.sh, the README's command 1 after set-up: its own example
`scripts/run-lab.sh --port=9999` (a free port here) and the other forms of the option serve
on that port, instead of jupyter refusing two values for it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.procs import free_port, start_logged, stop_tree
from tests.support.waiting import wait_for

RUN_LAB = ROOT / "scripts" / "run-lab.sh"

pytestmark = pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "jupyter-lab").exists(),
    reason="needs JupyterLab in .venv: run scripts/setup.sh",
)


def isolated_env(tmp: Path) -> dict[str, str]:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}


@pytest.mark.parametrize("form", ["--port={port}", "--port {port}", "--ServerApp.port={port}"])
def test_the_users_port_wins(tmp_path, form):
    port = free_port()
    log = tmp_path / "run-lab.log"
    argv = ["bash", str(RUN_LAB), *form.format(port=port).split()]
    argv += ["--ServerApp.port_retries=0", f"--ServerApp.root_dir={tmp_path}"]
    server = start_logged(argv, log, env=isolated_env(tmp_path))
    try:

        def printed():
            if server.poll() is not None:
                raise AssertionError(f"run-lab.sh ended ({server.returncode}): {log.read_text()}")
            # the whole line: a log read while the server writes it may end inside the token
            url = rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)\n"
            return re.search(url, log.read_text())

        token = wait_for(printed, 90, f"run-lab.sh's URL with port {port}").group(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
        )

        def answered():
            # jupyter_server prints its URL before its event loop binds the port (it binds
            # in a callback of that loop): a person's click comes later, a test's may not
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.URLError as error:
                if isinstance(error.reason, ConnectionRefusedError):
                    return None
                raise

        assert wait_for(answered, 30, f"an answer on port {port}") == 200
    finally:
        stop_tree(server.pid, timeout=30)


def test_help_and_a_missing_venv(tmp_path):
    done = subprocess.run(["bash", str(RUN_LAB), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "scripts/run-lab.sh --port=9999" in done.stdout, done
    (tmp_path / "scripts").mkdir()
    copy = shutil.copy(RUN_LAB, tmp_path / "scripts" / "run-lab.sh")
    done = subprocess.run(["bash", copy], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"JupyterLab not found in {tmp_path}/.venv" in done.stderr
    assert "bash scripts/setup.sh" in done.stderr
